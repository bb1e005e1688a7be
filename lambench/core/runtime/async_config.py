"""A function's asynchronous invocation settings: retries, event age, destinations, dead-letter queue.

What `PutFunctionEventInvokeConfig` sets (and SAM's `EventInvokeConfig`), plus the function's
`DeadLetterConfig` (SAM's `DeadLetterQueue`), which decide what happens to an `Event` invoke
after it was accepted (lambda-facts §7.2).
"""

from __future__ import annotations

from lambench.core.record import record
from lambench.core.runtime import errors

#: AWS's defaults and bounds (lambda-facts §7.2).
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_S = 21600
MINIMUM_EVENT_AGE_S = 60
MAXIMUM_EVENT_AGE_S = 21600

#: Where a destination ARN points, by its service: what `DestinationConfig` accepts.
DESTINATION_KINDS = ("sqs", "sns", "lambda", "events")
#: A dead-letter queue is an SQS queue or an SNS topic only.
DEAD_LETTER_KINDS = ("sqs", "sns")


@record(frozen=True)
class AsyncConfig:
    """The asynchronous invocation settings of one function (all of its versions and aliases)."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_s: int = DEFAULT_MAXIMUM_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_arn: str | None = None

    def __post_init__(self) -> None:
        check_range("maximumRetryAttempts", self.maximum_retry_attempts, 0, MAXIMUM_RETRY_ATTEMPTS)
        check_range(
            "maximumEventAgeInSeconds", self.maximum_event_age_s, MINIMUM_EVENT_AGE_S, MAXIMUM_EVENT_AGE_S
        )
        for arn in (self.on_success, self.on_failure):
            if arn is not None and destination_kind(arn) not in DESTINATION_KINDS:
                raise errors.InvalidParameterValueError(
                    f"The destination ARN {arn} is invalid: use an SQS queue, SNS topic, Lambda function "
                    "or EventBridge event bus ARN"
                )
        dead_letter = self.dead_letter_arn
        if dead_letter is not None and destination_kind(dead_letter) not in DEAD_LETTER_KINDS:
            raise errors.InvalidParameterValueError(
                f"The provided target ARN {self.dead_letter_arn} is invalid: a dead-letter queue is an "
                "SQS queue or an SNS topic"
            )

    def to_api(self, function_arn: str) -> dict[str, object]:
        """The `GetFunctionEventInvokeConfig` answer's fields for this configuration."""
        destinations: dict[str, object] = {}
        if self.on_success:
            destinations["OnSuccess"] = {"Destination": self.on_success}
        if self.on_failure:
            destinations["OnFailure"] = {"Destination": self.on_failure}
        return {
            "FunctionArn": function_arn,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": self.maximum_event_age_s,
            "DestinationConfig": destinations,
        }


def destination_kind(arn: str) -> str:
    """The service an ARN names (`sqs`, `sns`, `lambda`, `events`), or '' when it is no ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return ""
    if parts[2] == "events" and not parts[5].startswith("event-bus/"):
        return ""
    return parts[2]


def resource_name(arn: str) -> str:
    """The queue, topic, function or bus name at the end of an ARN."""
    tail = arn.split(":", 5)[5]
    if tail.startswith("event-bus/"):
        return tail.split("/", 1)[1]
    if tail.startswith("function:"):
        return tail.split(":")[1]
    return tail


def check_range(name: str, value: object, low: int, high: int) -> None:
    """`ValidationError` unless `value` is a whole number in [low, high], worded as the API's model."""
    # AWS's model checks (lambda-facts §7.2 gives the bounds; the wording is the API's usual one).
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.ValidationError(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            "Member must be an integer"
        )
    if value < low:
        bound = f"greater than or equal to {low}"
    elif value > high:
        bound = f"less than or equal to {high}"
    else:
        return
    raise errors.ValidationError(
        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
        f"Member must have value {bound}"
    )
