"""An API Gateway REST API handler (Lambda proxy integration).

Demonstrates reading a proxy event - method, path, query string, path parameters and a body that
may arrive base64-encoded - and answering with a proxy response. A body that is not valid JSON
gets a 400, as a well-behaved API should.
"""

import base64
import json


def lambda_handler(event, context):
    body = event.get("body")
    try:
        if body and event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        payload = json.loads(body) if body else None
    except ValueError as exc:  # bad base64, bad UTF-8 and bad JSON are all ValueErrors
        return _response(400, {"error": f"invalid JSON body: {exc}"})
    return _response(
        200,
        {
            "method": event.get("httpMethod"),
            "path": event.get("path"),
            "query": event.get("queryStringParameters") or {},
            "pathParameters": event.get("pathParameters") or {},
            "body": payload,
        },
    )


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
