"""One recipient's copy of a message, as it goes out: links rewritten to tracked ones, the
open pixel, tracked downloads, the unsubscribe footer and List-Unsubscribe headers (RFC 8058),
all through TETHER_PUBLIC_URL; and the untracked copy kept in the Sent folder."""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence
from dataclasses import dataclass

from tether.domain import tracking
from tether.domain.tracking import Kind
from tether.mail import mime
from tether.store.models import MessageDelivery, OutboundMessage, TrackedLink


@dataclass(frozen=True)
class Links:
    """Where tokens point, and the key that signs them."""

    base_url: str
    key: bytes

    def url(self, kind: Kind, delivery_id: int, n: int = 0) -> str:
        token = tracking.sign(self.key, kind, delivery_id, n)
        suffix = ".gif" if kind is Kind.OPEN else ""
        path = "u" if kind is Kind.UNSUBSCRIBE else f"t/{kind.value}"
        return f"{self.base_url}/{path}/{token}{suffix}"


def _append(body: str, extra: str) -> str:
    """``extra`` just before </body> (or at the end)."""
    at = body.lower().rfind("</body>")
    return body[:at] + extra + body[at:] if at != -1 else body + extra


def tracked_html(message: OutboundMessage, delivery: MessageDelivery,
                 links: Sequence[TrackedLink], files: dict[str, str], out: Links) -> str:
    """The delivery's HTML with its tracking: only what the message asked for."""
    body = delivery.body_html
    web = [link for link in links if link.url is not None]
    if message.track_clicks and web:
        body = tracking.rewrite(body, lambda n: out.url(Kind.CLICK, delivery.id, n))
    downloads = [link for link in links if link.file_id is not None]
    if downloads:
        items = "".join(
            f'<li><a href="{html_lib.escape(out.url(Kind.DOWNLOAD, delivery.id, link.n))}">'
            f"{html_lib.escape(files.get(str(link.file_id), 'file'))}</a></li>"
            for link in downloads)
        body = _append(body, f"<ul>{items}</ul>")
    if message.unsubscribe_link:
        href = html_lib.escape(out.url(Kind.UNSUBSCRIBE, delivery.id))
        body = _append(body, f'<p style="font-size:12px;color:#666"><a href="{href}">'
                             "Unsubscribe</a> from these emails.</p>")
    if message.track_opens:
        pixel = html_lib.escape(out.url(Kind.OPEN, delivery.id))
        body = _append(body, f'<img src="{pixel}" width="1" height="1" alt="" '
                             'style="display:block;width:1px;height:1px;border:0">')
    return body


def _outgoing(message: OutboundMessage, delivery: MessageDelivery, html: str,
              text: str | None, list_unsubscribe: str | None) -> mime.Outgoing:
    return mime.Outgoing(
        message_id=delivery.delivery_message_id, from_address=message.from_address,
        from_name=message.from_name, to=list(message.to), cc=list(message.cc),
        subject=delivery.subject, html=html, text=text, date=None,
        in_reply_to=message.in_reply_to,
        references=tuple((message.references or "").split()),
        list_unsubscribe=list_unsubscribe, one_click=list_unsubscribe is not None)


def outgoing(message: OutboundMessage, delivery: MessageDelivery,
             links: Sequence[TrackedLink], files: dict[str, str], out: Links) -> bytes:
    """The bytes sent to this delivery's recipient."""
    if delivery.kind == "salesforce_bcc":  # Salesforce's copy: untracked
        return mime.to_bytes(mime.build(_outgoing(message, delivery, delivery.body_html,
                                                  delivery.body_text, None)))
    html = tracked_html(message, delivery, links, files, out)
    unsubscribe = out.url(Kind.UNSUBSCRIBE, delivery.id) if message.unsubscribe_link else None
    text = None if message.track_clicks or message.unsubscribe_link else delivery.body_text
    return mime.to_bytes(mime.build(_outgoing(message, delivery, html, text, unsubscribe)))


def sent_copy(message: OutboundMessage, first: MessageDelivery) -> bytes:
    """The copy for the Sent folder: the first recipient's, with the message's Message-ID and
    no tracking (the sender reading it must not count as the recipient's open)."""
    copy = _outgoing(message, first, first.body_html, first.body_text, None)
    return mime.to_bytes(mime.build(copy))
