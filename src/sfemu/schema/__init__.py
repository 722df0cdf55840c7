"""Standard objects and their fields, as data."""

from sfemu.schema.model import ChildRelationship, FieldDef, ObjectDef, OrgSchema
from sfemu.schema.standard import standard_objects

__all__ = ["ChildRelationship", "FieldDef", "ObjectDef", "OrgSchema", "standard_objects"]
