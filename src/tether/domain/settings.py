"""Roles and Salesforce settings, as the guide's "Salesforce User Permissions + Roles" lists them,
and the one function that decides a user's effective settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Plan(StrEnum):
    STARTER = "starter"
    GROWTH = "growth"
    ENTERPRISE = "enterprise"

    @property
    def has_salesforce(self) -> bool:
        """The guide: connecting to the Salesforce API takes Growth or Enterprise licenses."""
        return self in (Plan.GROWTH, Plan.ENTERPRISE)

    @property
    def has_rules(self) -> bool:
        """The guide: Rules (automation) take Enterprise licenses."""
        return self is Plan.ENTERPRISE


class Autocreate(StrEnum):
    """'Prompt me to create a new lead or contact for records that do not exist in Salesforce'."""

    OFF = "off"
    LEADS_ONLY = "leads_only"
    CONTACTS_ONLY = "contacts_only"
    CHOICE = "choice"


class Activity(StrEnum):
    """'Log these activities to Salesforce'."""

    SENT = "sent"
    OPENED = "opened"
    REPLIED = "replied"
    CLICKED = "clicked"
    DOWNLOADED = "downloaded"
    MEETING_CONFIRMED = "meeting_confirmed"
    TASKS = "tasks"


class EmailScope(StrEnum):
    """The guide: sync only emails sent inside Tether, or those sent from the mailbox too."""

    TETHER_ONLY = "tether_only"
    ALL = "all"


@dataclass(frozen=True)
class SalesforceSettings:
    autocreate: Autocreate = Autocreate.OFF
    activities: frozenset[Activity] = frozenset(Activity)
    email_scope: EmailScope = EmailScope.TETHER_ONLY
    first_only: bool = False  # 'For Opens, Clicks, and Downloads, only sync the first activity'
    log_to_accounts: bool = True
    log_to_opportunities: bool = False
    opportunities_only_when_owner: bool = False
    opportunities_all_on_account: bool = False
    opportunities_closed: bool = False
    custom_objects: frozenset[str] = frozenset()
    run_assignment_rules: bool = False
    # Opens and clicks judged to be a machine's (prefetchers, link scanners) are recorded;
    # logged to Salesforce only with this on.
    log_machine_hits: bool = False
    # Bounces are in the activity log; a Salesforce Task ("Bounced: …") only with this on.
    log_bounces: bool = False
    # Object -> the fields shown in the sidebar ('Visible Fields'), with the layout-required
    # ones always; empty = domain.records.DEFAULT_VISIBLE.
    visible_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Task kind (todo, call) -> the Salesforce Task fields a rep fills on such a task
    # ('+ Show another field'); empty = TASK_FIELDS.
    task_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def fields_for_task(self, kind: str) -> tuple[str, ...]:
        return tuple(self.task_fields.get(kind) or TASK_FIELDS.get(kind) or ())

    def to_json(self) -> dict[str, Any]:
        return {
            "autocreate": self.autocreate.value,
            "activities": sorted(a.value for a in self.activities),
            "email_scope": self.email_scope.value,
            "first_only": self.first_only,
            "log_to_accounts": self.log_to_accounts,
            "log_to_opportunities": self.log_to_opportunities,
            "opportunities_only_when_owner": self.opportunities_only_when_owner,
            "opportunities_all_on_account": self.opportunities_all_on_account,
            "opportunities_closed": self.opportunities_closed,
            "custom_objects": sorted(self.custom_objects),
            "run_assignment_rules": self.run_assignment_rules,
            "log_machine_hits": self.log_machine_hits,
            "log_bounces": self.log_bounces,
            "visible_fields": {k: list(v) for k, v in sorted(self.visible_fields.items())},
            "task_fields": {k: list(v) for k, v in sorted(self.task_fields.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SalesforceSettings:
        """Settings from stored JSON; keys it lacks keep their defaults (older rows)."""
        base = cls()
        return replace(
            base,
            autocreate=Autocreate(data.get("autocreate", base.autocreate)),
            activities=frozenset(Activity(a) for a in data.get(
                "activities", [a.value for a in base.activities])),
            email_scope=EmailScope(data.get("email_scope", base.email_scope)),
            first_only=bool(data.get("first_only", base.first_only)),
            log_to_accounts=bool(data.get("log_to_accounts", base.log_to_accounts)),
            log_to_opportunities=bool(data.get("log_to_opportunities",
                                               base.log_to_opportunities)),
            opportunities_only_when_owner=bool(data.get("opportunities_only_when_owner",
                                                        base.opportunities_only_when_owner)),
            opportunities_all_on_account=bool(data.get("opportunities_all_on_account",
                                                       base.opportunities_all_on_account)),
            opportunities_closed=bool(data.get("opportunities_closed",
                                               base.opportunities_closed)),
            custom_objects=frozenset(str(c) for c in data.get("custom_objects", [])),
            run_assignment_rules=bool(data.get("run_assignment_rules",
                                               base.run_assignment_rules)),
            log_machine_hits=bool(data.get("log_machine_hits", base.log_machine_hits)),
            log_bounces=bool(data.get("log_bounces", base.log_bounces)),
            visible_fields={str(k): tuple(str(f) for f in v)
                            for k, v in dict(data.get("visible_fields", {})).items()},
            task_fields=_task_fields(data.get("task_fields", {})),
        )


TASK_KINDS_WITH_FIELDS = ("todo", "call")  # email and LinkedIn tasks are not logged as Tasks
TASK_FIELDS = {"todo": ("Priority",), "call": ("Priority",)}


def _task_fields(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ValueError("task_fields: an object of task kind: [Task field names]")
    out: dict[str, tuple[str, ...]] = {}
    for kind, names in raw.items():
        if kind not in TASK_KINDS_WITH_FIELDS:
            raise ValueError(f"task_fields.{kind}: to-do (todo) and call tasks have fields")
        if not isinstance(names, list | tuple) or len(names) > 50:
            raise ValueError(f"task_fields.{kind}: a list of at most 50 field names")
        out[str(kind)] = tuple(str(n) for n in names)
    return out


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    settings: SalesforceSettings = SalesforceSettings()
    members_manage_own: bool = False  # 'Individuals in this role manage their own settings'


class SettingsSource(StrEnum):
    ROLE = "role"
    DEFAULT_ROLE = "default_role"
    USER = "user"
    BUILT_IN = "built_in"


@dataclass(frozen=True)
class EffectiveSettings:
    """What applies to one user, and why (shown to the rep: 'set by your role …')."""

    settings: SalesforceSettings
    source: SettingsSource
    role_name: str | None
    editable_by_user: bool
    salesforce_enabled: bool


def effective_settings(*, plan: Plan, role: Role | None, default_role: Role | None,
                       user_settings: SalesforceSettings | None,
                       configured_custom_objects: Iterable[str]) -> EffectiveSettings:
    """A user's effective Salesforce settings.

    The user's role applies; a user without one gets the workspace's default role, and without
    that the built-in defaults.  Only when the applying role lets individuals manage their own
    settings do the user's own settings (if saved) replace the role's.  Custom objects the
    workspace no longer has configured are dropped, and a plan without Salesforce turns the
    integration off whatever the settings say.
    """
    applying = role or default_role
    source = (SettingsSource.ROLE if role else SettingsSource.DEFAULT_ROLE if default_role
              else SettingsSource.BUILT_IN)
    settings = applying.settings if applying else SalesforceSettings()
    editable = applying.members_manage_own if applying else True
    if editable and user_settings is not None:
        settings, source = user_settings, SettingsSource.USER
    configured = frozenset(configured_custom_objects)
    if not settings.custom_objects <= configured:
        settings = replace(settings, custom_objects=settings.custom_objects & configured)
    if not settings.log_to_opportunities:
        # The opportunity refinements mean nothing when opportunities are not logged to.
        settings = replace(settings, opportunities_only_when_owner=False,
                           opportunities_all_on_account=False, opportunities_closed=False)
    return EffectiveSettings(settings=settings, source=source,
                             role_name=applying.name if applying else None,
                             editable_by_user=editable,
                             salesforce_enabled=plan.has_salesforce)
