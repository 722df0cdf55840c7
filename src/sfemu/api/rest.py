"""REST resources: versions, resource map, describe, CRUD, upsert, getUpdated/getDeleted, limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sfemu.api.describe import describe_global, describe_object
from sfemu.api.oauth import identity_url
from sfemu.api.recent import mark_viewed, recent_items
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.behaviour.values import format_datetime, parse_datetime
from sfemu.errors import ApiError, not_found

SUPPORTED_VERSIONS = [f"{v}.0" for v in range(50, 63)]


def versions_list() -> list[dict[str, str]]:
    labels = {59: "Winter '24", 60: "Spring '24", 61: "Summer '24", 62: "Winter '25"}
    return [{"label": labels.get(int(float(v)), f"v{v}"), "url": f"/services/data/v{v}",
             "version": v} for v in SUPPORTED_VERSIONS]


@ROUTER.route("GET", "")
def resource_map(req: ApiRequest) -> Reply:
    """Relative URLs, except ``identity``: absolute, on the login host (jsforce's
    ``conn.identity()`` reads it)."""
    names = ["sobjects", "query", "queryAll", "composite", "limits", "search", "recent",
             "jobs/query", "jobs/ingest"]
    org = req.session.org
    return Reply(body={**{n: f"{req.base}/{n}" for n in names},
                       "identity": identity_url(req.origin, org.id, req.session.user_id,
                                                org.is_sandbox)})


@ROUTER.route("GET", "limits")
def limits(req: ApiRequest) -> Reply:
    org = req.session.org
    used = org.usage_today(req.emu.now())

    def pair(maximum: int, remaining: int) -> dict[str, int]:
        return {"Max": maximum, "Remaining": remaining}
    return Reply(body={
        "ConcurrentAsyncGetReportInstances": pair(200, 200),
        "DailyApiRequests": pair(org.daily_limit, max(0, org.daily_limit - used)),
        "DailyAsyncApexExecutions": pair(250000, 250000),
        "DailyBulkApiBatches": pair(15000, 15000),
        "DailyBulkV2QueryFileStorageMB": pair(976562, 976562),
        "DailyBulkV2QueryJobs": pair(10000, 10000),
        "DailyStreamingApiEvents": pair(1000000, 1000000),
        "DataStorageMB": pair(1024, 1024),
        "FileStorageMB": pair(1024, 1024),
        "HourlyODataCallout": pair(20000, 20000),
        "SingleEmail": pair(5000, 5000),
    })


@ROUTER.route("GET", "sobjects")
def sobjects(req: ApiRequest) -> Reply:
    return Reply(body=describe_global(req.emu.schema(req.session.org), req.session, req.version))


@ROUTER.route("GET", "sobjects/{sobject}")
def sobject_info(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    full = describe_object(obj, req.session, req.version)
    basic = {k: full[k] for k in ("name", "label", "labelPlural", "keyPrefix", "custom",
                                  "createable", "updateable", "deletable", "queryable",
                                  "urls")}
    return Reply(body={"objectDescribe": basic, "recentItems": recent_items(req, obj.name)})


@ROUTER.route("POST", "sobjects/{sobject}")
def create(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    with req.emu.store.transaction():
        rid = dml.create(obj.name, req.json_object())
        mark_viewed(req, obj.name, rid)
    return Reply(201, {"id": rid, "success": True, "errors": []})


@ROUTER.route("GET", "sobjects/{sobject}/describe")
def describe(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    return Reply(body=describe_object(obj, req.session, req.version))


@ROUTER.route("GET", "sobjects/{sobject}/{rid}")
def retrieve(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    fields = [f for f in req.query.get("fields", "").split(",") if f.strip()] or None
    if fields:
        for f in fields:
            if obj.field_ci(f.strip()) is None:
                raise ApiError("INVALID_FIELD", f"No such column '{f}' on sobject of type "
                               f"{obj.name}", [f])
    data = dml.get(obj, req.params["rid"])
    mark_viewed(req, obj.name, data["Id"])
    return Reply(body=dml.shaped(obj, data, req.version, [f.strip() for f in fields or []]))


@ROUTER.route("PATCH", "sobjects/{sobject}/{rid}")
def update(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    with req.emu.store.transaction():
        dml.update(obj.name, req.params["rid"], req.json_object())
        mark_viewed(req, obj.name, dml.get(obj, req.params["rid"])["Id"])
    return Reply(204)


@ROUTER.route("DELETE", "sobjects/{sobject}/{rid}")
def delete(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    with req.emu.store.transaction():
        dml.delete(req.params["rid"], obj.name)
    return Reply(204)


@ROUTER.route("GET", "sobjects/{sobject}/{field}/{value}")
def retrieve_by_external_id(req: ApiRequest) -> Reply:
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    fdef = obj.field_ci(req.params["field"])
    if fdef is None or not (fdef.external_id or fdef.id_lookup):
        raise not_found()
    ids = dml.find_by(obj, fdef, req.params["value"])
    if not ids:
        raise not_found()
    if len(ids) > 1:
        return Reply(300, [f"{req.base}/sobjects/{obj.name}/{i}" for i in ids])
    mark_viewed(req, obj.name, ids[0])
    return Reply(body=dml.shaped(obj, dml.get(obj, ids[0]), req.version))


@ROUTER.route("PATCH", "sobjects/{sobject}/{field}/{value}")
def upsert(req: ApiRequest) -> Reply:
    dml = req.dml()
    try:
        with req.emu.store.transaction():
            rid, created = dml.upsert(req.params["sobject"], req.params["field"],
                                      req.params["value"], req.json_object())
    except ApiError as exc:
        if exc.status == 300:
            return Reply(300, [f"{req.base}/sobjects/{req.params['sobject']}/{i}"
                               for i in exc.extra["ids"]])
        raise
    return Reply(201 if created else 200, {"id": rid, "success": True, "errors": [],
                                           "created": created})


def _replication_window(req: ApiRequest) -> tuple[dt.datetime, dt.datetime]:
    try:
        # simple-salesforce sends a raw '+' in the offset, which arrives as a space.
        start = parse_datetime(req.query["start"].replace(" ", "+"))
        end = parse_datetime(req.query["end"].replace(" ", "+"))
    except (KeyError, ValueError):
        raise ApiError("MALFORMED_QUERY", "start and end must be valid dateTime values, e.g. "
                       "2026-11-28T00:00:00+00:00") from None
    now = req.emu.now()
    if end <= start:
        raise ApiError("INVALID_REPLICATION_DATE", "startDate must chronologically precede "
                       "endDate by more than one minute")
    if start < now - dt.timedelta(days=30):
        raise ApiError("INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    return start, min(end, now)


@ROUTER.route("GET", "sobjects/{sobject}/updated")
def get_updated(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    start, end = _replication_window(req)
    window = (format_datetime(start), format_datetime(end))
    ids = [row.id for row in req.emu.store.scan(obj.name, req.session.org.id,
                                                 modstamp_range=window)]
    return Reply(body={"ids": ids, "latestDateCovered": window[1]})


@ROUTER.route("GET", "sobjects/{sobject}/deleted")
def get_deleted(req: ApiRequest) -> Reply:
    obj = req.dml().object(req.params["sobject"])
    start, end = _replication_window(req)
    window = (format_datetime(start), format_datetime(end))
    deleted: list[dict[str, Any]] = [
        {"id": row.id, "deletedDate": row.data["SystemModstamp"]}
        for row in req.emu.store.scan(obj.name, req.session.org.id, deleted_only=True,
                                      modstamp_range=window)]
    earliest = format_datetime(req.emu.now() - dt.timedelta(days=15))
    return Reply(body={"deletedRecords": deleted, "earliestDateAvailable": earliest,
                       "latestDateCovered": window[1]})
