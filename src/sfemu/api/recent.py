"""Recently viewed records: ``GET recent`` and the ``recentItems`` of ``GET sobjects/{T}``.

Salesforce keeps, for each user, the records they viewed or referenced (in the UI, or through
SOQL ``FOR VIEW``).  sfemu has no UI, so a record counts as viewed when its user reads it by id
(``GET sobjects/{T}/{id}``, or by external id) or creates or edits it through ``sobjects`` —
the record a person doing the same in the UI would have had open.  As on Salesforce, at most
200 a user and object are kept, newest first; deleted records drop out.
"""

from __future__ import annotations

from typing import Any

from sfemu.api.describe import name_field
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.errors import ApiError

MAX_PER_OBJECT = 200


def mark_viewed(req: ApiRequest, sobject: str, rid: str) -> None:
    store, key = req.emu.store, (req.session.org.id, req.session.user_id)
    store.execute(
        "INSERT INTO recent_view(org_id, user_id, record_id, sobject, viewed_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(org_id, user_id, record_id) "
        "DO UPDATE SET viewed_at = excluded.viewed_at", [*key, rid, sobject, req.emu.clock()])
    store.execute(
        "DELETE FROM recent_view WHERE org_id = ? AND user_id = ? AND sobject = ? AND "
        "record_id NOT IN (SELECT record_id FROM recent_view WHERE org_id = ? AND user_id = ? "
        "AND sobject = ? ORDER BY viewed_at DESC LIMIT ?)",
        [*key, sobject, *key, sobject, MAX_PER_OBJECT])


def recent_records(req: ApiRequest, sobject: str | None = None,
                   limit: int = MAX_PER_OBJECT) -> list[tuple[str, dict[str, Any]]]:
    """(type, record) of the user's recently viewed live records that they may read,
    newest first."""
    org = req.session.org
    sql = "SELECT sobject, record_id FROM recent_view WHERE org_id = ? AND user_id = ?"
    params: list[Any] = [org.id, req.session.user_id]
    if sobject is not None:
        sql += " AND sobject = ?"
        params.append(sobject)
    rows = req.emu.store.execute(sql + " ORDER BY viewed_at DESC", params).fetchall()
    ids_by_type: dict[str, list[str]] = {}
    for kind, rid in rows:
        ids_by_type.setdefault(kind, []).append(rid)
    schema = req.emu.schema(org)
    live: dict[str, dict[str, Any]] = {}
    for kind, ids in ids_by_type.items():
        if kind in schema.objects and req.session.profile.can(kind, "R"):
            found = req.emu.store.get_many(kind, org.id, ids, include_deleted=False)
            live.update({rid: row.data for rid, row in found.items()})
    return [(kind, live[rid]) for kind, rid in rows if rid in live][:limit]


def recent_items(req: ApiRequest, sobject: str | None = None,
                 limit: int = MAX_PER_OBJECT) -> list[dict[str, Any]]:
    """As Salesforce lists them: attributes, Id and Name (an activity's Subject)."""
    schema = req.emu.schema(req.session.org)
    out = []
    for kind, data in recent_records(req, sobject, limit):
        title = name_field(schema.objects[kind])
        out.append({"attributes": {"type": kind, "url": f"{req.base}/sobjects/{kind}/"
                                                        f"{data['Id']}"},
                    "Id": data["Id"], "Name": data.get(title) if title else None})
    return out


@ROUTER.route("GET", "recent")
def recent(req: ApiRequest) -> Reply:
    raw = req.query.get("limit", str(MAX_PER_OBJECT))
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError("INVALID_QUERY_PARAMETER_VALUE", f"limit: {raw!r} is not a positive "
                       "integer", ["limit"])
    return Reply(body=recent_items(req, limit=int(raw)))
