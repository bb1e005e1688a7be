"""Store an order in DynamoDB.

Demonstrates calling AWS from a function: the boto3 resource is created at module level so warm
invocations reuse it and its connections, and the table name comes from the TABLE_NAME variable
(!Ref OrdersTable in the template). The order is the API Gateway body or, invoked directly, the event;
through API Gateway (POST /orders) the answer is a proxy response, as a REST API requires.
"""

import json
import os
import uuid
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    body = event.get("body")
    # DynamoDB takes numbers as Decimal, never float, so the JSON is parsed with Decimal floats.
    order = json.loads(body if isinstance(body, str) else json.dumps(event), parse_float=Decimal)
    order_id = str(uuid.uuid4())
    table.put_item(Item={**order, "orderId": order_id})
    if "httpMethod" in event:
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"orderId": order_id}),
        }
    return {"orderId": order_id}
