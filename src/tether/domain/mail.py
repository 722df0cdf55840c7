"""Mail classification (pure): what a message arriving in a watched mailbox is, read from its raw
bytes: an automatic answer (out-of-office and the like), a bounce (a delivery status
notification, standard or not), or a person's message; and which Message-IDs it refers to. The
mailbox watcher looks those ids up to tell a reply from a new inbound message; nothing here
touches the network or the database, and nothing here raises on what a mailbox may hold.

Choices where practice is ambiguous:

* Only headers and the subject make a message 'automatic': a person who writes "I was out of
  office" in a reply is still a person.  Precedence bulk/list/junk counts (a list's mail is no
  answer from a person); List-Id alone does not.  X-Auto-Response-Suppress alone decides
  nothing (Outlook sets it on ordinary mail); with OOF/All/AutoReply it lets a weak subject
  word ("Abwesend bis ...") count without the separator it otherwise needs.
* A bounce is never 'automatic', whatever its Auto-Submitted says; a report of successful
  delivery, or a read receipt, is automatic and no bounce.
* A message is taken as a report by its form (multipart/report; report-type=delivery-status),
  an X-Failed-Recipients header, a mailer-daemon/postmaster sender, or a bounce subject; the
  standard report's fields win over the words around them when both are present.
* A report's recipient is its Original-Recipient (the address as Tether wrote it) when given,
  else its Final-Recipient.  Hard or soft: the enhanced status's class, else a basic SMTP reply
  code's, else the wording, else hard.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any

from tether.domain.mail_dates import back_on, fold

TEXT_LIMIT = 20_000
DIAGNOSTIC_LIMIT = 500
_READ = ("auto-submitted", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
         "precedence", "x-precedence", "content-type", "x-failed-recipients")
_MSGID = re.compile(r"<[^<>\s]+>")
_QUOTED_MSGID = re.compile(r"^[ \t>]*message-id:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"[\w.+'=-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_STATUS = re.compile(r"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?!\.?\d)")
_SMTP_CODE = re.compile(r"(?<![\w.-])[45][0-5]\d(?=[\s-])")


@dataclass(frozen=True)
class Bounce:
    """One recipient a delivery report says was not (or not yet) reached."""

    recipient: str  # lower-cased address; "" when the report names none
    status: str  # enhanced status code ("5.1.1"); "" when none is given
    hard: bool  # permanent: stop writing to this address; soft: it may work later
    diagnostic: str  # the server's words, at most DIAGNOSTIC_LIMIT characters
    action: str = "failed"  # failed | delayed (a delayed one is always soft)


@dataclass(frozen=True)
class Parsed:
    """What classification reads of a message, decoded once, every field best effort."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: dt.datetime | None
    text: str
    headers: Mapping[str, str]
    original_ids: tuple[str, ...]
    report_type: str = ""  # a multipart/report's report-type, lower-cased
    delivery_status: tuple[Mapping[str, str], ...] = ()  # per-recipient DSN fields, lower names
    bcc: tuple[str, ...] = ()  # lower-cased; only a Sent folder's copy still has them

    @property
    def refs(self) -> tuple[str, ...]:
        """Every Message-ID this message answers or reports on, nearest first, once each."""
        return tuple(dict.fromkeys(self.in_reply_to + self.references + self.original_ids))


_EMPTY = Parsed(None, (), (), "", "", (), (), "", None, "", MappingProxyType({}), ())


def parse(raw: bytes) -> Parsed:
    """Read a raw message (as IMAP's BODY.PEEK[] gives it); malformed input gives what can be
    read, never an exception, because one odd message must not stop a mailbox's watcher."""
    try:
        msg = email.message_from_bytes(bytes(raw), policy=email.policy.default)
        parsed = _parsed(msg)
        if parsed.report_type or _bounce_like(parsed):
            parsed = dataclasses.replace(parsed, original_ids=_original_ids(msg, parsed))
        return parsed
    except Exception:  # the stdlib's header classes have raised on odd input before
        return _EMPTY


def _parsed(msg: Message) -> Parsed:
    headers = {name: value for name in _READ if (value := _header(msg, name))}
    sender = _addresses(msg, "from")
    from_name, from_address = sender[0] if sender else ("", "")
    if not from_name:  # "addr (Name)", as MTAs write it: only the legacy parser reads comments
        from_name = _unfold(parseaddr(_header(msg, "from", raw=True))[0])
    message_id = _header(msg, "message-id", raw=True)
    report = msg.get_param("report-type") if msg.get_content_type() == "multipart/report" else ""
    return Parsed(
        message_id=(_ids(message_id) or (message_id or None,))[0],
        in_reply_to=_ids(_header(msg, "in-reply-to", raw=True)),
        references=_ids(_header(msg, "references", raw=True)),
        from_address=from_address,
        from_name=from_name,
        to=tuple(a for _, a in _addresses(msg, "to")),
        cc=tuple(a for _, a in _addresses(msg, "cc")),
        subject=_header(msg, "subject"),
        date=_date(_header(msg, "date")),
        text=_body_text(msg)[:TEXT_LIMIT],
        headers=MappingProxyType(headers),
        original_ids=(),
        report_type=report.strip().lower() if isinstance(report, str) else "",
        delivery_status=tuple(MappingProxyType(g) for g in _delivery_status(msg)),
        bcc=tuple(a for _, a in _addresses(msg, "bcc")),
    )


# -- headers ----------------------------------------------------------------------------------
def _clean(text: str) -> str:
    """Valid Unicode without NULs: undecodable bytes arrive as surrogates, and a database
    column takes neither."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    return data.decode("utf-8", "replace").replace("\x00", "")


def _unfold(text: str) -> str:
    return " ".join(_clean(text).split())


def _header(msg: Message, name: str, raw: bool = False) -> str:
    """A header's first value, unfolded and RFC 2047 decoded ("" when absent); as it came when
    asked (Message-IDs are never encoded, and the stdlib's parser takes seconds over a
    References of thousands) or when the stdlib cannot parse it."""
    if not raw:
        try:
            value = msg.get(name)
            return "" if value is None else _unfold(str(value))
        except Exception:  # the structured header parsers are the likeliest thing to break
            raw = True
    value = next((v for k, v in msg.raw_items() if k.lower() == name), None)
    return "" if value is None else _unfold(str(value))


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) of every address in a header, in order."""
    try:
        values: list[Any] = list(msg.get_all(name) or [])
    except Exception:
        values = [_header(msg, name, raw=True)]
    pairs: list[tuple[str, str]] = []
    for value in values:
        found = getattr(value, "addresses", None)
        if found is not None:
            pairs += [(a.display_name, a.addr_spec) for a in found]
        else:
            pairs += getaddresses([str(value)])
    cleaned = [(_unfold(n), _unfold(a).lower()) for n, a in pairs]
    return [(n, a) for n, a in cleaned if a and a != "<>"]


def _ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MSGID.findall(value)))


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(value)
    except Exception:  # ValueError mostly; older versions raised TypeError and IndexError
        return None
    return date if date.tzinfo else date.replace(tzinfo=dt.UTC)


# -- body -------------------------------------------------------------------------------------
def _parts(msg: Message, depth: int = 0) -> Iterator[Message]:
    """The message's own parts; an attached message (message/*) is given but not entered, so
    the original inside a bounce never passes for the bounce's own text."""
    yield msg
    if depth > 30 or msg.get_content_maintype() == "message":
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts(part, depth + 1)


def _body_text(msg: Message) -> str:
    """The inline text/plain parts, else the HTML ones made text; a multipart whose boundary
    never comes is read as text, since that is what its sender meant."""
    plain: list[str] = []
    html: list[str] = []
    for part in _parts(msg):
        if part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_html_text(_part_text(part)))
        elif part.get_content_maintype() == "multipart" and not part.is_multipart():
            plain.append(_part_text(part))
    return "\n".join(plain or html).strip()


def _part_text(part: Message) -> str:
    """A text part decoded: by its charset, else as UTF-8, else as Latin-1 (which always
    decodes), so a wrong or unknown charset still gives readable text."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return _clean(payload) if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for codec in (charset, "utf-8"):
        try:
            return _clean(payload.decode(codec))
        except (LookupError, ValueError):
            continue
    return _clean(payload.decode("latin-1"))


class _HTMLText(HTMLParser):
    """Block elements break lines; scripts and styles are not text."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4",
                         "blockquote", "pre", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, 1)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag, -1)

    def _tag(self, tag: str, step: int) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden + step)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(" ".join(data.split()) or " ")


def _html_text(html: str) -> str:
    """HTML as crude text: enough to read an auto-reply's words, not to render it."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser has asserted on broken markup before
        text = re.sub(r"<[^<>]*>", " ", html)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- reports ----------------------------------------------------------------------------------
def _delivery_status(msg: Message) -> list[dict[str, str]]:
    """The per-recipient field groups of every message/delivery-status part.  Python gives that
    part's payload as one Message per group; a global DSN, or one it could not split, comes as
    one message with the rest as body text, read here line by line."""
    groups: list[dict[str, str]] = []
    for part in _parts(msg):
        if part.get_content_type() not in ("message/delivery-status",
                                           "message/global-delivery-status"):
            continue
        payload = part.get_payload()
        for block in payload if isinstance(payload, list) else [payload]:
            if isinstance(block, Message):
                groups.append(_fields(block.raw_items()))
                body = block.get_payload()
                groups += _text_groups(body if isinstance(body, str) else "")
            elif isinstance(block, str):
                groups += _text_groups(block)
    return [g for g in groups if "final-recipient" in g or "original-recipient" in g]


def _fields(items: Iterator[tuple[str, Any]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in items:
        fields.setdefault(name.strip().lower(), _unfold(str(value)))
    return fields


def _text_groups(text: str) -> list[dict[str, str]]:
    groups: list[dict[str, str]] = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        items: list[tuple[str, str]] = []
        for line in block.splitlines():
            if line[:1].isspace() and items:
                items[-1] = (items[-1][0], items[-1][1] + " " + line.strip())
            elif ":" in line:
                name, _, value = line.partition(":")
                items.append((name, value))
        if items:
            groups.append(_fields(iter(items)))
    return groups


def _original_ids(msg: Message, parsed: Parsed) -> tuple[str, ...]:
    """Message-IDs of the message a report is about: from the attached original (or its
    headers), else from a copy quoted in the text, as qmail and Exim's plain bounces do."""
    ids: list[str] = []
    for part in _parts(msg):
        ctype = part.get_content_type()
        payload = part.get_payload()
        if ctype in ("message/rfc822", "message/global") and isinstance(payload, list):
            inner = [m for m in payload[:1] if isinstance(m, Message)]
            ids += [_header(m, "message-id", raw=True) for m in inner]
        elif ctype in ("text/rfc822-headers", "text/global-headers"):
            ids += _QUOTED_MSGID.findall(_part_text(part))[:1]
        elif ctype == "message/disposition-notification" and isinstance(payload, list):
            ids += [_header(m, "original-message-id") for m in payload if isinstance(m, Message)]
    found = [i for value in ids for i in _ids(value)]
    if not found and parsed.report_type != "disposition-notification":
        found = _QUOTED_MSGID.findall(_body_text(msg))
    return tuple(i for i in dict.fromkeys(found) if i != parsed.message_id)


# -- classification ---------------------------------------------------------------------------
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_BOUNCE_NAMES = ("mail delivery system", "mail delivery subsystem", "mailer-daemon")
_BOUNCE_SUBJECTS = (
    "undeliverable", "undelivered mail", "delivery status notification (failure)",
    "delivery status notification (delay)", "mail delivery failed", "mail delivery failure",
    "failure notice", "returned mail", "delivery has failed", "delivery failure",
    "message not delivered", "warning: could not send message", "delayed mail",
    "non remis", "unzustellbar", "nicht zustellbar", "no se puede entregar",
)


def _bounce_like(msg: Parsed) -> bool:
    """Whether a message presents itself as a delivery report, by its form or its sender."""
    subject = fold(msg.subject).strip()
    return (msg.report_type == "delivery-status"
            or "x-failed-recipients" in msg.headers
            or _daemon(msg.from_address)
            or fold(msg.from_name).strip() in _BOUNCE_NAMES
            or subject.startswith(_BOUNCE_SUBJECTS))


def bounces(msg: Parsed) -> list[Bounce]:
    """The recipients a delivery report says failed or are delayed; [] for any other message,
    and for a report that every recipient was delivered."""
    if msg.delivery_status:
        return _report_bounces(msg)
    return _text_bounces(msg) if _bounce_like(msg) else []


def _report_bounces(msg: Parsed) -> list[Bounce]:
    """A standard report's recipients.  The Original-Recipient is preferred: it is the address
    as Tether wrote it, where the Final-Recipient may be what a forward turned it into."""
    found: dict[tuple[str, str], Bounce] = {}
    for group in msg.delivery_status:
        action = (group.get("action", "").split() or ["failed"])[0].lower()
        if action in ("delivered", "relayed", "expanded"):
            continue
        recipient = (_report_address(group.get("original-recipient", ""))
                     or _report_address(group.get("final-recipient", "")))
        status = _first(_STATUS, group.get("status", ""))
        code = re.sub(r"^\s*[\w-]+\s*;\s*", "", group.get("diagnostic-code", ""))
        diagnostic = _one_reply(code) or _line_about(_human_part(msg.text), recipient)
        delayed = action == "delayed"
        hard = not delayed and _hard(status, diagnostic, diagnostic, msg.text)
        bounce = Bounce(recipient, status, hard, diagnostic[:DIAGNOSTIC_LIMIT],
                        "delayed" if delayed else "failed")
        found.setdefault((recipient, status), bounce)
    return list(found.values())


def _one_reply(code: str) -> str:
    """A multi-line SMTP reply as one ("550-5.1.1 a 550-5.1.1 b 550 5.1.1 c" → "550 5.1.1 a b
    c"): what the server said, without the code repeated on every line."""
    text = " ".join(code.split())
    multi = re.match(r"([245]\d\d)-(\S*)\s", text)
    if multi is None:
        return text
    reply, status = multi.groups()
    rest = re.sub(rf"\s{reply}[ -](?:{re.escape(status)}\s+)?", " ", text[multi.end() - 1 :])
    return " ".join(f"{reply} {status}{rest}".split())


def _report_address(value: str) -> str:
    """"rfc822; <a@b>" → "a@b" (the type is optional in practice)."""
    return value.rpartition(";")[2].strip().strip("<>").strip().lower()


def _first(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return match.group(0) if match else ""


_COPY_MARK = re.compile(
    r"^(?:[ \t]*-{2,}[^\n]{0,80}?(?:copy of the message|original message|message headers"
    r"|below this line|header of the original)|original message headers:"
    r"|(?:return-path|received|dkim-signature):)",
    re.IGNORECASE | re.MULTILINE,
)
_ANGLE_ENTRY = re.compile(r"^\s*<(?P<addr>[^<>\s@]+@[^<>\s]+)>(?:\s*\([^)]*\))?:\s*(?P<rest>.*)$")
_BARE_ENTRY = re.compile(
    r"^\s*(?:[^@<>()]{0,80}?[(<])?(?P<addr>[^\s<>()@:]+@[^\s<>():]+?)[)>]?\s*$"
)
_SENTENCE = re.compile(
    r"(?:message to|delivered to|delivery to|deliver to|failed to|undeliverable to)\s*:?\s*<?"
    r"(?P<addr>[^\s<>@]+@[^\s<>()\"',;]+)",
    re.IGNORECASE,
)
# A permanent condition named outright wins over soft words ("... does not exist, please try
# again"); then signs of a temporary one; anything else ("rejected", nothing at all) is hard.
_HARD_WORDS = ("user unknown", "unknown user", "does not exist", "doesn't exist", "no such user",
               "address not found", "couldn't be found", "could not be found", "wasn't found",
               "not found", "invalid recipient", "no such mailbox", "disabled",
               "permanent error", "permanent failure")
_SOFT_WORDS = ("mailbox full", "mailbox is full", "quota", "temporar", "try again", "retry",
               "retried", "delayed", "not yet been delivered", "keep trying", "still trying",
               "insufficient", "greylist")
_DELAY_WORDS = ("not yet been delivered", "will be retried", "will retry", "still trying",
                "will continue", "keep trying", "warning only", "has been delayed")


def _hard(status: str, code_text: str, *wordings: str) -> bool:
    """Permanent or not: the enhanced status's class, else the SMTP reply code's, else the
    wording (the recipient's own lines before the report's general text); an address that
    bounced for no stated reason is taken as gone."""
    if status[:1] in ("4", "5"):
        return status[0] == "5"
    code = _first(_SMTP_CODE, code_text)
    if code:
        return code[0] == "5"
    for words in map(fold, wordings):
        if any(w in words for w in _HARD_WORDS):
            return True
        if any(w in words for w in _SOFT_WORDS):
            return False
    return True


def _text_bounces(msg: Parsed) -> list[Bounce]:
    """A plain bounce's recipients, read from the MTA's words; one Bounce with recipient "" when
    it names none, since the message is a bounce all the same."""
    human = _human_part(msg.text)
    ours = {msg.from_address, *msg.to, *msg.cc}
    entries: dict[str, str] = {}
    for address, reason in _entries(human):
        address = address.lower().rstrip(".")
        if address not in ours and not _daemon(address):
            entries.setdefault(address, reason)
    if not entries:
        failed = _ADDRESS.findall(msg.headers.get("x-failed-recipients", ""))
        others = [a for a in map(str.lower, _ADDRESS.findall(human))
                  if a not in ours and not _daemon(a)]
        entries = dict.fromkeys([a.lower() for a in failed] or others[:1] or [""], "")
    delayed = _delayed(msg.subject, human)
    found: list[Bounce] = []
    for address, reason in entries.items():
        status = _first(_STATUS, reason) or (_first(_STATUS, human) if len(entries) == 1 else "")
        if reason and (_STATUS.search(reason) or _SMTP_CODE.search(reason)):
            diagnostic = reason
        else:
            diagnostic = _line_about(human, status) or reason or _paragraph(human, 0)
        hard = not delayed and _hard(status, diagnostic, diagnostic, human)
        found.append(Bounce(address, status, hard, diagnostic[:DIAGNOSTIC_LIMIT],
                            "delayed" if delayed else "failed"))
    return found


def _human_part(text: str) -> str:
    """A bounce's own words, without the copy of the original that many append."""
    mark = _COPY_MARK.search(text)
    return text[: mark.start()] if mark else text


def _entries(human: str) -> list[tuple[str, str]]:
    """(recipient, the server's words) as qmail, Postfix and Exim list them (an address line,
    then the reason up to a blank line), else from Exchange's or Gmail's sentence."""
    entries: list[tuple[str, str]] = []
    lines = human.splitlines()
    i = 0
    while i < len(lines):
        match = _ANGLE_ENTRY.match(lines[i]) or _BARE_ENTRY.match(lines[i])
        i += 1
        if match is None:
            continue
        reason = [match.groupdict().get("rest") or ""]
        while (i < len(lines) and lines[i].strip()
               and not (_ANGLE_ENTRY.match(lines[i]) or _BARE_ENTRY.match(lines[i]))):
            reason.append(lines[i])
            i += 1
        entries.append((match["addr"], " ".join(" ".join(reason).split())))
    if not entries:
        entries = [(m["addr"], _paragraph(human, m.start())) for m in _SENTENCE.finditer(human)]
    return entries


def _paragraph(text: str, at: int) -> str:
    start = text.rfind("\n\n", 0, at) + 1
    end = text.find("\n\n", at)
    return " ".join(text[start : end if end >= 0 else len(text)].split())


def _line_about(text: str, needle: str) -> str:
    """The line naming the needle (an address, a status), with its indented continuation."""
    lines = text.splitlines()
    for n, line in enumerate(lines if needle else []):
        if needle in line.lower():
            rest = [x for x in lines[n + 1 : n + 4] if x[:1].isspace() and x.strip()]
            return " ".join(" ".join([line, *rest]).split())
    return ""


def _daemon(address: str) -> bool:
    local = address.rpartition("@")[0]
    return any(s in local for s in _BOUNCE_SENDERS)


def _delayed(subject: str, human: str) -> bool:
    """A warning that delivery is still being tried, not that it failed."""
    folded = fold(subject)
    return ("delay" in folded or folded.lstrip().startswith("warning")
            or any(w in fold(human) for w in _DELAY_WORDS))


_NO = ("", "no", "false", "0")
_PRECEDENCE = ("auto_reply", "bulk", "junk", "list")
# Phrases that open an auto-reply's subject.  The strong ones say so outright; the weak ones
# (a single word like "Absent") also open people's subjects, so they count only when followed
# by a separator ("Absent: Re: ...", or nothing), or when Outlook's X-Auto-Response-Suppress
# says OOF/All/AutoReply.  That header alone decides nothing: Outlook sets it on ordinary mail.
_STRONG = tuple(fold(p) for p in (
    "out of office", "out of the office", "automatic reply", "auto-reply", "auto reply",
    "autoreply", "auto-response", "auto response", "autoresponse", "automatic response",
    "vacation reply", "away from the office", "away from office", "auto:", "autosvar",
    "abwesenheitsnotiz", "automatische antwort", "abwesenheit", "absence du bureau",
    "réponse automatique", "message d'absence", "fuera de la oficina", "respuesta automática",
    "fuori sede", "fuori ufficio", "risposta automatica", "automatisch antwoord",
    "niet aanwezig", "ausência temporária", "resposta automática", "fora do escritório",
    "automatiskt svar", "automatisk svar", "automatyczna odpowiedź", "poza biurem", "自動応答",
    "自動返信", "不在通知", "不在のお知らせ", "自动回复", "自動回覆",
))
_WEAK = tuple(fold(p) for p in ("absent", "abwesend", "afwezig", "on vacation", "frånvaro",
                                "fraværende", "不在"))
_SUPPRESS = ("all", "oof", "autoreply")


def automatic(msg: Parsed) -> str | None:
    """Why a message is an automatic answer (RFC 3834 headers, or an auto-reply's subject), in
    words; None for a person's message and for a bounce, which bounces() describes."""
    if bounces(msg):
        return None
    submitted = msg.headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if submitted not in _NO:
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = msg.headers.get(name.lower(), "")
        if value.lower() not in _NO:
            return f"{name}: {value}"
    for name in ("Precedence", "X-Precedence"):
        value = msg.headers.get(name.lower(), "").split(";")[0].strip().lower()
        if value in _PRECEDENCE:
            return f"{name}: {value}"
    reason = _subject_reason(msg)
    if reason is not None:
        return reason
    if msg.report_type:
        actions = sorted({g.get("action", "").lower() for g in msg.delivery_status} - {""})
        return f"report ({msg.report_type}{': ' if actions else ''}{', '.join(actions)})"
    return None


def _subject_reason(msg: Parsed) -> str | None:
    subject = fold(msg.subject).lstrip(" \t[(<{【「*").strip()
    shown = msg.subject if len(msg.subject) <= 80 else msg.subject[:79] + "…"
    if any(_opens(subject, p) for p in _STRONG):
        return f"subject '{shown}'"
    suppress = msg.headers.get("x-auto-response-suppress", "")
    for phrase in _WEAK:
        rest = subject[len(phrase):].lstrip() if subject.startswith(phrase) else None
        if rest is None:
            continue
        if not rest or rest[0] in ":-\u2013\u2014([|":
            return f"subject '{shown}'"
        if any(v in _SUPPRESS for v in re.split(r"[\s,]+", suppress.lower())):
            return f"subject '{shown}' with X-Auto-Response-Suppress: {suppress}"
    return None


def _opens(subject: str, phrase: str) -> bool:
    """Whether the subject opens with the phrase as a whole word (CJK needs no word break)."""
    if not subject.startswith(phrase):
        return False
    rest = subject[len(phrase):]
    return not rest or not rest[0].isalnum() or not phrase[-1].isascii() or phrase[-1] == ":"


def return_date(msg: Parsed, today: dt.date) -> dt.date | None:
    """For an auto-reply: the day its writer says they are back (rules in mail_dates)."""
    return back_on(msg.subject, msg.text, today)
