"""Page layouts (``describe/layouts``) and compact layouts (``describe/compactLayouts``).

Orgs in sfemu have only the master record type, so each object has one page layout and the
system default compact layout, and every record type id answers with them (as Salesforce
answers for the master record type ``012000000000000AAA``).
"""

from __future__ import annotations

from typing import Any

from sfemu.api.describe import describe_field, name_field
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.core import Session
from sfemu.schema import FieldDef, ObjectDef

MASTER_RECORD_TYPE = "012000000000000AAA"
# After the name field, the system default compact layout shows the first four of these the
# object has (Salesforce's defaults: Contact Name, Title, Account, Phone, Email; …).
_COMPACT_FIELDS = ("Title", "AccountId", "Company", "WhoId", "StageName", "Status", "Phone",
                   "Email", "CloseDate", "ActivityDate", "StartDateTime", "Amount", "OwnerId")


def layout_required(obj: ObjectDef, overrides: dict[str, list[str]]) -> list[str]:
    return overrides.get(obj.name, obj.layout_required)


def _item(obj: ObjectDef, f: FieldDef, session: Session, required: bool,
          tab_order: int) -> dict[str, Any]:
    """A layout item holding one field, as page and compact layouts both list them."""
    return {"editableForNew": f.createable, "editableForUpdate": f.updateable,
            "label": f.label, "placeholder": False, "required": required,
            "layoutComponents": [{"details": describe_field(obj, f, session),
                                  "displayLines": 1, "tabOrder": tab_order, "type": "Field",
                                  "value": f.name}]}


def describe_layouts(obj: ObjectDef, session: Session, overrides: dict[str, list[str]],
                     version: str) -> dict[str, Any]:
    """One page layout: the layout-required fields first, then every other editable field."""
    required = [f for f in layout_required(obj, overrides) if f in obj.fields]
    others = [f.name for f in obj.fields.values()
              if f.createable and f.name not in required and f.name != "OwnerId"
              and session.profile.field_visible(obj.name, f.name)]
    items = [_item(obj, obj.fields[name], session, name in required, n)
             for n, name in enumerate([*required, *others], start=1)]
    rows = [{"layoutItems": items[i:i + 2], "numItems": len(items[i:i + 2])}
            for i in range(0, len(items), 2)]
    section = {"collapsed": False, "columns": 2, "heading": f"{obj.label} Information",
               "layoutRows": rows, "layoutSectionId": None, "parentLayoutId": None,
               "rows": len(rows), "tabOrder": "TopToBottom", "useCollapsibleSection": False,
               "useHeading": True}
    layout = {"buttonLayoutSection": None, "detailLayoutSections": [section],
              "editLayoutSections": [section], "id": f"00h{obj.key_prefix}000000000AAA",
              "multirowEditLayoutSections": [], "relatedLists": [], "saveOptions": []}
    return {"layouts": [layout], "recordTypeMappings": [], "recordTypeSelectorRequired": [False]}


def compact_field_names(obj: ObjectDef, session: Session) -> list[str]:
    """The system default compact layout's fields: the name field, then up to four key
    fields (list views show the same columns)."""
    def shown(name: str) -> bool:
        return name in obj.fields and session.profile.field_visible(obj.name, name)
    title = name_field(obj)
    names = [title] if title and shown(title) else []
    return names + [n for n in _COMPACT_FIELDS if shown(n)][:4]


def compact_layout(obj: ObjectDef, session: Session) -> dict[str, Any]:
    items = [_item(obj, obj.fields[n], session, False, i)
             for i, n in enumerate(compact_field_names(obj, session), start=1)]
    return {"actions": [], "fieldItems": items, "id": None, "imageItems": [],
            "label": "System Default", "name": "SYSTEM", "objectType": obj.name}


def describe_compact_layouts(obj: ObjectDef, session: Session,
                             version: str) -> dict[str, Any]:
    url = (f"/services/data/v{version}/sobjects/{obj.name}/describe/compactLayouts/"
           f"{MASTER_RECORD_TYPE}")
    return {"compactLayouts": [compact_layout(obj, session)], "defaultCompactLayoutId": None,
            "recordTypeCompactLayoutMappings": [{
                "available": True, "compactLayoutId": None, "compactLayoutName": "SYSTEM",
                "recordTypeId": MASTER_RECORD_TYPE, "recordTypeName": "Master",
                "urls": {"compactLayout": url}}],
            "urls": {}}


@ROUTER.route("GET", "sobjects/{sobject}/describe/layouts")
def layouts(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    return Reply(body=describe_layouts(obj, req.session, req.session.org.layout_required,
                                       req.version))


@ROUTER.route("GET", "sobjects/{sobject}/describe/layouts/{record_type}")
def layout_for_record_type(req: ApiRequest) -> Reply:
    return Reply(body=layouts(req).body["layouts"][0])


@ROUTER.route("GET", "sobjects/{sobject}/describe/compactLayouts")
def compact_layouts(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    return Reply(body=describe_compact_layouts(obj, req.session, req.version))


@ROUTER.route("GET", "sobjects/{sobject}/describe/compactLayouts/{record_type}")
def compact_layout_for_record_type(req: ApiRequest) -> Reply:
    return Reply(body=compact_layouts(req).body["compactLayouts"][0])
