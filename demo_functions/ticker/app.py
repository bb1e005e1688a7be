"""A scheduled producer: every minute it puts a few jobs on the jobs queue.

Demonstrates a Schedule event (an EventBridge rule with rate(1 minute)) and feeds the sqs-batch
consumer without anyone typing anything: one job of each batch is marked to fail, so sqs-batch
reports it in batchItemFailures, it comes back after the queue's visibility timeout, and after
three receives the queue's redrive policy moves it to jobs-dead-letters.
"""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    tick = event.get("time", "now")
    entries = [
        {"Id": str(n), "MessageBody": json.dumps({"job": n, "tick": tick, "fail": n == 0})} for n in range(4)
    ]
    sqs.send_message_batch(QueueUrl=os.environ["JOBS_QUEUE_URL"], Entries=entries)
    return {"queued": len(entries)}
