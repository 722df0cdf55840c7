"""Exclusions: addresses and domains whose activity is never logged (guide: BCC and exclusions)."""

from __future__ import annotations

from collections.abc import Iterable

# Role addresses: mail to or from them is machine traffic, never a person to log against.
BUILT_IN_LOCAL_PARTS = frozenset({
    "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
    "mailer-daemon", "postmaster", "bounce", "bounces", "notifications", "notification",
    "auto-reply", "autoreply",
})


def normalize_email(value: str) -> str:
    return value.strip().lower()


def exclusion_reason(email: str, addresses: Iterable[str], domains: Iterable[str]) -> str | None:
    """Why ``email`` is excluded, or None.  Domains match their subdomains too."""
    address = normalize_email(email)
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return f"'{email}' is not an email address"
    if address in {normalize_email(a) for a in addresses}:
        return f"{address} is on the workspace's excluded addresses"
    for excluded in domains:
        d = excluded.strip().lower().lstrip("@")
        if domain == d or domain.endswith("." + d):
            return f"{domain} is an excluded domain ({d})"
    if local.split("+", 1)[0] in BUILT_IN_LOCAL_PARTS:
        return f"{address} is a role address ({local}@), never logged"
    return None
