"""Tether's configuration: one pydantic-settings class, read from TETHER_* variables."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tether.domain.events import DateWindow

# A CSP host source: scheme, a host (its first label may be *), a port.
_FRAME_SOURCE = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d{1,5}|\*))?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TETHER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".tether"), description="Where the embedded default "
                           "keeps its SQLite file and keys")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default a "
                                     "SQLite file in data_dir, or postgresql+psycopg://…")
    salesforce_url: str | None = Field(default=None, description="Salesforce (or sfemu) base "
                                       "URL; `tether demo` starts sfemu when unset")
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_sandbox_login_url: str = "https://test.salesforce.com"
    salesforce_verify: str | None = Field(default=None, description="CA bundle to trust for "
                                          "Salesforce HTTPS (sfemu --tls); default the system's")
    salesforce_client_id: str = "tether"
    salesforce_client_secret: str = "tether-secret"  # noqa: S105 - sfemu's documented demo app
    salesforce_api_version: str = "59.0"
    secret_key: str | None = Field(default=None, description="Fernet key encrypting Salesforce "
                                   "tokens at rest; default a key file in data_dir")
    public_url: str | None = Field(default=None, description="Where users reach Tether "
                                   "(OAuth redirect and webhook URLs); default http://127.0.0.1:port")
    schedule_syncs: bool = Field(default=True, description="Run interval sync, deletions and "
                                 "field metadata on their schedules (off: only on demand)")
    interval_overlap_seconds: float = Field(default=60.0, ge=0, description="How far before "
                                            "its watermark an interval sync reads again")
    salesforce_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for "
                                      "a Salesforce answer before the outcome is unknown")
    activity_flush_seconds: float = Field(default=0.25, ge=0, le=1.0, description="How long "
                                          "planned writes wait for others to share a call")
    activity_collections_per_call: int = Field(
        default=5, ge=1, le=5, description="sObject Collections calls of 200 records the "
        "writer packs into one composite call (Salesforce counts it as one API call): 5 "
        "sends up to 1,000 activities a call, 1 sends each collection on its own")
    activity_lease_seconds: float = Field(
        default=120.0, gt=0, description="How long a worker holds the writes it is sending; "
        "when it ends with no answer recorded, the worker is taken for dead and the writes "
        "are recovered (longer than salesforce_timeout)")
    activity_reconcile_seconds: float = Field(default=120.0, ge=0, description="How long a "
                                              "create whose answer was lost waits before "
                                              "Tether reads back whether it landed")
    activity_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait "
                                              "between two tries of a write that failed")
    quota_probe_seconds: float = Field(default=60.0, gt=0, description="How often paused "
                                       "writes ask Salesforce whether they may resume")
    # The dates an event may carry (older or later ones are refused with a 422).
    event_earliest_date: dt.date = Field(default=dt.date(2000, 1, 1), description="The "
                                         "earliest occurred_at, meeting or due date accepted")
    event_max_ahead_hours: float = Field(default=24.0, ge=0, description="How far past now "
                                         "an event's occurred_at may be (clock skew)")
    schedule_max_ahead_days: int = Field(default=3650, ge=1, description="How far ahead a "
                                         "meeting's start and end or a task's due date may be")
    admin_email: str | None = Field(default=None, description="With admin_password: the first "
                                    "admin `tether serve` creates on a new install")
    admin_password: SecretStr | None = None
    port: int = 8000
    emulator_port: int = 8765
    # Sign-in throttling (tether/web/throttle.py, docs/security.md): failed passwords counted.
    rate_limit_storage: str = Field(default="memory://", description="Where the sign-in "
                                    "throttle counts (`limits` storage URI): memory:// for "
                                    "one process, redis://host:6379 shared by several")
    sign_in_window_seconds: int = Field(default=60, ge=1, description="How long a failed "
                                        "sign-in counts against the limits below")
    sign_in_failures_per_address_and_client: int = Field(default=5, ge=1, description="Failed "
                                                         "sign-ins for one address from one "
                                                         "client address per window")
    sign_in_failures_per_address: int = Field(default=30, ge=1, description="Failed sign-ins "
                                              "for one address from anywhere per window")
    sign_in_failures_per_client: int = Field(default=20, ge=1, description="Failed sign-ins "
                                             "from one client address, any address, per window")
    # Request bodies and response headers (tether/web/body.py, tether/web/headers.py).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="The largest "
                                "request body accepted, except by POST /api/v1/events (below) "
                                "and the real-time webhook (8 MB)")
    max_events_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="The "
                                       "largest POST /api/v1/events body")
    frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins that may frame the Salesforce sidebar "
        "pages (/app/sidebar/...), space-separated, e.g. https://*.lightning.force.com; every "
        "other page may be framed by Tether itself only")

    # Email from Tether (tether/services/messages.py, sending.py, tracking.py).
    mail_domain: str | None = Field(default=None, description="The domain of the Message-IDs "
                                    "Tether writes; default the host of public_url")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for a mail "
                                "server's answer (SMTP and IMAP)")
    mail_tls_verify: str | None = Field(default=None, description="A CA bundle to trust for "
                                        "mail servers' TLS; default the system's")
    send_lease_seconds: float = Field(default=120.0, gt=0, description="How long a worker "
                                      "holds a message it is sending before another takes it "
                                      "for lost and recovers it")
    send_max_attempts: int = Field(default=8, ge=1, description="Tries of a message whose "
                                   "server answers with a transient error before it fails")
    send_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait "
                                          "between two tries of a send")
    tracking_settle_seconds: float = Field(default=6.0, ge=0, description="How long a "
                                           "tracking hit waits before it is judged, so hits "
                                           "that arrive together are judged together (longer"
                                           " than the 5 s a burst of clicks is looked for)")
    scanner_click_seconds: float = Field(default=10.0, ge=0, description="A click this soon "
                                         "after delivery is a link scanner's")
    watch_poll_seconds: float = Field(default=60.0, gt=0, description="How often a mailbox "
                                      "whose server lacks IDLE is polled (and, with IDLE, how "
                                      "often its Sent folder is read)")
    watch_lease_seconds: float = Field(default=90.0, gt=0, description="How long a worker "
                                       "holds a mailbox's or calendar's watch before another "
                                       "takes it over")
    watch_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait "
                                           "before a watcher reconnects after a failure")
    calendar_poll_seconds: float = Field(default=15.0, gt=0, description="How often a "
                                         "calendar is asked for its changes")
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="The "
                                  "largest file that can be uploaded for tracked downloads")

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        if self.activity_lease_seconds <= self.salesforce_timeout:
            raise ValueError(f"activity_lease_seconds ({self.activity_lease_seconds:g}) must "
                             f"be longer than salesforce_timeout ({self.salesforce_timeout:g}):"
                             " a send still waiting for its answer would be taken for lost")
        return self

    @field_validator("frame_ancestors", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """A space- (or comma-) separated string, or a list, of CSP source expressions:
        nothing that could end the directive or add another."""
        origins = value.replace(",", " ").split() if isinstance(value, str) else value
        for origin in origins if isinstance(origins, list) else []:
            if not isinstance(origin, str) or not _FRAME_SOURCE.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://example.com "
                                 "or https://*.example.com")
        return origins

    def date_window(self) -> DateWindow:
        """The dates accepted now."""
        return DateWindow.around(dt.datetime.now(dt.UTC), self.event_earliest_date,
                                 dt.timedelta(hours=self.event_max_ahead_hours),
                                 dt.timedelta(days=self.schedule_max_ahead_days))

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def message_domain(self) -> str:
        """The right-hand side of Tether's Message-IDs: a name, never a bare address."""
        from urllib.parse import urlsplit
        host = self.mail_domain or urlsplit(self.base_url).hostname or ""
        if not host or host.replace(".", "").isdigit() or ":" in host or host == "localhost":
            return "tether.invalid"
        return host

    def effective_secret_key(self) -> str:
        from tether.security import load_or_create_key
        return self.secret_key or load_or_create_key(self.data_dir / "secret.key")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tether.db').resolve()}"
