"""Reading a function's `Events:` into event sources (`lambench.core.sources.model`).

Each event becomes one source with AWS's defaults and bounds (lambda-facts §8.1). A mistake in a
supported event is a located `TemplateError`; an event type lambench does not run (Api, Kafka,
IoT, ...) or a property it does not honour is a located warning naming what is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from lambench.core.runtime.async_config import DEAD_LETTER_KINDS, destination_kind
from lambench.core.sources import model
from lambench.core.sources.patterns import PatternError, check_pattern
from lambench.core.sources.schedule import ScheduleError, parse_schedule
from lambench.core.template.model import TemplateError
from lambench.core.template.nodes import Node, describe
from lambench.core.template.values import TemplateValues

#: Event types lambench knows but does not run, and why.
_NOT_RUN = {
    "CloudWatchLogs": "lambench has no log subscriptions",
    "IoTRule": "lambench has no IoT",
    "AlexaSkill": "lambench has no Alexa",
    "Cognito": "lambench has no Cognito triggers",
    "MSK": "lambench has no Kafka",
    "SelfManagedKafka": "lambench has no Kafka",
    "MQ": "lambench has no Amazon MQ",
    "DocumentDB": "lambench has no DocumentDB streams",
}
#: HTTP events: not event sources but routes of the front door (`routes_reader.py`).
_FRONT_DOORS = ("Api", "HttpApi")
_RUN = (
    model.SQS,
    model.S3,
    model.SNS,
    model.DYNAMODB,
    model.KINESIS,
    model.EVENTBRIDGE,
    "CloudWatchEvent",
    model.SCHEDULE,
    model.SCHEDULE_V2,
)
#: Per type: the properties lambench uses, and those it accepts but does not honour.
_KNOWN = ", ".join((*_RUN, *_FRONT_DOORS))
_PROPERTIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    model.SQS: (
        (
            "Queue",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "Enabled",
            "FunctionResponseTypes",
            "ScalingConfig",
            "FilterCriteria",
        ),
        ("KmsKeyArn", "MetricsConfig", "ProvisionedPollerConfig"),
    ),
    model.S3: (("Bucket", "Events", "Filter"), ()),
    model.SNS: (
        ("Topic", "FilterPolicy", "FilterPolicyScope"),
        ("Region", "SqsSubscription", "RedrivePolicy"),
    ),
    model.DYNAMODB: (
        (
            "Stream",
            "StartingPosition",
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "Enabled",
            "BisectBatchOnFunctionError",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "FunctionResponseTypes",
            "DestinationConfig",
            "FilterCriteria",
        ),
        ("ParallelizationFactor", "TumblingWindowInSeconds", "KmsKeyArn", "MetricsConfig"),
    ),
    model.EVENTBRIDGE: (
        ("Pattern", "EventBusName", "Input", "InputPath", "State", "RuleName", "Enabled"),
        ("InputTransformer", "Target", "RetryPolicy", "DeadLetterConfig"),
    ),
    model.SCHEDULE: (
        ("Schedule", "Input", "Enabled", "State", "Name"),
        ("Description", "RetryPolicy", "DeadLetterConfig", "Target"),
    ),
    model.SCHEDULE_V2: (
        ("ScheduleExpression", "ScheduleExpressionTimezone", "Input", "State", "Name"),
        (
            "Description",
            "FlexibleTimeWindow",
            "StartDate",
            "EndDate",
            "RetryPolicy",
            "GroupName",
            "OmitName",
            "DeadLetterConfig",
            "KmsKeyArn",
            "RoleArn",
            "PermissionsBoundary",
        ),
    ),
}
_PROPERTIES[model.KINESIS] = (
    (*_PROPERTIES[model.DYNAMODB][0], "StartingPositionTimestamp"),
    _PROPERTIES[model.DYNAMODB][1],
)
_PROPERTIES["CloudWatchEvent"] = _PROPERTIES[model.EVENTBRIDGE]
_STARTING_POSITIONS = {
    model.DYNAMODB: ("TRIM_HORIZON", "LATEST"),
    model.KINESIS: ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"),
}


class EventSourceReader(TemplateValues):
    """The `Events:` part of reading a template."""

    def _event_sources(self, function: str, props: Node, warnings: list[str]) -> list[model.Source]:
        """The sources of one function (its properties with Globals merged); warnings are appended."""
        assert props.entries is not None
        events = props.entries.get("Events")
        if events is None:
            return []
        if events.entries is None:
            raise self.error(
                events, f"expected a mapping of named events, got {describe(events, events.value)}"
            )
        sources: list[model.Source] = []
        for name, event in events.entries.items():
            source = self._event_source(function, str(name), event, warnings)
            if source is not None:
                sources.append(source)
        return sources

    def _event_source(
        self, function: str, name: str, event: Node, warnings: list[str]
    ) -> model.Source | None:
        if event.entries is None:
            raise self.error(
                event, f"expected a mapping with Type and Properties, got {describe(event, event.value)}"
            )
        type_node = event.entries.get("Type")
        if type_node is None:
            raise self.error(self._missing(event, "Type"), f"missing; use one of {', '.join(_RUN)}")
        kind = self._string(type_node, "an event type")
        if kind in _FRONT_DOORS:
            return None  # routes: read by routes_reader
        if kind in _NOT_RUN:
            warnings.append(str(self.error(type_node, f"{kind} events are ignored: {_NOT_RUN[kind]}")))
            return None
        if kind not in _RUN:
            raise self.error(
                type_node,
                f"{kind!r} is not an event type lambench knows; use one of {_KNOWN}",
            )
        props = self._properties(event)
        assert props.entries is not None
        used, ignored = _PROPERTIES[kind]
        for key, child in props.entries.items():
            if key in ignored:
                warnings.append(str(self.error(child, "is ignored by lambench")))
            elif key not in used:
                raise self.error(child, f"unknown property of {kind} events; use {', '.join(used)}")
        entries = props.entries
        if kind == model.SQS:
            return self._sqs(function, name, props, entries)
        if kind in (model.DYNAMODB, model.KINESIS):
            return self._stream(function, name, kind, props, entries)
        if kind == model.S3:
            return self._s3(function, name, props, entries)
        if kind == model.SNS:
            return self._sns(function, name, props, entries)
        if kind in (model.EVENTBRIDGE, "CloudWatchEvent"):
            return self._rule(function, name, props, entries)
        return self._schedule(function, name, kind == model.SCHEDULE_V2, props, entries)

    # -- per type -------------------------------------------------------------------------------

    def _sqs(self, function: str, name: str, props: Node, entries: dict[object, Node]) -> model.SqsSource:
        queue = self._arn(
            self._required(props, "Queue", "the queue's ARN (!GetAtt Queue.Arn)"), "sqs", "an SQS queue"
        )
        fifo = queue.endswith(".fifo")
        batch = self._int(entries.get("BatchSize"), 10, 1, 10 if fifo else 10000, "BatchSize")
        window = self._int(
            entries.get("MaximumBatchingWindowInSeconds"), 0, 0, 300, "MaximumBatchingWindowInSeconds"
        )
        if batch > 10 and window < 1:
            raise self.error(
                entries["BatchSize"], "a BatchSize above 10 needs MaximumBatchingWindowInSeconds of 1 or more"
            )
        concurrency = None
        if "ScalingConfig" in entries:
            scaling = self._mapping_of(entries["ScalingConfig"], ("MaximumConcurrency",))
            concurrency = self._int(scaling.get("MaximumConcurrency"), 1000, 2, 1000, "MaximumConcurrency")
        return model.SqsSource(
            function=function,
            name=name,
            queue_arn=queue,
            batch_size=batch,
            batching_window_s=window,
            maximum_concurrency=concurrency,
            report_failures=self._response_types(entries.get("FunctionResponseTypes")),
            filters=self._filters(entries.get("FilterCriteria")),
            enabled=self._flag(entries.get("Enabled"), True),
        )

    def _stream(
        self, function: str, name: str, kind: str, props: Node, entries: dict[object, Node]
    ) -> model.StreamSource:
        service, noun = (
            ("dynamodb", "a DynamoDB stream") if kind == model.DYNAMODB else ("kinesis", "a Kinesis stream")
        )
        stream = self._arn(self._required(props, "Stream", f"the ARN of {noun}"), service, noun)
        if kind == model.DYNAMODB and "/stream/" not in stream:
            raise self.error(entries["Stream"], f"{stream!r} is a table's ARN; use !GetAtt Table.StreamArn")
        positions = _STARTING_POSITIONS[kind]
        position_node = self._required(props, "StartingPosition", " or ".join(positions))
        position = self._string(position_node, " or ".join(positions))
        if position not in positions:
            raise self.error(
                position_node, f"{position!r} is not a starting position; use {', '.join(positions)}"
            )
        timestamp = None
        if position == "AT_TIMESTAMP":
            node = self._required(props, "StartingPositionTimestamp", "seconds since the epoch")
            value = self._scalar(node, "seconds since the epoch")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.error(node, f"expected seconds since the epoch, got {describe(node, value)}")
            timestamp = float(value)
        batch = self._int(entries.get("BatchSize"), 100, 1, 10000, "BatchSize")
        window = self._int(
            entries.get("MaximumBatchingWindowInSeconds"), 0, 0, 300, "MaximumBatchingWindowInSeconds"
        )
        on_failure = None
        if "DestinationConfig" in entries:
            config = self._mapping_of(entries["DestinationConfig"], ("OnFailure",))
            if "OnFailure" in config:
                self._mapping_of(config["OnFailure"], ("Destination", "Type"))
                destination = self._required(
                    config["OnFailure"], "Destination", "an SQS queue or SNS topic ARN"
                )
                on_failure = self._string(destination, "an SQS queue or SNS topic ARN")
                if destination_kind(on_failure) not in DEAD_LETTER_KINDS:
                    raise self.error(
                        destination, f"{on_failure!r} is not the ARN of an SQS queue or SNS topic"
                    )
        return model.StreamSource(
            function=function,
            name=name,
            kind=kind,
            stream_arn=stream,
            starting_position=position,
            starting_timestamp=timestamp,
            batch_size=batch,
            batching_window_s=window,
            bisect_on_error=self._flag(entries.get("BisectBatchOnFunctionError"), False),
            maximum_retry_attempts=self._int(
                entries.get("MaximumRetryAttempts"), -1, -1, 10000, "MaximumRetryAttempts"
            ),
            maximum_record_age_s=self._record_age(entries.get("MaximumRecordAgeInSeconds")),
            report_failures=self._response_types(entries.get("FunctionResponseTypes")),
            on_failure=on_failure,
            filters=self._filters(entries.get("FilterCriteria")),
            enabled=self._flag(entries.get("Enabled"), True),
        )

    def _s3(self, function: str, name: str, props: Node, entries: dict[object, Node]) -> model.S3Source:
        bucket_node = self._required(props, "Bucket", "!Ref of a bucket in this template")
        bucket = self._string(bucket_node, "a bucket name")
        events_node = self._required(props, "Events", "s3:ObjectCreated:* or a list of S3 event types")
        if events_node.items is not None:
            events = tuple(self._string(item, "an S3 event type") for item in events_node.items)
        else:
            events = (self._string(events_node, "an S3 event type"),)
        for event, node in zip(events, events_node.items or [events_node], strict=True):
            if not event.startswith(("s3:ObjectCreated:", "s3:ObjectRemoved:")):
                raise self.error(
                    node, f"{event!r}: lambench sends s3:ObjectCreated:* and s3:ObjectRemoved:* events only"
                )
        prefix = suffix = ""
        if "Filter" in entries:
            rules_node = self._mapping_of(entries["Filter"], ("S3Key",))
            key_node = rules_node.get("S3Key")
            rules = self._mapping_of(key_node, ("Rules",)).get("Rules") if key_node else None
            for rule in (rules.items or []) if rules else []:
                rule_entries = self._mapping_of(rule, ("Name", "Value"))
                rule_name = self._string(self._required(rule, "Name", "prefix or suffix"), "prefix or suffix")
                value = self._string(self._required(rule, "Value", "the key's prefix or suffix"), "a string")
                if rule_name.lower() == "prefix":
                    prefix = value
                elif rule_name.lower() == "suffix":
                    suffix = value
                else:
                    raise self.error(
                        rule_entries["Name"], f"{rule_name!r} is not a filter rule; use prefix or suffix"
                    )
        return model.S3Source(
            function=function, name=name, bucket=bucket, events=events, prefix=prefix, suffix=suffix
        )

    def _sns(self, function: str, name: str, props: Node, entries: dict[object, Node]) -> model.SnsSource:
        topic = self._arn(
            self._required(props, "Topic", "the topic's ARN (!Ref Topic)"), "sns", "an SNS topic"
        )
        policy = None
        if "FilterPolicy" in entries:
            policy = self._pattern(entries["FilterPolicy"])
        scope = "MessageAttributes"
        if "FilterPolicyScope" in entries:
            scope = self._string(entries["FilterPolicyScope"], "MessageAttributes or MessageBody")
            if scope not in ("MessageAttributes", "MessageBody"):
                raise self.error(
                    entries["FilterPolicyScope"], f"{scope!r}: use MessageAttributes or MessageBody"
                )
        return model.SnsSource(
            function=function, name=name, topic_arn=topic, filter_policy=policy, filter_scope=scope
        )

    def _rule(self, function: str, name: str, props: Node, entries: dict[object, Node]) -> model.RuleSource:
        pattern = self._pattern(self._required(props, "Pattern", "an event pattern"))
        bus = "default"
        if "EventBusName" in entries:
            bus = self._string(entries["EventBusName"], "an event bus name").rsplit("/", 1)[-1]
        input_text, input_path = self._input(entries), None
        if "InputPath" in entries:
            input_path = self._string(entries["InputPath"], "a JSONPath such as $.detail")
            if not input_path.startswith("$"):
                raise self.error(entries["InputPath"], f"{input_path!r} is not a JSONPath; start it with $")
        rule_name = (
            self._string(entries["RuleName"], "a rule name")
            if "RuleName" in entries
            else f"{function}-{name}"
        )
        return model.RuleSource(
            function=function,
            name=name,
            rule_name=rule_name,
            pattern=pattern,
            bus=bus,
            input=input_text,
            input_path=input_path,
            enabled=self._state(entries),
        )

    def _schedule(
        self, function: str, name: str, scheduler: bool, props: Node, entries: dict[object, Node]
    ) -> model.ScheduleSource:
        key = "ScheduleExpression" if scheduler else "Schedule"
        node = self._required(props, key, "rate(5 minutes) or cron(0 12 * * ? *)")
        expression = self._string(node, "a schedule expression")
        timezone = "UTC"
        if scheduler and "ScheduleExpressionTimezone" in entries:
            timezone = self._string(entries["ScheduleExpressionTimezone"], "a time zone such as Europe/Paris")
        try:
            if not scheduler and expression.startswith("at("):
                raise ScheduleError(
                    f"{expression!r}: at() is for ScheduleV2; a Schedule takes rate() or cron()"
                )
            parse_schedule(expression, timezone)
        except ScheduleError as exc:
            where = entries.get("ScheduleExpressionTimezone") if "time zone" in str(exc) else node
            raise self.error(where or node, str(exc)) from None
        schedule_name = self._string(entries["Name"], "a name") if "Name" in entries else f"{function}-{name}"
        return model.ScheduleSource(
            function=function,
            name=name,
            schedule_name=schedule_name,
            expression=expression,
            timezone=timezone,
            input=self._input(entries),
            scheduler=scheduler,
            enabled=self._state(entries),
        )

    # -- values ---------------------------------------------------------------------------------

    def _required(self, parent: Node, key: str, expected: str) -> Node:
        assert parent.entries is not None
        node = parent.entries.get(key)
        if node is None:
            raise self.error(self._missing(parent, key), f"missing; give {expected}")
        return node

    def _mapping_of(self, node: Node, keys: tuple[str, ...]) -> dict[object, Node]:
        if node.entries is None:
            raise self.error(
                node, f"expected a mapping with {', '.join(keys)}, got {describe(node, node.value)}"
            )
        for key, child in node.entries.items():
            if key not in keys:
                raise self.error(child, f"unknown key; use {', '.join(keys)}")
        return node.entries

    def _arn(self, node: Node, service: str, noun: str) -> str:
        arn = self._string(node, f"the ARN of {noun}")
        if destination_kind(arn) != service:
            raise self.error(node, f"{arn!r} is not the ARN of {noun}")
        return arn

    def _int(self, node: Node | None, default: int, low: int, high: int, name: str) -> int:
        if node is None:
            return default
        value = self._scalar(node, f"a number ({low}-{high})")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, f"expected a number ({low}-{high}), got {describe(node, value)}")
        if not low <= value <= high:
            raise self.error(node, f"{name} {value} is out of range; use {low}-{high}")
        return value

    def _record_age(self, node: Node | None) -> int:
        age = self._int(node, -1, -1, 604800, "MaximumRecordAgeInSeconds")
        if 0 <= age < 60:
            assert node is not None
            raise self.error(node, f"MaximumRecordAgeInSeconds {age} is out of range; use -1 or 60-604800")
        return age

    def _flag(self, node: Node | None, default: bool) -> bool:
        if node is None:
            return default
        value = self._scalar(node, "true or false")
        if value in (True, "true", "True"):
            return True
        if value in (False, "false", "False"):
            return False
        raise self.error(node, f"expected true or false, got {describe(node, value)}")

    def _state(self, entries: dict[object, Node]) -> bool:
        if "State" in entries:
            state = self._string(entries["State"], "ENABLED or DISABLED")
            if state not in ("ENABLED", "DISABLED"):
                raise self.error(entries["State"], f"{state!r}: use ENABLED or DISABLED")
            return state == "ENABLED"
        return self._flag(entries.get("Enabled"), True)

    def _response_types(self, node: Node | None) -> bool:
        if node is None:
            return False
        if node.items is None:
            raise self.error(node, f"expected a list such as [{model.REPORT_BATCH_ITEM_FAILURES}]")
        for item in node.items:
            value = self._string(item, model.REPORT_BATCH_ITEM_FAILURES)
            if value != model.REPORT_BATCH_ITEM_FAILURES:
                raise self.error(
                    item, f"{value!r} is not a response type; use {model.REPORT_BATCH_ITEM_FAILURES}"
                )
        return bool(node.items)

    def _input(self, entries: dict[object, Node]) -> str | None:
        if "Input" not in entries:
            return None
        text = self._string(entries["Input"], "JSON text")
        try:
            json.loads(text)
        except ValueError as exc:
            raise self.error(entries["Input"], f"is not valid JSON: {exc}") from None
        return text

    def _pattern(self, node: Node) -> Mapping[str, object]:
        value = self._resolve(node)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise self.error(node, f"is not valid JSON: {exc}") from None
        try:
            check_pattern(value, node.path.rsplit(".", 1)[-1])
        except PatternError as exc:
            raise self.error(node, str(exc)) from None
        assert isinstance(value, Mapping)
        return value

    def _filters(self, node: Node | None) -> tuple[Mapping[str, object], ...]:
        if node is None:
            return ()
        criteria = self._mapping_of(node, ("Filters",))
        filters_node = criteria.get("Filters")
        if filters_node is None or filters_node.items is None:
            raise self.error(filters_node or node, "expected a list of {Pattern: ...}")
        patterns = []
        for item in filters_node.items:
            pattern_node = self._mapping_of(item, ("Pattern",)).get("Pattern")
            if pattern_node is None:
                raise self.error(self._missing(item, "Pattern"), "missing; give a JSON pattern")
            patterns.append(self._pattern(pattern_node))
        return tuple(patterns)


__all__ = ["EventSourceReader", "TemplateError"]
