"""The SAM hello-world function: an API Gateway proxy response with a JSON body.

Demonstrates the smallest useful handler. Invoke it with {"name": "..."} to be greeted by name.
"""

import json


def lambda_handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "message": f"hello {name}" if name else "hello world",
                "function": context.function_name,
                "request_id": context.aws_request_id,
            }
        ),
    }
