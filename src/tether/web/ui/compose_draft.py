"""A message being written on the compose page, as its form holds it: read from the form,
carried through the Auto-Create dialog in hidden inputs (so Back and the retry keep every
word), and turned into the service's Compose."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from markupsafe import escape
from starlette.datastructures import FormData

from tether.services.autocreate import Decision
from tether.services.errors import Invalid
from tether.services.messages import Compose

SPLIT = re.compile(r"[\s,;]+")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<!--")
MAX_OFFSET = 14 * 60  # minutes: the widest UTC offsets in use are ±14 h


def addresses(raw: str) -> list[str]:
    """Comma-, semicolon- or space-separated addresses, as typed (the service checks them)."""
    return [a for a in SPLIT.split(raw) if a]


def as_html(body: str) -> str:
    """A body with no HTML tags is plain text: its lines kept, its characters shown as typed
    (template variables untouched: braces are not escaped)."""
    if HTML_TAG.search(body):
        return body
    paragraphs = [p for p in re.split(r"\n\s*\n", body.replace("\r\n", "\n")) if p.strip()]
    return "".join(f"<p>{str(escape(p)).replace(chr(10), '<br>')}</p>" for p in paragraphs)


@dataclass(frozen=True)
class Draft:
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    template_id: str = ""
    track_opens: bool = True
    track_clicks: bool = True
    when: str = "now"  # now | at
    send_at: str = ""  # datetime-local: 2026-12-01T09:00
    tz_offset: str = ""  # the browser's minutes east of UTC for send_at (compose.js)
    in_reply_to: str = ""
    file_ids: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, form: FormData) -> Draft:
        def text(name: str) -> str:
            return str(form.get(name) or "")
        return cls(to=text("to"), cc=text("cc"), bcc=text("bcc"), subject=text("subject"),
                   body=text("body"), template_id=text("template_id"),
                   track_opens=bool(form.get("track_opens")),
                   track_clicks=bool(form.get("track_clicks")),
                   when="at" if text("when") == "at" else "now", send_at=text("send_at"),
                   tz_offset=text("tz_offset"), in_reply_to=text("in_reply_to"),
                   file_ids=tuple(str(v) for v in form.getlist("file_ids") if v))

    def with_file(self, file_id: str) -> Draft:
        return replace(self, file_ids=(*self.file_ids, file_id))

    def visible(self) -> list[str]:
        """The To and Cc recipients (autocreate asks about these), normalized."""
        return [a.strip().lower() for a in [*addresses(self.to), *addresses(self.cc)]]

    def moment(self) -> dt.datetime | None:
        """When to send: None for now; else send_at at the browser's UTC offset (UTC when
        the page had no script to say it)."""
        if self.when != "at":
            return None
        if not self.send_at:
            raise Invalid("Send at: choose a date and time, or Send now", "send_at")
        try:
            local = dt.datetime.fromisoformat(self.send_at)
            minutes = int(self.tz_offset or 0)
        except ValueError:
            raise Invalid(f"Send at: '{self.send_at}' is not a date and time", "send_at") \
                from None
        if abs(minutes) > MAX_OFFSET or local.tzinfo is not None:
            raise Invalid("Send at: the time zone offset is out of range", "send_at")
        return local.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))

    def compose(self, records: Mapping[str, Decision] | None = None,
                without_creating: bool = False) -> Compose:
        return Compose(
            to=addresses(self.to), cc=addresses(self.cc), bcc=addresses(self.bcc),
            subject=self.subject, body_html=as_html(self.body) if self.body.strip() else None,
            template_id=self.template_id or None, track_opens=self.track_opens,
            track_clicks=self.track_clicks, send_at=self.moment(),
            in_reply_to=self.in_reply_to or None, records=dict(records or {}),
            send_without_creating=without_creating, files=self.file_ids)
