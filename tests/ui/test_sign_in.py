"""Sign-in, sign-up and sessions over HTTP, on SQLite and PostgreSQL: failed sign-ins are
limited and audited, restricted keys cannot open the dashboard, signing out revokes the
session's key, sign-up follows `accounts.signup`, and the API still takes only API keys."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import passwords
from gatewayz.accounts.enrolment import enrol
from gatewayz.store.tables import api_keys, audit_logs, users, web_sessions
from tests.conftest import add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.ui.forms import FormClient

PASSWORD = "correct horse battery"


@asynccontextmanager
async def dashboard(
    database_url: str, upstream: FakeOpenAIUpstream, **accounts: Any
) -> AsyncIterator[tuple[FormClient, Any]]:
    settings = gateway_settings(database_url, upstream, accounts=accounts)
    async with serve(settings) as (base_url, state):
        client = FormClient(base_url)
        try:
            yield client, state
        finally:
            await client.close()


async def with_password(engine: AsyncEngine, email: str, role: str = "user") -> int:
    hashed = await passwords.hash_password(PASSWORD)
    async with engine.begin() as conn:
        user_id = await enrol(conn, email, role, 0, trial_offered=True)
        await passwords.store(conn, user_id, hashed)
    return user_id


async def audited(engine: AsyncEngine, event: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(audit_logs).where(audit_logs.c.event == event)))


async def test_failed_sign_ins_are_limited_per_email_and_audited(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    await with_password(engine, "target@example.com")
    async with dashboard(database_url, upstream, signin_failures_per_email=3) as (client, _):
        for _ in range(3):
            assert (await client.sign_in("target@example.com", "guess")).status_code == 401
        refused = await client.sign_in("target@example.com", PASSWORD)
        assert refused.status_code == 429
        assert "Too many failed sign-ins" in refused.text
        assert "gatewayz_session" not in refused.headers.get("set-cookie", "")
        other = await client.sign_in("other@example.com", "guess")  # another email: counted
        assert other.status_code == 401
    rows = await audited(engine, "auth.signin_failed")
    assert len(rows) == 4  # the refused attempt is not audited again
    assert {row.source_ip for row in rows} == {"127.0.0.1"}


async def test_failed_sign_ins_are_limited_per_address(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with dashboard(database_url, upstream, signin_failures_per_address=2) as (client, _):
        for guess in ("gw_live_wrong1", "gw_live_wrong2"):
            answer = await client.submit("/ui/signin", "/ui/signin/key", api_key=guess)
            assert answer.status_code == 401
        blocked = await client.submit("/ui/signin", "/ui/signin/key", api_key="gw_live_wrong3")
        assert blocked.status_code == 429


async def test_an_api_key_signs_in_only_without_restrictions_and_sign_out_revokes_the_session_key(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    user_id, key = await add_funded_user(engine, "keyed@example.com", "1")
    async with dashboard(database_url, upstream) as (client, state):
        restricted = await client.http.post(
            "/user/api-keys",
            json={"name": "chat only", "scopes": ["chat"]},
            headers={"authorization": f"Bearer {key}"},
        )
        narrow = restricted.json()["key"]
        refused = await client.submit("/ui/signin", "/ui/signin/key", api_key=narrow)
        assert refused.status_code == 403
        assert "restrictions" in refused.text

        signed_in = await client.submit("/ui/signin", "/ui/signin/key", api_key=key)
        assert signed_in.status_code == 303
        assert (await client.http.get("/ui/keys")).status_code == 200
        # The session cookie is no credential for the API: its auth is unchanged.
        assert (await client.http.get("/user/balance")).status_code == 401
        token = await client.token("/ui/")
        out = await client.http.post("/ui/signout", data={"csrf_token": token})
        assert out.status_code == 303
        after = await client.http.get("/ui/keys")
        assert after.status_code == 303 and after.headers["location"].startswith("/ui/signin")
        await settle_now(state)
    async with engine.connect() as conn:
        session = (await conn.execute(select(web_sessions))).one()
        key_row = (
            await conn.execute(select(api_keys).where(api_keys.c.id == session.key_id))
        ).one()
    assert session.user_id == user_id and session.ended_at is not None
    assert key_row.name == "dashboard session" and key_row.revoked_at is not None


async def test_sign_up_closed_by_default(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with dashboard(database_url, upstream) as (client, _):
        page = await client.http.get("/ui/signup")
        assert "Sign-up is closed" in page.text
        answer = await client.submit(  # a post made anyway
            "/ui/signin", "/ui/signup", email="walk-in@example.com", password=PASSWORD
        )
        assert answer.status_code == 403
    async with engine.connect() as conn:
        assert (
            await conn.scalar(select(users.c.id).where(users.c.email == "walk-in@example.com"))
            is None
        )


async def test_invite_sign_up_needs_an_invitation_used_once_for_its_email(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    await with_password(engine, "ops@example.com", role="admin")
    async with dashboard(database_url, upstream, signup="invite") as (client, _):
        assert (await client.sign_in("ops@example.com", PASSWORD)).status_code == 303
        made = await client.submit(
            "/ui/admin/users", "/ui/admin/invites", email="guest@example.com"
        )
        assert made.status_code == 200
        link = made.text.split('data-testid="invite-link">')[1].split("<")[0]
        invite = link.split("invite=")[1]
        guest = FormClient(str(client.http.base_url))
        try:
            without = await guest.submit(
                "/ui/signin", "/ui/signup", email="guest@example.com", password=PASSWORD
            )
            assert without.status_code == 403
            wrong_email = await guest.submit(
                link,
                "/ui/signup",
                email="else@example.com",
                password=PASSWORD,
                invite=invite,
            )
            assert wrong_email.status_code == 400
            assert "another email" in wrong_email.text
            joined = await guest.submit(
                link,
                "/ui/signup",
                email="guest@example.com",
                password=PASSWORD,
                invite=invite,
            )
            assert joined.status_code == 303
            again = FormClient(str(client.http.base_url))
            reused = await again.submit(
                link,
                "/ui/signup",
                email="guest@example.com",
                password=PASSWORD,
                invite=invite,
            )
            await again.close()
            assert reused.status_code == 400
        finally:
            await guest.close()
    assert len(await audited(engine, "user.signed_up")) == 1


async def test_the_root_links_the_dashboard(
    database_url: str, upstream: FakeOpenAIUpstream
) -> None:
    async with dashboard(database_url, upstream) as (client, _):
        root = await client.http.get("/")
        assert root.json()["dashboard"] == "/ui/"
        page = await client.http.get("/ui/signin")
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
