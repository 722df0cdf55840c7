"""Property: any LastName, quoted with ``soql.quote``, finds exactly its record in sfemu."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Sfemu
from tests.tether.salesforce.conftest import Connect
from tether.salesforce.soql import like_quote, quote

pytestmark = pytest.mark.anyio

TRICKY = st.sampled_from([*"\\'\"\n\r\t\b\f%_ *", "\\n", "\\'", "''", "\\u0041", "é", "😀"])
LAST_NAMES = st.lists(TRICKY | st.characters(exclude_categories=["Cs"]), min_size=1,
                      max_size=30).map("".join)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last_name=LAST_NAMES)
async def test_quoted_value_finds_exactly_its_record(connect: Connect, sfemu: Sfemu,
                                                     org: dict[str, str],
                                                     last_name: str) -> None:
    created = sfemu.admin("POST", f"/orgs/{org['name']}/records/Contact",
                          json={"LastName": last_name})
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    try:
        sf = await connect()
        found = [r["Id"] async for r in sf.query(
            f"SELECT Id FROM Contact WHERE LastName = {quote(last_name)}")]
        assert found == [record_id]
        like = [r["Id"] async for r in sf.query(
            f"SELECT Id FROM Contact WHERE LastName LIKE {like_quote(last_name)}")]
        assert like == [record_id]
    finally:
        sfemu.admin("DELETE", f"/orgs/{org['name']}/records/Contact/{record_id}")
