"""A subset of Salesforce's formula language, enough for validation rules.

Supported: AND OR NOT IF REGEX ISBLANK ISNULL BEGINS CONTAINS LEN ISPICKVAL ISNEW ISCHANGED
PRIORVALUE TEXT LOWER UPPER, the operators && || ! = == != <> < <= > >= + - & and field
references.  REGEX, as on Salesforce, must match the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

_GRAMMAR = r"""
?start: expr
?expr: or_
?or_: and_ ("||" and_)*        -> or_op
?and_: cmp ("&&" cmp)*         -> and_op
?cmp: sum (CMP sum)?            -> cmp_op
?sum: unary (ADDOP unary)*      -> sum_op
?unary: "!" unary              -> not_op
      | atom
?atom: NUMBER                  -> number
     | STRING                  -> string
     | func
     | NAME                    -> field
     | "(" expr ")"
func: NAME "(" [expr ("," expr)*] ")"
CMP: "==" | "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-" | "&"
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
%import common.NUMBER
%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr")


class FormulaError(ValueError):
    pass


@dataclass
class Row:
    """What a formula sees: the record after the change, before it, and whether it is new."""

    new: dict[str, Any]
    old: dict[str, Any] | None

    def get(self, name: str) -> Any:
        for key, value in self.new.items():
            if key.lower() == name.lower():
                return value
        return None


Fn = Callable[[Row], Any]


def _unescape(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1),
                                                                            m.group(1)), body)


def _blank(v: Any) -> bool:
    return v is None or v == ""


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _fn_regex(row: Row, args: list[Fn]) -> bool:
    return re.fullmatch(_text(args[1](row)), _text(args[0](row)), re.DOTALL) is not None


def _fn_ischanged(row: Row, args: list[Fn], name: str) -> bool:
    return row.old is not None and row.old.get(name) != row.get(name)


_FUNCTIONS: dict[str, Callable[[Row, list[Fn]], Any]] = {
    "AND": lambda r, a: all(bool(f(r)) for f in a),
    "OR": lambda r, a: any(bool(f(r)) for f in a),
    "NOT": lambda r, a: not bool(a[0](r)),
    "IF": lambda r, a: a[1](r) if a[0](r) else a[2](r),
    "REGEX": _fn_regex,
    "ISBLANK": lambda r, a: _blank(a[0](r)),
    "ISNULL": lambda r, a: _blank(a[0](r)),
    "BEGINS": lambda r, a: _text(a[0](r)).startswith(_text(a[1](r))),
    "CONTAINS": lambda r, a: _text(a[1](r)) in _text(a[0](r)),
    "LEN": lambda r, a: len(_text(a[0](r))),
    "ISPICKVAL": lambda r, a: _text(a[0](r)) == _text(a[1](r)),
    "ISNEW": lambda r, a: r.old is None,
    "TEXT": lambda r, a: _text(a[0](r)),
    "LOWER": lambda r, a: _text(a[0](r)).lower(),
    "UPPER": lambda r, a: _text(a[0](r)).upper(),
}
_ARITY = {"NOT": 1, "IF": 3, "REGEX": 2, "ISBLANK": 1, "ISNULL": 1, "BEGINS": 2,
          "CONTAINS": 2, "LEN": 1, "ISPICKVAL": 2, "ISNEW": 0, "TEXT": 1, "LOWER": 1,
          "UPPER": 1, "ISCHANGED": 1, "PRIORVALUE": 1}


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("=", "=="):
        return bool(_text(a) == _text(b)) if isinstance(a, str) or isinstance(b, str) else a == b
    if op in ("!=", "<>"):
        return not _compare("=", a, b)
    if a is None or b is None:
        return False
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


@v_args(inline=True)
class _Compile(Transformer[Token, Fn]):
    def number(self, tok: Token) -> Fn:
        value = float(tok)
        return lambda r: value

    def string(self, tok: Token) -> Fn:
        value = _unescape(str(tok))
        return lambda r: value

    def field(self, tok: Token) -> Fn:
        name = str(tok)
        if name.upper() in ("TRUE", "FALSE"):
            value = name.upper() == "TRUE"
            return lambda r: value
        if name.upper() == "NULL":
            return lambda r: None
        def ref(r: Row) -> Any:
            return r.get(name)
        ref.field_name = name  # type: ignore[attr-defined]  # read by ISCHANGED/PRIORVALUE
        return ref

    def not_op(self, inner: Fn) -> Fn:
        return lambda r: not inner(r)

    # The grammar's aliases keep one-child nodes; they pass their child through.
    def or_op(self, *parts: Fn) -> Fn:
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(bool(p(r)) for p in parts)

    def and_op(self, *parts: Fn) -> Fn:
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(bool(p(r)) for p in parts)

    def cmp_op(self, left: Fn, op: Token | None = None, right: Fn | None = None) -> Fn:
        if op is None or right is None:
            return left
        o = str(op)
        return lambda r: _compare(o, left(r), right(r))

    def sum_op(self, first: Fn, *rest: Any) -> Fn:
        if not rest:
            return first
        steps = [(str(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2)]

        def run(r: Row) -> Any:
            acc = first(r)
            for op, fn in steps:
                v = fn(r)
                if op == "&":
                    acc = _text(acc) + _text(v)
                elif acc is None or v is None:
                    acc = None
                else:
                    acc = acc + v if op == "+" else acc - v
            return acc
        return run

    def func(self, name: Token, *args: Fn | None) -> Fn:
        fname = str(name).upper()
        fargs = [a for a in args if a is not None]
        if fname in _ARITY and len(fargs) != _ARITY[fname]:
            raise FormulaError(f"Incorrect number of parameters for function '{fname}()'. "
                               f"Expected {_ARITY[fname]}, received {len(fargs)}")
        if fname in ("ISCHANGED", "PRIORVALUE"):
            field_name = _field_name(args[0])
            if fname == "ISCHANGED":
                return lambda r: _fn_ischanged(r, fargs, field_name)
            return lambda r: None if r.old is None else r.old.get(field_name)
        impl = _FUNCTIONS.get(fname)
        if impl is None:
            raise FormulaError(f"Unknown function {fname}")
        return lambda r: impl(r, fargs)


def _field_name(fn: Any) -> str:
    name = getattr(fn, "field_name", None)
    if not isinstance(name, str):
        raise FormulaError("ISCHANGED and PRIORVALUE take a field")
    return name


def compile_formula(text: str) -> Fn:
    try:
        tree = _PARSER.parse(text)
        fn: Fn = _Compile().transform(tree)
    except LarkError as exc:
        cause = exc.orig_exc if hasattr(exc, "orig_exc") else exc
        raise FormulaError(f"Invalid formula: {cause}") from None
    return fn
