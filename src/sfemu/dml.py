"""Create, update, upsert, delete and undelete with Salesforce's checks and behaviours.

One instance acts for one session (org + user).  Every method runs inside the caller's store
transaction; the caller decides the boundaries (one record, a collection, allOrNone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfemu.behaviour import derived
from sfemu.behaviour.formula import FormulaError, compile_formula
from sfemu.behaviour.formula import Row as FormulaRow
from sfemu.behaviour.values import coerce
from sfemu.core import Emulator, Session
from sfemu.errors import ApiError, invalid_type, not_found
from sfemu.org.ids import is_valid_id, to18
from sfemu.schema import FieldDef, ObjectDef
from sfemu.store import Row

SYSTEM_STAMP_FIELDS = ("LastModifiedDate", "LastModifiedById", "SystemModstamp")


@dataclass
class WriteOptions:
    """Per-request switches that Salesforce reads from headers."""

    auto_assign: str | None = None  # Sforce-Auto-Assign: TRUE, FALSE or a rule id
    allow_save_duplicates: bool = False  # Sforce-Duplicate-Rule-Header: allowSave=true


@dataclass(frozen=True)
class Change:
    """A committed change, as the real-time package reports it."""

    org_id: str
    sobject: str
    operation: str  # insert | update | delete | undelete
    record: dict[str, Any]


class Dml:
    def __init__(self, emu: Emulator, session: Session, options: WriteOptions | None = None,
                 *, system: bool = False) -> None:
        self.emu = emu
        self.session = session
        self.org = session.org
        self.schema = emu.schema(session.org)
        self.options = options or WriteOptions()
        self.system = system  # admin-API actions skip profile checks, as Setup would

    # -- lookups ------------------------------------------------------------------------------
    def object(self, sobject: str) -> ObjectDef:
        obj = self.schema.get_ci(sobject)
        if obj is None or not (self.system or self.session.profile.can(obj.name, "R")):
            raise invalid_type(sobject)
        return obj

    def object_of_id(self, rid: str) -> ObjectDef:
        obj = self.schema.by_prefix(rid[:3])
        if obj is None:
            raise not_found()
        return obj

    def _require(self, obj: ObjectDef, letter: str, verb: str) -> None:
        if not obj.writable:
            raise ApiError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not "
                           f"support {verb}")
        if not self.system and not self.session.profile.can(obj.name, letter):
            raise ApiError("INSUFFICIENT_ACCESS_OR_READONLY",
                           f"insufficient access rights on object id: the "
                           f"{self.session.profile.name} profile cannot {verb} {obj.name} "
                           "records")

    def get(self, obj: ObjectDef, rid: str, *, include_deleted: bool = False) -> dict[str, Any]:
        try:
            rid = to18(rid)
        except ValueError:
            raise ApiError("MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {rid}",
                           ["Id"]) from None
        if self.schema.by_prefix(rid[:3]) is not obj:
            raise ApiError("MALFORMED_ID",
                           f"{obj.name} ID: id value of incorrect type: {rid}", ["Id"])
        found = self.emu.store.get_many(obj.name, self.org.id, [rid]).get(rid)
        if found is None or (found.is_deleted and not include_deleted):
            raise not_found()
        return found.data

    # -- field checks -------------------------------------------------------------------------
    def _check_fields(self, obj: ObjectDef, values: dict[str, Any],
                      creating: bool) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        not_writable: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            fdef = obj.field_ci(key)
            if fdef is None or not (self.system or self.session.profile.field_visible(
                    obj.name, fdef.name)):
                raise ApiError("INVALID_FIELD",
                               f"No such column '{key}' on sobject of type {obj.name}", [key])
            allowed = fdef.createable if creating else fdef.updateable
            if not allowed or not (self.system or self.session.profile.field_editable(
                    obj.name, fdef.name)):
                not_writable.append(fdef.name)
                continue
            clean[fdef.name] = coerce(fdef, value)
        if not_writable:
            raise ApiError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(not_writable)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.", not_writable)
        return clean

    def _check_references(self, obj: ObjectDef, clean: dict[str, Any]) -> None:
        for name, value in list(clean.items()):
            fdef = obj.fields[name]
            if fdef.type != "reference" or value is None:
                continue
            if not is_valid_id(value):
                raise ApiError("MALFORMED_ID", f"{fdef.label}: id value of incorrect type: "
                               f"{value}", [name])
            value = to18(value)
            clean[name] = value
            target = self.schema.by_prefix(value[:3])
            if target is None or target.name not in fdef.reference_to:
                raise ApiError("FIELD_INTEGRITY_EXCEPTION",
                               f"{fdef.label}: id value of incorrect type: {value}", [name])
            found = self.emu.store.get_many(target.name, self.org.id, [value]).get(value)
            if found is None:
                raise ApiError("INVALID_CROSS_REFERENCE_KEY",
                               f"invalid cross reference id: {name} {value}", [name])
            if found.is_deleted:
                raise ApiError("ENTITY_IS_DELETED", "entity is deleted", [name])
            if target.name == "Lead" and found.data.get("IsConverted"):
                raise ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                               [name])
            if target.name == "User" and not found.data.get("IsActive", True):
                raise ApiError("INACTIVE_OWNER_OR_USER", "owner or user is inactive.", [name])

    def _check_required(self, obj: ObjectDef, data: dict[str, Any]) -> None:
        missing = [f.name for f in obj.fields.values()
                   if f.required and data.get(f.name) in (None, "")]
        if missing:
            raise ApiError("REQUIRED_FIELD_MISSING",
                           f"Required fields are missing: [{', '.join(missing)}]", missing)

    def _check_unique(self, obj: ObjectDef, data: dict[str, Any], rid: str) -> None:
        for fdef in obj.fields.values():
            value = data.get(fdef.name)
            if not fdef.unique or value in (None, ""):
                continue
            for other in self.find_by(obj, fdef, str(value)):
                if other != rid:
                    raise ApiError("DUPLICATE_VALUE",
                                   f"duplicate value found: {fdef.name} duplicates value on "
                                   f"record with id: {other}", [fdef.name])

    def _validation_rules(self, obj: ObjectDef, data: dict[str, Any],
                          old: dict[str, Any] | None) -> None:
        for rule in self.org.validation_rules:
            if rule.get("object") != obj.name or not rule.get("active", True):
                continue
            try:
                failed = compile_formula(rule["formula"])(FormulaRow(data, old))
            except FormulaError:
                continue
            if failed:
                field = rule.get("errorDisplayField")
                raise ApiError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule["errorMessage"],
                               [field] if field else [])

    def _duplicate_rules(self, obj: ObjectDef, data: dict[str, Any], rid: str) -> None:
        for rule in self.org.duplicate_rules:
            if rule.get("object") != obj.name or not rule.get("active", True):
                continue
            field = rule.get("field", "Email")
            value = data.get(field)
            if value in (None, ""):
                continue
            matches = [row for row in self.emu.store.scan(
                obj.name, self.org.id, lookups={field: [str(value)]}) if row.id != rid]
            if not matches:
                continue
            allow = rule.get("action", "block") == "alert"
            if allow and self.options.allow_save_duplicates:
                continue
            message = "Use one of these records?" if allow else \
                f"You're creating a duplicate {obj.label} record. We recommend you use an " \
                "existing record instead."
            records = [{"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0,
                        "record": {"attributes": self.attributes(obj.name, m.id), "Id": m.id}}
                       for m in matches[:10]]
            raise ApiError("DUPLICATES_DETECTED", message, [], extra={"duplicateResult": {
                "allowSave": allow, "duplicateRule": rule.get("name", f"Standard_{obj.name}_"
                                                              "Duplicate_Rule"),
                "duplicateRuleEntityType": obj.name, "errorMessage": message,
                "matchResults": [{"entityType": obj.name, "errorMessage": None,
                                  "matchEngine": "ExactMatchEngine", "matchRecords": records,
                                  "rule": rule.get("matchingRule", f"{obj.name}_{field}"),
                                  "size": len(records), "success": True}]}})

    def _assignment(self, obj: ObjectDef, data: dict[str, Any], creating: bool) -> None:
        header = (self.options.auto_assign or "").strip()
        if header.upper() == "FALSE" or (not creating and not header):
            return
        for rule in self.org.assignment_rules:
            if rule.get("object") != obj.name:
                continue
            chosen = rule.get("id") == header if header.upper() not in ("", "TRUE") else \
                rule.get("active", False)
            if not chosen:
                continue
            for entry in rule.get("entries", []):
                field, expected = entry.get("field"), entry.get("value")
                if field is None or str(data.get(field) or "").lower() == str(expected).lower():
                    owner = self.emu.user_by_username(self.org, entry["owner"])
                    if owner is not None:
                        data["OwnerId"] = owner["Id"]
                    return

    # -- the operations -----------------------------------------------------------------------
    def create(self, sobject: str, values: dict[str, Any]) -> str:
        obj = self.object(sobject)
        self._require(obj, "C", "create")
        clean = self._check_fields(obj, values, creating=True)
        self._check_references(obj, clean)
        rid = self.emu.new_id(self.org, obj.name)
        stamp = self.emu.stamp()
        data: dict[str, Any] = {f.name: f.default if f.defaulted_on_create else None
                                for f in obj.fields.values()}
        data.update({"Id": rid, "IsDeleted": False, "CreatedDate": stamp,
                     "CreatedById": self.session.user_id, "LastModifiedDate": stamp,
                     "LastModifiedById": self.session.user_id, "SystemModstamp": stamp})
        if obj.owned:
            data["OwnerId"] = self.session.user_id
        data.update(clean)
        self._assignment(obj, data, creating=True)
        derived.apply(self, obj, data, None)
        self._check_required(obj, data)
        self._validation_rules(obj, data, None)
        self._duplicate_rules(obj, data, rid)
        self._check_unique(obj, data, rid)
        self.emu.store.insert(obj.name, [Row(rid, self.org.id, False, data)])
        self._changed(obj, "insert", data)
        return rid

    def update(self, sobject: str | None, rid: str, values: dict[str, Any]) -> None:
        obj = self.object(sobject) if sobject else self.object_of_id(rid)
        old = self.get(obj, rid, include_deleted=True)
        if old["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted")
        self._require(obj, "E", "edit")
        if obj.name == "Lead" and old.get("IsConverted"):
            raise ApiError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        clean = self._check_fields(obj, values, creating=False)
        self._check_references(obj, clean)
        data = dict(old)
        data.update(clean)
        self._assignment(obj, data, creating=False)
        derived.apply(self, obj, data, old)
        self._check_required(obj, data)
        self._validation_rules(obj, data, old)
        if any(data.get(f) != old.get(f) for f in ("Email",)):
            self._duplicate_rules(obj, data, old["Id"])
        self._check_unique(obj, data, old["Id"])
        self.touch(obj, data, user_change=True)
        self.emu.store.update(obj.name, [Row(old["Id"], self.org.id, False, data)])
        self._changed(obj, "update", data)

    def upsert(self, sobject: str, ext_field: str, ext_value: str,
               values: dict[str, Any]) -> tuple[str, bool]:
        obj = self.object(sobject)
        fdef = obj.field_ci(ext_field)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise ApiError("NOT_FOUND", f"Provided external ID field does not exist or is not "
                           f"accessible: {ext_field}")
        values = {k: v for k, v in values.items() if k != "attributes"}
        if fdef.name == "Id":
            if not ext_value:
                return self.create(obj.name, values), True
            self.update(obj.name, ext_value, values)
            return to18(ext_value), False
        for key in values:
            if key.lower() == fdef.name.lower() and str(values[key]) != ext_value:
                raise ApiError("INVALID_FIELD", f"The value of {fdef.name} in the body does "
                               "not match the value in the URL", [fdef.name])
        matches = self.find_by(obj, fdef, ext_value)
        if len(matches) > 1:
            raise ApiError("MULTIPLE_CHOICES", "multiple matches", status=300,
                           extra={"ids": [m for m in matches]})
        if matches:
            body = {k: v for k, v in values.items() if k.lower() != fdef.name.lower()}
            self.update(obj.name, matches[0], body)
            return matches[0], False
        return self.create(obj.name, {**values, fdef.name: ext_value}), True

    def find_by(self, obj: ObjectDef, fdef: FieldDef, value: str) -> list[str]:
        """Ids of the live records whose ``fdef`` equals ``value``: case-insensitively, as the
        index compares, except for a unique case-sensitive field."""
        rows = self.emu.store.scan(obj.name, self.org.id, lookups={fdef.name: [value]})
        return [row.id for row in rows
                if not fdef.case_sensitive or str(row.data.get(fdef.name)) == value]

    def delete(self, rid: str, sobject: str | None = None) -> None:
        obj = self.object(sobject) if sobject else self.object_of_id(rid)
        data = self.get(obj, rid, include_deleted=True)
        if data["IsDeleted"]:
            raise ApiError("ENTITY_IS_DELETED", "entity is deleted")
        self._require(obj, "D", "delete")
        self.delete_record(obj, data, master_id=None)

    def delete_record(self, obj: ObjectDef, data: dict[str, Any],
                        master_id: str | None) -> None:
        data = dict(data)
        data["IsDeleted"] = True
        if master_id and "MasterRecordId" in obj.fields:
            data["MasterRecordId"] = master_id
        self.touch(obj, data, user_change=True)
        self.emu.store.update(obj.name, [Row(data["Id"], self.org.id, True, data)])
        self._changed(obj, "delete", data)
        for rel in obj.child_relationships:
            if not rel.cascade_delete:
                continue
            for child in list(self.emu.store.scan(rel.child_object, self.org.id,
                                                  lookups={rel.field: [data["Id"]]})):
                self.delete_record(self.schema.objects[rel.child_object], child.data, None)

    def undelete(self, rid: str) -> None:
        obj = self.object_of_id(rid)
        data = self.get(obj, rid, include_deleted=True)
        if not data["IsDeleted"]:
            raise ApiError("UNDELETE_FAILED", "Entity is not in the recycle bin")
        data = dict(data)
        data["IsDeleted"] = False
        self.touch(obj, data, user_change=True)
        self.emu.store.update(obj.name, [Row(data["Id"], self.org.id, False, data)])
        self._changed(obj, "undelete", data)

    # -- helpers ------------------------------------------------------------------------------
    def touch(self, obj: ObjectDef, data: dict[str, Any], *, user_change: bool) -> None:
        """SystemModstamp moves on every change; LastModified* only on a user's change."""
        data["SystemModstamp"] = self.emu.stamp(data.get("SystemModstamp"))
        if user_change:
            data["LastModifiedDate"] = data["SystemModstamp"]
            data["LastModifiedById"] = self.session.user_id

    def system_update(self, obj: ObjectDef, rid: str, values: dict[str, Any]) -> dict[str, Any]:
        """A change made by the platform itself (conversion, merge): no profile checks."""
        data = dict(self.get(obj, rid))
        data.update(values)
        derived.apply(self, obj, data, None)
        self.touch(obj, data, user_change=True)
        self.emu.store.update(obj.name, [Row(rid, self.org.id, bool(data["IsDeleted"]), data)])
        self._changed(obj, "update", data)
        return data

    def _changed(self, obj: ObjectDef, operation: str, data: dict[str, Any]) -> None:
        self.emu.store.record_change(Change(self.org.id, obj.name, operation, dict(data)))

    def attributes(self, sobject: str, rid: str, version: str = "59.0") -> dict[str, str]:
        return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{rid}"}

    def shaped(self, obj: ObjectDef, data: dict[str, Any], version: str,
               fields: list[str] | None = None) -> dict[str, Any]:
        """A record as GET sobjects/{T}/{id} answers it: attributes, then the visible fields."""
        out: dict[str, Any] = {"attributes": self.attributes(obj.name, data["Id"], version)}
        wanted = [obj.field_ci(f) for f in fields] if fields else list(obj.fields.values())
        for fdef in wanted:
            if fdef is None:
                continue
            if self.system or self.session.profile.field_visible(obj.name, fdef.name):
                out[fdef.name] = data.get(fdef.name)
        return out
