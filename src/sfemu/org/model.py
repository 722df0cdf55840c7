"""Orgs: edition, sandbox or production, profiles, daily API limit, and per-org configuration."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

# Editions that include the API; Professional and Essentials need the API add-on.
API_EDITIONS = ("Enterprise", "Unlimited", "Developer", "Performance")
ALL_EDITIONS = (*API_EDITIONS, "Professional", "Essentials")
DEFAULT_DAILY_LIMIT = {"Developer": 15_000, "Professional": 15_000, "Essentials": 15_000}

SALES_OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "OpportunityContactRole", "Task",
                 "Event")


@dataclass
class ProfilePerms:
    """Object permissions as letters C R E D, field-level security as hidden / read-only sets."""

    name: str
    objects: dict[str, str]
    hidden_fields: list[str] = field(default_factory=list)  # "Object.Field"
    readonly_fields: list[str] = field(default_factory=list)
    modify_all_data: bool = False
    api_enabled: bool = True

    def can(self, sobject: str, letter: str) -> bool:
        if self.modify_all_data:
            return True
        return letter in self.objects.get(sobject, self.objects.get("*", ""))

    def field_visible(self, sobject: str, field_name: str) -> bool:
        return self.modify_all_data or f"{sobject}.{field_name}" not in self.hidden_fields

    def field_editable(self, sobject: str, field_name: str) -> bool:
        return self.modify_all_data or (
            self.field_visible(sobject, field_name)
            and f"{sobject}.{field_name}" not in self.readonly_fields)


def default_profiles() -> dict[str, ProfilePerms]:
    sales = {name: "CRED" for name in SALES_OBJECTS}
    return {
        "System Administrator": ProfilePerms("System Administrator", {"*": "CRED"},
                                             modify_all_data=True),
        # A Standard User works the sales objects but cannot manage users or delete Accounts,
        # and cannot see an Account's annual revenue (as many orgs restrict it).
        "Standard User": ProfilePerms(
            "Standard User",
            {**sales, "Account": "CRE", "User": "R", "Profile": "R", "*": "CRED"},
            hidden_fields=[],
            readonly_fields=["Account.AnnualRevenue", "Lead.AnnualRevenue"],
        ),
    }


@dataclass
class Org:
    id: str
    name: str
    edition: str = "Enterprise"
    is_sandbox: bool = False
    sandbox_of: str | None = None
    api_addon: bool = False
    daily_limit: int = 100_000
    pod: str = "5g"
    profiles: dict[str, ProfilePerms] = field(default_factory=default_profiles)
    custom_objects: list[dict[str, Any]] = field(default_factory=list)
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    validation_rules: list[dict[str, Any]] = field(default_factory=list)
    assignment_rules: list[dict[str, Any]] = field(default_factory=list)
    duplicate_rules: list[dict[str, Any]] = field(default_factory=list)
    layout_required: dict[str, list[str]] = field(default_factory=dict)  # object -> fields
    package: dict[str, Any] | None = None
    faults: dict[str, Any] = field(default_factory=dict)
    api_usage_day: str = ""
    api_usage: int = 0

    @property
    def api_enabled(self) -> bool:
        return self.edition in API_EDITIONS or self.api_addon

    def usage_today(self, now: dt.datetime) -> int:
        return self.api_usage if self.api_usage_day == now.date().isoformat() else 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Org:
        data = dict(data)
        data["profiles"] = {k: ProfilePerms(**v) for k, v in data.get("profiles", {}).items()}
        return cls(**data)
