"""Seeing what happens in the embedded account that should trigger a function.

moto would deliver S3 notifications, SNS messages and EventBridge events to its own in-process
Lambda (which needs Docker); lambench never registers those triggers with moto. Instead this
observer watches the requests moto serves (whoever sends them: a handler, boto3 outside, the AWS
CLI) and, once moto has accepted one, tells the `Notifier`: an object created or removed, a
message published, events put on a bus.

Only path-style S3 requests (what SDKs send to an endpoint on 127.0.0.1) are recognised, and
only requests that come in over HTTP: moto's own internal deliveries (an S3 notification to an
SNS topic configured with the S3 API) are not seen.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from lambench.core.embedded.lambda_route import read_body
from lambench.core.embedded.server import AfterResponse
from lambench.core.runtime.destinations import timestamp_seconds
from lambench.core.sources.notifications import BusEvent, ObjectEvent, Publication

_CREDENTIAL_RE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_CREDENTIAL_RE = re.compile(r"X-Amz-Credential=[^&]*?%2F\d{8}%2F[^%&]+%2F([^%&]+)%2Faws4_request", re.I)
#: S3 sub-resources whose PUT or DELETE is not an object event (tags, ACLs, a part of an upload...).
_NOT_OBJECT_EVENTS = {
    "acl",
    "tagging",
    "retention",
    "legal-hold",
    "partNumber",
    "uploadId",
    "torrent",
    "restore",
}

Report = Callable[[ObjectEvent | Publication | BusEvent], None]


class AccountEventObserver:
    """An `EmbeddedMoto` observer that reports object events, publications and bus events."""

    def __init__(self, report: Report) -> None:
        self._report = report

    def __call__(self, environ: dict[str, Any]) -> AfterResponse | None:
        service = _service(environ)
        if service == "s3":
            return self._s3(environ)
        if service == "sns":
            return self._sns(environ)
        if service == "events" and environ.get("HTTP_X_AMZ_TARGET", "").endswith(".PutEvents"):
            return self._put_events(environ)
        return None

    # -- S3 -------------------------------------------------------------------------------------

    def _s3(self, environ: dict[str, Any]) -> AfterResponse | None:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("PUT", "POST", "DELETE"):
            return None
        path = unquote(environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace"))
        bucket, _, key = path.lstrip("/").partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if not bucket:
            return None
        if method == "POST" and not key and "delete" in query:
            return self._delete_objects(environ, bucket)
        if not key:
            return None
        if method == "POST":
            if "uploadId" not in query:
                return None
            event_name = "ObjectCreated:CompleteMultipartUpload"
        elif set(query) & _NOT_OBJECT_EVENTS and not (method == "DELETE" and set(query) <= {"versionId"}):
            return None
        elif method == "PUT":
            event_name = (
                "ObjectCreated:Copy" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "ObjectCreated:Put"
            )
        else:
            event_name = "ObjectRemoved:Delete"
        size = None
        if event_name == "ObjectCreated:Put":
            length = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or "0"
            size = int(length) if str(length).isdigit() else None
        source_ip = str(environ.get("REMOTE_ADDR", "127.0.0.1"))

        def after(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            if status >= 300:
                return
            found = {name.lower(): value for name, value in headers}
            self._report(
                ObjectEvent(
                    bucket=bucket,
                    key=key,
                    event_name=event_name,
                    size=size,
                    etag=found.get("etag"),
                    version_id=found.get("x-amz-version-id"),
                    request_id=found.get("x-amz-request-id", ""),
                    source_ip=source_ip,
                )
            )

        return after

    def _delete_objects(self, environ: dict[str, Any], bucket: str) -> AfterResponse:
        body = _keep_body(environ)
        keys: list[str] = []
        try:
            for element in ElementTree.fromstring(body).iter():
                if element.tag.rsplit("}", 1)[-1] == "Key" and element.text:
                    keys.append(element.text)
        except ElementTree.ParseError:
            pass

        def after(status: int, headers: list[tuple[str, str]], response: bytes) -> None:
            if status >= 300:
                return
            for key in keys:
                self._report(ObjectEvent(bucket=bucket, key=key, event_name="ObjectRemoved:Delete"))

        return after

    # -- SNS ------------------------------------------------------------------------------------

    def _sns(self, environ: dict[str, Any]) -> AfterResponse | None:
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        form = {
            key: values[0] for key, values in parse_qs(_keep_body(environ).decode("utf-8", "replace")).items()
        }
        action = form.get("Action")
        if action == "Publish" and form.get("TopicArn"):
            entries = [("", form)]
            prefix = ""
        elif action == "PublishBatch" and form.get("TopicArn"):
            entries = _batch_entries(form)
            prefix = "PublishBatchRequestEntries.member."
        else:
            return None
        topic = form["TopicArn"]

        def after(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            if status >= 300:
                return
            ids = _message_ids(body)
            for entry_id, fields in entries:
                message_id = ids.get(entry_id) if prefix else next(iter(ids.values()), None)
                if message_id is None:
                    continue
                self._report(
                    Publication(
                        topic_arn=topic,
                        message_id=message_id,
                        message=fields.get("Message", ""),
                        subject=fields.get("Subject"),
                        attributes=_message_attributes(fields),
                    )
                )

        return after

    # -- EventBridge ----------------------------------------------------------------------------

    def _put_events(self, environ: dict[str, Any]) -> AfterResponse | None:
        try:
            request = json.loads(_keep_body(environ) or b"{}")
        except ValueError:
            return None
        entries = request.get("Entries") if isinstance(request, dict) else None
        if not isinstance(entries, list):
            return None

        def after(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            if status >= 300:
                return
            try:
                results = json.loads(body).get("Entries", [])
            except (ValueError, AttributeError):
                return
            for entry, result in zip(entries, results, strict=False):
                if not isinstance(entry, dict) or not isinstance(result, dict) or "EventId" not in result:
                    continue
                self._report(_bus_event(entry, result["EventId"]))

        return after


def _service(environ: dict[str, Any]) -> str | None:
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        match = _QUERY_CREDENTIAL_RE.search(environ.get("QUERY_STRING", ""))
    return match.group(1) if match else None


def _keep_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put an equal one back for moto."""
    body = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _batch_entries(form: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    entries: dict[str, dict[str, str]] = {}
    prefix = "PublishBatchRequestEntries.member."
    for key, value in form.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix) :].partition(".")
            entries.setdefault(index, {})[rest] = value
    return [
        (fields.get("Id", ""), fields) for _index, fields in sorted(entries.items(), key=lambda e: int(e[0]))
    ]


def _message_attributes(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    entries: dict[str, dict[str, str]] = {}
    prefix = "MessageAttributes.entry."
    for key, value in fields.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix) :].partition(".")
            entries.setdefault(index, {})[rest] = value
    attributes = {}
    for entry in entries.values():
        name = entry.get("Name")
        if not name:
            continue
        attribute = {"DataType": entry.get("Value.DataType", "String")}
        for wanted in ("StringValue", "BinaryValue"):
            if f"Value.{wanted}" in entry:
                attribute[wanted] = entry[f"Value.{wanted}"]
        attributes[name] = attribute
    return attributes


def _message_ids(body: bytes) -> dict[str, str]:
    """MessageIds in a Publish answer (key "") or a PublishBatch answer (keyed by entry Id)."""
    ids: dict[str, str] = {}
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return ids
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "PublishResult":
            for child in element:
                if child.tag.rsplit("}", 1)[-1] == "MessageId" and child.text:
                    ids[""] = child.text
        elif tag == "member":
            values = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
            if "MessageId" in values and "Id" in values:
                ids[values["Id"]] = values["MessageId"]
    return ids


def _bus_event(entry: dict[str, Any], event_id: str) -> BusEvent:
    detail_text = entry.get("Detail") or "{}"
    try:
        detail = json.loads(detail_text)
    except ValueError:
        detail = detail_text
    moment = entry.get("Time")
    when = None
    if isinstance(moment, int | float):
        when = timestamp_seconds(moment)
    elif isinstance(moment, str) and moment:
        when = moment
    bus = str(entry.get("EventBusName") or "default").rsplit("/", 1)[-1]
    return BusEvent(
        event_id=event_id,
        bus=bus,
        source=str(entry.get("Source", "")),
        detail_type=str(entry.get("DetailType", "")),
        detail=detail,
        resources=tuple(str(r) for r in entry.get("Resources") or ()),
        time=when,
    )
