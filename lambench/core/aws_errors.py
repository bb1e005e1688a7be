"""Turning boto3's exceptions into one line the user can act on, and `BackendError`, that line.

Every AWS call of the real-account backend and of the CloudWatch tail runs inside
`aws_call("lambda ListFunctions", ...)`, which re-raises botocore's exceptions as `BackendError`s
naming the call, what went wrong and what to do: no credentials, an unknown profile, no region,
expired or rejected credentials, a missing IAM permission (the action to grant), an unknown
function or log group, throttling and the network (both retryable). This module never imports
botocore at import time: lambench's start-up must not pay for it, and an exception from botocore
means it is loaded already.

It sits outside `core/backends` and `core/logs` and imports neither, so both can use it while
`backends` imports `logs` and never the other way round. `lambench.core.backends.base` re-exports
`BackendError`, the error every `Backend` method may raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class BackendError(Exception):
    """A failure the user can act on, in one line: which call failed, why, and what to do.

    `code` is AWS's error code when there is one (`AccessDeniedException`, `ResourceNotFoundException`,
    ...); `retryable` says whether trying again later may help (throttling, the network).
    """

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


#: `BackendError.code` of an answer saying the endpoint does not implement the operation at all
#: (an emulator, or an API the partition lacks); callers treat it as "nothing configured".
UNSUPPORTED = "UnsupportedOperation"

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
    }
)
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_REJECTED = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AuthFailure",
        "IncompleteSignature",
    }
)
_DENIED = frozenset({"UnauthorizedOperation", "UnauthorizedException", "AuthorizationError"})
_NOT_FOUND = frozenset({"ResourceNotFoundException", "ResourceNotFound", "NoSuchEntity", "NotFoundException"})
_UNSUPPORTED_CODES = frozenset(
    {
        "UnknownOperationException",
        "UnknownOperation",
        "InvalidAction",
        "NotImplemented",
        "NotImplementedError",
    }
)
# IAM actions whose names differ from the API operation's.
_IAM_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}
# Some emulators (moto with IAM checks on) answer JSON services in XML that botocore cannot parse,
# leaving the HTTP status as the code and the XML as the message; the real code is inside.
_EMBEDDED_CODE_RE = re.compile(r"<Code>([^<]+)</Code>")
_EMBEDDED_MESSAGE_RE = re.compile(r"<Message>([^<]*)</Message>")
_MAX_AWS_TEXT = 200


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a botocore ClientError (`AccessDeniedException`, ...), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    code = str(error.get("Code") or "") or None
    if code is not None and code.isdigit():
        embedded = _EMBEDDED_CODE_RE.search(str(error.get("Message") or ""))
        if embedded:
            return embedded.group(1)
    return code


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def is_unsupported(exc: BaseException) -> bool:
    """Whether an answer says the endpoint does not implement the operation at all.

    A real "no such operation" has a code like `UnknownOperationException`; an emulator's missing
    route answers a bare HTTP 404 or 501 without an AWS error type (moto does for
    ListProvisionedConcurrencyConfigs).
    """
    if isinstance(exc, BackendError):
        return exc.code == UNSUPPORTED
    code = error_code(exc)
    if code in _UNSUPPORTED_CODES or http_status(exc) == 501:
        return True
    return code == "404" and http_status(exc) == 404


def _aws_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    message = ""
    if isinstance(response, dict):
        error = response.get("Error") or {}
        message = str(error.get("Message") or response.get("message") or "")
        embedded = _EMBEDDED_MESSAGE_RE.search(message)
        if embedded:
            message = embedded.group(1)
        elif message.lstrip().startswith("<"):
            message = ""
    message = " ".join(message.split())
    return message[:_MAX_AWS_TEXT] + ("..." if len(message) > _MAX_AWS_TEXT else "")


def iam_action(call: str) -> str:
    """The IAM action a call needs: `lambda Invoke` -> `lambda:InvokeFunction`."""
    service, _, operation = call.partition(" ")
    action = f"{service}:{operation}"
    return _IAM_ACTIONS.get(action, action)


def _where(profile: str | None, region: str | None) -> str:
    return f"profile {profile or 'default'}, region {region or 'not set'}"


def translate(
    exc: BaseException,
    call: str,
    *,
    profile: str | None = None,
    region: str | None = None,
    resource: str | None = None,
) -> BackendError:
    """One clear BackendError for an exception raised by boto3 during `call` (`lambda ListFunctions`).

    `resource` names what the call was about (`function 'orders'`, `log group '/aws/lambda/x'`)
    for a not-found answer; `profile` and `region` are the ones in use, for the advice.
    """
    if isinstance(exc, BackendError):
        return exc
    from botocore import exceptions as bce

    where = _where(profile, region)
    if isinstance(exc, bce.ProfileNotFound):
        return BackendError(
            f"{call}: AWS profile '{profile}' is not in ~/.aws/config or ~/.aws/credentials: "
            "check --profile or AWS_PROFILE (`aws configure list-profiles` lists them)",
            code="ProfileNotFound",
        )
    if isinstance(exc, bce.NoRegionError):
        return BackendError(
            f"{call}: no AWS region ({where}): pass --region, set AWS_REGION, or add a region to the profile",
            code="NoRegion",
        )
    if isinstance(exc, bce.NoCredentialsError):
        return BackendError(
            f"{call}: no AWS credentials found ({where}): run `aws configure` or `aws sso login`, "
            "or pass --profile",
            code="NoCredentials",
        )
    if isinstance(exc, bce.PartialCredentialsError):
        return BackendError(
            f"{call}: incomplete AWS credentials ({where}: {exc}): set both the access key id and the "
            "secret key, or use another --profile",
            code="PartialCredentials",
        )
    if isinstance(exc, (bce.TokenRetrievalError, bce.SSOError)):
        return BackendError(
            f"{call}: the SSO session has expired or is missing ({where}): run "
            f"`aws sso login{f' --profile {profile}' if profile else ''}` and retry",
            code="ExpiredToken",
        )
    if isinstance(exc, bce.CredentialRetrievalError):
        return BackendError(f"{call}: could not get AWS credentials ({where}): {exc}", code="NoCredentials")
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError)):
        return BackendError(
            f"{call}: cannot reach AWS ({type(exc).__name__}: {exc}): check the network, the proxy "
            "or --endpoint",
            code=type(exc).__name__,
            retryable=True,
        )
    if isinstance(exc, bce.ParamValidationError):
        return BackendError(f"{call}: invalid request: {' '.join(str(exc).split())}", code="ParamValidation")
    if isinstance(exc, bce.ClientError):
        return _translate_client_error(exc, call, where=where, profile=profile, resource=resource)
    return BackendError(f"{call}: {type(exc).__name__}: {exc}")


def _translate_client_error(
    exc: BaseException, call: str, *, where: str, profile: str | None, resource: str | None
) -> BackendError:
    code = error_code(exc) or "Unknown"
    status = http_status(exc)
    said = _aws_message(exc)
    aws_said = f" (AWS said: {said})" if said else ""
    if code in _THROTTLING or status == 429:
        response: dict[str, Any] = getattr(exc, "response", {})
        reason = response.get("Reason") or (response.get("Error") or {}).get("Reason")
        why = f"{code}, Reason: {reason}" if reason else code
        return BackendError(
            f"{call}: throttled by AWS ({why}){aws_said}: wait and retry, or raise the limit",
            code=code,
            retryable=True,
        )
    if code in _EXPIRED:
        login = f"aws sso login --profile {profile}" if profile else "aws sso login"
        return BackendError(
            f"{call}: the AWS credentials have expired ({code}, {where}): refresh them (`{login}`, or "
            "new keys) and retry",
            code=code,
        )
    if code in _REJECTED:
        return BackendError(
            f"{call}: AWS rejected the credentials ({code}, {where}): check the access keys of the "
            "profile and the computer's clock, or use another --profile",
            code=code,
        )
    if code.startswith("AccessDenied") or code in _DENIED:
        return BackendError(
            f"{call}: access denied ({code}){aws_said}: grant {iam_action(call)} to your IAM identity "
            f"({where})",
            code=code,
        )
    if code in _NOT_FOUND:
        what = resource or "the resource"
        return BackendError(
            f"{call}: {what} not found ({where}): check the name, the account and --region",
            code=code,
        )
    if is_unsupported(exc):
        return BackendError(
            f"{call}: the endpoint does not implement this operation ({code})", code=UNSUPPORTED
        )
    if status is not None and status >= 500:
        return BackendError(
            f"{call}: AWS had an internal error ({code}){aws_said}: retry later",
            code=code,
            retryable=True,
        )
    return BackendError(f"{call}: {code}{': ' + said if said else ''}", code=code)


def _is_aws_exception(exc: BaseException) -> bool:
    # ClientError subclasses are generated in botocore.errorfactory; checking the module avoids
    # importing botocore for exceptions that cannot be its own.
    return any(cls.__module__.split(".")[0] in ("botocore", "boto3") for cls in type(exc).__mro__)


@contextmanager
def aws_call(
    call: str,
    *,
    profile: str | None = None,
    region: str | None = None,
    resource: str | None = None,
) -> Iterator[None]:
    """Run a block of boto3 calls, re-raising botocore's exceptions as one-line BackendErrors."""
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        if not _is_aws_exception(exc):
            raise
        raise translate(exc, call, profile=profile, region=region, resource=resource) from exc
