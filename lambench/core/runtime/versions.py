"""Published versions and aliases of local functions, kept on disk so every lambench process sees them.

A version is an immutable snapshot (lambda-facts §10): publishing copies the code and layer
directories into the store, so later edits to the working copy never reach it. Publishing code and
configuration identical to the latest version returns that version instead of a new one.

Layout under the store's root (a project's `.lambench/versions/`)::

    <function>/<n>/version.json      the configuration, hashes, description, time
    <function>/<n>/code/             the code directory as it was
    <function>/<n>/layers/<i>/       each layer directory as it was
    <function>/aliases.json          every alias of the function

Writers publish into a fresh temporary directory and `rename` it into place, so a version is either
complete or absent; two processes publishing at once get consecutive numbers.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lambench.core.config import FunctionConfig, LoggingConfig
from lambench.core.record import field, record, replace
from lambench.core.runtime import errors
from lambench.core.runtime.identifiers import function_arn, new_request_id

LATEST = "$LATEST"
#: Names a snapshot leaves out: build and editor leftovers, and lambench's own state (which lives
#: inside a project whose root is also a function's code directory when CodeUri is omitted).
IGNORED_NAMES = frozenset({"__pycache__", ".git", ".lambench", ".aws-sam", ".venv", ".mypy_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
#: Largest unzipped code plus layers AWS accepts (lambda-facts §11.2: 250 MB).
MAX_UNZIPPED_BYTES = 262_144_000
#: The API model's pattern for alias names, quoted in AWS's validation message.
ALIAS_PATTERN = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_ALIAS_NAME = re.compile(r"^(?!\d+$)[a-zA-Z0-9_-]{1,128}$")


@record(frozen=True)
class Version:
    """One published version: its number and the configuration whose code is the snapshot."""

    function: str
    number: str
    config: FunctionConfig
    code_sha256: str
    config_sha256: str
    description: str
    last_modified: str

    @property
    def arn(self) -> str:
        """The qualified ARN, `...:function:<name>:<n>`."""
        return function_arn(self.config.region, self.function, self.number)


@record(frozen=True)
class Alias:
    """An alias: a name for one version, optionally sending a share of requests to a second one."""

    function: str
    name: str
    function_version: str
    weights: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    revision_id: str = ""

    def to_json(self, region: str) -> dict[str, Any]:
        """The alias in the shape of the CreateAlias / GetAlias response."""
        data: dict[str, Any] = {
            "AliasArn": function_arn(region, self.function, self.name),
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        }
        if self.weights:
            data["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        return data


class VersionStore:
    """Versions and aliases of every function, under one root directory. Thread-safe."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], Version] = {}
        self._aliases: dict[str, tuple[float, dict[str, Alias]]] = {}

    # -- versions -------------------------------------------------------------------------------

    def publish(self, config: FunctionConfig, description: str = "") -> tuple[Version, bool]:
        """Snapshot `config` as the next version; returns it and whether it is new.

        Unchanged code and configuration return the latest version (lambda-facts §10).
        """
        import shutil
        import tempfile

        code_sha = code_sha256(config)
        config_sha = config_sha256(config)
        with self._lock:
            latest = self._latest(config.name)
            if latest is not None and latest.code_sha256 == code_sha and latest.config_sha256 == config_sha:
                return latest, False
            function_dir = self.root / config.name
            function_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".publishing-", dir=function_dir))
            try:
                snapshot = _snapshot(config, staging)
                number = int(latest.number) if latest is not None else 0
                while True:
                    number += 1
                    target = function_dir / str(number)
                    final = _relocate(snapshot, staging, target)
                    version = Version(
                        function=config.name,
                        number=str(number),
                        config=final,
                        code_sha256=code_sha,
                        config_sha256=config_sha,
                        description=description,
                        last_modified=_timestamp(),
                    )
                    (staging / "version.json").write_text(json.dumps(_version_json(version), indent=2) + "\n")
                    try:
                        # rename() refuses a non-empty target: a version another process just
                        # published keeps its number and this one takes the next.
                        os.rename(staging, target)
                    except OSError:
                        if target.exists():
                            continue
                        raise
                    break
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self._versions[(config.name, version.number)] = version
            return version, True

    def get_version(self, function: str, number: str) -> Version | None:
        """Version `number` of `function`, or None."""
        with self._lock:
            return self._load_version(function, number)

    def versions(self, function: str) -> list[Version]:
        """Every published version of `function`, oldest first."""
        with self._lock:
            found = [self._load_version(function, n) for n in self._numbers(function)]
        return [v for v in found if v is not None]

    def _latest(self, function: str) -> Version | None:
        numbers = self._numbers(function)
        return self._load_version(function, numbers[-1]) if numbers else None

    def _numbers(self, function: str) -> list[str]:
        directory = self.root / function
        if not directory.is_dir():
            return []
        return sorted((p.name for p in directory.iterdir() if p.name.isdigit()), key=int)

    def _load_version(self, function: str, number: str) -> Version | None:
        cached = self._versions.get((function, number))
        if cached is not None:
            return cached
        path = self.root / function / number / "version.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise errors.LambdaServiceError(
                f"version {number} of {function} is unreadable: {path}: {exc}"
            ) from None
        version = _version_from_json(function, path.parent, data)
        self._versions[(function, number)] = version
        return version

    # -- aliases --------------------------------------------------------------------------------

    def aliases(self, function: str) -> list[Alias]:
        """Every alias of `function`, by name."""
        with self._lock:
            return sorted(self._read_aliases(function).values(), key=lambda a: a.name)

    def require_alias(self, function: str, name: str, region: str = "us-east-1") -> Alias:
        """GetAlias: the alias, or AWS's `Cannot find alias arn: ...` (404)."""
        alias = self.get_alias(function, name)
        if alias is None:
            arn = function_arn(region, function, name)
            raise errors.ResourceNotFoundError(f"Cannot find alias arn: {arn}")
        return alias

    def get_alias(self, function: str, name: str) -> Alias | None:
        """The alias `name` of `function`, or None."""
        with self._lock:
            return self._read_aliases(function).get(name)

    def put_alias(
        self,
        function: str,
        name: str,
        *,
        version: str | None,
        weights: Mapping[str, float] | None,
        description: str | None,
        create: bool,
        region: str = "us-east-1",
    ) -> Alias:
        """CreateAlias (`create`) or UpdateAlias, validated as AWS validates them.

        On update, `None` keeps the current value of `version`, `weights` and `description`.
        """
        with self._lock:
            aliases = self._read_aliases(function)
            existing = aliases.get(name)
            if create:
                if not _ALIAS_NAME.match(name):
                    raise errors.ValidationError(
                        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                        f"constraint: Member must satisfy regular expression pattern: {ALIAS_PATTERN}"
                    )
                if existing is not None:
                    raise errors.ResourceConflictError(
                        f"Alias already exists: {function_arn(region, function, name)}"
                    )
                if version is None:
                    raise errors.InvalidParameterValueError("FunctionVersion is required to create an alias")
            elif existing is None:
                raise errors.ResourceNotFoundError(f"Alias not found: {function_arn(region, function, name)}")
            primary = version if version is not None else existing.function_version  # type: ignore[union-attr]
            routing = dict(weights) if weights is not None else dict(existing.weights if existing else {})
            self._check_version(function, primary, region)
            _check_routing(primary, routing)
            for extra in routing:
                self._check_version(function, extra, region)
            alias = Alias(
                function=function,
                name=name,
                function_version=primary,
                weights=routing,
                description=_pick(description, existing.description if existing else ""),
                revision_id=new_request_id(),
            )
            aliases[name] = alias
            self._write_aliases(function, aliases)
            return alias

    def delete_alias(self, function: str, name: str) -> None:
        """DeleteAlias; AWS answers 204 even when there is no such alias, and so does this."""
        with self._lock:
            aliases = self._read_aliases(function)
            if aliases.pop(name, None) is not None:
                self._write_aliases(function, aliases)

    def _check_version(self, function: str, version: str, region: str) -> None:
        if version == LATEST:
            return
        if not version.isdigit() or self._load_version(function, version) is None:
            raise errors.ResourceNotFoundError(
                f"Function not found: {function_arn(region, function, version)}"
            )

    def _aliases_path(self, function: str) -> Path:
        return self.root / function / "aliases.json"

    def _read_aliases(self, function: str) -> dict[str, Alias]:
        # Another lambench process may change aliases at any time (`lambench aliases update` while
        # the TUI runs), so the file is re-read whenever its modification time moves.
        path = self._aliases_path(function)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            self._aliases.pop(function, None)
            return {}
        cached = self._aliases.get(function)
        if cached is not None and cached[0] == mtime:
            return dict(cached[1])
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise errors.LambdaServiceError(f"aliases of {function} are unreadable: {path}: {exc}") from None
        aliases = {
            item["Name"]: Alias(
                function=function,
                name=item["Name"],
                function_version=item["FunctionVersion"],
                weights={str(k): float(v) for k, v in item.get("Weights", {}).items()},
                description=item.get("Description", ""),
                revision_id=item.get("RevisionId", ""),
            )
            for item in data.get("Aliases", [])
        }
        self._aliases[function] = (mtime, aliases)
        return dict(aliases)

    def _write_aliases(self, function: str, aliases: Mapping[str, Alias]) -> None:
        import tempfile

        path = self._aliases_path(function)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "Aliases": [
                {
                    "Name": a.name,
                    "FunctionVersion": a.function_version,
                    "Weights": dict(a.weights),
                    "Description": a.description,
                    "RevisionId": a.revision_id,
                }
                for a in sorted(aliases.values(), key=lambda a: a.name)
            ]
        }
        fd, tmp = tempfile.mkstemp(prefix=".aliases-", dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        self._aliases.pop(function, None)


def _pick(value: str | None, current: str) -> str:
    return current if value is None else value


def _check_routing(primary: str, weights: Mapping[str, float]) -> None:
    # AWS's texts, as recorded against the service (LocalStack's AWS snapshots of CreateAlias).
    if not weights:
        return
    shown = "{" + ", ".join(f"{k}={float(v)!r}" for k, v in weights.items()) + "}"
    where = "at 'routingConfig.additionalVersionWeights' failed to satisfy constraint"
    if any(not key.isdigit() for key in weights):
        raise errors.ValidationError(
            f"1 validation error detected: Value '{shown}' {where}: Map keys must satisfy constraint: "
            "[Member must have length less than or equal to 1024, Member must have length greater than "
            "or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]"
        )
    if any(not 0.0 <= float(v) <= 1.0 for v in weights.values()):
        raise errors.ValidationError(
            f"1 validation error detected: Value '{shown}' {where}: Map value must satisfy constraint: "
            "[Member must have value less than or equal to 1.0, Member must have value greater than or "
            "equal to 0.0, Member must not be null]"
        )
    if len(weights) > 1:
        raise errors.InvalidParameterValueError(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    if primary == LATEST:
        raise errors.InvalidParameterValueError(
            "$LATEST is not supported for an alias pointing to more than 1 version"
        )
    if primary in weights:
        raise errors.InvalidParameterValueError(
            f"Invalid function version {primary}. Function version {primary} is already included in "
            "routing configuration."
        )


# -- snapshots ----------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[Path]:
    """Files under `root` in a stable order, without ignored names; symlinks are followed."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for name in sorted(filenames):
            if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
                continue
            yield Path(dirpath) / name


def _tree_digest(digest: Any, root: Path) -> int:
    size = 0
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        try:
            info = path.stat()
            data = path.read_bytes()
        except OSError:
            continue  # deleted while being read: it is not part of the code
        executable = bool(info.st_mode & stat.S_IXUSR)
        digest.update(f"{relative}\0{int(executable)}\0{len(data)}\0".encode())
        digest.update(data)
        size += len(data)
    return size


def code_sha256(config: FunctionConfig) -> str:
    """Base64 SHA-256 of the code and layer directories' files (paths, exec bits and contents).

    AWS hashes the deployment zip; lambench has no zip, so the figure has AWS's shape but not its value.
    """
    from lambench.core.digests import sha256

    digest = sha256()
    _tree_digest(digest, config.code_dir)
    for index, layer in enumerate(config.layers):
        digest.update(f"\0layer {index}\0".encode())
        _tree_digest(digest, layer)
    return base64.b64encode(digest.digest()).decode()


def config_sha256(config: FunctionConfig) -> str:
    """A digest of the configuration that a version freezes (everything but where the code is)."""
    from lambench.core.digests import sha256_hex

    data = _config_json(config)
    data.pop("CodeDir")
    data.pop("Layers")
    return sha256_hex(json.dumps(data, sort_keys=True).encode())


def _copy_tree(source: Path, target: Path, copied: int) -> int:
    """Copy `source` to `target`; returns `copied` plus its size, refusing AWS's unzipped limit."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for path in _walk(source):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied += destination.stat().st_size
        if copied > MAX_UNZIPPED_BYTES:
            raise errors.InvalidParameterValueError(
                f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )
    return copied


def _snapshot(config: FunctionConfig, staging: Path) -> FunctionConfig:
    size = _copy_tree(config.code_dir, staging / "code", 0)
    layers = []
    for index, layer in enumerate(config.layers):
        size = _copy_tree(layer, staging / "layers" / str(index), size)
        layers.append(staging / "layers" / str(index))
    return replace(config, code_dir=staging / "code", layers=tuple(layers))


def _relocate(config: FunctionConfig, old: Path, new: Path) -> FunctionConfig:
    def move(path: Path) -> Path:
        return new / path.relative_to(old)

    return replace(config, code_dir=move(config.code_dir), layers=tuple(move(p) for p in config.layers))


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+0000"


def _config_json(config: FunctionConfig) -> dict[str, Any]:
    return {
        "FunctionName": config.name,
        "Handler": config.handler,
        "Runtime": config.runtime,
        "MemorySize": config.memory_mb,
        "Timeout": config.timeout_s,
        "Environment": dict(config.environment),
        "EphemeralStorage": config.ephemeral_storage_mb,
        "LoggingConfig": {
            "LogFormat": config.logging.log_format,
            "ApplicationLogLevel": config.logging.application_log_level,
            "SystemLogLevel": config.logging.system_log_level,
            "LogGroup": config.logging.log_group,
        },
        "Architecture": config.architecture,
        "Region": config.region,
        "CodeDir": str(config.code_dir),
        "Layers": [str(p) for p in config.layers],
    }


def _version_json(version: Version) -> dict[str, Any]:
    config = _config_json(version.config)
    # Paths inside the version directory are stored relative to it, so a project can move.
    base = version.config.code_dir.parent
    config["CodeDir"] = "code"
    config["Layers"] = [p.relative_to(base).as_posix() for p in version.config.layers]
    return {
        "Version": version.number,
        "CodeSha256": version.code_sha256,
        "ConfigSha256": version.config_sha256,
        "Description": version.description,
        "LastModified": version.last_modified,
        "Configuration": config,
    }


def _version_from_json(function: str, directory: Path, data: Mapping[str, Any]) -> Version:
    c = data["Configuration"]
    log = c.get("LoggingConfig") or {}
    config = FunctionConfig(
        name=function,
        handler=c["Handler"],
        code_dir=directory / c["CodeDir"],
        runtime=c["Runtime"],
        memory_mb=int(c["MemorySize"]),
        timeout_s=int(c["Timeout"]),
        environment=dict(c.get("Environment") or {}),
        layers=tuple(directory / p for p in c.get("Layers", [])),
        ephemeral_storage_mb=int(c.get("EphemeralStorage", 512)),
        logging=LoggingConfig(
            log_format=log.get("LogFormat") or "Text",
            application_log_level=log.get("ApplicationLogLevel"),
            system_log_level=log.get("SystemLogLevel"),
            log_group=log.get("LogGroup"),
        ),
        architecture=c.get("Architecture", "x86_64"),
        region=c.get("Region", "us-east-1"),
    )
    return Version(
        function=function,
        number=str(data["Version"]),
        config=config,
        code_sha256=data["CodeSha256"],
        config_sha256=data["ConfigSha256"],
        description=data.get("Description", ""),
        last_modified=data.get("LastModified", ""),
    )
