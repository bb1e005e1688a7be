"""An SQS handler that reports partial batch failures.

Demonstrates ReportBatchItemFailures: only the messages named in batchItemFailures return to the
queue, the rest of the batch is deleted. A message fails when its body is not JSON or is a JSON
object with "fail": true.
"""

import json


def handler(event, context):
    failures = []
    for message in event.get("Records", []):
        try:
            body = json.loads(message.get("body"))
        except (TypeError, ValueError):
            failed = True
        else:
            failed = isinstance(body, dict) and body.get("fail") is True
        if failed:
            failures.append({"itemIdentifier": message["messageId"]})
    return {"batchItemFailures": failures}
