"""Matching a recipient to one Lead or Contact, and to the records an activity relates to.

Pure: the service layer reads the mirror into a :class:`MirrorView`; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tether.domain.settings import SalesforceSettings


class TieBreak(StrEnum):
    """Criteria for choosing among several records with one email, applied in order."""

    CONTACT_FIRST = "contact_first"
    LEAD_FIRST = "lead_first"
    OWNED_BY_USER = "owned_by_user"
    MOST_RECENT = "most_recent"
    OLDEST = "oldest"


DEFAULT_TIE_BREAK = (TieBreak.CONTACT_FIRST, TieBreak.OWNED_BY_USER, TieBreak.MOST_RECENT)
_LABELS = {
    TieBreak.CONTACT_FIRST: "Contacts before Leads",
    TieBreak.LEAD_FIRST: "Leads before Contacts",
    TieBreak.OWNED_BY_USER: "owned by the user",
    TieBreak.MOST_RECENT: "most recently modified",
    TieBreak.OLDEST: "created first",
}


@dataclass(frozen=True)
class Person:
    """A Lead or Contact of the mirror (the field named Email matched, case-insensitively)."""

    id: str
    sobject: str  # Contact | Lead
    owner_id: str | None = None
    modstamp: str = ""  # SystemModstamp, ISO text: sorts as time
    created: str = ""  # CreatedDate
    account_id: str | None = None
    converted_from: str | None = None  # the converted Lead this Contact stands in for
    name: str = ""  # its Name, for the activity's subject and Description


@dataclass(frozen=True)
class Opportunity:
    id: str
    account_id: str | None
    owner_id: str | None
    is_closed: bool
    name: str = ""


@dataclass(frozen=True)
class Related:
    sobject: str
    id: str
    why: str
    name: str = ""  # its Name, for the activity's Description


@dataclass
class MirrorView:
    """What the mirror knows that planning needs, for a batch of events."""

    people: Mapping[str, Sequence[Person]] = field(default_factory=dict)  # email -> records
    # A converted Lead whose Contact the mirror lacks: email -> Lead id.
    converted_without_contact: Mapping[str, str] = field(default_factory=dict)
    accounts: Mapping[str, str] = field(default_factory=dict)  # id -> Name
    opportunities_by_account: Mapping[str, Sequence[Opportunity]] = field(default_factory=dict)
    opportunities_by_role: Mapping[str, Sequence[Opportunity]] = field(default_factory=dict)
    # Configured custom object records by the record they point at: parent id -> records.
    custom_by_parent: Mapping[str, Sequence[Related]] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    person: Person
    reason: str
    candidates: tuple[str, ...]


def _value(person: Person, criterion: TieBreak, user_sf_id: str | None) -> int | str:
    """The value a criterion compares; smaller wins except for MOST_RECENT."""
    if criterion is TieBreak.CONTACT_FIRST:
        return 0 if person.sobject == "Contact" else 1
    if criterion is TieBreak.LEAD_FIRST:
        return 0 if person.sobject == "Lead" else 1
    if criterion is TieBreak.OWNED_BY_USER:
        return 0 if user_sf_id and person.owner_id == user_sf_id else 1
    if criterion is TieBreak.MOST_RECENT:
        return person.modstamp
    return person.created


def rank(candidates: Sequence[Person], order: Sequence[TieBreak],
         user_sf_id: str | None) -> list[Person]:
    """The candidates in the tie-break's order, the chosen one first."""
    criteria = [*order, TieBreak.MOST_RECENT]
    # Stable sorts from the last criterion to the first: the first criterion ranks most.
    ranked = sorted(candidates, key=lambda p: p.id)
    for criterion in reversed(criteria):
        ranked.sort(key=lambda p, c=criterion: _value(p, c, user_sf_id),  # type: ignore[misc]
                    reverse=criterion is TieBreak.MOST_RECENT)
    return ranked


def choose(candidates: Sequence[Person], order: Sequence[TieBreak],
           user_sf_id: str | None) -> Match | None:
    """The record an activity is logged on, and why it was chosen."""
    if not candidates:
        return None
    ids = tuple(p.id for p in candidates)
    criteria = [*order, TieBreak.MOST_RECENT]
    ranked = rank(candidates, order, user_sf_id)
    winner = ranked[0]
    converted = (f"; Lead {winner.converted_from} was converted to this Contact"
                 if winner.converted_from else "")
    if len(ranked) == 1:
        return Match(winner, f"the only {winner.sobject} with this email{converted}", ids)
    runner = ranked[1]
    decided = next((c for c in criteria if _value(winner, c, user_sf_id)
                    != _value(runner, c, user_sf_id)), None)
    because = _LABELS[decided] if decided else "lowest record id"
    return Match(winner, f"{len(ranked)} records have this email; chose {winner.sobject} "
                 f"{winner.id} by the tie-break: {because}{converted}", ids)


def related_records(person: Person, settings: SalesforceSettings, view: MirrorView,
                    user_sf_id: str | None) -> list[Related]:
    """The Account, Opportunities and custom object records an activity on ``person`` is
    also logged to, per the role's settings ('Log to these related objects')."""
    out: list[Related] = []
    parents = [person.id]
    if person.sobject == "Contact":
        account = person.account_id
        if account and settings.log_to_accounts and account in view.accounts:
            out.append(Related("Account", account, "the Contact's Account",
                               view.accounts[account]))
        if account:
            parents.append(account)
        if settings.log_to_opportunities:
            if settings.opportunities_all_on_account:
                opps = view.opportunities_by_account.get(account or "", ())
                why = "an Opportunity of the emailed Account"
            else:
                opps = view.opportunities_by_role.get(person.id, ())
                why = "the recipient has a contact role on it"
            # One Contact may hold several roles on one Opportunity: each Opportunity once.
            unique = {opp.id: opp for opp in opps}
            for opp in sorted(unique.values(), key=lambda o: o.id):
                if opp.is_closed and not settings.opportunities_closed:
                    continue
                if settings.opportunities_only_when_owner and opp.owner_id != user_sf_id:
                    continue
                out.append(Related("Opportunity", opp.id, why, opp.name))
                parents.append(opp.id)
    if settings.custom_objects:
        seen: set[str] = set()
        for parent in parents:
            for record in view.custom_by_parent.get(parent, ()):
                if record.sobject in settings.custom_objects and record.id not in seen:
                    seen.add(record.id)
                    out.append(record)
    return out
