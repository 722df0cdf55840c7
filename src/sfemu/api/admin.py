"""The admin API under /__sfemu__/: no OAuth, for tests, the demo and the CLI.

It sets orgs up (seed, package, faults, rules, custom objects, profiles), acts as a Salesforce
user (create, edit, convert, merge, delete, undelete) and reads what was written.  Nothing here
counts against an org's daily API limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sfemu.api.query import StoreQueryContext
from sfemu.behaviour.convert import convert_lead, merge
from sfemu.behaviour.faults import Faults, check_spec
from sfemu.behaviour.formula import FormulaError, compile_formula
from sfemu.behaviour.realtime import RealtimePackage
from sfemu.core import DEMO_PASSWORD, Emulator, Session, custom_field_def, custom_object_def
from sfemu.dml import Dml, WriteOptions
from sfemu.errors import ApiError
from sfemu.org.model import ALL_EDITIONS, Org, ProfilePerms
from sfemu.schema import FieldDef, ObjectDef
from sfemu.seed import seed_org
from sfemu.soql.context import SoqlError
from sfemu.soql.evaluator import compile_query
from sfemu.store import Row

# The package's activity custom field: on Salesforce one Activity field, seen on Task and Event.
# Tether writes activities as upserts on it, so a retried write never duplicates one.
ACTIVITY_KEY_FIELD: dict[str, Any] = {
    "name": "Tether_Activity_Key__c", "label": "Tether Activity Key", "type": "string",
    "length": 80, "externalId": True, "unique": True, "caseSensitive": True}
ACTIVITY_OBJECTS = ("Task", "Event")
PACKAGE_MARK = "package"  # key on a custom field spec that the package added


class Admin:
    def __init__(self, emu: Emulator, realtime: RealtimePackage, faults: Faults) -> None:
        self.emu = emu
        self.realtime = realtime
        self.faults = faults

    # -- plumbing -----------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        r = "/__sfemu__/orgs/{org}"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("/__sfemu__/orgs", "GET", self.list_orgs),
            ("/__sfemu__/orgs", "POST", self.create_org),
            (r, "GET", self.get_org),
            (r, "PATCH", self.patch_org),
            (f"{r}/seed", "POST", self.seed),
            (f"{r}/package", "POST", self.install_package),
            (f"{r}/package", "DELETE", self.uninstall_package),
            (f"{r}/package", "GET", self.package_status),
            (f"{r}/faults", "POST", self.set_faults),
            (f"{r}/leads/{{id}}/convert", "POST", self.convert),
            (f"{r}/merge", "POST", self.merge),
            (f"{r}/api-usage", "GET", self.api_usage),
            (f"{r}/users", "POST", self.create_user),
            (f"{r}/profiles", "GET", self.list_profiles),
            (f"{r}/profiles/{{name}}", "PUT", self.put_profile),
            (f"{r}/validation-rules", "POST", self.add_validation_rule),
            (f"{r}/validation-rules/{{name}}", "DELETE", self.delete_validation_rule),
            (f"{r}/assignment-rules", "POST", self.add_assignment_rule),
            (f"{r}/duplicate-rules", "POST", self.add_duplicate_rule),
            (f"{r}/objects", "POST", self.add_object),
            (f"{r}/objects/{{sobject}}/fields", "POST", self.add_field),
            (f"{r}/layouts/{{sobject}}", "PUT", self.put_layout),
            (f"{r}/records/{{sobject}}", "POST", self.create_record),
            (f"{r}/records/{{sobject}}/{{id}}", "PATCH", self.update_record),
            (f"{r}/records/{{sobject}}/{{id}}", "DELETE", self.delete_record),
            (f"{r}/records/{{sobject}}/{{id}}/undelete", "POST", self.undelete_record),
            (f"{r}/query", "GET", self.query),
        ]
        return [Route(path, self._wrap(fn), methods=[method]) for path, method, fn in table]

    def _wrap(self, fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request],
                                                                          Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await fn(request)
            except ApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            except KeyError as exc:
                return JSONResponse([{"errorCode": "NOT_FOUND", "message": f"Not found: {exc}",
                                      "fields": []}], status_code=404)
            except (ValueError, TypeError) as exc:
                return JSONResponse([{"errorCode": "INVALID_FIELD", "message": str(exc),
                                      "fields": []}], status_code=400)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        return endpoint

    def org(self, request: Request) -> Org:
        return self.emu.org_by_name(request.path_params["org"])

    async def body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError("JSON_PARSER_ERROR", "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError("JSON_PARSER_ERROR", "The request body must be a JSON object")
        return data

    def session(self, request: Request, org: Org) -> Session:
        """The user the admin API acts as: X-Sfemu-As, or the org's first administrator."""
        username = request.headers.get("x-sfemu-as")
        if username:
            user = self.emu.user_by_username(org, username)
            if user is None:
                raise ApiError("NOT_FOUND", f"No user {username} in org {org.name}")
            return self.emu.session_for(org, user["Id"])
        for row in self.emu.store.scan("User", org.id):
            session = self.emu.session_for(org, row.id)
            if session.profile.modify_all_data:
                return session
        raise ApiError("NOT_FOUND", f"Org {org.name} has no administrator")

    def dml(self, request: Request, org: Org) -> Dml:
        h = request.headers
        return Dml(self.emu, self.session(request, org),
                   WriteOptions(auto_assign=h.get("sforce-auto-assign"),
                                allow_save_duplicates="allowsave=true" in h.get(
                                    "sforce-duplicate-rule-header", "").lower()))

    def describe_org(self, org: Org) -> dict[str, Any]:
        return {"id": org.id, "name": org.name, "edition": org.edition,
                "is_sandbox": org.is_sandbox, "sandbox_of": org.sandbox_of,
                "api_enabled": org.api_enabled, "daily_limit": org.daily_limit,
                "api_usage_today": org.usage_today(self.emu.now()),
                "package_installed": org.package is not None, "faults": org.faults}

    # -- orgs ---------------------------------------------------------------------------------
    async def list_orgs(self, request: Request) -> Any:
        return [self.describe_org(o) for o in self.emu.orgs()]

    async def create_org(self, request: Request) -> Any:
        body = await self.body(request)
        name = str(body.get("name", ""))
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", name):
            raise ApiError("INVALID_FIELD", "name must be 2-41 lower-case letters, digits or "
                           "dashes", ["name"])
        if any(o.name == name for o in self.emu.orgs()):
            raise ApiError("DUPLICATE_VALUE", f"An org named {name} exists", ["name"])
        edition = body.get("edition", "Enterprise")
        if edition not in ALL_EDITIONS:
            raise ApiError("INVALID_FIELD", f"edition must be one of {', '.join(ALL_EDITIONS)}",
                           ["edition"])
        sandbox_of = body.get("sandbox_of")
        if sandbox_of is not None:
            self.emu.org_by_name(str(sandbox_of))
        suffix = ".sandbox" if sandbox_of else ""
        with self.emu.store.transaction():
            org = self.emu.create_org(
                name, edition=edition, sandbox_of=sandbox_of,
                daily_limit=body.get("daily_limit"),
                admin_username=body.get("admin_username", f"admin@{name}.example{suffix}"),
                standard_username=body.get("standard_username", f"rep@{name}.example{suffix}"))
            if body.get("api_addon"):
                org.api_addon = True
                self.emu.save_org(org)
        return JSONResponse(self.describe_org(org), status_code=201)

    async def get_org(self, request: Request) -> Any:
        return self.describe_org(self.org(request))

    async def patch_org(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        for key, value in body.items():
            if key == "edition":
                if value not in ALL_EDITIONS:
                    raise ApiError("INVALID_FIELD", f"edition must be one of "
                                   f"{', '.join(ALL_EDITIONS)}", ["edition"])
                org.edition = value
            elif key == "daily_limit":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ApiError("INVALID_FIELD", "daily_limit must be a positive integer",
                                   ["daily_limit"])
                org.daily_limit = value
            elif key == "api_addon":
                org.api_addon = bool(value)
            elif key == "api_usage_today":
                org.api_usage_day, org.api_usage = self.emu.now().date().isoformat(), int(value)
            else:
                raise ApiError("INVALID_FIELD", f"Unknown org setting: {key}", [key])
        self.emu.save_org(org)
        return self.describe_org(org)

    async def seed(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        counts = {k: body.get(k, 0) for k in ("accounts", "contacts", "leads", "opportunities")}
        return seed_org(self.emu, org, seed=int(body.get("seed", 0)), **counts)

    # -- real-time package and faults ---------------------------------------------------------
    async def install_package(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        url, token = body.get("webhook_url"), body.get("token")
        key_field = body.get("activity_key_field", True)
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise ApiError("INVALID_FIELD", "webhook_url must be an http(s) URL",
                           ["webhook_url"])
        if not isinstance(token, str) or not token:
            raise ApiError("INVALID_FIELD", "token is required", ["token"])
        if not isinstance(key_field, bool):
            raise ApiError("INVALID_FIELD", "activity_key_field must be true or false",
                           ["activity_key_field"])
        with self.emu.store.transaction():
            if key_field:
                self._add_activity_key_field(org)
            else:
                self._remove_activity_key_field(org)
            org.package = {"webhook_url": url, "token": token, "activity_key_field": key_field}
            self.emu.save_org(org)
        self.realtime.wakeup.set()
        return {"installed": True, "webhook_url": url, "activity_key_field": key_field}

    async def uninstall_package(self, request: Request) -> Any:
        org = self.org(request)
        with self.emu.store.transaction():
            self._remove_activity_key_field(org)
            org.package = None
            self.emu.save_org(org)
        return {"installed": False}

    def _add_activity_key_field(self, org: Org) -> None:
        """The key field on Task and Event, where the org does not have one of that name (a
        second install changes nothing; a field the org made itself is left as it is)."""
        schema = self.emu.schema(org)
        for name in ACTIVITY_OBJECTS:
            obj = schema.objects[name]
            if obj.field_ci(ACTIVITY_KEY_FIELD["name"]) is None:
                self._add_field_spec(org, obj, {**ACTIVITY_KEY_FIELD, PACKAGE_MARK: True})

    def _remove_activity_key_field(self, org: Org) -> None:
        """Uninstalling deletes the package's field and, as on Salesforce, its values."""
        field = ACTIVITY_KEY_FIELD["name"]
        ours = [s for s in org.custom_fields if s.get(PACKAGE_MARK) and s["name"] == field]
        org.custom_fields = [s for s in org.custom_fields if s not in ours]
        for sobject in sorted({s["object"] for s in ours}):
            for row in self.emu.store.scan(sobject, org.id, include_deleted=True):
                if field in row.data:
                    del row.data[field]
                    self.emu.store.update(sobject, [row])

    async def package_status(self, request: Request) -> Any:
        org = self.org(request)
        delivered, attempts = self.emu.store.execute(
            "SELECT count(delivered_at), coalesce(sum(attempts), 0) FROM outbox "
            "WHERE org_id = ?", [org.id]).fetchone()
        return {"installed": org.package is not None,
                "webhook_url": (org.package or {}).get("webhook_url"),
                "activity_key_field": bool((org.package or {}).get("activity_key_field")),
                "pending": self.realtime.pending(org.id), "delivered": delivered,
                "attempts": attempts}

    async def set_faults(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        org.faults = check_spec(body)
        self.emu.save_org(org)
        self.faults.configure(org.id, org.faults)
        return org.faults

    # -- acting as Salesforce users -----------------------------------------------------------
    async def convert(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            return convert_lead(dml, request.path_params["id"],
                                create_opportunity=bool(body.get("create_opportunity", True)),
                                account_id=body.get("account_id"),
                                contact_id=body.get("contact_id"),
                                opportunity_name=body.get("opportunity_name"))

    async def merge(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        merged = body.get("merged_ids")
        if not isinstance(merged, list):
            raise ApiError("INVALID_FIELD", "merged_ids must be a list of ids", ["merged_ids"])
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            return merge(dml, str(body.get("object", "")), str(body.get("master_id", "")),
                         [str(i) for i in merged])

    async def create_record(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            rid = dml.create(request.path_params["sobject"], body)
        return JSONResponse({"id": rid, "success": True, "errors": []}, status_code=201)

    async def update_record(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            dml.update(request.path_params["sobject"], request.path_params["id"], body)
        return Response(status_code=204)

    async def delete_record(self, request: Request) -> Any:
        org = self.org(request)
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            dml.delete(request.path_params["id"], request.path_params["sobject"])
        return Response(status_code=204)

    async def undelete_record(self, request: Request) -> Any:
        org = self.org(request)
        dml = self.dml(request, org)
        with self.emu.store.transaction():
            dml.undelete(request.path_params["id"])
        return {"id": request.path_params["id"], "success": True}

    async def query(self, request: Request) -> Any:
        org = self.org(request)
        session = self.session(request, org)
        ctx = StoreQueryContext(self.emu, session, "59.0")
        include_deleted = request.query_params.get("all", "false").lower() == "true"
        try:
            q = compile_query(request.query_params.get("q", ""), ctx)
        except SoqlError as exc:
            raise ApiError(exc.error_code, exc.message) from None
        if q.is_count_only:  # SELECT COUNT(): the count, no records (as the REST query)
            return {"totalSize": q.count(ctx, include_deleted=include_deleted), "done": True,
                    "records": []}
        records = [record for _, record in q.run(ctx, include_deleted=include_deleted)]
        return {"totalSize": len(records), "done": True, "records": records}

    async def api_usage(self, request: Request) -> Any:
        org = self.org(request)
        by_user = {u: n for u, n in self.emu.usage_by_user.items()
                   if self.emu.user_by_username(org, u) is not None}
        return {"total": sum(by_user.values()), "by_user": by_user,
                "today": org.usage_today(self.emu.now()), "daily_limit": org.daily_limit}

    # -- setup --------------------------------------------------------------------------------
    async def create_user(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        username = str(body.get("username", ""))
        if "@" not in username:
            raise ApiError("INVALID_FIELD", "username must look like an email address",
                           ["username"])
        if self.emu.authenticate_exists(username):
            raise ApiError("DUPLICATE_USERNAME", f"Duplicate Username: {username} is taken",
                           ["username"])
        profile_name = body.get("profile", "Standard User")
        profile = next((row.id for row in self.emu.store.scan("Profile", org.id)
                        if row.data["Name"] == profile_name), None)
        if profile is None:
            raise ApiError("INVALID_FIELD", f"No profile named {profile_name}", ["profile"])
        with self.emu.store.transaction():
            uid = self.emu.create_user(org, username, str(body.get("last_name", "User")),
                                       profile, str(body.get("password", DEMO_PASSWORD)),
                                       first_name=str(body.get("first_name", "")))
        return JSONResponse({"id": uid}, status_code=201)

    async def list_profiles(self, request: Request) -> Any:
        return {name: vars(p) for name, p in self.org(request).profiles.items()}

    async def put_profile(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        name = request.path_params["name"]
        objects = body.get("objects", {})
        if not isinstance(objects, dict) or any(
                not isinstance(v, str) or set(v) - set("CRED") for v in objects.values()):
            raise ApiError("INVALID_FIELD", "objects maps object names to letters from CRED",
                           ["objects"])
        perms = ProfilePerms(name=name, objects=objects,
                             hidden_fields=list(body.get("hidden_fields", [])),
                             readonly_fields=list(body.get("readonly_fields", [])),
                             modify_all_data=bool(body.get("modify_all_data", False)))
        with self.emu.store.transaction():
            if name not in org.profiles:
                pid = self.emu.new_id(org, "Profile")
                self.emu.store.insert("Profile", [Row(pid, org.id, False, {
                    "Id": pid, "Name": name, "IsDeleted": False,
                    "SystemModstamp": self.emu.stamp()})])
            org.profiles[name] = perms
            self.emu.save_org(org)
        return vars(perms)

    async def add_validation_rule(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        formula = body.get("errorConditionFormula") or body.get("formula")
        obj = self.emu.schema(org).get_ci(str(body.get("object", "")))
        if obj is None:
            raise ApiError("INVALID_TYPE", f"No object {body.get('object')}", ["object"])
        if not isinstance(formula, str):
            raise ApiError("INVALID_FIELD", "errorConditionFormula is required",
                           ["errorConditionFormula"])
        try:
            compile_formula(formula)
        except FormulaError as exc:
            raise ApiError("INVALID_FIELD", str(exc), ["errorConditionFormula"]) from None
        default_name = f"Rule{len(org.validation_rules) + 1}"
        rule = {"object": obj.name, "name": str(body.get("name", default_name)),
                "formula": formula, "active": bool(body.get("active", True)),
                "errorMessage": str(body.get("errorMessage", "Validation failed")),
                "errorDisplayField": body.get("errorDisplayField")}
        org.validation_rules = [r for r in org.validation_rules if r["name"] != rule["name"]]
        org.validation_rules.append(rule)
        self.emu.save_org(org)
        return JSONResponse(rule, status_code=201)

    async def delete_validation_rule(self, request: Request) -> Any:
        org = self.org(request)
        before = len(org.validation_rules)
        org.validation_rules = [r for r in org.validation_rules
                                if r["name"] != request.path_params["name"]]
        if len(org.validation_rules) == before:
            raise KeyError(request.path_params["name"])
        self.emu.save_org(org)
        return Response(status_code=204)

    async def add_assignment_rule(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        if body.get("object") not in ("Lead", "Account"):
            raise ApiError("INVALID_FIELD", "assignment rules apply to Lead or Account",
                           ["object"])
        entries = body.get("entries")
        if not isinstance(entries, list) or not entries:
            raise ApiError("INVALID_FIELD", "entries must be a non-empty list", ["entries"])
        for entry in entries:
            if self.emu.user_by_username(org, str(entry.get("owner", ""))) is None:
                raise ApiError("INVALID_FIELD", f"No user {entry.get('owner')}", ["entries"])
        rule = {"object": body["object"], "id": f"01Q{org.pod}{len(org.assignment_rules):010d}",
                "name": str(body.get("name", "Standard")), "active": bool(body.get("active",
                                                                                 True)),
                "entries": entries}
        if rule["active"]:
            for other in org.assignment_rules:
                if other["object"] == rule["object"]:
                    other["active"] = False  # one active rule per object, as on Salesforce
        org.assignment_rules.append(rule)
        self.emu.save_org(org)
        return JSONResponse(rule, status_code=201)

    async def add_duplicate_rule(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        if body.get("object") not in ("Lead", "Contact", "Account"):
            raise ApiError("INVALID_FIELD", "duplicate rules apply to Lead, Contact or Account",
                           ["object"])
        if body.get("action", "block") not in ("block", "alert"):
            raise ApiError("INVALID_FIELD", "action is block or alert", ["action"])
        rule = {"object": body["object"], "field": str(body.get("field", "Email")),
                "action": body.get("action", "block"), "active": bool(body.get("active", True)),
                "name": str(body.get("name", f"Standard_{body['object']}_Duplicate_Rule"))}
        obj = self.emu.schema(org).objects[rule["object"]]
        if rule["field"] not in obj.fields or not obj.fields[rule["field"]].indexed:
            raise ApiError("INVALID_FIELD", f"{rule['field']} cannot be matched on",
                           ["field"])
        org.duplicate_rules = [r for r in org.duplicate_rules if r["name"] != rule["name"]]
        org.duplicate_rules.append(rule)
        self.emu.save_org(org)
        return JSONResponse(rule, status_code=201)

    async def add_object(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        name = str(body.get("name", ""))
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,37}__c", name) or "__" in name[:-3]:
            raise ApiError("INVALID_FIELD", "custom object names look like Project__c",
                           ["name"])
        if self.emu.schema(org).get_ci(name) is not None:
            raise ApiError("DUPLICATE_DEVELOPER_NAME", f"{name} exists", ["name"])
        spec = dict(body)
        spec["keyPrefix"] = f"a{len(org.custom_objects) + 1:02d}"
        for f in spec.get("fields", []):
            self._check_field_spec(org, f)
        custom_object_def(spec)  # validates the whole spec before anything is saved
        org.custom_objects.append(spec)
        self.emu.save_org(org)
        obj = self.emu.schema(org).objects[name]
        return JSONResponse({"name": obj.name, "keyPrefix": obj.key_prefix,
                             "allowActivities": obj.allow_activities}, status_code=201)

    def _check_field_spec(self, org: Org, spec: dict[str, Any]) -> None:
        if spec.get("type") == "reference":
            targets = spec.get("referenceTo")
            schema = self.emu.schema(org)
            if not isinstance(targets, list) or not targets or any(
                    schema.get_ci(str(t)) is None for t in targets):
                raise ApiError("INVALID_FIELD", f"{spec.get('name')}: referenceTo must name "
                               "existing objects", ["referenceTo"])

    async def add_field(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        obj = self.emu.schema(org).get_ci(request.path_params["sobject"])
        if obj is None:
            raise ApiError("INVALID_TYPE", f"No object {request.path_params['sobject']}")
        body.pop(PACKAGE_MARK, None)  # only the package marks its own fields
        fdef = self._add_field_spec(org, obj, body)
        self.emu.save_org(org)
        return JSONResponse({"object": obj.name, "name": fdef.name}, status_code=201)

    def _add_field_spec(self, org: Org, obj: ObjectDef, spec: dict[str, Any]) -> FieldDef:
        """Add a custom field to ``obj`` in the org's configuration; the caller saves the org
        (which rebuilds its schema)."""
        self._check_field_spec(org, spec)
        fdef = custom_field_def(spec)
        if obj.field_ci(fdef.name) is not None:
            raise ApiError("DUPLICATE_DEVELOPER_NAME", f"{fdef.name} exists on {obj.name}",
                           ["name"])
        if obj.custom:
            custom = next(o for o in org.custom_objects if o["name"] == obj.name)
            custom.setdefault("fields", []).append(spec)
        else:
            org.custom_fields.append({**spec, "object": obj.name})
        return fdef

    async def put_layout(self, request: Request) -> Any:
        org, body = self.org(request), await self.body(request)
        obj = self.emu.schema(org).get_ci(request.path_params["sobject"])
        if obj is None:
            raise ApiError("INVALID_TYPE", f"No object {request.path_params['sobject']}")
        required = body.get("required")
        if not isinstance(required, list) or any(f not in obj.fields for f in required):
            raise ApiError("INVALID_FIELD", "required must list fields of the object",
                           ["required"])
        org.layout_required[obj.name] = list(required)
        self.emu.save_org(org)
        return {"object": obj.name, "required": required}
