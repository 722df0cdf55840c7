"""How the dashboard shows dates and long ids (web/ui/display.py)."""

from __future__ import annotations

import datetime as dt

from tether.web.ui.display import sid, when

TODAY = dt.date(2026, 12, 2)


def test_a_date_is_compact_in_utc_and_whole_on_hover() -> None:
    shown = when("2026-11-28T11:00:05.123+01:00", today=TODAY)
    assert shown == ('<time class="when" datetime="2026-11-28T10:00:05.123000Z" '
                     'title="2026-11-28 10:00:05 UTC">28 Nov 10:00</time>')
    assert ">28 Nov 10:00:05<" in when("2026-11-28T10:00:05Z", seconds=True, today=TODAY)
    assert ">3 Jan 2025 09:30<" in when("2025-01-03T09:30:00Z", today=TODAY)  # another year
    assert "—" in when(None) and when("not a date") == "not a date"


def test_a_long_id_is_shortened_around_its_whole_value() -> None:
    shown = sid("00T5g000000000AEAQ")
    assert shown == ('<code class="id" title="00T5g000000000AEAQ"><span>00T5g</span>'
                     '<span class="cut">000000000</span><span>AEAQ</span></code>')
    assert sid("a-1") == '<code class="id">a-1</code>'  # short: whole, nothing to hover
    hostile = sid('<x>"&' * 3)  # escaped, in the title too
    assert "<x>" not in hostile and 'title="&lt;x&gt;&#34;&amp;&lt;x&gt;' in hostile
    assert "—" in sid(None)
