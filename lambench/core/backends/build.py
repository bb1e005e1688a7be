"""Building a project's local backend in one call: engine, embedded account, log feed, deployments.

`build_local_backend` is what every front end (the CLI's commands, `lambench serve`, the TUI) calls
to turn a loaded project into a `LocalBackend` ready to invoke: the `LocalLambda` engine with the
project's functions, the embedded moto account (or the one a `lambench serve` process runs for the
project) with the template's resources, the feed into the project's log store, and the template's
deployment settings applied as `apply_deployments` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.backends.local import LocalBackend
from lambench.core.deploy import apply_deployments

if TYPE_CHECKING:
    from lambench.core.runtime.versions import VersionStore
    from lambench.core.template import Project


def build_local_backend(
    project: Project,
    project_dir: Path | str | None = None,
    *,
    versions: VersionStore | Path | str | None = None,
    publish: Callable[[str], bool] = lambda function: False,
    provision: Callable[[str, str], bool] = lambda function, alias: False,
    share: bool = True,
    **options: Any,
) -> LocalBackend:
    """The local backend of `project` (what `load_project` returns), deployed; the caller closes it.

    `project_dir` is where the project keeps its state (`.lambench/`: the log store, the versions,
    the record of a running `lambench serve`); it defaults to `project.directory`. The region is the
    first function's (`us-east-1` without functions). `versions` is the store of published versions
    and aliases, by default the project's `.lambench/versions`; accepted `Event` invokes are
    journaled in `.lambench/async` (the `async_dir` option).

    The template's deployment settings are applied: reserved concurrency always, AutoPublishAlias
    for the functions `publish` names, provisioned concurrency where `provision` says (by default
    neither). `share` joins the account of a `lambench serve` running for the project; the other
    `options` go to `LocalBackend` (`log_store`, `port`) and on to `LocalLambda` (limits,
    keep-alive, ...).

    Raises `ConfigError` (naming the function) when the engine refuses a deployment setting; on
    that or any other failure the half-built backend is closed before the exception propagates.
    """
    directory = Path(project_dir if project_dir is not None else project.directory).resolve()
    region = next((config.region for config in project.functions.values()), "us-east-1")
    # Accepted Event invokes are journaled here, so none is lost if lambench stops.
    options.setdefault("async_dir", directory / ".lambench" / "async")
    backend = LocalBackend(
        project.functions.values(),
        project_dir=directory,
        region=region,
        resources=project.cloud_resources,
        reserved={name: d.reserved_concurrency for name, d in project.deployments.items()},
        share=share,
        sources=project.sources,
        http=project.http,
        versions=directory / ".lambench" / "versions" if versions is None else versions,
        **options,
    )
    try:
        apply_deployments(backend.service, project.deployments, publish=publish, provision=provision)
    except BaseException:
        backend.close()
        raise
    return backend
