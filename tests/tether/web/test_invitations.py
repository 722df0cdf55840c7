"""Adding a member is inviting them, on SQLite and PostgreSQL: an admin never sets or learns
anyone's password; the invitee sets their own through a single-use, expiring link (or signs in
to the account they have); nothing is granted before they accept; admins list and revoke
pending invitations."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.tether.web.conftest import World, db_of, make_world
from tests.tether.web.test_dashboard_auth import ADMIN, PASSWORD, REP, _csrf, sign_in
from tests.tether.web.test_dashboard_pages import post
from tether.security import hash_secret
from tether.services import accounts
from tether.services import workspaces as ws
from tether.services.errors import Gone
from tether.store.db import make_engine, session_factory
from tether.store.models import Invitation, Membership, User, WebSession, Workspace

NEWHIRE = "newhire@acme.example"


def _invite(world: World, headers: dict[str, str], email: str = NEWHIRE,
            **body: object) -> httpx.Response:
    return world.client.post("/api/v1/members", headers=headers, json={"email": email, **body})


def _path(invite_url: str) -> str:
    return urlsplit(invite_url).path


def _accept(client: TestClient, invite_url: str, password: str, name: str = "New Hire"
            ) -> httpx.Response:
    """What the invitee does: open the link, fill its form, send it."""
    page = client.get(_path(invite_url))
    assert page.status_code == 200, page.text
    return client.post(_path(invite_url), data={"csrf_token": _csrf(page.text), "name": name,
                                                "password": password}, follow_redirects=False)


def _memberships(world: World, email: str) -> set[str]:
    """The names of the workspaces this address belongs to."""
    with db_of(world) as db:
        return set(db.scalars(select(Workspace.name)
                              .join(Membership, Membership.workspace_id == Workspace.id)
                              .join(User, User.id == Membership.user_id)
                              .where(User.email == email)))


def _live_sessions(world: World, *tokens: str) -> list[bool]:
    with db_of(world) as db:
        stored = set(db.scalars(select(WebSession.token_hash)))
    return [hash_secret(t) in stored for t in tokens]


def _two_workspaces(world: World, tmp_path: Path) -> World:
    """Globex beside the world's Acme, on the same install (its admin: admin@globex.example)."""
    globex, _ = make_world(world.url, tmp_path / "globex", name="Globex")
    return globex


def test_an_admin_adding_a_member_sets_nobodys_password(world: World, tmp_path: Path) -> None:
    """Globex's admin and then Acme's add newhire@acme.example: neither may give a password,
    each gets an invitation link, and the invitee sets their own password through the first
    and must sign in with it to accept the second."""
    globex = _two_workspaces(world, tmp_path)
    c = world.client
    for admin in (globex.as_admin(), world.as_admin()):
        refused = _invite(world, admin, password="chosen-by-admin", name="Picked For You")
        assert refused.status_code == 422, refused.text  # no password, no name: theirs
    from_globex = _invite(world, globex.as_admin())
    from_acme = _invite(world, world.as_admin())
    assert from_globex.status_code == from_acme.status_code == 201, from_acme.text
    created = from_globex.json()
    assert set(created) == {"id", "email", "access", "invite_url", "expires_at"}
    assert created["email"] == NEWHIRE and created["access"] == "member"
    assert created["invite_url"] != from_acme.json()["invite_url"]

    # Unaccepted, the invitations grant nothing: no account, no membership, no sign-in.
    assert _memberships(world, NEWHIRE) == set()
    assert sign_in(TestClient(c.app), NEWHIRE, "chosen-by-admin").status_code == 401
    listed = c.get("/api/v1/members", headers=globex.as_admin()).json()
    assert NEWHIRE not in [m["email"] for m in listed]

    # The invitee opens Globex's link and chooses their own password.
    invitee = TestClient(c.app)
    page = invitee.get(_path(created["invite_url"]))
    assert "Join Globex on Tether" in page.text and "Choose your name and password" in page.text
    joined = _accept(invitee, created["invite_url"], "my-own-secret")
    assert joined.status_code == 303 and joined.headers["location"].startswith("/app/activity")
    assert "Globex" in invitee.get("/app/activity").text
    assert _memberships(world, NEWHIRE) == {"Globex"}

    # Acme's link, for an address that has an account now: its own password, or nothing.
    acme_link = from_acme.json()["invite_url"]
    page = TestClient(c.app).get(_path(acme_link))
    assert "That address has a Tether account" in page.text and 'name="name"' not in page.text
    wrong = _accept(TestClient(c.app), acme_link, "acme-admin-guess")
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    assert _memberships(world, NEWHIRE) == {"Globex"}
    assert _accept(TestClient(c.app), acme_link, "my-own-secret").status_code == 303
    assert _memberships(world, NEWHIRE) == {"Acme", "Globex"}
    with db_of(world) as db:
        user = db.scalars(select(User).where(User.email == NEWHIRE)).one()
    assert user.name == "New Hire"  # from the first acceptance, not changed by the second
    assert sign_in(TestClient(c.app), NEWHIRE, "my-own-secret").status_code == 303
    assert sign_in(TestClient(c.app), NEWHIRE, "chosen-by-admin").status_code == 401


def test_inviting_another_workspaces_admin_needs_their_consent(world: World,
                                                               tmp_path: Path) -> None:
    """Globex invites Acme's admin: until they accept, they are not in Globex, their sign-in
    is unchanged, and holding the link (as Globex's admin does) does not let anyone accept
    for them."""
    globex = _two_workspaces(world, tmp_path)
    invited = _invite(world, globex.as_admin(), ADMIN, access="admin")
    assert invited.status_code == 201, invited.text
    listed = world.client.get("/api/v1/members", headers=globex.as_admin()).json()
    assert [m["email"] for m in listed] == ["admin@globex.example", "rep@globex.example"]
    assert _memberships(world, ADMIN) == {"Acme"}
    link = invited.json()["invite_url"]
    assert _accept(TestClient(world.client.app), link, "globex-guess").status_code == 401
    assert _memberships(world, ADMIN) == {"Acme"}
    own = TestClient(world.client.app)
    r = sign_in(own, ADMIN)  # one workspace: no chooser
    assert r.status_code == 303 and r.headers["location"] == "/app/activity"
    assert "Switch workspace" not in own.get("/app/activity").text
    # They accept with their own password: an admin of Globex now.
    assert _accept(TestClient(world.client.app), link, PASSWORD).status_code == 303
    assert _memberships(world, ADMIN) == {"Acme", "Globex"}
    listed = world.client.get("/api/v1/members", headers=globex.as_admin()).json()
    assert {m["email"]: m["access"] for m in listed}[ADMIN] == "admin"


def test_an_invitation_works_once(world: World) -> None:
    link = _invite(world, world.as_admin()).json()["invite_url"]
    invitee = TestClient(world.client.app)
    invitee.get(_path(link))
    unforged = invitee.post(_path(link), data={"name": "X", "password": "my-own-secret"})
    assert unforged.status_code == 403 and "expired" in unforged.text  # no CSRF token
    short = invitee.post(_path(link), data={"csrf_token": _csrf(unforged.text), "name": "X",
                                            "password": "short"})
    assert short.status_code == 422 and "8 characters" in short.text
    assert _memberships(world, NEWHIRE) == set()  # a refused accept leaves it usable
    assert _accept(invitee, link, "my-own-secret").status_code == 303
    # Replayed, by anyone: the link is used.
    again = TestClient(world.client.app)
    assert again.get(_path(link)).status_code == 410
    replay = invitee.post(_path(link), data={"csrf_token": _csrf(short.text), "name": "X",
                                             "password": "my-own-secret"})
    assert replay.status_code == 410 and "already used" in replay.text
    assert _memberships(world, NEWHIRE) == {"Acme"}
    forged = world.client.get(_path(link) + "x")
    assert forged.status_code == 404 and "not valid" in forged.text


def test_guessing_an_accounts_password_through_an_invitation_is_slowed(world: World,
                                                                      tmp_path: Path) -> None:
    """The link's holder (Globex's admin, say) may try the existing account's password, as
    at sign-in: wrong passwords count, and past the limit even the right one waits (429)."""
    globex = _two_workspaces(world, tmp_path)
    link = _invite(world, globex.as_admin(), ADMIN).json()["invite_url"]
    guesser = TestClient(world.client.app)
    for attempt in range(5):
        r = _accept(guesser, link, f"guess-{attempt}-wrong")
        assert r.status_code == 401, r.text
    slowed = _accept(guesser, link, PASSWORD)
    assert slowed.status_code == 429 and "Too many wrong passwords" in slowed.text
    assert "retry-after" in slowed.headers
    assert _memberships(world, ADMIN) == {"Acme"}


def test_concurrent_accepts_make_one_membership(world: World) -> None:
    """Two accepts of one link at once (a double click, a replay): one wins, in the same
    transaction that creates the membership; the other is refused."""
    link = _invite(world, world.as_admin()).json()["invite_url"]
    token = _path(link).rsplit("/", 1)[1]
    engine = make_engine(world.url)
    sessions = session_factory(engine)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def accept() -> None:
        with sessions() as db:
            start.wait()
            try:
                accounts.accept_invitation(db, token, password="my-own-secret", name="N")
                db.commit()
                outcomes.append("joined")
            except Gone:
                outcomes.append("refused")

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert sorted(outcomes) == ["joined", "refused"]
    assert _memberships(world, NEWHIRE) == {"Acme"}


def test_an_invitation_expires(world: World) -> None:
    created = _invite(world, world.as_admin()).json()
    expires = dt.datetime.fromisoformat(created["expires_at"])
    week = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    assert abs((expires - week).total_seconds()) < 60  # 7 days by default
    invitee = TestClient(world.client.app)
    page = invitee.get(_path(created["invite_url"]))
    with db_of(world) as db:
        db.execute(update(Invitation).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.commit()
    late = invitee.post(_path(created["invite_url"]), data={
        "csrf_token": _csrf(page.text), "name": "Late", "password": "my-own-secret"})
    assert late.status_code == 410 and "expired" in late.text
    assert invitee.get(_path(created["invite_url"])).status_code == 410
    assert _memberships(world, NEWHIRE) == set()
    with db_of(world) as db:
        assert db.scalar(select(func.count()).select_from(User)
                         .where(User.email == NEWHIRE)) == 0
    assert world.client.get("/api/v1/invitations", headers=world.as_admin()).json() == []


def test_admins_list_and_revoke_invitations(world: World, tmp_path: Path) -> None:
    globex = _two_workspaces(world, tmp_path)
    c, admin = world.client, world.as_admin()
    first = _invite(world, admin).json()
    second = _invite(world, admin, access="admin").json()  # again: replaces the first
    assert TestClient(c.app).get(_path(first["invite_url"])).status_code == 410
    listed = c.get("/api/v1/invitations", headers=admin).json()
    assert [(i["id"], i["email"], i["access"]) for i in listed] == [
        (second["id"], NEWHIRE, "admin")]
    token = _path(second["invite_url"]).rsplit("/", 1)[1]
    assert token not in str(listed)  # shown once, at creation
    assert c.get("/api/v1/invitations", headers=world.as_member()).status_code == 403
    assert c.delete(f"/api/v1/invitations/{second['id']}",
                    headers=world.as_member()).status_code == 403
    # Another workspace neither sees nor revokes it.
    assert c.get("/api/v1/invitations", headers=globex.as_admin()).json() == []
    assert c.delete(f"/api/v1/invitations/{second['id']}",
                    headers=globex.as_admin()).status_code == 404
    assert TestClient(c.app).get(_path(second["invite_url"])).status_code == 200
    assert c.delete(f"/api/v1/invitations/{second['id']}", headers=admin).status_code == 204
    revoked = TestClient(c.app).get(_path(second["invite_url"]))
    assert revoked.status_code == 410 and "revoked" in revoked.text
    assert c.get("/api/v1/invitations", headers=admin).json() == []
    # Someone already a member is not invited again.
    dup = _invite(world, admin, REP)
    assert dup.status_code == 409 and dup.json()["field"] == "email"


def test_the_members_page_invites_shows_the_link_once_and_revokes(world: World) -> None:
    sign_in(world.client, ADMIN)
    status, _, page = post(world.client, "/app/members", {"email": NEWHIRE},
                           csrf_from="/app/members")
    assert status == 200 and "shown once" in page
    assert 'name="password"' not in page  # the admin has nowhere to type one
    link = page.split('id="invite-url">', 1)[1].split("<", 1)[0]
    assert "/invite/" in link
    listing = world.client.get("/app/members").text
    assert link not in listing and NEWHIRE in listing and "Pending invitations" in listing
    assert _memberships(world, NEWHIRE) == set()
    status, _, page = post(world.client, "/app/members", {"email": REP},
                           csrf_from="/app/members")
    assert status == 409 and "already a member" in page
    invitation_id = world.client.get("/api/v1/invitations",
                                     headers=world.as_admin()).json()[0]["id"]
    status, path, page = post(world.client, f"/app/invitations/{invitation_id}/revoke",
                              csrf_from="/app/members")
    assert path == "/app/members" and "Invitation revoked." in page
    assert TestClient(world.client.app).get(_path(link)).status_code == 410


def test_a_user_of_two_workspaces_chooses_and_switches(world: World, tmp_path: Path) -> None:
    """rep@acme.example, an admin of Globex too, chooses after signing in, sees only the
    chosen workspace's data, and switches from the header; the session follows.  (Added to
    Globex by the system, which joins an existing user as they are: password untouched.)"""
    globex = _two_workspaces(world, tmp_path)
    c = world.client
    for who, domain in ((world.as_admin(), "acme-only.example"),
                        (globex.as_admin(), "globex-only.example")):
        assert c.post("/api/v1/exclusions", headers=who,
                      json={"kind": "domain", "value": domain}).status_code == 201
    with db_of(world) as db:  # the system's own way in (test set-up), for an existing user:
        ws.add_member(db, globex.workspace_id, email=REP, password="not-their-password",
                      access="admin")
        db.commit()
    assert sign_in(TestClient(c.app), REP, "not-their-password").status_code == 401

    r = sign_in(c, REP, next_path="/app/settings")
    assert r.status_code == 303
    tokens = [c.cookies["tether_session"]]
    assert r.headers["location"] == "/app/workspaces?next=%2Fapp%2Fsettings"
    chooser = c.get(r.headers["location"]).text
    assert "Choose a workspace" in chooser and "Acme" in chooser and "Globex" in chooser
    with db_of(world) as db:
        mine = dict(db.execute(select(Workspace.name, Membership.id)
                               .join(Membership, Membership.workspace_id == Workspace.id)
                               .join(User, User.id == Membership.user_id)
                               .where(User.email == REP)).all())
    chosen = c.post(f"/app/workspaces/{mine['Globex']}",
                    data={"csrf_token": _csrf(chooser), "next": "/app/settings"},
                    follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/app/settings"
    tokens.append(c.cookies["tether_session"])
    page = c.get("/app/settings").text
    assert "globex-only.example" in page and "acme-only.example" not in page
    assert "Globex · rep@acme.example · Admin" in page and "Switch workspace" in page
    assert c.get("/app/members").status_code == 200  # an admin here

    # Switching needs the form's token, and a workspace the user really belongs to.
    assert c.post(f"/app/workspaces/{mine['Acme']}").status_code == 403
    not_mine = c.post(f"/app/workspaces/{globex.member_id}", data={"csrf_token": _csrf(page)})
    assert not_mine.status_code == 404
    switched = c.post(f"/app/workspaces/{mine['Acme']}",
                      data={"csrf_token": _csrf(page), "next": "/app/settings"})
    assert switched.status_code == 200 and switched.url.path == "/app/settings"
    assert "acme-only.example" in switched.text and "globex-only.example" not in switched.text
    assert "Acme · rep@acme.example · Member" in switched.text
    tokens.append(c.cookies["tether_session"])
    assert c.get("/app/members").status_code == 403  # a member here
    assert _live_sessions(world, *tokens) == [False, False, True]  # each switch ends one
