"""SOQL text -> :class:`sfemu.soql.ast.Query`, or a MALFORMED_QUERY pointing at the problem."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from sfemu.soql import ast
from sfemu.soql.context import SoqlError
from sfemu.soql.errors import MAX_QUERY_LENGTH, error_at

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'",
                   "\\": "\\"}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


@cache
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse(soql: str) -> ast.Query:
    if not soql.strip():
        raise SoqlError("MALFORMED_QUERY", "SOQL statements cannot be empty or null")
    if len(soql) > MAX_QUERY_LENGTH:
        raise SoqlError("MALFORMED_QUERY",
                        f"SOQL statement is too long: the maximum is {MAX_QUERY_LENGTH} characters")
    try:
        tree = _lark().parse(soql)
        query: ast.Query = _ToAst(soql).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SoqlError):
            raise exc.orig_exc from None
        raise _malformed(soql, ast.Pos(1, 1), "unexpected token") from None
    except UnexpectedInput as exc:
        raise _syntax_error(soql, exc) from None
    except LarkError:
        raise _malformed(soql, ast.Pos(1, 1), "unexpected token") from None
    except RecursionError:
        raise SoqlError("QUERY_TOO_COMPLICATED",
                        "Query is either selecting too many fields or the filter conditions are "
                        "too complicated.") from None
    return query


def _malformed(soql: str, pos: ast.Pos, reason: str) -> SoqlError:
    return error_at("MALFORMED_QUERY", soql, pos, reason)


def _end_pos(soql: str) -> ast.Pos:
    lines = soql.splitlines() or [""]
    return ast.Pos(len(lines), len(lines[-1]) + 1)


def _syntax_error(soql: str, exc: UnexpectedInput) -> SoqlError:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        return _malformed(soql, ast.Pos(tok.line or 1, tok.column or 1),
                          f"unexpected token: '{tok.value}'")
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        char = soql[at] if 0 <= at < len(soql) else ""
        return _malformed(soql, ast.Pos(exc.line, exc.column),
                          f"line {exc.line}:{exc.column} no viable alternative at character "
                          f"'{char}'")
    if isinstance(exc, UnexpectedToken | UnexpectedEOF):
        return _malformed(soql, _end_pos(soql), "unexpected token: '<EOF>'")
    return _malformed(soql, _end_pos(soql), "unexpected token")


def _pos(tok: Token) -> ast.Pos:
    return ast.Pos(tok.line or 1, tok.column or 1)


def decode_string(raw: str) -> str:
    """The value of a quoted string's body; ``\\%`` and ``\\_`` stand for themselves here."""
    return "".join(part for part, _ in _string_parts(raw))


def like_regex(raw: str) -> re.Pattern[str]:
    """LIKE's pattern: ``%`` any run, ``_`` any one character, ``\\%``/``\\_`` literal."""
    out = []
    for part, escaped in _string_parts(raw):
        if not escaped and part == "%":
            out.append(".*")
        elif not escaped and part == "_":
            out.append(".")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _string_parts(raw: str) -> list[tuple[str, bool]]:
    """The characters of a string body, each flagged when it came from an escape sequence."""
    parts: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            parts.append((ch, False))
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _SIMPLE_ESCAPES:
            parts.append((_SIMPLE_ESCAPES[nxt], True))
            i += 2
        elif nxt in ("%", "_"):
            parts.append((nxt, True))
            i += 2
        elif nxt == "u" and _HEX4.fullmatch(raw[i + 2:i + 6]):
            parts.append((chr(int(raw[i + 2:i + 6], 16)), True))
            i += 6
        else:
            raise _BadEscape(i, raw[i:i + 2])
    return parts


class _BadEscape(Exception):
    def __init__(self, offset: int, sequence: str) -> None:
        super().__init__(sequence)
        self.offset = offset
        self.sequence = sequence


def _offset_pos(tok: Token, offset: int) -> ast.Pos:
    """The position of the character ``offset`` characters into a (possibly multi-line) token."""
    before = str(tok)[:offset]
    newlines = before.count("\n")
    if not newlines:
        return ast.Pos(tok.line or 1, (tok.column or 1) + offset)
    return ast.Pos((tok.line or 1) + newlines, len(before) - before.rfind("\n"))


class _ToAst(Transformer[Token, Any]):
    """Builds the AST; literal validation happens here so errors carry token positions."""

    def __init__(self, soql: str) -> None:
        super().__init__()
        self.soql = soql

    # -- values ---------------------------------------------------------------------------
    def value(self, children: list[Token]) -> ast.Literal:
        tok = children[0]
        text = str(tok)
        kind = tok.type
        pos = _pos(tok)
        if kind == "STRING":
            raw = text[1:-1]
            try:
                decoded = decode_string(raw)
            except _BadEscape as bad:
                raise _malformed(
                    self.soql, _offset_pos(tok, bad.offset + 1),
                    f"Invalid string literal '{raw}'. Illegal character sequence "
                    f"'{bad.sequence}' in string literal.") from None
            return ast.Literal("string", decoded, raw, pos)
        if kind == "NUMBER":
            number: int | float = float(text) if "." in text else int(text)
            return ast.Literal("number", number, text, pos)
        if kind in ("TRUE", "FALSE"):
            return ast.Literal("boolean", kind == "TRUE", text, pos)
        if kind == "NULL":
            return ast.Literal("null", None, text, pos)
        if kind == "DATE":
            return ast.Literal("date", self._date(text, pos), text, pos)
        if kind == "DATETIME":
            return ast.Literal("datetime", self._datetime(text, pos), text, pos)
        name, _, n = text.upper().partition(":")
        return ast.Literal("relative", ast.RelativeDate(name, int(n) if n else None), text, pos)

    def _date(self, text: str, pos: ast.Pos) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _malformed(self.soql, pos, f"Invalid date: {text}") from None

    def _datetime(self, text: str, pos: ast.Pos) -> datetime:
        iso = text.upper()
        if iso.endswith("Z"):
            iso = iso[:-1] + "+00:00"
        elif iso[-5] in "+-" and iso[-3] != ":":
            iso = iso[:-2] + ":" + iso[-2:]
        try:
            return datetime.fromisoformat(iso)
        except ValueError:
            raise _malformed(self.soql, pos, f"Invalid datetime: {text}") from None

    def value_list(self, children: list[ast.Literal]) -> tuple[ast.Literal, ...]:
        return tuple(children)

    # -- paths and select items -----------------------------------------------------------
    def field_path(self, children: list[Token]) -> ast.FieldPath:
        return ast.FieldPath(tuple(str(c) for c in children), _pos(children[0]))

    def agg_name(self, children: list[Token]) -> Token:
        return children[0]

    def aggregate(self, children: list[Any]) -> ast.Aggregate | ast.CountAll:
        name = children[0]
        function = str(name).upper()
        if len(children) == 1:
            if function != "COUNT":
                raise _malformed(self.soql, _pos(name), f"unexpected token: '{name}'")
            return ast.CountAll(_pos(name))
        return ast.Aggregate(function, children[1], _pos(name), str(name))

    def order_item(self, children: list[Any]) -> ast.OrderItem:
        expr = children[0]
        if isinstance(expr, ast.CountAll):
            raise _malformed(self.soql, expr.pos, "unexpected token: 'COUNT'")
        options = dict(children[1:])
        return ast.OrderItem(expr, options.get("descending", False), options.get("nulls_first"))

    def select_aggregate(self, children: list[Any]) -> ast.SelectAggregate | ast.CountAll:
        call = children[0]
        alias = children[1] if len(children) > 1 else None
        if isinstance(call, ast.CountAll):
            if alias is not None:
                raise _malformed(self.soql, _pos(alias), f"unexpected token: '{alias}'")
            return call
        return ast.SelectAggregate(call, str(alias) if alias is not None else None)

    def select_list(self, children: list[ast.SelectItem]) -> tuple[ast.SelectItem, ...]:
        return tuple(children)

    def fields_kind(self, children: list[Token]) -> Token:
        return children[0]

    def fields_fn(self, children: list[Token]) -> ast.FieldsFn:
        keyword, kind = children
        return ast.FieldsFn(str(kind).upper(), _pos(keyword))

    def field_list(self, children: list[ast.FieldPath]) -> tuple[ast.FieldPath, ...]:
        return tuple(children)

    def when_branch(self, children: list[Any]) -> ast.TypeOfBranch:
        name, fields = children
        return ast.TypeOfBranch(str(name), fields, _pos(name))

    def else_branch(self, children: list[Any]) -> tuple[ast.FieldPath, ...]:
        fields: tuple[ast.FieldPath, ...] = children[0]
        return fields

    def typeof(self, children: list[Any]) -> ast.TypeOf:
        name, *branches = children
        whens = tuple(b for b in branches if isinstance(b, ast.TypeOfBranch))
        otherwise = next((b for b in branches if isinstance(b, tuple)), ())
        return ast.TypeOf(str(name), whens, otherwise, _pos(name))

    # -- conditions -----------------------------------------------------------------------
    def compare(self, children: list[Any]) -> ast.Compare:
        path, op, value = children
        op_text = "!=" if str(op) == "<>" else str(op)
        return ast.Compare(path, op_text, value, _pos(op))

    def like(self, children: list[Any]) -> ast.Compare:
        path, op, value = children
        return ast.Compare(path, "LIKE", value, _pos(op))

    def in_list(self, children: list[Any]) -> ast.InList:
        path, op, values = children
        return ast.InList(path, False, values, _pos(op))

    def not_in_list(self, children: list[Any]) -> ast.InList:
        path, op, _in, values = children
        return ast.InList(path, True, values, _pos(op))

    def semi_join(self, children: list[Any]) -> ast.SemiJoin:
        path, op, query = children
        return ast.SemiJoin(path, False, query, _pos(op))

    def anti_join(self, children: list[Any]) -> ast.SemiJoin:
        path, op, _in, query = children
        return ast.SemiJoin(path, True, query, _pos(op))

    def includes(self, children: list[Any]) -> ast.Includes:
        path, op, values = children
        return ast.Includes(path, False, values, _pos(op))

    def excludes(self, children: list[Any]) -> ast.Includes:
        path, op, values = children
        return ast.Includes(path, True, values, _pos(op))

    def not_cond(self, children: list[Any]) -> ast.Not:
        return ast.Not(children[1])

    def and_cond(self, children: list[ast.Condition]) -> ast.And:
        return ast.And(tuple(children))

    def or_cond(self, children: list[ast.Condition]) -> ast.Or:
        return ast.Or(tuple(children))

    # -- clauses --------------------------------------------------------------------------
    def where_clause(self, children: list[ast.Condition]) -> tuple[str, Any]:
        return ("where", children[0])

    def with_clause(self, children: list[Token]) -> tuple[str, Any]:
        return ("security_enforced", True)

    def group_clause(self, children: list[ast.FieldPath]) -> tuple[str, Any]:
        return ("group_by", tuple(children))

    def direction(self, children: list[Token]) -> tuple[str, bool]:
        return ("descending", str(children[0]).upper() == "DESC")

    def nulls(self, children: list[Token]) -> tuple[str, bool]:
        return ("nulls_first", str(children[-1]).upper() == "FIRST")

    def order_clause(self, children: list[ast.OrderItem]) -> tuple[str, Any]:
        return ("order_by", tuple(children))

    def limit_clause(self, children: list[Token]) -> tuple[str, Any]:
        return ("limit", int(children[0]))

    def offset_clause(self, children: list[Token]) -> tuple[str, Any]:
        return ("offset", int(children[0]))

    def _query(self, children: list[Any]) -> ast.Query:
        select, name, *clauses = children
        return ast.Query(select=select, sobject=str(name), sobject_pos=_pos(name),
                         pos=ast.Pos(1, 1), **dict(clauses))

    def query(self, children: list[Any]) -> ast.Query:
        return self._query(children)

    def subquery(self, children: list[Any]) -> ast.Query:
        return self._query(children)

    def start(self, children: list[ast.Query]) -> ast.Query:
        return children[0]
