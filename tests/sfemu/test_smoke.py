from tests.conftest import Sfemu


def test_health_and_versions(sfemu: Sfemu) -> None:
    with sfemu.client() as c:
        assert c.get("/__sfemu__/health").status_code == 200
        versions = c.get("/services/data/").json()
        assert {"label", "url", "version"} <= set(versions[0])
        assert "59.0" in [v["version"] for v in versions]
        assert "sforce-limit-info" not in c.get("/services/data/").headers
