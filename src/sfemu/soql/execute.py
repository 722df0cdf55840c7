"""Running a plan over a QueryContext: scan in pages, fetch parents and children per page.

Without ORDER BY nothing but the current page is held in memory; parents are fetched with one
``get_many`` per object per page and children with one ``scan`` per subquery per page, so the
cost stays linear in the number of rows scanned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice
from typing import Any

from sfemu.org.ids import to18
from sfemu.soql.aggregate import Group, group_key, shape_group, sort_groups
from sfemu.soql.binding import Cache, Record, Trie
from sfemu.soql.context import QueryContext
from sfemu.soql.plan import ChildPlan, Plan, SemiJoinPlan, SortKey
from sfemu.soql.predicates import Env, norm_id
from sfemu.soql.shape import ShapeNode, TypeOfShape

PAGE_SIZE = 1000
MAX_PUSHED_IDS = 1000  # a semi-join's Ids narrow the scan through an index up to this many


class Parents:
    """Parent records of the current page, fetched in batches and keyed by Id."""

    def __init__(self, ctx: QueryContext, include_deleted: bool) -> None:
        self.ctx = ctx
        self.include_deleted = include_deleted
        self.cache: Cache = {}

    def load(self, rows: Iterable[Record], trie: Trie) -> None:
        rows = list(rows)
        for fk, node in trie.items():
            ids = {v for r in rows if isinstance(v := r.get(fk), str) and v}
            self._fetch(ids, node.targets)
            if node.children:
                found = [p for i in ids if (p := self.cache.get(i)) is not None]
                self.load(found, node.children)

    def _fetch(self, ids: set[str], targets: tuple[str, ...]) -> None:
        by_object: dict[str, dict[str, str]] = defaultdict(dict)  # object -> 18-char -> stored
        for value in ids:
            if value in self.cache:
                continue
            self.cache[value] = None
            try:
                id18 = to18(value)
            except ValueError:
                continue
            obj = self.ctx.schema.by_prefix(id18[:3])
            # Only the lookup's readable targets: an unreadable parent reads as null.
            name = obj.name if obj is not None else targets[0]
            if name in targets:
                by_object[name][id18] = value
        for name, wanted in by_object.items():
            found = self.ctx.get_many(name, list(wanted))
            for id18, record in found.items():
                if id18 in wanted and (self.include_deleted or not record.get("IsDeleted")):
                    self.cache[wanted[id18]] = record


def _pages(rows: Iterator[Record]) -> Iterator[list[Record]]:
    while page := list(islice(rows, PAGE_SIZE)):
        yield page


def _merge_lookups(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, list[str]]:
    merged = dict(a)
    for name, values in b.items():
        if name in merged:
            keep = {v.lower() for v in merged[name]}
            values = [v for v in values if v.lower() in keep]
        merged[name] = values
    return merged


def _semi_ids(semi: SemiJoinPlan, ctx: QueryContext, include_deleted: bool, today: date
               ) -> frozenset[str]:
    """The (18-character) Ids a semi-join's subquery selects, nulls left out."""
    runner = Runner(ctx, include_deleted, today)
    return frozenset(value for page in runner.record_pages(semi.plan, "") for record in page
                     if (value := norm_id(record.get(semi.field))) is not None)


def filtered_pages(plan: Plan, ctx: QueryContext, *, include_deleted: bool, today: date,
                   after_id: str = "", lookups: dict[str, list[str]] | None = None,
                   ) -> Iterator[tuple[list[Record], Parents]]:
    """Pages of rows matching WHERE, with the parents WHERE needed already in the cache.
    Semi-joins' subqueries run first, once each."""
    semi_ids = tuple(_semi_ids(s, ctx, include_deleted, today) for s in plan.semi_joins)
    merged = _merge_lookups(plan.lookups, lookups or {})
    for semi, ids in zip(plan.semi_joins, semi_ids, strict=True):
        if semi.lookup is not None and len(ids) <= MAX_PUSHED_IDS:
            merged = _merge_lookups(merged, {semi.lookup: sorted(ids)})
    if any(not values for values in merged.values()):
        return  # contradictory equalities: nothing can match
    scan = ctx.scan(plan.obj.name, include_deleted=include_deleted, lookups=merged or None,
                    after_id=max(after_id, plan.after_floor))
    predicate = plan.where(Env(today, semi_ids)) if plan.where is not None else None
    parents = Parents(ctx, include_deleted)
    for page in _pages(iter(scan)):
        if not include_deleted:
            page = [r for r in page if not r.get("IsDeleted")]
        parents.cache.clear()
        if predicate is not None:
            parents.load(page, plan.where_trie)
            page = [r for r in page if predicate(r, parents.cache)]
        if page:
            yield page, parents


def _sort_rows(keyed: list[tuple[list[Any], Record]], order: list[SortKey]) -> list[Record]:
    """Stable sorts from the last key to the first, so each key keeps its own direction."""
    for i in range(len(order) - 1, -1, -1):
        key = order[i]
        null_low = key.nulls_first != key.descending

        def rank(item: tuple[list[Any], Record], i: int = i, null_low: bool = null_low
                 ) -> tuple[int, Any]:
            value = item[0][i]
            return (0 if null_low else 2, 0) if value is None else (1, value)
        keyed.sort(key=rank, reverse=key.descending)
    return [record for _, record in keyed]


def _keys(order: list[SortKey], record: Record, cache: Cache) -> list[Any]:
    return [k.norm(k.get(record, cache)) for k in order]


class Runner:
    def __init__(self, ctx: QueryContext, include_deleted: bool, today: date) -> None:
        self.ctx = ctx
        self.include_deleted = include_deleted
        self.today = today
        self.base_url = f"/services/data/v{ctx.api_version}/sobjects/"
        self.types: dict[str, str] = {}

    def rows(self, plan: Plan, after_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(Id, shaped record) in result order, honouring OFFSET and LIMIT."""
        for page in self.record_pages(plan, after_id):
            yield from self._shape_page(plan, page)

    def record_pages(self, plan: Plan, after_id: str) -> Iterator[list[Record]]:
        """Pages of the stored records in result order, OFFSET and LIMIT applied, unshaped."""
        skip = 0 if after_id else plan.offset
        remaining = plan.limit
        if remaining == 0:
            return
        for page in self._result_pages(plan, after_id):
            if skip:
                dropped = min(skip, len(page))
                page, skip = page[dropped:], skip - dropped
            if remaining is not None:
                page = page[:remaining]
                remaining -= len(page)
            if page:
                yield page
            if remaining == 0:
                return

    def _result_pages(self, plan: Plan, after_id: str) -> Iterator[list[Record]]:
        pages = filtered_pages(plan, self.ctx, include_deleted=self.include_deleted,
                               today=self.today, after_id="" if plan.order else after_id)
        if plan.streams:
            for page, _ in pages:
                yield page
            return
        keyed: list[tuple[list[Any], Record]] = []
        for page, parents in pages:
            parents.load(page, plan.order_trie)
            keyed.extend((_keys(plan.order, r, parents.cache), r) for r in page)
        ordered = _sort_rows(keyed, plan.order)
        for start in range(0, len(ordered), PAGE_SIZE):
            yield ordered[start:start + PAGE_SIZE]

    def count(self, plan: Plan) -> int:
        if plan.aggregate is not None:
            n = len(self.groups(plan))
        else:
            cap = None if plan.limit is None else plan.offset + plan.limit
            n = 0
            for page, _ in filtered_pages(plan, self.ctx, include_deleted=self.include_deleted,
                                          today=self.today):
                n += len(page)
                if cap is not None and n >= cap:
                    break
        n = max(0, n - plan.offset)
        return n if plan.limit is None else min(n, plan.limit)

    # -- shaping --------------------------------------------------------------------------
    def _shape_page(self, plan: Plan, page: list[Record]
                    ) -> Iterator[tuple[str, dict[str, Any]]]:
        parents = Parents(self.ctx, self.include_deleted)
        parents.load(page, plan.select_trie)
        ids = [r["Id"] for r in page if isinstance(r.get("Id"), str)]
        children = {id(child): self._children(child, ids) for child in plan.children}
        for record in page:
            yield str(record.get("Id", "")), self._shape(record, plan.obj.name, plan.shape,
                                                        parents.cache, children)

    def _type_of(self, record: Record, fallback: str) -> str:
        record_id = record.get("Id")
        if not isinstance(record_id, str) or len(record_id) < 3:
            return fallback
        prefix = record_id[:3]
        if prefix not in self.types:
            obj = self.ctx.schema.by_prefix(prefix)
            self.types[prefix] = obj.name if obj is not None else fallback
        return self.types[prefix]

    def _shape(self, record: Record, sobject: str, node: ShapeNode, cache: Cache,
               children: dict[int, dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": sobject, "url": f"{self.base_url}{sobject}/{record.get('Id')}"}}
        for entry in node.fields:
            if isinstance(entry, str):
                out[entry] = record.get(entry)
            elif isinstance(entry, tuple):
                rel, fk, sub = entry
                parent_id = record.get(fk)
                parent = cache.get(parent_id) if isinstance(parent_id, str) else None
                out[rel] = None if parent is None else self._shape(
                    parent, self._type_of(parent, rel), sub, cache, children)
            elif isinstance(entry, TypeOfShape):
                out[entry.rel] = self._shape_typeof(record, entry, cache, children)
            else:
                out[entry.relationship.relationship_name] = children[id(entry)].get(
                    str(record.get("Id")))
        return out

    def _shape_typeof(self, record: Record, typeof: TypeOfShape, cache: Cache,
                      children: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
        parent_id = record.get(typeof.fk)
        parent = cache.get(parent_id) if isinstance(parent_id, str) else None
        if parent is None:
            return None
        sobject = self._type_of(parent, typeof.targets[0])
        node = typeof.branches.get(sobject, typeof.otherwise) or ShapeNode()
        return self._shape(parent, sobject, node, cache, children)

    def _children(self, child: ChildPlan, parent_ids: list[str]) -> dict[str, Any]:
        """The subquery's result for each parent Id (absent when it has no rows)."""
        plan, fk = child.plan, child.relationship.field
        grouped: dict[str, list[tuple[list[Any], dict[str, Any]]]] = defaultdict(list)
        for page, parents in filtered_pages(plan, self.ctx, include_deleted=self.include_deleted,
                                            today=self.today, lookups={fk: parent_ids}):
            parents.load(page, plan.order_trie)
            parents.load(page, plan.select_trie)
            sub_children = {id(c): self._children(c, [r["Id"] for r in page])
                            for c in plan.children}
            for r in page:
                grouped[str(r.get(fk))].append((_keys(plan.order, r, parents.cache), self._shape(
                    r, plan.obj.name, plan.shape, parents.cache, sub_children)))
        out: dict[str, Any] = {}
        for parent_id, items in grouped.items():
            records = _sort_rows(items, plan.order) if plan.order else [s for _, s in items]
            records = records[plan.offset:]
            if plan.limit is not None:
                records = records[:plan.limit]
            if records:
                out[parent_id] = {"totalSize": len(records), "done": True, "records": records}
        return out

    # -- aggregates -----------------------------------------------------------------------
    def groups(self, plan: Plan) -> list[Group]:
        agg = plan.aggregate
        assert agg is not None
        groups: dict[tuple[Any, ...], Group] = {}
        for page, parents in filtered_pages(plan, self.ctx, include_deleted=self.include_deleted,
                                            today=self.today):
            parents.load(page, plan.select_trie)
            for r in page:
                key = group_key(agg, r, parents.cache)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = Group(agg, r, parents.cache)
                group.add(agg, r, parents.cache)
        if not agg.groups and not groups:  # an aggregate over no rows is still one row
            groups[()] = Group(agg, {}, {})
        return sort_groups(agg, list(groups.values()))

    def aggregate_rows(self, plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
        assert plan.aggregate is not None
        groups = self.groups(plan)[plan.offset:]
        if plan.limit is not None:
            groups = groups[:plan.limit]
        for group in groups:
            yield "", shape_group(plan.aggregate, group)
