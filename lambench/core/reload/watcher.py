"""`HotReloader`: save a file and the next invoke runs the new code, never stale code.

A watchdog observer watches every function's code and layer directories and the project's
template. Events are collected until the tree has been quiet for `quiet_s` (an editor's save storm
is one reload), then judged by content checksum (a touch is none). Functions whose files really
changed get `LocalLambda.reload_function`: idle environments retired at once, busy ones after their
invocation; functions with AutoPublishAlias also get a new version, the alias moved to it and
their provisioned concurrency re-initialised on it. A template change reloads configuration
(added, removed and changed functions); an invalid template keeps the last good one and reports
the error. Every reload is announced as a `ReloadRecord` through the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambench.core.config import ConfigError
from lambench.core.reload.files import Checksums, drop_bytecode, is_ignored
from lambench.core.runtime import errors
from lambench.core.runtime.records import ReloadRecord

if TYPE_CHECKING:
    from lambench.core.runtime.service import LocalLambda
    from lambench.core.template import Deployment, Project

_log = logging.getLogger(__name__)


class HotReloader:
    """Watches a project for its service; `start()` begins, `close()` stops the observer and worker.

    `load` re-reads the project when its template changes (by default `load_project` on
    `project_dir`). `deployments` are the template's settings, re-applied to the functions a change
    touches (AutoPublishAlias, provisioned and reserved concurrency). `on_project` is called with
    each template read successfully (the HTTP front door takes its routes from it).
    """

    def __init__(
        self,
        service: LocalLambda,
        *,
        project_dir: Path,
        template: Path | None = None,
        deployments: Mapping[str, Deployment] | None = None,
        load: Callable[[], Project] | None = None,
        on_project: Callable[[Project], None] | None = None,
        quiet_s: float = 0.05,
        max_delay_s: float = 1.0,
    ) -> None:
        self._service = service
        self._project_dir = project_dir.resolve()
        self._template = template.resolve() if template is not None else None
        self._deployments = dict(deployments or {})
        self._load = load or self._load_project
        self._on_project = on_project
        self._quiet_s = quiet_s
        self._max_delay_s = max_delay_s
        self._functions = {config.name: config for config in service.functions()}
        self._checksums = Checksums()
        self._cond = threading.Condition()
        self._pending: set[Path] = set()
        self._last_event = 0.0
        self._closed = False
        self._observer: Any = None
        self._watched: set[Path] = set()
        self._worker: threading.Thread | None = None
        #: How many reloads were announced (errors included); for tests and the UI.
        self.reloads = 0

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Record the files' current content and start watching."""
        from watchdog.observers import Observer

        self._observer = Observer()
        self._observer.daemon = True
        self._watch(self._roots())
        if self._template is not None:
            self._schedule(self._template.parent, recursive=False)
            self._checksums.scan([self._template])
        self._observer.start()
        self._worker = threading.Thread(target=self._run, name="lambench-reload", daemon=True)
        self._worker.start()

    def close(self) -> None:
        """Stop the observer and the worker thread and wait for both."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
        if self._worker is not None:
            self._worker.join(timeout=30)

    def __enter__(self) -> HotReloader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- watching -----------------------------------------------------------------------------

    def _roots(self) -> dict[Path, set[str]]:
        """Each watched directory and the functions whose code or layers live under it."""
        roots: dict[Path, set[str]] = {}
        for name, config in self._functions.items():
            for root in (config.code_dir, *config.layers):
                roots.setdefault(Path(root).resolve(), set()).add(name)
        return roots

    def _watch(self, roots: Iterable[Path]) -> None:
        fresh = [root for root in roots if root not in self._watched and root.is_dir()]
        self._checksums.scan(fresh)
        for root in fresh:
            self._schedule(root, recursive=True)

    def _schedule(self, directory: Path, *, recursive: bool) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        reloader = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                paths = [event.src_path, getattr(event, "dest_path", "")]
                reloader._note([Path(str(p)) for p in paths if p], event.is_directory)

        self._observer.schedule(Handler(), str(directory), recursive=recursive)
        self._watched.add(directory)

    def _note(self, paths: list[Path], is_directory: bool) -> None:
        if is_directory:
            return
        wanted = [path for path in paths if not is_ignored(path)]
        if not wanted:
            return
        with self._cond:
            self._pending.update(wanted)
            self._last_event = time.monotonic()
            self._cond.notify_all()

    # -- the worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                first = time.monotonic()
                while not self._closed:
                    now = time.monotonic()
                    remaining = min(self._last_event + self._quiet_s, first + self._max_delay_s) - now
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                paths, self._pending = self._pending, set()
            try:
                self._process(paths)
            except Exception as exc:
                # The watcher outlives anything user code or the file system throws at it.
                _log.exception("hot reload failed")
                self._announce(paths, (), 0, f"hot reload failed: {exc}")

    def _process(self, paths: set[Path]) -> None:
        template_changed = self._template is not None and self._template in paths
        if template_changed:
            assert self._template is not None
            template_changed = self._checksums.changed(self._template)
        roots = self._roots()
        # Only files under a function's code or layers count (the template's directory is watched
        # for the template alone).
        changed = sorted(
            p for p in paths if p != self._template and _under(p, roots) and self._checksums.changed(p)
        )
        if not changed and not template_changed:
            return
        files = ([self._template] if template_changed and self._template else []) + changed
        for path in changed:
            drop_bytecode(path)
        touched: set[str] = set()
        # Functions the template change already reloaded (or removed): not reloaded twice.
        handled: set[str] = set()
        retired = 0
        if template_changed:
            try:
                project = self._load()
            except ConfigError as exc:
                # The last good configuration stays; code changes below still apply to it.
                self._announce(files, (), 0, str(exc))
                files = changed
            else:
                retired += self._apply_template(project, touched, handled)
                if self._on_project is not None:
                    try:
                        self._on_project(project)
                    except Exception:  # a listener's failure must not stop reloading
                        _log.exception("a hot-reload listener failed")
        for path in changed:
            for root, names in self._roots().items():
                if _under(path, [root]):
                    touched.update(names)
        for name in sorted(touched - handled):
            retired += self._reload(name)
        self._redeploy(touched)
        if touched:
            self._announce(files, tuple(sorted(touched)), retired, None)

    def _apply_template(self, project: Project, touched: set[str], handled: set[str]) -> int:
        """Bring the service to the template's functions; returns environments retired."""
        retired = 0
        new = project.functions
        for name in list(self._functions):
            if name not in new:
                retired += self._service.remove_function(name)
                del self._functions[name]
                handled.add(name)
        for name, config in new.items():
            old = self._functions.get(name)
            if old is None:
                self._service.add_function(config)
            elif old != config:
                retired += self._service.reload_function(name, config)
            else:
                continue
            self._functions[name] = config
            handled.add(name)
        touched.update(handled)
        for name, deployment in project.deployments.items():
            if self._deployments.get(name) != deployment:
                touched.add(name)
        self._deployments = dict(project.deployments)
        self._watch(self._roots())
        return retired

    def _reload(self, name: str) -> int:
        try:
            return self._service.reload_function(name)
        except errors.ResourceNotFoundError:
            return 0

    def _redeploy(self, names: set[str]) -> None:
        """Re-apply reserved concurrency and AutoPublishAlias (with its provisioned concurrency)."""
        from lambench.core.deploy import apply_deployments

        for name in sorted(names):
            deployment = self._deployments.get(name)
            if deployment is None or name not in self._functions:
                continue
            if (
                deployment.reserved_concurrency is None
                and self._service.get_function_concurrency(name) is not None
            ):
                self._service.put_function_concurrency(name, None)
            alias = deployment.auto_publish_alias
            provisioned = alias is not None and self._has_provisioned(name, alias)
            try:
                apply_deployments(
                    self._service,
                    {name: deployment},
                    publish=_constant(alias is not None),
                    provision=_constant(provisioned),
                )
            except ConfigError as exc:
                self._announce([], (name,), 0, str(exc))

    def _has_provisioned(self, name: str, alias: str) -> bool:
        try:
            self._service.get_provisioned_concurrency(name, alias)
        except errors.LambdaServiceError:
            return False
        return True

    def _announce(
        self, files: Iterable[Path], functions: tuple[str, ...], retired: int, error: str | None
    ) -> None:
        self.reloads += 1
        self._service.announce(
            ReloadRecord(
                time=time.time(),
                files=tuple(self._relative(path) for path in files),
                functions=functions,
                retired=retired,
                error=error,
            )
        )

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self._project_dir))
        except ValueError:
            return str(path)

    def _load_project(self) -> Project:
        from lambench.core.template import load_project

        region = next((config.region for config in self._functions.values()), "us-east-1")
        return load_project(self._project_dir, region=region)


def _constant(value: bool) -> Callable[..., bool]:
    """A predicate that answers `value` whatever it is asked."""
    return lambda *args: value


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)
