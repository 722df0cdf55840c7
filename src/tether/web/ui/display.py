"""How the dashboard shows dates and long ids: compact on the page, whole on hover, and whole
when copied.

- A datetime (ISO 8601, as every answer gives it) shows as ``28 Nov 10:00`` (the year too when
  it is not this one), in UTC, in a ``<time>`` whose title is the full moment.
- A long id (a Salesforce id, an activity key, an event id) shows its start and end around an
  ellipsis.  Its middle is still there, at no size (not clipped: clipped text is left out of a
  selection), so selecting it copies the whole id; a click selects all of it at once, and its
  title is the whole value.
"""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

SHORT = 12  # ids up to this long are shown whole
HEAD, TAIL = 5, 4


def when(value: str | None, seconds: bool = False, today: dt.date | None = None) -> Markup:
    if not value:
        return Markup('<span class="muted">—</span>')
    try:
        moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except ValueError:
        return escape(value)
    year = (today or dt.datetime.now(dt.UTC).date()).year
    shown = moment.strftime("%d %b" if moment.year == year else "%d %b %Y").lstrip("0")
    shown += moment.strftime(" %H:%M:%S" if seconds else " %H:%M")
    full = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time class="when" datetime="{}" title="{}">{}</time>').format(
        moment.isoformat().replace("+00:00", "Z"), full, shown)


def sid(value: str | None) -> Markup:
    if not value:
        return Markup('<span class="muted">—</span>')
    text = str(value)
    if len(text) <= SHORT:
        return Markup('<code class="id">{}</code>').format(text)
    return Markup('<code class="id" title="{}"><span>{}</span><span class="cut">{}</span>'
                  '<span>{}</span></code>').format(text, text[:HEAD], text[HEAD:-TAIL],
                                                   text[-TAIL:])
