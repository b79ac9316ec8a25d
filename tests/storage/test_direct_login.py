"""The login's read and write on the driver (storage/sql/direct_login.py), on SQLite and
PostgreSQL: the same rows as the repositories write, the limit respected, and the repositories'
path whenever something more than the two rows is needed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import event

from tests.storage.conftest import make_services
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import AuditEvent, AuditKind, IssuedTokens
from tokensmith.core.sessions import RequestContext
from tokensmith.runtime import Services

CTX = RequestContext("10.0.0.1", "pytest")
PASSWORD = "correct horse battery"


async def _login(services: Services, email: str = "ada@example.com") -> IssuedTokens:
    return (await services.accounts.login(email, PASSWORD, CTX)).tokens


async def test_a_login_reads_and_writes_on_the_driver(services: Services) -> None:
    """No statement of a common login goes through SQLAlchemy's engine; the session and its
    audit row are those the repositories' path writes."""
    await services.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        tokens = await _login(services)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # (the revocation feed's polls run in the background meanwhile)
    login_tables = ("users", "sessions", "audit_log")
    assert [s for s in statements if any(t in s for t in login_tables)] == []

    async with services.database.transaction() as uow:
        session = await uow.sessions.get(tokens.session_id)
        events = await uow.audit.query(kind=AuditKind.LOGIN.value)
    assert session is not None
    assert tokens.user is not None and session.user_id == tokens.user.id
    assert (session.ip, session.user_agent, session.amr) == ("10.0.0.1", "pytest", ("pwd",))
    assert session.generation == 0 and session.persistent and session.revoked_at is None
    assert session.created_at.tzinfo is not None and session.auth_time == session.created_at
    assert [(e.session_id, e.ip, e.user_agent, e.detail) for e in events] == [
        (
            tokens.session_id,
            "10.0.0.1",
            "pytest",
            {"via": "password", "amr": ["pwd"], "remember": True},
        )
    ]
    # The tokens work: the refresh token rotates against the row the driver wrote.
    assert tokens.refresh_token is not None
    await services.sessions.refresh(tokens.refresh_token, CTX)


async def test_the_driver_reads_the_user_as_the_repository_does(services: Services) -> None:
    user = await services.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
    direct = await services.database.user_by_email("ada@example.com")
    async with services.database.transaction() as uow:
        through_repository = await uow.users.by_email("ada@example.com")
    assert direct == through_repository
    assert direct is not None and direct.user.id == user.id
    assert direct.user.created_at.tzinfo is not None
    assert await services.database.user_by_email("nobody@example.com") is None


async def test_at_the_session_limit_the_driver_writes_nothing(services: Services) -> None:
    """The one call declines at the limit (nothing written), so the caller can end the oldest
    session first through the repositories."""
    user = await services.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
    first = await _login(services)
    async with services.database.transaction() as uow:
        template = await uow.sessions.get(first.session_id)
    assert template is not None
    second = replace(template, id="s" * 32, current_hash="h" * 43)
    audit = AuditEvent(AuditKind.LOGIN, template.created_at, user.id, second.id, None, None, {})
    assert not await services.database.add_session(second, audit, max_live=1)
    async with services.database.transaction() as uow:
        assert await uow.sessions.get(second.id) is None
        assert len(await uow.audit.query(kind=AuditKind.LOGIN.value)) == 1
    assert await services.database.add_session(second, audit, max_live=2)
    async with services.database.transaction() as uow:
        assert await uow.sessions.get(second.id) is not None


async def test_past_the_limit_a_login_ends_the_least_recently_used_session(
    database_url: str, tmp_path: Any, clock: ManualClock
) -> None:
    services = make_services(database_url, tmp_path, clock, MAX_SESSIONS_PER_USER="2")
    await services.start()
    try:
        await services.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
        oldest = await _login(services)
        await _login(services)
        third = await _login(services)
        assert third.user is not None
        async with services.database.transaction() as uow:
            live = await uow.sessions.live_ids_least_recent_first(third.user.id, clock.now())
            evicted = await uow.audit.query(kind=AuditKind.SESSION_EVICTED.value)
        assert oldest.session_id not in live and third.session_id in live and len(live) == 2
        assert [e.detail["ended_sessions"] for e in evicted] == [[oldest.session_id]]
    finally:
        await services.stop()


async def test_a_listener_of_logins_gets_the_event_in_the_login_s_transaction(
    services: Services,
) -> None:
    """A handler for ``session.created`` turns the direct write off: the outbox row is
    written with the session (sent or not yet: the outbox worker runs meanwhile)."""
    handled: list[dict[str, Any]] = []
    assert not services.audit.listens_to(AuditKind.LOGIN)
    services.events.on("session.created", handled.append)
    assert services.audit.listens_to(AuditKind.LOGIN)
    await services.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
    tokens = await _login(services)
    async with services.database.transaction() as uow:
        written = await uow.outbox.list(pending_only=False, limit=10)
    assert [(e.type, e.payload["data"]["sessionId"]) for e in written] == [
        ("session.created", tokens.session_id)
    ]


async def test_a_login_under_new_argon2_parameters_rehashes_the_password(
    database_url: str, tmp_path: Any, clock: ManualClock
) -> None:
    """The stored hash is upgraded to the server's parameters at login, and the session opens
    on the direct path as usual."""
    from tokensmith.core.passwords import TESTING, Argon2Parameters
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    first = make_services(database_url, tmp_path, clock)
    await first.start()
    try:
        await first.accounts.register("ada@example.com", PASSWORD, "Ada", CTX)
        before = await first.database.user_by_email("ada@example.com")
    finally:
        await first.stop()
    stronger = Argon2Parameters(TESTING.time_cost + 1, TESTING.memory_cost_kib, 1)
    settings = load_settings(
        {"DATABASE_URL": database_url, "TOKENSMITH_DATA_DIR": str(tmp_path / "data")}
    )
    second = build_services(settings, clock=clock, argon2=stronger)
    await second.start()
    try:
        tokens = await _login(second)
        after = await second.database.user_by_email("ada@example.com")
        assert before is not None and after is not None
        assert after.password_hash != before.password_hash and "t=2" in after.password_hash
        assert tokens.refresh_token is not None
        assert (await _login(second)).refresh_token  # the new hash verifies
    finally:
        await second.stop()
