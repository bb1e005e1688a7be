"""The HTTP front door over loopback with a real client: API Gateway's payload formats, answers and errors.

One backend (real runtime processes, a real uvicorn server) serves tests/fixtures/front_door for
the whole module; every test talks to it with http.client.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lambench.core.backends.build import build_local_backend
from lambench.core.backends.local import LocalBackend
from lambench.core.http.server import FrontDoorServer
from lambench.core.runtime.records import HttpRecord, Record
from lambench.core.template import load_project
from tests.helpers import FIXTURES, simultaneously, wait_for

ORIGIN = "https://example.com"


class Door:
    """The running front door, its backend, and the access records it published."""

    def __init__(self, backend: LocalBackend, server: FrontDoorServer) -> None:
        self.backend = backend
        self.server = server
        self.records: list[HttpRecord] = []

        def keep(record: Record) -> None:
            if isinstance(record, HttpRecord):
                self.records.append(record)

        backend.service.subscribe(keep)

    @property
    def port(self) -> int:
        assert self.server.door.api_port is not None
        return self.server.door.api_port

    def url_port(self, function: str) -> int:
        return next(port for port, url in self.server.door.url_ports.items() if url.function == function)

    def call(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        port: int | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=20)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers or []:
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, **options: Any) -> tuple[int, Any]:
        status, _, body = self.call(method, path, **options)
        return status, json.loads(body)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    project_dir = tmp_path_factory.mktemp("front") / "project"
    shutil.copytree(FIXTURES / "front_door", project_dir)
    project = load_project(project_dir)
    backend = build_local_backend(project, project_dir, share=False)
    try:
        server = backend.start_front_doors()
        assert server is not None
        yield Door(backend, server)
    finally:
        backend.close()


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


# -- payload format 1.0 (REST) ------------------------------------------------------------------


def test_a_rest_event_has_every_field_api_gateway_sends(door: Door) -> None:
    status, event = door.json(
        "GET",
        "/dev/items/42?color=red&color=blue&size=L",
        headers=[("User-Agent", "tests/1.0"), ("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "a=1")],
    )
    assert status == 200
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"color": "blue", "size": "L"}
    assert event["multiValueQueryStringParameters"] == {"color": ["red", "blue"], "size": ["L"]}
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["headers"]["Cookie"] == "a=1"
    assert event["stageVariables"] is None and event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["path"] == "/dev/items/42"
    assert context["resourcePath"] == "/items/{id}" and context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "tests/1.0"
    assert context["accountId"] == "123456789012" and len(context["apiId"]) == 10
    assert time.strptime(context["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert len(context["requestId"]) == 36


def test_the_root_serves_every_api_and_a_literal_path_beats_a_parameter(door: Door) -> None:
    _, special = door.json("GET", "/items/special")
    assert special["resource"] == "/items/special" and special["pathParameters"] is None
    _, implicit = door.json("GET", "/hello")
    assert implicit["requestContext"]["stage"] == "Prod"
    _, staged = door.json("GET", "/Prod/hello")
    assert staged["requestContext"]["path"] == "/Prod/hello"


def test_a_greedy_path_takes_every_segment_and_any_method(door: Door) -> None:
    status, event = door.json("DELETE", "/dev/files/a/b%20c/d.txt")
    assert status == 200
    assert event["pathParameters"] == {"proxy": "a/b c/d.txt"}
    assert event["httpMethod"] == "DELETE"
    status, _, body = door.call("GET", "/dev/files")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_binary_bodies_round_trip_as_base64(door: Door) -> None:
    payload = bytes(range(256))
    status, event = door.json(
        "POST", "/dev/files/upload", headers=[("Content-Type", "image/png")], body=payload
    )
    assert status == 200
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload
    _, text = door.json("POST", "/dev/files/upload", headers=[("Content-Type", "text/plain")], body=b"hi")
    assert (text["body"], text["isBase64Encoded"]) == ("hi", False)
    status, headers, body = door.call("GET", "/dev/items/1?mode=binary")
    assert status == 200 and header(headers, "content-type") == "image/png"
    assert body == bytes(range(256))


def test_multi_value_response_headers_and_the_status_come_through(door: Door) -> None:
    status, headers, body = door.call("GET", "/dev/items/1?mode=multi")
    assert (status, body) == (201, b"made")
    assert header(headers, "x-one") == "1"
    assert [value for key, value in headers if key.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert header(headers, "x-amzn-requestid") is not None


@pytest.mark.parametrize("mode", ["malformed", "extra", "error", "huge"])
def test_a_malformed_response_or_a_function_error_is_a_502(door: Door, mode: str) -> None:
    status, _, body = door.call("GET", f"/dev/items/1?mode={mode}")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_no_route_is_missing_authentication_token_for_rest(door: Door) -> None:
    status, _, body = door.call("GET", "/dev/nowhere")
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}


# -- payload format 2.0 (HTTP APIs) -------------------------------------------------------------


def test_an_http_api_event_joins_repeated_values_and_moves_cookies(door: Door) -> None:
    status, event = door.json(
        "GET",
        "/v2/ann%20b?x=1&x=2",
        headers=[("User-Agent", "tests/2.0"), ("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "s=1; t=2")],
    )
    assert status == 200
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v2/{name}"
    assert event["rawPath"] == "/v2/ann%20b"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["pathParameters"] == {"name": "ann b"}
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"]["x-multi"] == "a,b" and "cookie" not in event["headers"]
    assert "body" not in event and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/v2/ann%20b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/2.0",
    }
    assert context["routeKey"] == "GET /v2/{name}" and context["stage"] == "$default"
    assert time.strptime(context["time"], "%d/%b/%Y:%H:%M:%S +0000")


def test_a_plain_answer_becomes_a_200_json_and_cookies_become_set_cookie(door: Door) -> None:
    status, headers, body = door.call("GET", "/v2/x?mode=string")
    assert (status, body, header(headers, "content-type")) == (200, b'"just text"', "application/json")
    assert header(headers, "apigw-requestid") is not None
    status, headers, body = door.call("GET", "/v2/x?mode=cookies")
    assert (status, body) == (202, b"cookies set")
    assert [value for key, value in headers if key.lower() == "set-cookie"] == [
        "session=abc; Path=/",
        "theme=dark",
    ]
    status, _, body = door.call("GET", "/v2/x?mode=bad")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_an_http_api_route_may_ask_for_payload_1_0(door: Door) -> None:
    status, _, body = door.call("GET", "/old")
    assert status == 200
    event = json.loads(body)
    assert event["httpMethod"] == "GET" and event["resource"] == "/old"


def test_a_post_body_arrives_as_text(door: Door) -> None:
    status, event = door.json("POST", "/v2", headers=[("Content-Type", "application/json")], body=b'{"a": 1}')
    assert status == 200
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    status, event = door.json(
        "POST", "/v2", headers=[("Content-Type", "application/octet-stream")], body=b"\xff"
    )
    assert (event["body"], event["isBase64Encoded"]) == ("/w==", True)


def test_no_route_on_an_http_api_is_not_found(door: Door) -> None:
    status, _, body = door.call("POST", "/v2/ann")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_a_request_over_10_mb_is_refused(door: Door) -> None:
    status, _, body = door.call("POST", "/v2", body=b"x" * (10 * 1024 * 1024 + 1))
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})


# -- CORS ---------------------------------------------------------------------------------------


def test_an_http_api_answers_preflight_itself_and_adds_cors_headers(door: Door) -> None:
    preflight = [("Origin", ORIGIN), ("Access-Control-Request-Method", "GET")]
    status, headers, body = door.call("OPTIONS", "/v2/ann", headers=preflight)
    assert (status, body) == (204, b"")
    assert header(headers, "access-control-allow-origin") == ORIGIN
    assert header(headers, "access-control-allow-methods") == "GET,POST"
    assert header(headers, "access-control-allow-headers") == "content-type"
    assert header(headers, "access-control-max-age") == "300"
    status, headers, _ = door.call("GET", "/v2/ann", headers=[("Origin", ORIGIN)])
    assert status == 200
    assert header(headers, "access-control-allow-origin") == ORIGIN
    assert header(headers, "access-control-expose-headers") == "x-custom"
    _, headers, _ = door.call("GET", "/v2/ann", headers=[("Origin", "https://evil.example")])
    assert header(headers, "access-control-allow-origin") is None


def test_a_rest_api_answers_preflight_with_its_cors_settings(door: Door) -> None:
    preflight = [("Origin", ORIGIN), ("Access-Control-Request-Method", "POST")]
    status, headers, _ = door.call("OPTIONS", "/dev/items/1", headers=preflight)
    assert status == 204
    assert header(headers, "access-control-allow-origin") == ORIGIN
    assert header(headers, "access-control-allow-headers") == "Content-Type,Authorization"
    assert header(headers, "access-control-max-age") == "600"
    refused = [("Origin", ORIGIN), ("Access-Control-Request-Method", "DELETE")]
    _, headers, _ = door.call("OPTIONS", "/dev/items/1", headers=refused)
    assert header(headers, "access-control-allow-origin") is None


# -- authorizers --------------------------------------------------------------------------------


def test_a_token_authorizer_allows_denies_and_is_cached(door: Door) -> None:
    runner = door.server.door.authorizers
    before = runner.invocations
    status, event = door.json("GET", "/dev/secure", headers=[("Authorization", "allow")])
    assert status == 200
    assert event["requestContext"]["authorizer"]["principalId"] == "user-1"
    assert event["requestContext"]["authorizer"]["tier"] == "gold"
    assert door.json("GET", "/dev/secure", headers=[("Authorization", "allow")])[0] == 200
    assert runner.invocations == before + 1  # the second answer came from the cache
    status, _, body = door.call("GET", "/dev/secure", headers=[("Authorization", "deny")])
    assert status == 403
    assert json.loads(body) == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    status, _, body = door.call("GET", "/dev/secure")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    status, _, body = door.call("GET", "/dev/secure", headers=[("Authorization", "unauthorized")])
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})


def test_a_request_authorizer_without_cache_runs_every_time(door: Door) -> None:
    runner = door.server.door.authorizers
    before = runner.invocations
    status, event = door.json("GET", "/dev/checked?token=allow")
    assert status == 200 and event["requestContext"]["authorizer"]["kind"] == "REQUEST"
    assert door.json("GET", "/dev/checked?token=allow")[0] == 200
    assert runner.invocations == before + 2
    assert door.call("GET", "/dev/checked?token=nope")[0] == 403
    assert door.call("GET", "/dev/checked")[0] == 401


def test_a_simple_response_authorizer_passes_its_context_on(door: Door) -> None:
    status, event = door.json("GET", "/private", headers=[("Authorization", "secret")])
    assert status == 200
    assert event["requestContext"]["authorizer"] == {"lambda": {"user": "ann"}}
    status, _, body = door.call("GET", "/private", headers=[("Authorization", "wrong")])
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


# -- function URLs ------------------------------------------------------------------------------


def test_a_function_url_serves_every_path_with_payload_2_0(door: Door) -> None:
    port = door.url_port("url")
    status, headers, body = door.call("GET", "/any/path?q=1", port=port, headers=[("Origin", ORIGIN)])
    assert (status, body) == (200, b"/any/path")
    assert header(headers, "access-control-allow-origin") == "*"
    assert header(headers, "x-amzn-requestid") is not None


def test_a_streaming_function_url_answers_with_its_http_prelude(door: Door) -> None:
    status, headers, body = door.call("GET", "/", port=door.url_port("streamer"))
    assert (status, body) == (201, b"one two three")
    assert header(headers, "content-type") == "text/plain" and header(headers, "x-streamed") == "yes"
    assert [value for key, value in headers if key.lower() == "set-cookie"] == ["flavour=chunked"]


def test_an_iam_function_url_refuses_an_unsigned_request(door: Door) -> None:
    port = door.url_port("iam-url")
    status, _, body = door.call("GET", "/", port=port)
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    signed = [("Authorization", "AWS4-HMAC-SHA256 Credential=x/20261208/us-east-1/lambda/aws4_request")]
    assert door.call("GET", "/", port=port, headers=signed)[0] == 200


# -- concurrency, access log, slow clients ------------------------------------------------------


# -- the Application Load Balancer --------------------------------------------------------------


def test_the_load_balancer_sends_albs_event_to_its_default_target(door: Door) -> None:
    port = door.server.door.alb_port
    assert port is not None
    status, headers, body = door.call("GET", "/any/where?q=a%20b&q=c", port=port, headers=[("X-One", "1")])
    assert status == 200 and header(headers, "x-rule") == "alb-target"
    event = json.loads(body)
    assert event["requestContext"]["elb"]["targetGroupArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/TargetGroup/"
    )
    assert (event["httpMethod"], event["path"]) == ("GET", "/any/where")
    assert event["queryStringParameters"] == {"q": "c"}  # the last value, not decoded
    assert event["headers"]["x-one"] == "1"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert (event["body"], event["isBase64Encoded"]) == ("", False)
    assert "multiValueHeaders" not in event


def test_a_listener_rule_with_multi_value_headers_wins_by_its_conditions(door: Door) -> None:
    port = door.server.door.alb_port
    status, headers, body = door.call("POST", "/multi/x?q=a%20b&q=c", port=port, body=b"hi")
    assert status == 200 and header(headers, "x-rule") == "alb-multi"
    event = json.loads(body)
    assert event["multiValueQueryStringParameters"] == {"q": ["a%20b", "c"]}
    assert "queryStringParameters" not in event and "headers" not in event
    assert (event["body"], event["isBase64Encoded"]) == ("hi", False)
    # DELETE is not one of the rule's methods: the default action takes it.
    _, headers, _ = door.call("DELETE", "/multi/x", port=port)
    assert header(headers, "x-rule") == "alb-target"


@pytest.mark.parametrize("mode", ["bad", "error"])
def test_the_load_balancer_answers_502_with_its_html_page(door: Door, mode: str) -> None:
    status, headers, body = door.call("GET", f"/x?mode={mode}", port=door.server.door.alb_port)
    assert (status, header(headers, "content-type")) == (502, "text/html")
    assert b"<title>502 Bad Gateway</title>" in body


def test_a_function_at_its_reserved_cap_throttles_as_an_http_api_does(door: Door) -> None:
    door.call("GET", "/capped")  # warm
    results = simultaneously(3, lambda: door.call("GET", "/capped"))
    statuses = sorted(status for status, _, _ in results)
    assert statuses[0] == 200
    assert 503 in statuses
    refused = next(body for status, _, body in results if status == 503)
    assert json.loads(refused) == {"message": "Service Unavailable"}


def test_the_integration_timeout_answers_while_the_function_runs_on(door: Door) -> None:
    started = time.monotonic()
    status, _, body = door.call("GET", "/impatient")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    assert time.monotonic() - started < 0.45  # TimeoutInMillis 100; the handler sleeps 0.5 s
    # The invocation itself ran to its end, as on AWS.
    assert wait_for(lambda: door.backend.service.stats("sleepy").invocations >= 1, timeout=10)


def test_every_request_is_an_access_record(door: Door) -> None:
    door.call("GET", "/dev/items/9?z=1")
    assert wait_for(lambda: any(r.path == "/dev/items/9?z=1" for r in door.records))
    record = next(r for r in door.records if r.path == "/dev/items/9?z=1")
    assert (record.method, record.status, record.function, record.door) == ("GET", 200, "echo", "api RestApi")
    assert record.latency_ms > 0 and len(record.request_id) == 36
    assert record.summary().startswith("GET /dev/items/9?z=1 200 ")


def test_garbage_on_the_wire_is_refused_and_the_door_keeps_serving(door: Door) -> None:
    with socket.create_connection(("127.0.0.1", door.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        answer = raw.recv(1024)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert door.call("GET", "/v2/after")[0] == 200


def test_a_slow_client_does_not_stall_other_requests(door: Door) -> None:
    slow = socket.create_connection(("127.0.0.1", door.port), timeout=5)
    stop = threading.Event()

    def dribble() -> None:
        # Sends a request line one byte at a time, never finishing the headers.
        for byte in b"GET /v2/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ":
            if stop.wait(0.05):
                return
            slow.send(bytes([byte]))

    thread = threading.Thread(target=dribble)
    thread.start()
    try:
        started = time.monotonic()
        for _ in range(5):
            assert door.call("GET", "/v2/fast")[0] == 200
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        thread.join(5)
        slow.close()
