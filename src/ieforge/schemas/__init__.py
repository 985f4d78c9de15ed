"""Label schemas for the extraction tasks, stored as versioned data (YAML) beside the code that reads them."""

from ieforge.schemas.relations import RelationSchema, available_relation_schemas, load_relation_schema

__all__ = ["RelationSchema", "available_relation_schemas", "load_relation_schema"]
