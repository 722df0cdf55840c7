"""sObject Collections, composite (with @{ref} references) and composite/batch."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.errors import ApiError

COLLECTION_LIMIT = 200
RETRIEVE_LIMIT = 2000  # ids in one sObject Collections retrieve
SUBREQUEST_LIMIT = 25
# Of a composite request's subrequests, at most this many may be sObject Collections or query
# operations (query, queryAll, composite/sobjects…): so 5 collections of 200 in one call.
HEAVY_SUBREQUEST_LIMIT = 5
_HEAVY = re.compile(r"^(query|queryAll|composite/sobjects)(/|$)")
_SUB_URL = re.compile(r"^(?:/services/data)?/?v(\d+\.\d)/?(.*)$")  # a subrequest's URL path
_ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                           "request was using AllOrNone header", "fields": []}


class _Rollback(Exception):
    pass


def _records(req: ApiRequest) -> tuple[bool, list[dict[str, Any]]]:
    body = req.json_object()
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ApiError("JSON_PARSER_ERROR", "records must be an array of objects", ["records"])
    if len(records) > COLLECTION_LIMIT:
        raise ApiError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{COLLECTION_LIMIT} records into this call")
    return bool(body.get("allOrNone", False)), records


def _run_each(req: ApiRequest, items: list[Any], all_or_none: bool,
              one: Any) -> list[dict[str, Any]]:
    """Run ``one(item)`` for each item, each in its own savepoint; with allOrNone, any failure
    rolls all back.  The whole call is one transaction, so the real-time package posts once."""
    results: list[dict[str, Any]] = []
    store = req.emu.store
    try:
        with store.transaction():
            for item in items:
                try:
                    with store.transaction():
                        results.append({"success": True, "errors": [], **one(item)})
                except ApiError as exc:
                    results.append({"id": _item_id(item), "success": False,
                                    "errors": [exc.collection_error()]})
            if all_or_none and not all(r["success"] for r in results):
                raise _Rollback
    except _Rollback:
        results = [r if not r["success"] else {"id": None, "success": False,
                                               "errors": [dict(_ROLLED_BACK)]} for r in results]
    return results


def _item_id(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("id") or item.get("Id")
        return str(value) if value else None
    return str(item) if item else None


def _type_of(record: dict[str, Any]) -> str:
    attrs = record.get("attributes")
    if not isinstance(attrs, dict) or not attrs.get("type"):
        raise ApiError("INVALID_TYPE", "Must send a concrete entity type.", [])
    return str(attrs["type"])


@ROUTER.route("POST", "composite/sobjects")
def collection_create(req: ApiRequest) -> Reply:
    all_or_none, records = _records(req)
    dml = req.dml()

    def one(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("id") or record.get("Id"):
            raise ApiError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return {"id": dml.create(_type_of(record), record)}
    return Reply(body=_run_each(req, records, all_or_none, one))


@ROUTER.route("PATCH", "composite/sobjects")
def collection_update(req: ApiRequest) -> Reply:
    all_or_none, records = _records(req)
    dml = req.dml()

    def one(record: dict[str, Any]) -> dict[str, Any]:
        rid = record.get("id") or record.get("Id")
        if not rid:
            raise ApiError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        body = {k: v for k, v in record.items() if k not in ("id", "Id")}
        dml.update(_type_of(record), str(rid), body)
        return {"id": dml.get(dml.object(_type_of(record)), str(rid))["Id"]}
    return Reply(body=_run_each(req, records, all_or_none, one))


@ROUTER.route("PATCH", "composite/sobjects/{sobject}/{field}")
def collection_upsert(req: ApiRequest) -> Reply:
    all_or_none, records = _records(req)
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    fdef = obj.field_ci(req.params["field"])
    if fdef is None or not fdef.external_id:
        raise ApiError("INVALID_FIELD", f"Field name provided, {req.params['field']} is not "
                       f"an External ID or indexed field for {obj.name}", [req.params["field"]])

    def one(record: dict[str, Any]) -> dict[str, Any]:
        if _type_of(record) != obj.name:
            raise ApiError("INVALID_TYPE", f"sObject type {_type_of(record)} does not match "
                           f"{obj.name}")
        value = next((v for k, v in record.items() if k.lower() == fdef.name.lower()), None)
        if value in (None, ""):
            raise ApiError("MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
        try:
            rid, created = dml.upsert(obj.name, fdef.name, str(value), record)
        except ApiError as exc:
            if exc.status == 300:
                raise ApiError("DUPLICATE_EXTERNAL_ID", f"{fdef.name}: more than one record "
                               f"found for external id field: {exc.extra['ids']}",
                               [fdef.name]) from None
            raise
        return {"id": rid, "created": created}
    return Reply(body=_run_each(req, records, all_or_none, one))


@ROUTER.route("DELETE", "composite/sobjects")
def collection_delete(req: ApiRequest) -> Reply:
    ids = [i for i in req.query.get("ids", "").split(",") if i]
    if len(ids) > COLLECTION_LIMIT:
        raise ApiError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{COLLECTION_LIMIT} records into this call")
    all_or_none = req.query.get("allOrNone", "false").lower() == "true"
    dml = req.dml()

    def one(rid: str) -> dict[str, Any]:
        dml.delete(rid)
        return {"id": rid}
    return Reply(body=_run_each(req, ids, all_or_none, one))


@ROUTER.route("GET", "composite/sobjects/{sobject}")
def collection_retrieve(req: ApiRequest) -> Reply:
    return _retrieve(req, [i for i in req.query.get("ids", "").split(",") if i],
                     [f for f in req.query.get("fields", "").split(",") if f])


@ROUTER.route("POST", "composite/sobjects/{sobject}")
def collection_retrieve_by_body(req: ApiRequest) -> Reply:
    """The same retrieve with ``{"ids", "fields"}`` in the body (jsforce uses it from API
    42.0), for more ids than a URL holds."""
    body = req.json_object()
    ids, fields = body.get("ids"), body.get("fields")
    for name, value in (("ids", ids), ("fields", fields)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError("JSON_PARSER_ERROR", f"{name} must be an array of strings", [name])
    return _retrieve(req, list(ids or []), list(fields or []))


def _retrieve(req: ApiRequest, ids: list[str], fields: list[str]) -> Reply:
    """Records in the order of ``ids``; null where one is missing or not readable."""
    dml = req.dml()
    obj = dml.object(req.params["sobject"])
    if not fields:
        raise ApiError("MISSING_ARGUMENT", "fields is required", ["fields"])
    if len(ids) > RETRIEVE_LIMIT:
        raise ApiError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{RETRIEVE_LIMIT} records into this call")
    out: list[dict[str, Any] | None] = []
    for rid in ids:
        try:
            out.append(dml.shaped(obj, dml.get(obj, rid), req.version, fields))
        except ApiError:
            out.append(None)
    return Reply(body=out)


# -- composite --------------------------------------------------------------------------------
_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")


def _lookup(m: re.Match[str], results: dict[str, Any]) -> Any:
    ref, path = m.group(1), m.group(2)
    if ref not in results or results[ref] is None:
        raise KeyError(m.group(0))
    value: Any = results[ref]
    for key, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        value = value[int(index)] if index else value[key]
    return value


def _resolve(text: str, results: dict[str, Any]) -> str:
    return _REF.sub(lambda m: str(_lookup(m, results)), text)


def _resolve_body(body: Any, results: dict[str, Any]) -> Any:
    """References in a request body, resolved on the parsed JSON: a string that is exactly
    one reference takes the referenced value itself; references inside text are substituted
    as text.  (Never pasted into JSON source, so a quote in a value cannot break or inject.)"""
    if isinstance(body, dict):
        return {k: _resolve_body(v, results) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve_body(v, results) for v in body]
    if isinstance(body, str):
        whole = _REF.fullmatch(body)
        return _lookup(whole, results) if whole else _resolve(body, results)
    return body


def sub_request(parent: ApiRequest, method: str, url: str, body: Any,
                headers: dict[str, str] | None = None) -> Reply:
    parts = urlsplit(url)
    m = _SUB_URL.match(parts.path)
    if m is None:
        raise ApiError("NOT_FOUND", f"The requested resource does not exist: {url}")
    req = ApiRequest(parent.emu, parent.session, m.group(1), method.upper(),
                     m.group(2).strip("/"), dict(parse_qsl(parts.query)),
                     {**parent.headers, **{k.lower(): v for k, v in (headers or {}).items()}},
                     json.dumps(body).encode() if body is not None else b"",
                     origin=parent.origin)
    try:
        return ROUTER.dispatch(req)
    except ApiError as exc:
        return Reply(exc.status, exc.body(), dict(exc.headers))


@ROUTER.route("POST", "composite")
def composite(req: ApiRequest) -> Reply:
    body = req.json_object()
    subs = body.get("compositeRequest")
    if not isinstance(subs, list) or not subs:
        raise ApiError("JSON_PARSER_ERROR", "compositeRequest is required",
                       ["compositeRequest"])
    refused = _over_limits(subs)
    if refused is not None:
        return refused
    all_or_none = bool(body.get("allOrNone", False))
    results: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    store = req.emu.store
    failed = False
    try:
        with store.transaction():
            for sub in subs:
                ref = str(sub.get("referenceId", ""))
                if failed and all_or_none:
                    break
                try:
                    url = _resolve(str(sub.get("url", "")), results)
                    payload = _resolve_body(sub.get("body"), results)
                except (KeyError, IndexError, TypeError) as exc:
                    out.append(_halted(ref, f"Invalid reference specified. No value for {exc} "
                                       "found in a previous subrequest."))
                    results[ref] = None
                    failed = True
                    continue
                try:
                    with store.transaction():
                        reply = sub_request(req, str(sub.get("method", "GET")), url, payload,
                                            sub.get("httpHeaders"))
                        if reply.status >= 400:
                            raise _SubFailed(reply)
                except _SubFailed as f:
                    reply = f.reply
                    failed = True
                results[ref] = reply.body if reply.status < 400 else None
                out.append({"body": reply.body, "httpHeaders": reply.headers,
                            "httpStatusCode": reply.status, "referenceId": ref})
            if failed and all_or_none:
                raise _Rollback
    except _Rollback:
        message = ("The transaction was rolled back since another operation in the same "
                   "transaction failed.")
        out = [o if o["httpStatusCode"] >= 400 else _halted(o["referenceId"], message)
               for o in out]
        done = {o["referenceId"] for o in out}
        out += [_halted(str(s.get("referenceId", "")), message) for s in subs
                if str(s.get("referenceId", "")) not in done]
    return Reply(body={"compositeResponse": out})


def _resource(url: str) -> str:
    """A subrequest URL's path below /services/data/vXX.X/."""
    m = _SUB_URL.match(urlsplit(url).path)
    return m.group(2).strip("/") if m else ""


def _over_limits(subs: list[Any]) -> Reply | None:
    """Salesforce's refusal of a composite request over its limits: 25 subrequests, of which
    5 sObject Collections or query operations.  Nothing runs; the answer is one failed item
    without a referenceId."""
    heavy = sum(1 for s in subs if isinstance(s, dict)
                and _HEAVY.match(_resource(str(s.get("url", "")))))
    if len(subs) > SUBREQUEST_LIMIT:
        message = f"The request can’t contain more than {SUBREQUEST_LIMIT} operations."  # noqa: RUF001
    elif heavy > HEAVY_SUBREQUEST_LIMIT:
        message = (f"The request can’t contain more than {HEAVY_SUBREQUEST_LIMIT} sObject "  # noqa: RUF001
                   "Collections or query operations.")
    else:
        return None
    return Reply(400, {"compositeResponse": [{
        "body": [{"errorCode": "LIMIT_EXCEEDED", "message": message}], "httpHeaders": {},
        "httpStatusCode": 400, "referenceId": None}]})


class _SubFailed(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _halted(ref: str, message: str) -> dict[str, Any]:
    return {"body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref}


@ROUTER.route("POST", "composite/batch")
def composite_batch(req: ApiRequest) -> Reply:
    body = req.json_object()
    subs = body.get("batchRequests")
    if not isinstance(subs, list) or not subs:
        raise ApiError("JSON_PARSER_ERROR", "batchRequests is required", ["batchRequests"])
    if len(subs) > SUBREQUEST_LIMIT:
        raise ApiError("INVALID_FIELD", f"batchRequests: A maximum of {SUBREQUEST_LIMIT} "
                       "subrequests is allowed", ["batchRequests"])
    halt = bool(body.get("haltOnError", False))
    results: list[dict[str, Any]] = []
    has_errors = False
    for sub in subs:
        if halt and has_errors:
            results.append({"statusCode": 412, "result": [{
                "errorCode": "BATCH_PROCESSING_HALTED",
                "message": "Batch processing halted per request"}]})
            continue
        url = str(sub.get("url", ""))
        reply = sub_request(req, str(sub.get("method", "GET")),
                            url if url.startswith("/") else "/" + url, sub.get("richInput"))
        has_errors = has_errors or reply.status >= 400
        results.append({"statusCode": reply.status, "result": reply.body})
    return Reply(body={"hasErrors": has_errors, "results": results})
