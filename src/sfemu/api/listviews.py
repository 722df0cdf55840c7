"""List views: ``sobjects/{T}/listviews`` (and ``…/recent``), one list view, its describe
and its results.

Every object has Salesforce's standard list views: All {Objects}, My {Objects} (on objects
with owners) and Recently Viewed {Objects}.  Their columns are the compact layout's fields;
the results of All and My come from the query engine running the view's own SOQL, those of
Recently Viewed from the user's recent items.  The recently used list view (``…/recent``) is
Recently Viewed, the one an object's tab opens on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sfemu.api.composite import sub_request
from sfemu.api.describe import name_field
from sfemu.api.layouts import compact_field_names
from sfemu.api.recent import recent_records
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.errors import ApiError, not_found
from sfemu.org.ids import make_id
from sfemu.schema import ObjectDef

# (scope, developerName prefix, label prefix); Salesforce's scopes.
_STANDARD = (("everything", "All", "All"), ("mine", "My", "My"),
             ("mru", "RecentlyViewed", "Recently Viewed"))
_TEXT_TYPES = ("string", "email", "phone", "url", "picklist", "combobox", "textarea")
MAX_RESULTS = 2000


@dataclass(frozen=True)
class ListView:
    obj: ObjectDef
    id: str
    scope: str
    developer_name: str
    label: str


def list_views(req: ApiRequest, obj: ObjectDef) -> list[ListView]:
    plural = "".join(ch for ch in obj.label_plural if ch.isalnum())
    # A stable id for each object and scope: the key prefix's bytes, then the scope.
    base = int.from_bytes(obj.key_prefix.encode(), "big") * 4
    return [ListView(obj, make_id("00B", req.session.org.pod, base + n), scope,
                     dev + plural, f"{label} {obj.label_plural}")
            for n, (scope, dev, label) in enumerate(_STANDARD, start=1)
            if scope != "mine" or obj.owned]


def _info(req: ApiRequest, view: ListView) -> dict[str, Any]:
    url = f"{req.base}/sobjects/{view.obj.name}/listviews/{view.id}"
    return {"describeUrl": f"{url}/describe", "developerName": view.developer_name,
            "id": view.id, "label": view.label, "resultsUrl": f"{url}/results",
            "soqlCompatible": True, "url": url}


def _page(req: ApiRequest, obj: ObjectDef, views: list[ListView]) -> dict[str, Any]:
    return {"done": True, "listviews": [_info(req, v) for v in views], "nextRecordsUrl": None,
            "size": len(views), "sobjectType": obj.name}


def _view(req: ApiRequest) -> ListView:
    obj = req.dml().object(req.params["sobject"])
    wanted = req.params["view"][:15]
    for view in list_views(req, obj):
        if view.id[:15] == wanted:
            return view
    raise not_found()


def _columns(req: ApiRequest, view: ListView) -> list[dict[str, Any]]:
    order = name_field(view.obj) or "Id"
    out = []
    for name in [*compact_field_names(view.obj, req.session), "Id"]:
        f = view.obj.fields[name]
        text = f.type in _TEXT_TYPES
        out.append({"ascendingLabel": "A-Z" if text else "Low to High",
                    "descendingLabel": "Z-A" if text else "High to Low",
                    "fieldNameOrPath": name, "hidden": name == "Id", "label": f.label,
                    "searchable": text, "selectListItem": name,
                    "sortDirection": "ascending" if name == order else None,
                    "sortIndex": 0 if name == order else None, "sortable": f.type != "textarea",
                    "type": f.type})
    return out


def _soql(req: ApiRequest, view: ListView) -> str:
    fields = ", ".join(c["fieldNameOrPath"] for c in _columns(req, view))
    where = ""
    if view.scope == "mine":
        where = f" WHERE OwnerId = '{req.session.user_id}'"
    elif view.scope == "mru":
        ids = [data["Id"] for _, data in recent_records(req, view.obj.name)]
        where = f" WHERE Id IN ({', '.join(repr(i) for i in ids)})" if ids else " WHERE Id = null"
    title = name_field(view.obj)
    order = f"{title} ASC NULLS FIRST, Id ASC NULLS FIRST" if title else "Id ASC NULLS FIRST"
    return f"SELECT {fields} FROM {view.obj.name}{where} ORDER BY {order}"


@ROUTER.route("GET", "sobjects/{sobject}/listviews")
def listviews(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    return Reply(body=_page(req, obj, list_views(req, obj)))


@ROUTER.route("GET", "sobjects/{sobject}/listviews/recent")
def recent_listviews(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    return Reply(body=_page(req, obj, [v for v in list_views(req, obj) if v.scope == "mru"]))


@ROUTER.route("GET", "sobjects/{sobject}/listviews/{view}")
def listview(req: ApiRequest) -> Reply:
    return Reply(body=_info(req, _view(req)))


@ROUTER.route("GET", "sobjects/{sobject}/listviews/{view}/describe")
def listview_describe(req: ApiRequest) -> Reply:
    view = _view(req)
    title = name_field(view.obj)
    order = [{"fieldNameOrPath": f, "nullsPosition": "first", "sortDirection": "ascending"}
             for f in ([title] if title else []) + ["Id"]]
    return Reply(body={"columns": _columns(req, view), "id": view.id, "orderBy": order,
                       "query": _soql(req, view), "relatedEntityId": None,
                       "scope": view.scope, "scopeEntityId": None,
                       "sobjectType": view.obj.name,
                       "whereCondition": {"conditions": [], "conjunction": "and"}})


def _bounded(req: ApiRequest, name: str, default: int) -> int:
    raw = req.query.get(name, str(default))
    if not raw.isdigit() or int(raw) > MAX_RESULTS or (name == "limit" and int(raw) < 1):
        raise ApiError("INVALID_QUERY_PARAMETER_VALUE", f"{name}: {raw!r} must be an integer "
                       f"up to {MAX_RESULTS}", [name])
    return int(raw)


def _cell(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value).lower() if isinstance(value, bool) else str(value)


@ROUTER.route("GET", "sobjects/{sobject}/listviews/{view}/results")
def listview_results(req: ApiRequest) -> Reply:
    view = _view(req)
    limit, offset = _bounded(req, "limit", 25), _bounded(req, "offset", 0)
    # One record more than the page tells whether the page is the last.
    if view.scope == "mru":
        records = [data for _, data in recent_records(req, view.obj.name)]
        records = records[offset:offset + limit + 1]
    else:
        soql = f"{_soql(req, view)} LIMIT {limit + 1} OFFSET {offset}"
        reply = sub_request(req, "GET", f"{req.base}/query?q={quote(soql)}", None)
        if reply.status != 200:
            return reply
        records = reply.body["records"]
    done, records = len(records) <= limit, records[:limit]
    columns = _columns(req, view)
    return Reply(body={
        "columns": columns, "developerName": view.developer_name, "done": done,
        "id": view.id, "label": view.label, "size": len(records),
        "records": [{"columns": [{"fieldNameOrPath": c["fieldNameOrPath"],
                                  "value": _cell(record.get(c["fieldNameOrPath"]))}
                                 for c in columns]} for record in records]})
