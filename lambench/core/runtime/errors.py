"""Errors of the Invoke API (the service side) and the function-error payloads the platform builds.

Messages follow lambda-facts §4.4, §4.6 and §4.7 to the character.
"""

from __future__ import annotations

import json
import signal

from lambench.core.runtime.identifiers import function_arn

#: Largest synchronous request payload (lambda-facts §4.7).
MAX_SYNC_REQUEST_BYTES = 6_291_456
#: Largest asynchronous request payload: 1 MB since Oct 2025. Whether AWS counts 1,000,000 or
#: 1,048,576 bytes is unconfirmed (lambda-facts §4.7); lambench takes the binary megabyte.
MAX_ASYNC_REQUEST_BYTES = 1_048_576
#: Largest synchronous response payload: 6 MiB + 100 bytes (lambda-facts §4.7).
MAX_RESPONSE_BYTES = 6_291_556
#: Largest client context, base64-encoded (lambda-facts §3.3).
MAX_CLIENT_CONTEXT_BYTES = 3_583


class LambdaServiceError(Exception):
    """An error the Invoke API itself returns (the function never ran), with its HTTP status and code."""

    status_code = 500
    error_code = "ServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, str]:
        """The response body AWS sends for this error."""
        return {"Type": "User", "Message": self.message}


class ResourceNotFoundError(LambdaServiceError):
    """404: no such function, version or alias."""

    status_code = 404
    error_code = "ResourceNotFoundException"

    @classmethod
    def for_function(cls, region: str, name: str, qualifier: str | None) -> ResourceNotFoundError:
        """`Function not found: <arn>:<qualifier or $LATEST>` as AWS words it."""
        return cls(f"Function not found: {function_arn(region, name, qualifier or '$LATEST')}")


class RequestTooLargeError(LambdaServiceError):
    """413: the request payload is over the limit for its invocation type."""

    status_code = 413
    error_code = "RequestEntityTooLargeException"

    @classmethod
    def for_limit(cls, limit: int) -> RequestTooLargeError:
        """`Request must be smaller than <limit> bytes for the InvokeFunction operation`."""
        return cls(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class InvalidParameterValueError(LambdaServiceError):
    """400: a parameter of the Invoke call is malformed."""

    status_code = 400
    error_code = "InvalidParameterValueException"


class InvalidRequestContentError(LambdaServiceError):
    """400: the request body is not JSON."""

    status_code = 400
    error_code = "InvalidRequestContentException"


class ValidationError(LambdaServiceError):
    """400: a parameter breaks the API model's constraints (AWS's `1 validation error detected: ...`)."""

    status_code = 400
    error_code = "ValidationException"


class ProvisionedConfigNotFoundError(LambdaServiceError):
    """404: the version or alias has no provisioned concurrency configuration."""

    status_code = 404
    error_code = "ProvisionedConcurrencyConfigNotFoundException"


class ResourceConflictError(LambdaServiceError):
    """409: the request conflicts with the function's state (an alias that exists, a limit in use)."""

    status_code = 409
    error_code = "ResourceConflictException"


class TooManyRequestsError(LambdaServiceError):
    """429: the invoke was throttled; `reason` is AWS's `Reason` field (lambda-facts §4.8)."""

    status_code = 429
    error_code = "TooManyRequestsException"

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason

    def to_json(self) -> dict[str, str]:
        """The recorded body: `Reason`, `Type` and a lower-case `message` (lambda-facts §4.8)."""
        return {"Reason": self.reason, "Type": "User", "message": self.message}


def platform_error_payload(error_type: str, message: str) -> bytes:
    """A platform-generated function error body: `{"errorType": ..., "errorMessage": ...}`."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def request_error_message(request_id: str, text: str) -> str:
    """Platform messages read `RequestId: <id> Error: <text>` (lambda-facts §4.10)."""
    return f"RequestId: {request_id} Error: {text}"


def timeout_message(request_id: str, timeout_s: float) -> str:
    """`RequestId: <id> Error: Task timed out after N.NN seconds` (lambda-facts §4.6)."""
    return request_error_message(request_id, f"Task timed out after {timeout_s:.2f} seconds")


def response_too_large_payload() -> bytes:
    """The Function.ResponseSizeTooLarge body, with no requestId or stackTrace (lambda-facts §4.4)."""
    return platform_error_payload(
        "Function.ResponseSizeTooLarge",
        f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
    )


# Go's names for signals, which RAPID prints in "Runtime exited with error: signal: <name>".
_GO_SIGNAL_NAMES = {
    signal.SIGHUP: "hangup",
    signal.SIGINT: "interrupt",
    signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGPIPE: "broken pipe",
    signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated",
}


def exit_error_message(request_id: str, returncode: int) -> str:
    """The Runtime.ExitError message for a runtime process that ended with `returncode`.

    Zero is "exited without providing a reason"; otherwise the text after "error: " is the Go
    process-state string RAPID prints (`exit status N`, `signal: killed`), lambda-facts §4.4.
    """
    if returncode == 0:
        return request_error_message(request_id, "Runtime exited without providing a reason")
    if returncode < 0:
        signum = -returncode
        try:
            name = _GO_SIGNAL_NAMES.get(signal.Signals(signum), f"signal {signum}")
        except ValueError:
            name = f"signal {signum}"
        return request_error_message(request_id, f"Runtime exited with error: signal: {name}")
    return request_error_message(request_id, f"Runtime exited with error: exit status {returncode}")


def out_of_memory_message(request_id: str) -> str:
    """The Runtime.OutOfMemory message.

    The type is confirmed; the text is not (lambda-facts §14 item 1). lambench uses the newer of the
    two observed forms, which is what RAPID prints for a process the kernel killed.
    """
    return request_error_message(request_id, "Runtime exited with error: signal: killed")
