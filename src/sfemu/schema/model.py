"""The shape of sObject metadata: what describe answers and what the store validates against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Salesforce field type -> SOAP type, as describe reports it.
SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "picklist": "xsd:string",
    "multipicklist": "xsd:string",
    "combobox": "xsd:string",
    "textarea": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "email": "xsd:string",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
}
TEXT_TYPES = frozenset(
    {"string", "picklist", "multipicklist", "combobox", "textarea", "phone", "url", "email", "id",
     "reference"}
)
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})


@dataclass(frozen=True)
class PicklistValue:
    value: str
    default: bool = False
    active: bool = True


@dataclass
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    picklist: list[PicklistValue] = field(default_factory=list)
    restricted_picklist: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False  # unique values compare case-sensitively (and so does SOQL =)
    custom: bool = False
    calculated: bool = False
    id_lookup: bool = False
    precision: int = 0
    scale: int = 0

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_from_name(self.name)
        if self.type in ("string", "textarea", "phone", "url", "email", "combobox", "picklist",
                         "multipicklist") and not self.length:
            self.length = {"textarea": 32000, "email": 80, "phone": 40, "url": 255}.get(
                self.type, 255)
        if self.type in ("id", "reference"):
            self.length = 18
        if self.name == "Id" or self.external_id or self.type == "email":
            self.id_lookup = True

    @property
    def required(self) -> bool:
        """Required on create: not nillable and not defaulted (REQUIRED_FIELD_MISSING)."""
        return not self.nillable and not self.defaulted_on_create and self.createable

    @property
    def indexed(self) -> bool:
        """Fields whose equality lookups are backed by an index in the store."""
        return (self.name == "Id" or self.type in ("reference", "email") or self.external_id
                or self.unique or self.name in ("Username", "Name"))

    @property
    def soap_type(self) -> str:
        return SOAP_TYPES.get(self.type, "xsd:string")


def _label_from_name(name: str) -> str:
    base = name.removesuffix("__c")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    out = []
    for i, ch in enumerate(base):
        if ch == "_":
            out.append(" ")
        elif ch.isupper() and i and base[i - 1].islower():
            out.append(" " + ch)
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class ChildRelationship:
    relationship_name: str
    child_object: str
    field: str
    cascade_delete: bool = False


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef]
    custom: bool = False
    allow_activities: bool = False
    owned: bool = True
    writable: bool = True  # False for setup objects the data API only reads
    layout_required: list[str] = field(default_factory=list)
    child_relationships: list[ChildRelationship] = field(default_factory=list)

    def field_ci(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in SOQL and the REST API."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for f in self.fields.values():
            if f.name.lower() == lowered:
                return f
        return None

    def relationship_ci(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for f in self.fields.values():
            if f.relationship_name and f.relationship_name.lower() == lowered:
                return f
        return None

    def child_relationship_ci(self, name: str) -> ChildRelationship | None:
        lowered = name.lower()
        for rel in self.child_relationships:
            if rel.relationship_name.lower() == lowered:
                return rel
        return None


@dataclass
class OrgSchema:
    """All objects of one org: the standard ones plus its custom objects and fields."""

    objects: dict[str, ObjectDef]

    def get_ci(self, name: str) -> ObjectDef | None:
        found = self.objects.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for obj in self.objects.values():
            if obj.name.lower() == lowered:
                return obj
        return None

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        for obj in self.objects.values():
            if obj.key_prefix == prefix or (obj.key_prefix.lower() == prefix.lower() and (
                obj.name == "OpportunityContactRole"
            )):
                return obj
        return None

    def link_children(self) -> None:
        """Derive each object's child relationships from the lookups pointing at it."""
        for obj in self.objects.values():
            obj.child_relationships = [
                r for r in obj.child_relationships if r.child_object in self.objects
            ]
        for child in self.objects.values():
            for f in child.fields.values():
                if f.type != "reference" or not f.relationship_name:
                    continue
                for parent_name in f.reference_to:
                    parent = self.objects.get(parent_name)
                    if parent is None:
                        continue
                    rel_name = _child_relationship_name(child, f)
                    if rel_name is None or any(
                        r.relationship_name == rel_name for r in parent.child_relationships
                    ):
                        continue
                    parent.child_relationships.append(
                        ChildRelationship(rel_name, child.name, f.name,
                                          cascade_delete=_cascades(parent.name, child.name, f))
                    )


# Standard child relationship names that are not simply the child's plural label.
_STANDARD_CHILD_NAMES: dict[tuple[str, str], str] = {
    ("Task", "WhoId"): "Tasks",
    ("Task", "WhatId"): "Tasks",
    ("Event", "WhoId"): "Events",
    ("Event", "WhatId"): "Events",
    ("Contact", "AccountId"): "Contacts",
    ("Opportunity", "AccountId"): "Opportunities",
    ("OpportunityContactRole", "OpportunityId"): "OpportunityContactRoles",
    ("OpportunityContactRole", "ContactId"): "OpportunityContactRoles",
    ("Account", "ParentId"): "ChildAccounts",
}


def _child_relationship_name(child: ObjectDef, f: FieldDef) -> str | None:
    if f.custom:
        return child.label_plural.replace(" ", "_") + "__r"
    return _STANDARD_CHILD_NAMES.get((child.name, f.name))


def _cascades(parent: str, child: str, f: FieldDef) -> bool:
    # Deleting an Account deletes its Contacts and Opportunities; deleting an Opportunity or
    # Contact deletes its contact roles; activities go with the record they are about.
    return (parent, child) in {
        ("Account", "Contact"),
        ("Account", "Opportunity"),
        ("Opportunity", "OpportunityContactRole"),
        ("Contact", "OpportunityContactRole"),
    } or (child in ("Task", "Event") and f.name in ("WhoId", "WhatId"))
