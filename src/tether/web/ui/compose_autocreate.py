"""The Auto-Create dialog (the guide's "Creating Records via Salesforce Auto-Create"): for each
To or Cc recipient without a Lead or Contact, when the sender's role prompts, a choice of the
objects the role allows (their fields as the sidebar's create form asks for them, required
ones marked), "Never create a record for this address", or skipping them this once; then
"Create record and send", "Send email without creating records", or Back.

Its form names: ``rec_count``; per recipient n, ``rec_n_email``, ``rec_n_choice`` (Lead,
Contact, never or skip) and ``rec_n_<object>_<field>`` for each allowed object's fields (only
the chosen object's are sent to Salesforce)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from tether.domain import records as rec
from tether.services import forms
from tether.services.autocreate import Decision
from tether.web.ui.common import Page

CHOICES = ("Lead", "Contact", "never", "skip")


@dataclass
class Asked:
    """One recipient the dialog asks about, and what was chosen and typed for them."""

    email: str
    allowed: list[str]
    fields: dict[str, list[tuple[rec.Field, bool]]]  # object -> (field, required)
    choice: str
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # object -> field -> value
    error: str | None = None
    missing: list[str] = field(default_factory=list)


Typed = dict[str, tuple[str, dict[str, dict[str, str]]]]


def typed(form: FormData | None) -> Typed:
    """Per address, the choice and each object's field values the dialog last posted."""
    out: Typed = {}
    if form is None:
        return out
    for n in range(_count(form)):
        email = str(form.get(f"rec_{n}_email") or "").strip().lower()
        values: dict[str, dict[str, str]] = {}
        for sobject in ("Lead", "Contact"):
            prefix = f"rec_{n}_{sobject}_"
            values[sobject] = {k[len(prefix):]: str(v) for k, v in form.multi_items()
                               if k.startswith(prefix) and isinstance(v, str)}
        out[email] = (str(form.get(f"rec_{n}_choice") or ""), values)
    return out


def _count(form: FormData) -> int:
    try:
        return min(int(str(form.get("rec_count") or 0)), 100)
    except ValueError:
        return 0


def decisions(form: FormData, action: str) -> dict[str, Decision]:
    """What the dialog decided: "never" (its one-recipient button) marks every address it
    asked about; otherwise each recipient's own choice, with the chosen object's fields."""
    out: dict[str, Decision] = {}
    for email, (choice, values) in typed(form).items():
        if not email:
            continue
        if action == "never" or choice == "never":
            out[email] = Decision(never=True)
        elif choice == "skip":
            out[email] = Decision(skip=True)
        elif choice in ("Lead", "Contact"):
            chosen = {k: v for k, v in values.get(choice, {}).items() if v != ""}
            out[email] = Decision(create=choice, fields=chosen)
    return out


def asked(page: Page, needs: list[dict[str, Any]], form: FormData | None = None,
          problem: Mapping[str, Any] | None = None) -> list[Asked]:
    """The dialog's recipients: ``needs`` as the 409 named them, with what was typed before
    and, for a create Salesforce refused, its words beside that recipient."""
    before = typed(form)
    objects = {o for n in needs for o in n["allowed"]}
    with page.app.sessions() as db:
        # Email is the recipient's own address: not asked for.
        fields = {o: [(f, r) for f, r in forms.create_fields(db, page.actor, o)
                      if f.name != "Email"] for o in sorted(objects)}
    out: list[Asked] = []
    for need in needs:
        email = str(need["email"])
        choice, values = before.get(email, ("", {}))
        if choice not in (*need["allowed"], "never", "skip"):
            choice = need["allowed"][0]
        mine = {o: fields[o] for o in need["allowed"]}
        if not any(values.values()):
            values = {o: {f.name: f.default for f, _ in fs if f.default}
                      for o, fs in mine.items()}
        item = Asked(email, list(need["allowed"]), mine, choice, values)
        if problem and problem.get("email") == email:
            item.error = str(problem.get("message") or "")
            item.missing = list(problem.get("missing_fields") or [])
        out.append(item)
    return out
