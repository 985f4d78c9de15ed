"""Label schemas for the extraction tasks, stored as versioned data (YAML) beside the code that reads them."""

from ieforge.schemas.events import (
    EventSchema,
    EventType,
    available_event_schemas,
    event_schema_from_casie,
    event_schema_from_rams,
    load_event_schema,
)
from ieforge.schemas.relations import RelationSchema, available_relation_schemas, load_relation_schema

__all__ = [
    "EventSchema",
    "EventType",
    "RelationSchema",
    "available_event_schemas",
    "available_relation_schemas",
    "event_schema_from_casie",
    "event_schema_from_rams",
    "load_event_schema",
    "load_relation_schema",
]
