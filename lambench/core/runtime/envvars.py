"""The environment a runtime process sees, as lambda-facts §2.1-2.4 describe it, with local paths.

Precedence follows RAPID: customer < unreserved platform < credentials < runtime < platform, so a
user's value for a reserved variable is silently replaced, as in AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lambench.core.config import FunctionConfig

# Obviously fake credentials: nothing real leaks into an environment, and nothing here could be
# mistaken for a key. The AWS backend will hand real ones in when it is selected.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "LAMBENCHFAKEACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "lambench/fake/secret/access/key/not/real",
    "AWS_SESSION_TOKEN": "lambench-fake-session-token",
}

#: Directory of lambench's Python runtime: it stands in for `/var/runtime`.
PYTHON_RUNTIME_DIR = Path(__file__).resolve().parent / "pyruntime"

# Host variables a local process needs to run at all (the interpreter, shared libraries, locale).
_HOST_PASSTHROUGH = ("PATH", "LD_LIBRARY_PATH", "SYSTEMROOT", "DYLD_LIBRARY_PATH")


def build_environment(
    config: FunctionConfig,
    *,
    version: str,
    runtime_api: str,
    log_stream: str,
    tmp_dir: str,
    init_type: str = "on-demand",
    credentials: Mapping[str, str] | None = None,
    account_environment: Mapping[str, str] | None = None,
    extra_platform: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every variable of the runtime process, in AWS's precedence order.

    `account_environment` points the function's SDK at the account lambench provides (the embedded
    moto's `AWS_ENDPOINT_URL`); the function's own variables win over it, so a template may still
    aim one function elsewhere.
    """
    layer_dirs = [str(layer) for layer in config.layers]
    env: dict[str, str] = {}
    # Customer variables first: everything below overrides them where the names collide.
    env.update(config.environment)
    for key, value in _unreserved_defaults(config, layer_dirs).items():
        env.setdefault(key, value)
    for key, value in (account_environment or {}).items():
        env.setdefault(key, value)
    # Unreserved platform variables win over the customer's (RAPID's order).
    env.update(
        {
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
            "_AWS_XRAY_DAEMON_PORT": "2000",
        }
    )
    env.update(credentials or FAKE_CREDENTIALS)
    env.update(_runtime_variables(config, log_stream, tmp_dir))
    env.update(
        {
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "TZ": ":UTC",
        }
    )
    if extra_platform:
        env.update(extra_platform)
    if layer_dirs and not config.is_custom_runtime and not config.is_node_runtime:
        # Read and removed by lambench's Python runtime, which puts each layer's python/ on sys.path.
        env["_LAMBENCH_LAYERS"] = os.pathsep.join(layer_dirs)
    for key in _HOST_PASSTHROUGH:
        if key in os.environ and key not in env:
            env[key] = os.environ[key]
    return env


def _unreserved_defaults(config: FunctionConfig, layer_dirs: list[str]) -> dict[str, str]:
    """Platform defaults a function's own variables may override (PATH, LANG, the library path)."""
    code = str(config.code_dir)
    runtime_dir = str(PYTHON_RUNTIME_DIR)
    host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    host_ld = os.environ.get("LD_LIBRARY_PATH", "")
    defaults = {
        "LANG": "en_US.UTF-8",
        "PATH": os.pathsep.join([host_path, *(os.path.join(d, "bin") for d in layer_dirs)]),
        "LD_LIBRARY_PATH": os.pathsep.join(
            p
            for p in [
                host_ld,
                runtime_dir,
                os.path.join(runtime_dir, "lib"),
                code,
                os.path.join(code, "lib"),
                *(os.path.join(d, "lib") for d in layer_dirs),
            ]
            if p
        ),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        # Recorded in every real environment (lambda-facts §2.3): the runtime is not under a shell.
        "SHLVL": "0",
    }
    if config.is_node_runtime:
        defaults["NODE_PATH"] = node_path(config, layer_dirs)
    elif not config.is_custom_runtime:
        defaults["PYTHONPATH"] = runtime_dir
        defaults["LC_CTYPE"] = "C.UTF-8"
    return defaults


def node_path(config: FunctionConfig, layer_dirs: list[str]) -> str:
    """AWS's NODE_PATH (lambda-facts §2.3) with its directories mapped to local ones.

    `/opt/nodejs/nodeNN/node_modules` and `/opt/nodejs/node_modules` are each layer's (in
    order), `/var/runtime` is lambench's Node.js runtime, `/var/task` the function's code.
    """
    from lambench.core.runtime.node import NODE_RUNTIME_DIR

    major = config.node_major
    runtime_dir = str(NODE_RUNTIME_DIR)
    parts = [os.path.join(d, "nodejs", f"node{major}", "node_modules") for d in layer_dirs]
    parts += [os.path.join(d, "nodejs", "node_modules") for d in layer_dirs]
    parts += [os.path.join(runtime_dir, "node_modules"), runtime_dir, str(config.code_dir)]
    return os.pathsep.join(parts)


def _runtime_dir(config: FunctionConfig) -> Path:
    if config.is_node_runtime:
        from lambench.core.runtime.node import NODE_RUNTIME_DIR

        return NODE_RUNTIME_DIR
    return PYTHON_RUNTIME_DIR


def _runtime_variables(config: FunctionConfig, log_stream: str, tmp_dir: str) -> dict[str, str]:
    """The reserved variables that describe the handler, its code, its logs and `/tmp`."""
    code = str(config.code_dir)
    variables = {
        "_HANDLER": config.handler,
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": code,
        "LAMBDA_RUNTIME_DIR": str(_runtime_dir(config)),
        "PWD": code,
        # The environment's own temporary directory stands in for /tmp.
        "TMPDIR": tmp_dir,
    }
    if not config.is_custom_runtime:
        variables["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{config.runtime}"
    if config.logging.log_format == "JSON":
        variables["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    level = config.logging.effective_application_level()
    if level:
        variables["AWS_LAMBDA_LOG_LEVEL"] = level
    return variables
