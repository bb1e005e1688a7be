"""Function configuration: what a Lambda function is, validated as AWS validates it.

Ranges follow the Lambda limits (lambda-facts §11.2): memory 128-10,240 MB, timeout 1-900 s,
ephemeral storage 512-10,240 MB, environment variables at most 4 KB in total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lambench.core.limits import (
    CUSTOM_RUNTIMES,
    DEFAULT_MEMORY_MB,
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT_S,
    ENV_VARS_MAX_BYTES,
    EPHEMERAL_MAX_MB,
    EPHEMERAL_MIN_MB,
    MEMORY_MAX_MB,
    MEMORY_MIN_MB,
    NODE_RUNTIMES,
    PYTHON_RUNTIMES,
    SUPPORTED_RUNTIMES,
    TIMEOUT_MAX_S,
    TIMEOUT_MIN_S,
)
from lambench.core.record import field, record

LOG_FORMATS = ("Text", "JSON")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")

# The Lambda API's pattern for a function name (without qualifier or ARN parts).
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])*$")

#: Variables the platform owns (lambda-facts §2.1); a user value for one of them is ignored.
RESERVED_ENV_VARS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


class ConfigError(ValueError):
    """A function configuration value is out of range or malformed.

    The message names the field and what is allowed, ready to show to a user.
    """


@record(frozen=True)
class LoggingConfig:
    """The function's `LoggingConfig` (lambda-facts §5.4)."""

    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None
    log_group: str | None = None

    def effective_application_level(self) -> str | None:
        """The application level AWS applies: INFO by default in JSON mode, none in Text mode."""
        if self.log_format == "JSON":
            return self.application_log_level or "INFO"
        return self.application_log_level


@record(frozen=True)
class FunctionConfig:
    """One Lambda function as lambench runs it.

    `code_dir` is the function's code (LAMBDA_TASK_ROOT); `layers` are directories whose contents
    stand in for `/opt`. Build instances with `FunctionConfig.create`, which validates.
    """

    name: str
    handler: str
    code_dir: Path
    runtime: str = DEFAULT_RUNTIME
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[Path, ...] = ()
    ephemeral_storage_mb: int = EPHEMERAL_MIN_MB
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    architecture: str = "x86_64"
    region: str = "us-east-1"

    @classmethod
    def create(
        cls,
        *,
        name: str,
        handler: str,
        code_dir: str | Path,
        runtime: str = DEFAULT_RUNTIME,
        memory_mb: object = DEFAULT_MEMORY_MB,
        timeout_s: object = DEFAULT_TIMEOUT_S,
        environment: Mapping[str, object] | None = None,
        layers: Sequence[str | Path] = (),
        ephemeral_storage_mb: object = EPHEMERAL_MIN_MB,
        logging: LoggingConfig | None = None,
        architecture: str = "x86_64",
        region: str = "us-east-1",
    ) -> FunctionConfig:
        """Validate every field and build the configuration, or raise `ConfigError`."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(
                f"FunctionName: {name!r} is not valid; use 1-64 letters, digits, hyphens or underscores"
            )
        if runtime not in SUPPORTED_RUNTIMES:
            raise ConfigError(
                f"Runtime: {runtime!r} is not supported; use one of {', '.join(SUPPORTED_RUNTIMES)}"
            )
        if runtime in PYTHON_RUNTIMES and (not isinstance(handler, str) or not handler):
            raise ConfigError("Handler: a Python function needs a handler such as 'app.handler'")
        if runtime in NODE_RUNTIMES and (not isinstance(handler, str) or not handler):
            raise ConfigError("Handler: a Node.js function needs a handler such as 'index.handler'")
        memory = _int_in_range("MemorySize", memory_mb, MEMORY_MIN_MB, MEMORY_MAX_MB, "MB")
        timeout = _int_in_range("Timeout", timeout_s, TIMEOUT_MIN_S, TIMEOUT_MAX_S, "seconds")
        storage = _int_in_range(
            "EphemeralStorage", ephemeral_storage_mb, EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB, "MB"
        )
        env = _validate_environment(environment or {})
        code = Path(code_dir).resolve()
        if not code.is_dir():
            raise ConfigError(f"CodeUri: {code} is not a directory")
        layer_dirs: list[Path] = []
        for layer in layers:
            path = Path(layer).resolve()
            if not path.is_dir():
                raise ConfigError(f"Layers: {path} is not a directory (lambench takes layers as local paths)")
            layer_dirs.append(path)
        log = logging or LoggingConfig()
        _validate_logging(log)
        if architecture not in ("x86_64", "arm64"):
            raise ConfigError(f"Architectures: {architecture!r} is not valid; use x86_64 or arm64")
        return cls(
            name=name,
            handler=handler or "",
            code_dir=code,
            runtime=runtime,
            memory_mb=memory,
            timeout_s=timeout,
            environment=env,
            layers=tuple(layer_dirs),
            ephemeral_storage_mb=storage,
            logging=log,
            architecture=architecture,
            region=region,
        )

    @property
    def is_custom_runtime(self) -> bool:
        """True for `provided*` runtimes, whose `bootstrap` executable is the runtime."""
        return self.runtime in CUSTOM_RUNTIMES

    @property
    def is_node_runtime(self) -> bool:
        """True for `nodejs*` runtimes, served by lambench's JavaScript runtime on the local `node`."""
        return self.runtime in NODE_RUNTIMES

    @property
    def node_major(self) -> int | None:
        """The Node.js major version the runtime names (`nodejs20.x` -> 20), or None."""
        if not self.is_node_runtime:
            return None
        return int(self.runtime.removeprefix("nodejs").split(".")[0])

    @property
    def log_group(self) -> str:
        """The CloudWatch log group name (lambda-facts §5.1)."""
        return self.logging.log_group or f"/aws/lambda/{self.name}"


def _int_in_range(field_name: str, value: object, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        raise ConfigError(f"{field_name}: {value!r} is not a whole number; use {low}-{high} {unit}")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{field_name}: {value!r} is not a whole number; use {low}-{high} {unit}") from None
    if isinstance(value, float) and value != number:
        raise ConfigError(f"{field_name}: {value!r} is not a whole number; use {low}-{high} {unit}")
    if not low <= number <= high:
        raise ConfigError(f"{field_name}: {number} is out of range; use {low}-{high} {unit}")
    return number


def _validate_environment(environment: Mapping[str, object]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.match(key):
            raise ConfigError(
                f"Environment.Variables: {key!r} is not a valid name; start with a letter, "
                "then letters, digits or underscores"
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"Environment.Variables: {key} must be a string, not {type(value).__name__}")
        result[key] = str(value)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in result.items())
    if size > ENV_VARS_MAX_BYTES:
        raise ConfigError(
            f"Environment.Variables: {size} bytes in total; Lambda allows at most {ENV_VARS_MAX_BYTES}"
        )
    return result


def _validate_logging(log: LoggingConfig) -> None:
    if log.log_format not in LOG_FORMATS:
        raise ConfigError(f"LoggingConfig.LogFormat: {log.log_format!r} is not valid; use Text or JSON")
    if log.application_log_level is not None and log.application_log_level not in APPLICATION_LOG_LEVELS:
        raise ConfigError(
            f"LoggingConfig.ApplicationLogLevel: {log.application_log_level!r} is not valid; "
            f"use one of {', '.join(APPLICATION_LOG_LEVELS)}"
        )
    if log.system_log_level is not None and log.system_log_level not in SYSTEM_LOG_LEVELS:
        raise ConfigError(
            f"LoggingConfig.SystemLogLevel: {log.system_log_level!r} is not valid; "
            f"use one of {', '.join(SYSTEM_LOG_LEVELS)}"
        )
