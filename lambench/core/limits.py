"""Lambda's configuration limits and lambench's defaults, as plain constants.

Kept apart from `config` so the command line can show them in `--help` without importing more.
Ranges follow lambda-facts §11.2.
"""

MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10_240
TIMEOUT_MIN_S = 1
TIMEOUT_MAX_S = 900
EPHEMERAL_MIN_MB = 512
EPHEMERAL_MAX_MB = 10_240
ENV_VARS_MAX_BYTES = 4 * 1024
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
DEFAULT_RUNTIME = "python3.12"

#: Python runtimes the built-in bootstrap serves. The local interpreter runs them all; the
#: identifier only changes AWS_EXECUTION_ENV and the INIT_START runtime version.
PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
#: Node.js runtimes lambench's own JavaScript runtime serves on the local `node`, whose major
#: version is checked against the identifier's.
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
#: Custom runtimes: the code directory's `bootstrap` executable is the runtime.
CUSTOM_RUNTIMES = ("provided.al2023", "provided.al2", "provided")
SUPPORTED_RUNTIMES = PYTHON_RUNTIMES + NODE_RUNTIMES + CUSTOM_RUNTIMES
