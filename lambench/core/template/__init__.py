"""Project discovery: the functions an AWS SAM template declares, as `FunctionConfig`s.

lambench reads the part of the SAM specification that decides how a function runs locally:
Handler, Runtime, CodeUri, MemorySize, Timeout, Environment, Layers, LoggingConfig,
EphemeralStorage, Architectures and FunctionName, with `Globals.Function` merged in the way SAM
merges it. Every other function property is kept raw in `Project.extra` for other features
(event sources, policies) and the template's other resources in `Project.resources`.

Every mistake in a template becomes a `TemplateError` whose message starts with `file:line:` and
the property path, so a user can jump straight to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lambench.core.config import ConfigError, FunctionConfig
from lambench.core.limits import DEFAULT_MEMORY_MB, DEFAULT_RUNTIME, DEFAULT_TIMEOUT_S
from lambench.core.template.model import (
    ACCOUNT_ID,
    INTRINSIC_TAGS,
    SERVERLESS_FUNCTION,
    SERVERLESS_LAYER,
    TEMPLATE_NAMES,
    Deployment,
    Intrinsic,
    Project,
    TemplateError,
)

__all__ = [
    "ACCOUNT_ID",
    "INTRINSIC_TAGS",
    "SERVERLESS_FUNCTION",
    "SERVERLESS_LAYER",
    "TEMPLATE_NAMES",
    "Deployment",
    "Intrinsic",
    "Project",
    "TemplateError",
    "adhoc_function",
    "find_template",
    "load_project",
    "parse_env_pairs",
]

_NAME_INVALID_RE = re.compile(r"[^A-Za-z0-9_-]+")


def find_template(project_dir: Path) -> Path | None:
    """The SAM template of `project_dir`, or None when it has none."""
    for name in TEMPLATE_NAMES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
    return None


def load_project(
    project_dir: Path | str,
    *,
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, str] | None = None,
) -> Project:
    """Discover the functions of `project_dir` from its `template.yaml` (or `template.yml`).

    `project_dir` may also be the template file itself. A directory without a template is an empty
    project. `parameter_overrides` replace template parameters' defaults, as `sam
    --parameter-overrides` does. Raises `TemplateError` for any mistake in the template.
    """
    path = Path(project_dir).resolve()
    if path.is_file():
        template_path: Path | None = path
        directory = path.parent
    elif path.is_dir():
        directory = path
        template_path = find_template(path)
    else:
        raise ConfigError(f"project directory {path} does not exist")
    project = Project(directory=directory, template_path=template_path)
    if template_path is None:
        if parameter_overrides:
            raise ConfigError(f"parameter overrides need a template; {directory} has none")
        return project
    # Imported here: an ad hoc function (`--handler`) has no template to read.
    from lambench.core.template.reader import TemplateReader
    from lambench.core.template.tree_cache import load_tree

    data = load_tree(template_path)
    TemplateReader(template_path, data, region, directory.name, parameter_overrides or {}).read(project)
    return project


def parse_env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """Turn `["K=V", ...]` into a dict; the value may itself contain `=`, and a later key wins."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"Environment: {pair!r} is not in KEY=VALUE form")
        result[key] = value
    return result


def adhoc_function(
    *,
    handler: str,
    code_dir: str | Path,
    runtime: str = DEFAULT_RUNTIME,
    memory: object = DEFAULT_MEMORY_MB,
    timeout: object = DEFAULT_TIMEOUT_S,
    env: Sequence[str] = (),
    name: str | None = None,
    region: str = "us-east-1",
) -> FunctionConfig:
    """A function described by command-line options rather than a template.

    The name defaults to the handler's module part (`app.handler` -> `app`, `src/api.main` ->
    `src-api`), made into a valid function name.
    """
    return FunctionConfig.create(
        name=name if name is not None else _name_from_handler(handler, Path(code_dir)),
        handler=handler,
        code_dir=code_dir,
        runtime=runtime,
        memory_mb=memory,
        timeout_s=timeout,
        environment=parse_env_pairs(env),
        region=region,
    )


def _name_from_handler(handler: str, code_dir: Path) -> str:
    module = handler.rpartition(".")[0] or handler
    for candidate in (module, code_dir.resolve().name):
        name = _NAME_INVALID_RE.sub("-", candidate).strip("-")[:64]
        if name:
            return name
    return "function"
