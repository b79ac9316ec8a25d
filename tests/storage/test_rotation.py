"""Rotation, reuse detection and cleanup through the SessionService, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.storage.conftest import make_services
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import (
    AuditEvent,
    AuditKind,
    CurrentRotation,
    IssuedTokens,
    RevokeReason,
)
from tokensmith.core.sessions import RequestContext
from tokensmith.errors import TokenReuseDetected, TokenRevoked, TokensmithError
from tokensmith.runtime import Services

CTX = RequestContext("10.0.0.1", "pytest")


async def _login(services: Services, email: str = "ada@example.com") -> IssuedTokens:
    await services.accounts.register(email, "correct horse battery", "Ada", CTX)
    result = await services.accounts.login(email, "correct horse battery", CTX)
    return result.tokens


def _rt(tokens: IssuedTokens) -> str:
    """The refresh token of a login or a refresh (always there: only a reauthentication without
    one leaves it out)."""
    assert tokens.refresh_token is not None
    return tokens.refresh_token


async def _refresh_all(services: Services, token: str, n: int) -> list[Any]:
    return await asyncio.gather(
        *(services.sessions.refresh(token, CTX) for _ in range(n)),
        return_exceptions=True,
    )


async def test_fifty_concurrent_refreshes_yield_at_most_one_successor(
    services: Services,
) -> None:
    """Of 50 concurrent refreshes of one token, every success carries the same successor."""
    tokens = await _login(services)
    results = await _refresh_all(services, _rt(tokens), 50)
    successes = [r for r in results if isinstance(r, IssuedTokens)]
    failures = [r for r in results if not isinstance(r, IssuedTokens)]
    assert failures == []  # within the reuse grace every racer gets the same successor
    assert len({r.refresh_token for r in successes}) == 1
    async with services.database.transaction() as uow:
        session = await uow.sessions.get(tokens.session_id)
    assert session is not None and session.generation == 1


async def test_without_grace_concurrent_refreshes_never_make_two_successors(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """With the grace off, racers still never get two different successors, and the session
    rotated exactly once."""
    services = make_services(database_url, tmp_path, clock, REFRESH_REUSE_GRACE="0")
    await services.start()
    try:
        tokens = await _login(services)
        results = await _refresh_all(services, _rt(tokens), 50)
        successes = [r for r in results if isinstance(r, IssuedTokens)]
        others = [r for r in results if not isinstance(r, IssuedTokens)]
        assert len({r.refresh_token for r in successes}) == 1
        assert all(isinstance(r, TokenReuseDetected) for r in others)
        async with services.database.transaction() as uow:
            session = await uow.sessions.get(tokens.session_id)
        assert session is not None and session.generation == 1
    finally:
        await services.stop()


async def test_reuse_after_grace_revokes_the_session_everywhere(
    services: Services, clock: ManualClock
) -> None:
    """A rotated token presented past the grace ends the session: the log, the set, the audit."""
    tokens = await _login(services)
    newer = await services.sessions.refresh(_rt(tokens), CTX)
    clock.advance(timedelta(seconds=11))
    with pytest.raises(TokenReuseDetected):
        await services.sessions.refresh(_rt(tokens), CTX)
    with pytest.raises(TokenRevoked):
        services.sessions.authenticate(newer.access_token)
    async with services.database.transaction() as uow:
        session = await uow.sessions.get(tokens.session_id)
        live, _ = await uow.revocations.live(clock.now())
        events = await uow.audit.query(kind=AuditKind.REUSE_DETECTED.value)
    assert session is not None and session.revoked_reason is RevokeReason.REUSE_DETECTED
    assert [r.session_id for r in live] == [tokens.session_id]
    assert len(events) == 1


async def test_rolled_back_reuse_leaves_no_revocation_behind(
    services: Services, clock: ManualClock
) -> None:
    """When the reuse transaction fails (here: in an audit listener, after the revocation was
    written), its revocation and session end are rolled back with it, and nothing reaches the
    in-process set: reuse accounting never outlives a rollback."""
    tokens = await _login(services)
    await services.sessions.refresh(_rt(tokens), CTX)
    clock.advance(timedelta(seconds=11))

    async def failing(uow: Any, event: AuditEvent) -> None:
        if event.kind is AuditKind.REUSE_DETECTED:
            raise RuntimeError("audit write failed")

    services.audit.add_listener(failing)
    with pytest.raises(RuntimeError, match="audit write failed"):
        await services.sessions.refresh(_rt(tokens), CTX)
    async with services.database.transaction() as uow:
        session = await uow.sessions.get(tokens.session_id)
        live, _ = await uow.revocations.live(clock.now())
    assert session is not None and session.revoked_at is None
    assert live == []
    assert not services.revoker.is_revoked(tokens.session_id)


async def test_logout_is_recorded_and_survives_a_reload(
    services: Services, tmp_path: Path, clock: ManualClock, database_url: str
) -> None:
    """A logout is in the database: a freshly started process refuses the token too."""
    tokens = await _login(services)
    await services.sessions.logout(None, services.codec.verify_refresh(_rt(tokens)), CTX)
    other = make_services(database_url, tmp_path, clock)
    await other.start()
    try:
        with pytest.raises(TokenRevoked):
            other.sessions.authenticate(tokens.access_token)
    finally:
        await other.stop()


async def test_cleanup_deletes_what_can_no_longer_matter(
    services: Services, clock: ManualClock
) -> None:
    """Past the refresh lifetime (plus a day) sessions go; past their horizon revocations go."""
    kept = await _login(services, "kept@example.com")
    ended = await _login(services, "ended@example.com")
    await services.sessions.logout(None, services.codec.verify_refresh(_rt(ended)), CTX)
    clock.advance(timedelta(days=3))
    refreshed = await services.sessions.refresh(_rt(kept), CTX)
    clock.advance(timedelta(days=6))
    sessions, revocations = await services.sessions.cleanup()
    assert (sessions, revocations) == (1, 0)  # the newest revocation row keeps the cursor
    async with services.database.transaction() as uow:
        assert await uow.sessions.get(ended.session_id) is None
        assert await uow.sessions.get(refreshed.session_id) is not None


async def test_errors_from_the_core_pass_through_the_unit_of_work(services: Services) -> None:
    """A domain error raised inside a transaction is not mistaken for an outage."""
    with pytest.raises(TokensmithError) as caught:
        async with services.database.transaction(write=True):
            raise TokenRevoked()
    assert type(caught.value) is TokenRevoked


async def test_a_rotation_goes_to_the_driver_with_its_audit_row(services: Services) -> None:
    """The common refresh bypasses SQLAlchemy's execution path (storage/sql/direct.py): no
    statement passes through the engine. On PostgreSQL it is one statement (a data-modifying
    CTE), on SQLite one transaction of two; either way the audit row is the one the trail would
    write, with the new generation."""
    tokens = await _login(services)
    statements: list[str] = []
    engine = services.database.engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    from sqlalchemy import event

    traced: list[str] = []
    rotation = services.database._rotation
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = await services.sessions.refresh(_rt(tokens), CTX)
        if services.database.is_sqlite:
            assert rotation._sqlite is not None and rotation._sqlite._connection is not None
            rotation._sqlite._connection.set_trace_callback(traced.append)
        await services.sessions.refresh(_rt(first), CTX)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "WITH", "INSERT"))]
    assert writes == []
    if services.database.is_sqlite:
        kinds = [" ".join(s.split()[:2]).upper() for s in traced]
        assert kinds == ["BEGIN IMMEDIATE", "UPDATE SESSIONS", "INSERT INTO", "COMMIT"]
    else:
        assert rotation._rotate.sql.lstrip().upper().startswith("WITH")
        assert rotation._audit is None
    async with services.database.transaction() as uow:
        events = await uow.audit.query(kind=AuditKind.REFRESH.value)
    rows = sorted((e.detail["generation"], e.session_id, e.ip, e.user_agent) for e in events)
    assert rows == [
        (1, tokens.session_id, "10.0.0.1", "pytest"),
        (2, tokens.session_id, "10.0.0.1", "pytest"),
    ]
    assert all(e.detail == {"generation": e.detail["generation"]} for e in events)


async def test_the_direct_rotation_returns_the_row_as_the_repository_reads_it(
    services: Services, clock: ManualClock
) -> None:
    """Every column the driver returns is converted as SQLAlchemy's types convert it (dates
    time-zone aware, amr, claims, persistent), so the session the core gets is the one a read
    through the repository gives."""
    tokens = await _login(services)
    clock.advance(timedelta(seconds=7))
    now = clock.now()
    async with services.database.transaction() as uow:
        before = await uow.sessions.get(tokens.session_id)
    assert before is not None
    audit = AuditEvent(AuditKind.REFRESH, now, before.user_id, before.id, "10.0.0.9", "ua")
    rotation = CurrentRotation(
        before.id,
        user_id=before.user_id,
        presented_hash=before.current_hash,
        new_hash="n" * 43,
        rotated_at=now,
        refresh_expires_cap=now + timedelta(days=1),
        ip="10.0.0.9",
        user_agent="ua",
    )
    rotated = await services.database.rotate_if_current(rotation, audit)
    async with services.database.transaction() as uow:
        after = await uow.sessions.get(tokens.session_id)
    assert rotated is not None and rotated == after
    assert rotated.previous_hash == before.current_hash and rotated.current_hash == "n" * 43
    assert rotated.generation == before.generation + 1 and rotated.rotated_at == now
    assert rotated.expires_at.tzinfo is not None and rotated.auth_time == before.auth_time
    # The same presented hash is no longer current.
    again = await services.database.rotate_if_current(replace(rotation, new_hash="m" * 43), audit)
    assert again is None
    async with services.database.transaction() as uow:
        events = await uow.audit.query(kind=AuditKind.REFRESH.value)
    assert [e.detail for e in events] == [{"generation": 1}]


async def test_a_listener_of_refreshes_is_told_in_the_rotation_s_transaction(
    services: Services,
) -> None:
    """An audit listener that wants refreshes turns the direct path off: the rotation runs
    through the repositories and the listener gets the event with its unit of work."""
    seen: list[tuple[AuditKind, dict[str, Any]]] = []

    async def listener(uow: Any, event: AuditEvent) -> None:
        seen.append((event.kind, event.detail))

    services.audit.add_listener(listener)
    assert services.audit.listens_to(AuditKind.REFRESH)
    tokens = await _login(services)
    await services.sessions.refresh(_rt(tokens), CTX)
    assert (AuditKind.REFRESH, {"generation": 1}) in seen


async def test_a_connection_the_server_closed_is_replaced_at_checkout(services: Services) -> None:
    """No pool_pre_ping: a pooled connection whose backend PostgreSQL terminated (as a restart
    does) is replaced when it is checked out, so the next rotation and login succeed at once."""
    if services.database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no server to close connections")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    tokens = await _login(services)
    engine = services.database.engine
    assert engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    # Terminate every backend of the pool from outside it, as a server restart would.
    outside = create_async_engine(engine.url, poolclass=NullPool)
    try:
        async with outside.connect() as admin:
            ended = await admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert len(ended.all()) >= 1
    finally:
        await outside.dispose()
    await asyncio.sleep(0.3)  # the event loop sees the sockets close
    rotated = await services.sessions.refresh(_rt(tokens), CTX)
    assert rotated.refresh_token
    # The login's read and write share the rotation's asyncpg pool (direct_login.py).
    again = await services.accounts.login("ada@example.com", "correct horse battery", CTX)
    assert again.tokens.refresh_token
