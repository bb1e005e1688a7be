"""Event sources: what triggers a function besides a direct Invoke.

`model` holds the sources a SAM template's `Events:` declare; `patterns` matches EventBridge
patterns, SNS filter policies and ESM filters; `schedule` reads rate/cron/at expressions; the
pollers (`sqs_poller`, `stream_poller`), the `scheduler` and the `notifications` router run them
against the embedded account, and `runner.EventSources` owns them all for one engine.
"""
