"""SOSL search: ``GET search?q=FIND {term} [IN … FIELDS] [RETURNING Obj(fields …)] [LIMIT n]``.

The outer statement has its own small grammar; each RETURNING object's field list and clauses
are handed to the SOQL engine, so filters, ordering and errors behave exactly as in a query.
Terms match case-insensitively at word starts; ``*`` is a wildcard, several words must all match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lark import Lark, Tree
from lark.exceptions import LarkError

from sfemu.api.query import StoreQueryContext
from sfemu.api.routing import ROUTER, ApiRequest, Reply
from sfemu.errors import ApiError
from sfemu.schema import ObjectDef
from sfemu.soql.context import SoqlError
from sfemu.soql.evaluator import compile_query

_GRAMMAR = r"""
start: "FIND"i TERM scope? returning? limit?
scope: "IN"i SCOPE "FIELDS"i
returning: "RETURNING"i target ("," target)*
target: NAME inner?
inner: "(" INNER ")"
limit: "LIMIT"i INT
TERM: /\{([^}\\]|\\.)*\}/
SCOPE: /ALL|NAME|EMAIL|PHONE/i
NAME: /[A-Za-z][A-Za-z0-9_]*/
INNER: /([^()']|'([^'\\]|\\.)*'|\(([^()']|'([^'\\]|\\.)*')*\))+/
%import common.INT
%import common.WS
%ignore WS
"""
_PARSER = Lark(_GRAMMAR, parser="lalr")
DEFAULT_OBJECTS = ("Account", "Contact", "Lead", "Opportunity")
MAX_ROWS = 2000
_TEXT_TYPES = {"ALL": ("string", "email", "phone", "textarea", "url", "combobox"),
               "NAME": (), "EMAIL": ("email",), "PHONE": ("phone",)}
_NAME_FIELDS = ("Name", "FirstName", "LastName", "Company", "Title")


@dataclass
class Target:
    sobject: str
    fields: str
    clauses: str
    limit: int | None


def _malformed(message: str) -> ApiError:
    return ApiError("MALFORMED_SEARCH", message)


def _split_inner(inner: str) -> tuple[str, str, int | None]:
    """Field list, then WHERE/ORDER BY (as SOQL text), then the per-object LIMIT."""
    m = re.search(r"\b(WHERE|ORDER\s+BY|LIMIT)\b", inner, re.IGNORECASE)
    fields, clauses = (inner[:m.start()], inner[m.start():]) if m else (inner, "")
    limit = None
    lm = re.search(r"\bLIMIT\s+(\d+)\s*$", clauses, re.IGNORECASE)
    if lm:
        limit, clauses = int(lm.group(1)), clauses[:lm.start()]
    return fields.strip() or "Id", clauses.strip(), limit


def parse_sosl(text: str) -> tuple[list[str], str, list[Target], int]:
    try:
        tree = _PARSER.parse(text)
    except LarkError as exc:
        raise _malformed(f"Invalid search: {str(exc).splitlines()[0]}") from None
    raw = str(tree.children[0])[1:-1]
    words = [w for w in re.sub(r"\\(.)", r"\1", raw).replace('"', " ").split() if w.upper()
             not in ("AND", "OR")]
    if not words or any(len(w.strip("*")) < 2 for w in words):
        raise _malformed("search term must be longer than one character")
    scope, targets, limit = "ALL", [], MAX_ROWS
    for node in tree.children[1:]:
        if not isinstance(node, Tree):
            continue
        if node.data == "scope":
            scope = str(node.children[0]).upper()
        elif node.data == "limit":
            limit = min(MAX_ROWS, int(str(node.children[0])))
        elif node.data == "returning":
            for target in node.children:
                assert isinstance(target, Tree)
                name = str(target.children[0])
                inner = target.children[1] if len(target.children) > 1 else None
                text_inner = str(inner.children[0]) if isinstance(inner, Tree) else ""
                targets.append(Target(name, *_split_inner(text_inner)))
    if not targets:
        targets = [Target(o, "Id", "", None) for o in DEFAULT_OBJECTS]
    return words, scope, targets, limit


def _matcher(words: list[str]) -> re.Pattern[str]:
    parts = [r"(?=.*\b" + re.escape(w).replace(r"\*", r"\w*") + ")" for w in words]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _searchable(obj: ObjectDef, scope: str) -> list[str]:
    if scope == "NAME":
        return [f for f in _NAME_FIELDS if f in obj.fields]
    return [f.name for f in obj.fields.values() if f.type in _TEXT_TYPES[scope]]


@ROUTER.route("GET", "search")
def search(req: ApiRequest) -> Reply:
    words, scope, targets, limit = parse_sosl(req.query.get("q", ""))
    pattern = _matcher(words)
    ctx = StoreQueryContext(req.emu, req.session, req.version)
    found: list[dict[str, Any]] = []
    for target in targets:
        soql = f"SELECT {target.fields} FROM {target.sobject} {target.clauses}"
        try:
            query = compile_query(soql, ctx)
        except SoqlError as exc:
            raise ApiError(exc.error_code, exc.message) from None
        obj = ctx.schema.objects[query.sobject]
        fields = _searchable(obj, scope)
        hits = {row["Id"] for row in ctx.scan(obj.name, include_deleted=False)
                if pattern.search("\n".join(str(row.get(f) or "") for f in fields))}
        taken = 0
        for rid, record in query.run(ctx, include_deleted=False):
            if rid in hits and len(found) < limit and (target.limit is None
                                                        or taken < target.limit):
                found.append(record)
                taken += 1
    return Reply(body={"searchRecords": found})

