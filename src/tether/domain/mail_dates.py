"""The day an out-of-office says its writer is back (pure): read from the auto-reply's own words
(subject and text, the quoted original cut off), in English, German, French or Spanish.

Choices, because the prose is ambiguous:

* "until X", "bis X", "jusqu'au X", "hasta el X" are read as *back on X*: Tether only uses the
  date to hold follow-ups, and a day early costs nothing that a day late would not.
* A date next to a return word ("back", "returning", "until", "bis", "ab", "de retour",
  "hasta", ...) wins over any other; of several such, the latest is taken, because an absence is
  described from its start to its end ("from Dec 1 until Dec 7, back on Dec 8").  With none,
  the latest date anywhere in the text (never the subject, which quotes the original's) is used,
  then a bare weekday after a return word ("back on Monday": the next Monday after today).
* Numeric dates with slashes or dashes are m/d when the text reads as English, d/m otherwise,
  unless one number is over 12; dotted ones (7.12.2026) are always d.m.  Numbers without a year
  (12/7, 7.12.) count only right after a return word: alone they are too often something else
  (24/7, a version number).
* Without a year, the next such day on or after today is taken, however far off; with one, the
  date must not be before today nor more than two years ahead (older text, or not a date).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate((
    "january jan januar janner janvier janv enero ene",
    "february feb februar fevrier fevr febrero",
    "march mar marz maerz mars marzo",
    "april apr avril avr abril abr",
    "may mai mayo",
    "june jun juni juin junio",
    "july jul juli juillet juil julio",
    "august aug aout agosto ago",
    "september sept sep septembre septiembre setiembre",
    "october oct oktober okt octobre octubre",
    "november nov novembre noviembre",
    "december dec dezember dez decembre diciembre dic",
), start=1):
    for _name in _names.split():
        _MONTHS[_name] = _n
_WEEKDAYS: dict[str, int] = {}
for _n, _names in enumerate((
    "monday mon montag lundi lunes", "tuesday tue tues dienstag mardi martes",
    "wednesday wed mittwoch mercredi miercoles", "thursday thu thurs donnerstag jeudi jueves",
    "friday fri freitag vendredi viernes", "saturday sat samstag sonnabend samedi sabado",
    "sunday sun sonntag dimanche domingo",
)):
    for _name in _names.split():
        _WEEKDAYS[_name] = _n

_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
# Each form names its groups; the first listed wins where two overlap.
_FORMS = [re.compile(p) for p in (
    r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b",
    r"\b(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})\b",
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|o|\.)?\s*(?:de\s+|of\s+)?(?P<mon>{_MONTH})(?![a-z])"
    r"\.?(?:,?\s*(?:de\s+)?(?P<y>\d{4})\b)?",
    rf"\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:,?\s+(?P<y>\d{{4}})\b)?",
    r"\b(?P<a>\d{1,2})(?P<sep>[./])(?P<b>\d{1,2})(?:\.(?!\d)|(?![\d./]))",
)]
_SHORT_FORM = len(_FORMS) - 1  # numbers without a year: only right after a return word
_RETURN_WORD = (
    r"back|return\w*|until|till|til|through|thru|to|after|again|resum\w*"
    r"|bis|ab|zuruck|wieder|jusqu|retour|partir|au|hasta|vuelta|regres\w*|volver\w*|al"
)
_NEAR_RETURN = re.compile(rf"\b(?:{_RETURN_WORD})\b")
_WINDOW, _SHORT_WINDOW = 40, 16
_WEEKDAY_BACK = re.compile(
    rf"\b(?:back|return\w*|until|till|bis|ab|jusqu\w*|retour|hasta|vuelta|regres\w*)\W+"
    rf"(?:(?:on|am|le|el|au|al|zum|next)\s+)?(?P<wd>{_WEEKDAY})(?![a-z])"
)
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*(?:original message|ursprungliche nachricht|message d'origine|mensaje original)"
    r"|_{5,}|(?:from|von|de|sent|gesendet|envoye|enviado)\s?:\s"
    r"|on\s.{0,200}\swrote:|am\s.{0,200}\sschrieb|le\s.{0,200}\sa ecrit|el\s.{0,200}\sescribio)",
    re.MULTILINE,
)
_ENGLISH = re.compile(r"\b(?:the|and|i|am|will|be|back|office|until|my|you|your|please)\b")
_OTHER = re.compile(
    r"\b(?:der|die|das|und|ich|bin|bis|ihre|le|la|les|et|je|suis|vous|el|los|las|y|estoy|hasta)\b"
)
_MAX_AHEAD = dt.timedelta(days=731)


def fold(text: str) -> str:
    """Lower case without accents ("Décembre" → "decembre"): one pattern serves every spelling."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def back_on(subject: str, text: str, today: dt.date) -> dt.date | None:
    """The day the writer of an out-of-office is back, if the subject or text says."""
    body = _own_words(fold(text))
    english = len(_ENGLISH.findall(body)) >= len(_OTHER.findall(body))
    near = [d for d, close in _dates(fold(subject), today, english) if close]
    in_body = _dates(body, today, english)
    near += [d for d, close in in_body if close]
    if near:
        return max(near)
    weekday = _weekday(body, today)
    if weekday is not None:
        return weekday
    return max((d for d, _ in in_body), default=None)


def _own_words(text: str) -> str:
    """The auto-reply's own text: quoted lines dropped, cut where the original is quoted."""
    start = _QUOTE_START.search(text)
    own = text[: start.start()] if start else text
    return "\n".join(line for line in own.splitlines() if not line.lstrip().startswith(">"))


def _dates(text: str, today: dt.date, english: bool) -> list[tuple[dt.date, bool]]:
    """Every date in the text on or after today, each with whether a return word precedes it."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[dt.date, bool]] = []
    for n, form in enumerate(_FORMS):
        for match in form.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            window = _SHORT_WINDOW if n == _SHORT_FORM else _WINDOW
            close = bool(_NEAR_RETURN.search(text[max(0, start - window) : start]))
            if n == _SHORT_FORM and not close:
                continue
            day = _resolve(match.groupdict(), today, english)
            if day is not None:
                taken.append((start, end))
                found.append((day, close))
    return found


def _resolve(groups: dict[str, str | None], today: dt.date, english: bool) -> dt.date | None:
    """The calendar day a match names, or None when it is not one (or is in the past)."""
    if groups.get("mon"):
        month, day = _MONTHS[groups["mon"] or ""], int(groups["d"] or 0)
    elif groups.get("a"):
        a, b = int(groups["a"] or 0), int(groups["b"] or 0)
        day_first = groups["sep"] == "." or not english
        if (a > 12 and not day_first) or (b > 12 and day_first):
            day_first = not day_first
        day, month = (a, b) if day_first else (b, a)
    else:
        month, day = int(groups["m"] or 0), int(groups["d"] or 0)
    year = groups.get("y")
    if not year:
        return _next_on_or_after(today, month, day)
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    try:
        date = dt.date(full_year, month, day)
    except ValueError:
        return None
    return date if today <= date <= today + _MAX_AHEAD else None


def _next_on_or_after(today: dt.date, month: int, day: int) -> dt.date | None:
    """The next month/day on or after today (29 February waits for a leap year)."""
    for year in range(today.year, today.year + 5):
        try:
            date = dt.date(year, month, day)
        except ValueError:
            continue
        if date >= today:
            return date
    return None


def _weekday(text: str, today: dt.date) -> dt.date | None:
    """"Back on Monday": the next such weekday after today (a Monday's "Monday" is next week)."""
    match = _WEEKDAY_BACK.search(text)
    if match is None:
        return None
    ahead = (_WEEKDAYS[match["wd"]] - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=ahead)
