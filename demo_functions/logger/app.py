"""A function that logs in every way Python can.

Demonstrates log capture: print() lines go to stdout as they are, while logging records carry a
level. With LogFormat JSON and ApplicationLogLevel DEBUG each record becomes a structured JSON log
entry, DEBUG included, and logger.exception adds the stack trace.
"""

import logging

logger = logging.getLogger(__name__)


def handler(event, context):
    print("print() writes a plain line")
    print("request", context.aws_request_id, "for", context.function_name)
    logger.debug("debug detail: event=%s", event)
    logger.info("processing the event")
    logger.warning("a warning, for example a retried call")
    logger.error("an error the function recovers from")
    try:
        int("not a number")
    except ValueError:
        logger.exception("caught an exception while parsing")
    return {"logged": True}
