"""Property tests: WHERE results agree with a plain Python filter; no input escapes SoqlError."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfemu.soql import SoqlError, compile_query
from sfemu.soql.memory import MemoryContext

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
Row = dict[str, Any]
Oracle = Callable[[Row], bool]

WORDS = ["alpha", "Alpha", "beta", "b_ta", "50%", "o'neil", "back\\slash", "Zed", ""]
STAGES = ["Prospecting", "Closed Won", "Closed Lost"]
ACCOUNT_NAMES = ["Acme", "acme", "Globex"]


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fold(v: Any) -> Any:
    return None if v in (None, "") else v.casefold()


# -- records ---------------------------------------------------------------------------------

opportunities = st.lists(st.fixed_dictionaries({
    "Name": st.sampled_from([*WORDS, None]),
    "StageName": st.sampled_from([*STAGES, None]),
    "Amount": st.one_of(st.none(), st.sampled_from([0.0, 10.0, 99.5, 100.0, 2500.0])),
    "CloseDate": st.one_of(st.none(), st.integers(-70, 70).map(
        lambda d: (TODAY + timedelta(days=d)).isoformat())),
    "Account": st.one_of(st.none(), st.integers(0, len(ACCOUNT_NAMES) - 1)),
}), max_size=25)


# -- conditions ------------------------------------------------------------------------------

def _text_condition(field: str, get: Callable[[Row], Any]) -> st.SearchStrategy[
        tuple[str, Oracle]]:
    compare = st.tuples(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                        st.sampled_from(WORDS)).map(lambda t: _text_compare(field, get, *t))
    nulls = st.sampled_from(["=", "!="]).map(lambda op: (
        f"{field} {op} null",
        (lambda r: _fold(get(r)) is None) if op == "=" else (lambda r: _fold(get(r)) is not None)))
    members = st.tuples(st.booleans(), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)
                        ).map(lambda t: _text_in(field, get, *t))
    like = st.lists(st.one_of(st.sampled_from(["%", "_"]), st.sampled_from(list("ab%_'\\lZ"))
                              .map(lambda c: ("lit", c))), max_size=5
                    ).map(lambda parts: _text_like(field, get, parts))
    return st.one_of(compare, nulls, members, like)


def _text_compare(field: str, get: Callable[[Row], Any], op: str, word: str
                  ) -> tuple[str, Oracle]:
    lit = _fold(word)

    def oracle(r: Row) -> bool:
        v = _fold(get(r))
        if lit is None:
            return (v is None) if op == "=" else (v is not None) if op == "!=" else False
        if op == "!=":
            return v != lit
        if v is None:
            return False
        return {"=": v == lit, "<": v < lit, "<=": v <= lit, ">": v > lit, ">=": v >= lit}[op]
    return f"{field} {op} {_quote(word)}", oracle


def _text_in(field: str, get: Callable[[Row], Any], negated: bool, words: list[str]
             ) -> tuple[str, Oracle]:
    folded = {_fold(w) for w in words}
    text = f"{field} {'NOT IN' if negated else 'IN'} ({', '.join(_quote(w) for w in words)})"
    return text, lambda r: (_fold(get(r)) in folded) != negated


def _text_like(field: str, get: Callable[[Row], Any], parts: list[Any]) -> tuple[str, Oracle]:
    rendered, regex = [], []
    for part in parts:
        if part in ("%", "_"):
            rendered.append(part)
            regex.append(".*" if part == "%" else ".")
        else:
            char = part[1]
            rendered.append({"%": "\\%", "_": "\\_", "'": "\\'", "\\": "\\\\"}.get(char, char))
            regex.append(re.escape(char))
    pattern = re.compile("".join(regex), re.IGNORECASE | re.DOTALL)
    text = f"{field} LIKE '{''.join(rendered)}'"
    return text, lambda r: isinstance(get(r), str) and pattern.fullmatch(get(r)) is not None


def _amount_condition() -> st.SearchStrategy[tuple[str, Oracle]]:
    def build(op: str, number: float | None) -> tuple[str, Oracle]:
        def oracle(r: Row) -> bool:
            v = r["Amount"]
            if number is None:
                return (v is None) == (op == "=") if op in ("=", "!=") else False
            if op == "!=":
                return v != number
            return v is not None and {"=": v == number, "<": v < number, "<=": v <= number,
                                      ">": v > number, ">=": v >= number}[op]
        return f"Amount {op} {'null' if number is None else number}", oracle
    return st.builds(build, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                     st.one_of(st.none(), st.sampled_from([0, 10, 99.5, 100, 1000.25])))


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _month(day: date, offset: int) -> tuple[date, date]:
    index = day.year * 12 + day.month - 1 + offset
    first = date(index // 12, index % 12 + 1, 1)
    nxt = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _relative(name: str, n: int) -> tuple[str, tuple[date, date]]:
    t, w = TODAY, _week_start(TODAY)
    table = {
        "TODAY": (t, t), "YESTERDAY": (t - timedelta(1),) * 2, "TOMORROW": (t + timedelta(1),) * 2,
        "THIS_WEEK": (w, w + timedelta(6)), "LAST_WEEK": (w - timedelta(7), w - timedelta(1)),
        "NEXT_WEEK": (w + timedelta(7), w + timedelta(13)),
        "THIS_MONTH": _month(t, 0), "LAST_MONTH": _month(t, -1), "NEXT_MONTH": _month(t, 1),
        "LAST_90_DAYS": (t - timedelta(90), t), "NEXT_90_DAYS": (t + timedelta(1),
                                                                 t + timedelta(90)),
        "LAST_N_DAYS": (t - timedelta(n), t), "NEXT_N_DAYS": (t + timedelta(1), t + timedelta(n)),
        "N_DAYS_AGO": (t - timedelta(n),) * 2,
        "LAST_N_WEEKS": (w - timedelta(7 * n), w - timedelta(1)),
        "NEXT_N_WEEKS": (w + timedelta(7), w + timedelta(7 * n + 6)),
        "LAST_N_MONTHS": (_month(t, -n)[0], _month(t, -1)[1]),
        "NEXT_N_MONTHS": (_month(t, 1)[0], _month(t, n)[1]),
    }
    text = f"{name}:{n}" if "_N_" in name or name.startswith("N_") else name
    return text, table[name]


def _date_condition() -> st.SearchStrategy[tuple[str, Oracle]]:
    names = ["TODAY", "YESTERDAY", "TOMORROW", "THIS_WEEK", "LAST_WEEK", "NEXT_WEEK",
             "THIS_MONTH", "LAST_MONTH", "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS",
             "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "LAST_N_WEEKS", "NEXT_N_WEEKS",
             "LAST_N_MONTHS", "NEXT_N_MONTHS"]
    relative = st.builds(_relative, st.sampled_from(names), st.integers(0, 40))
    fixed = st.integers(-70, 70).map(lambda d: ((TODAY + timedelta(d)).isoformat(),
                                                (TODAY + timedelta(d),) * 2))

    def build(op: str, literal: tuple[str, tuple[date, date]]) -> tuple[str, Oracle]:
        text, (first, last) = literal

        def oracle(r: Row) -> bool:
            raw = r["CloseDate"]
            if raw is None:
                return op == "!="
            v = date.fromisoformat(raw)
            return {"=": first <= v <= last, "!=": not first <= v <= last, "<": v < first,
                    "<=": v <= last, ">": v > last, ">=": v >= first}[op]
        return f"CloseDate {op} {text}", oracle
    return st.builds(build, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                     st.one_of(relative, fixed))


def _account_name(r: Row) -> Any:
    return None if r["Account"] is None else ACCOUNT_NAMES[r["Account"]]


leaves = st.one_of(
    _text_condition("Name", lambda r: r["Name"]),
    _text_condition("StageName", lambda r: r["StageName"]),
    _text_condition("Account.Name", _account_name),
    _amount_condition(),
    _date_condition(),
)


def _combine(children: st.SearchStrategy[tuple[str, Oracle]]
             ) -> st.SearchStrategy[tuple[str, Oracle]]:
    def junction(word: str, items: list[tuple[str, Oracle]]) -> tuple[str, Oracle]:
        text = f" {word} ".join(f"({t})" for t, _ in items)
        fns = [f for _, f in items]
        if word == "AND":
            return text, lambda r: all(f(r) for f in fns)
        return text, lambda r: any(f(r) for f in fns)

    def negate(item: tuple[str, Oracle]) -> tuple[str, Oracle]:
        text, fn = item
        return f"NOT ({text})", lambda r: not fn(r)
    return st.one_of(
        st.builds(junction, st.sampled_from(["AND", "OR"]),
                  st.lists(children, min_size=2, max_size=3)),
        children.map(negate))


conditions = st.recursive(leaves, _combine, max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=opportunities, condition=conditions)
def test_where_agrees_with_a_python_filter(rows: list[Row], condition: tuple[str, Oracle]
                                           ) -> None:
    ctx = MemoryContext(now=NOW)
    accounts = [ctx.add("Account", Name=name) for name in ACCOUNT_NAMES]
    expected = []
    for row in rows:
        fields = {k: v for k, v in row.items() if k != "Account"}
        fields["AccountId"] = None if row["Account"] is None else accounts[row["Account"]]
        record_id = ctx.add("Opportunity", **fields)
        if condition[1](row):
            expected.append(record_id)
    cq = compile_query(f"SELECT Id, Name, Account.Name FROM Opportunity WHERE {condition[0]}",
                       ctx)
    got = [record_id for record_id, _ in cq.run(ctx, include_deleted=False)]
    assert got == expected, condition[0]
    assert cq.count(ctx, include_deleted=False) == len(expected)


@settings(max_examples=100, deadline=None)
@given(rows=opportunities, descending=st.booleans(), nulls=st.sampled_from(["", " NULLS FIRST",
                                                                            " NULLS LAST"]))
def test_order_by_amount_agrees_with_sorted(rows: list[Row], descending: bool, nulls: str
                                            ) -> None:
    ctx = MemoryContext(now=NOW)
    made = [(ctx.add("Opportunity", Amount=row["Amount"], Name=row["Name"]), row["Amount"])
            for row in rows]
    direction = " DESC" if descending else ""
    cq = compile_query(f"SELECT Id FROM Opportunity ORDER BY Amount{direction}{nulls}", ctx)
    got = [record_id for record_id, _ in cq.run(ctx, include_deleted=False)]
    nulls_first = "FIRST" in nulls or (not nulls and not descending)
    present = sorted((m for m in made if m[1] is not None), key=lambda m: m[1],
                     reverse=descending)
    # Equal amounts keep Id order whichever the direction (a stable sort).
    present = sorted(present, key=lambda m: (-m[1] if descending else m[1], m[0]))
    missing = [m for m in made if m[1] is None]
    expected = [m[0] for m in (missing + present if nulls_first else present + missing)]
    assert got == expected


VALID = [
    "SELECT Id, Name, Account.Name FROM Opportunity WHERE Amount > 10 AND Name LIKE 'a%' "
    "ORDER BY CloseDate DESC NULLS LAST LIMIT 5 OFFSET 1",
    "SELECT Name, (SELECT LastName FROM Contacts WHERE Email != null) FROM Account",
    "SELECT StageName, COUNT(Id) c FROM Opportunity GROUP BY StageName ORDER BY COUNT(Id)",
    "SELECT COUNT() FROM Contact WHERE CreatedDate = LAST_N_DAYS:3 OR LastName IN ('a', 'b')",
    "SELECT Subject, Who.Name FROM Task WHERE ActivityDate < 2026-01-01 AND NOT (Subject = 'x')",
]
NOISE = ["(", ")", "'", ",", ".", ":", "\\", " AND ", " OR ", " NOT ", "SELECT", "FROM", "=",
         "%", "null", "2026-02-31", "T10:00:00Z", "LAST_N_DAYS:", "COUNT(", "\"", "\n", "é"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(NOISE), st.text(max_size=3)))
        end = min(len(text), at + draw(st.integers(1, 8)))
        if action == "insert":
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[end:]
        else:
            text = text[:at] + piece + text[end:]
    return text


_FUZZ_CTX = MemoryContext(now=NOW)
_acct = _FUZZ_CTX.add("Account", Name="Acme")
_FUZZ_CTX.add("Contact", LastName="a", AccountId=_acct, Email="a@x.test")
_FUZZ_CTX.add("Opportunity", Name="alpha", Amount=20.0, CloseDate="2026-11-01", AccountId=_acct,
              StageName="Prospecting")


@settings(max_examples=600, deadline=None)
@given(soql=st.one_of(mutated(), st.text(max_size=60)))
def test_any_input_raises_only_soql_error(soql: str) -> None:
    try:
        cq = compile_query(soql, _FUZZ_CTX)
    except SoqlError as exc:
        assert exc.error_code and isinstance(exc.message, str)
        return
    for _, record in cq.run(_FUZZ_CTX, include_deleted=False):
        cq.flatten(record)
    cq.count(_FUZZ_CTX, include_deleted=True)


def test_deep_nesting_is_refused_cleanly() -> None:
    shallow = "SELECT Id FROM Contact WHERE " + "NOT " * 10 + "LastName = 'a'"
    cq = compile_query(shallow, _FUZZ_CTX)
    assert len(list(cq.run(_FUZZ_CTX, include_deleted=False))) == 1
    for depth in (150, 5000):
        deep = "SELECT Id FROM Contact WHERE " + "NOT " * depth + "LastName = 'a'"
        try:
            compile_query(deep, _FUZZ_CTX)
        except SoqlError as exc:
            assert exc.error_code == "QUERY_TOO_COMPLICATED"
        else:
            raise AssertionError(f"{depth} nested NOTs compiled")
