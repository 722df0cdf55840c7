"""describeGlobal and describe, shaped as Salesforce answers them."""

from __future__ import annotations

from typing import Any

from sfemu.core import Session
from sfemu.schema import FieldDef, ObjectDef, OrgSchema


def object_urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
            "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
            "describe": f"{base}/describe", "layouts": f"{base}/describe/layouts",
            "sobject": base}


def name_field(obj: ObjectDef) -> str | None:
    """The field a record is known by (``nameField`` in describe): Name, or Subject on
    activities; None where there is none (OpportunityContactRole)."""
    return next((n for n in ("Name", "Subject") if n in obj.fields), None)


def _object_flags(obj: ObjectDef, session: Session) -> dict[str, Any]:
    p = session.profile
    return {
        "activateable": False, "createable": p.can(obj.name, "C"), "custom": obj.custom,
        "customSetting": False, "deletable": p.can(obj.name, "D"),
        "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False,
        "isSubtype": False, "keyPrefix": obj.key_prefix, "label": obj.label,
        "labelPlural": obj.label_plural, "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact", "Lead"), "mruEnabled": True,
        "name": obj.name, "queryable": p.can(obj.name, "R"), "replicateable": True,
        "retrieveable": p.can(obj.name, "R"), "searchable": True, "triggerable": True,
        "undeletable": p.can(obj.name, "D"), "updateable": p.can(obj.name, "E"),
    }


def describe_global(schema: OrgSchema, session: Session, version: str) -> dict[str, Any]:
    sobjects = []
    for obj in schema.objects.values():
        if not session.profile.can(obj.name, "R"):
            continue
        sobjects.append({**_object_flags(obj, session), "urls": object_urls(obj, version)})
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}


def describe_field(obj: ObjectDef, f: FieldDef, session: Session) -> dict[str, Any]:
    editable = session.profile.field_editable(obj.name, f.name)
    numeric_digits = f.precision if f.type in ("int", "long") else 0
    return {
        "aggregatable": f.type not in ("textarea", "multipicklist"),
        "aiPredictionField": False, "autoNumber": False,
        "byteLength": f.length * 3 if f.length else 0,
        "calculated": f.calculated, "calculatedFormula": None, "cascadeDelete": False,
        "caseSensitive": f.case_sensitive, "compoundFieldName": None, "controllerName": None,
        "createable": f.createable and editable, "custom": f.custom,
        "defaultValue": f.default if f.type == "boolean" else None,
        "defaultValueFormula": None, "defaultedOnCreate": f.defaulted_on_create,
        "dependentPicklist": False, "deprecatedAndHidden": False, "digits": numeric_digits,
        "displayLocationInDecimal": False, "encrypted": False, "externalId": f.external_id,
        "extraTypeInfo": None, "filterable": f.type != "textarea" or f.length <= 255,
        "filteredLookupInfo": None, "formulaTreatNullNumberAsZero": False,
        "groupable": f.type not in ("textarea", "double", "currency", "percent"),
        "highScaleNumber": False, "htmlFormatted": False, "idLookup": f.id_lookup,
        "inlineHelpText": None, "label": f.label, "length": f.length, "mask": None,
        "maskType": None, "name": f.name, "nameField": f.name == name_field(obj),
        "namePointing": f.type == "reference" and len(f.reference_to) > 1,
        "nillable": f.nillable, "permissionable": f.nillable,
        "picklistValues": [{"active": v.active, "defaultValue": v.default, "label": v.value,
                            "validFor": None, "value": v.value} for v in f.picklist],
        "polymorphicForeignKey": f.type == "reference" and len(f.reference_to) > 1,
        "precision": f.precision if f.type in ("double", "currency", "percent") else 0,
        "queryByDistance": False, "referenceTargetField": None,
        "referenceTo": list(f.reference_to), "relationshipName": f.relationship_name,
        "relationshipOrder": None, "restrictedDelete": False,
        "restrictedPicklist": f.restricted_picklist, "scale": f.scale, "searchPrefilterable":
            f.type == "reference", "soapType": f.soap_type,
        "sortable": f.type not in ("textarea", "multipicklist"),
        "type": f.type, "unique": f.unique, "updateable": f.updateable and editable,
        "writeRequiresMasterRead": False,
    }


def describe_object(obj: ObjectDef, session: Session, version: str) -> dict[str, Any]:
    fields = [describe_field(obj, f, session) for f in obj.fields.values()
              if session.profile.field_visible(obj.name, f.name)]
    children = [{"cascadeDelete": r.cascade_delete, "childSObject": r.child_object,
                 "deprecatedAndHidden": False, "field": r.field, "junctionIdListNames": [],
                 "junctionReferenceTo": [], "relationshipName": r.relationship_name,
                 "restrictedDelete": False} for r in obj.child_relationships]
    return {**_object_flags(obj, session), "actionOverrides": [], "childRelationships": children,
            "compactLayoutable": True, "fields": fields, "listviewable": None,
            "lookupLayoutable": None, "namedLayoutInfos": [], "networkScopeFieldName": None,
            "recordTypeInfos": [], "searchLayoutable": True, "sobjectDescribeOption": "FULL",
            "supportedScopes": [{"label": "All", "name": "everything"}],
            "urls": object_urls(obj, version)}
