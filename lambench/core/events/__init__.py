"""Event templates for every Lambda trigger, and the project's saved test events.

from lambench.core.events import Catalog, EventStore

template = Catalog.builtin().get("s3/object-created")
event = template.render({"bucket": "photos", "key": "a b.jpg"})
EventStore("demo_functions").save("photo", event, function="s3-processor")
"""

from lambench.core.events.catalog import (
    COMMON_PARAMS,
    Catalog,
    Delivery,
    EventError,
    EventTemplate,
    Param,
    Service,
)
from lambench.core.events.expressions import ExpressionError
from lambench.core.events.store import EventStore, EventStoreError, SavedEvent

__all__ = [
    "COMMON_PARAMS",
    "Catalog",
    "Delivery",
    "EventError",
    "EventStore",
    "EventStoreError",
    "EventTemplate",
    "ExpressionError",
    "Param",
    "SavedEvent",
    "Service",
]
