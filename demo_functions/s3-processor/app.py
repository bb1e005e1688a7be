"""An S3 event notification handler.

Demonstrates looping over Records and logging with the standard logging module. Object keys arrive
URL-encoded (a space is '+'), so they are decoded with unquote_plus before use.
"""

import logging
from urllib.parse import unquote_plus

logger = logging.getLogger()
# The runtime's root logger starts at WARNING in Text log format; INFO lines would be dropped.
logger.setLevel(logging.INFO)


def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        logger.info("new object: bucket=%s key=%s", bucket, key)
    return {"processed": len(records)}
