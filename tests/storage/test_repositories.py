"""The SQL repositories behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokensmith.core.models import (
    AuditEvent,
    AuditKind,
    Revocation,
    RevokeReason,
    SessionRecord,
    User,
)
from tokensmith.errors import EmailTaken
from tokensmith.runtime import Services
from tokensmith.storage.sql.database import SqlDatabase

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _user(email: str = "ada@example.com", user_id: str = "u-1") -> User:
    return User(user_id, email, "Ada", NOW)


def _session(session_id: str, user_id: str = "u-1", **changes: object) -> SessionRecord:
    values: dict[str, object] = {
        "id": session_id,
        "user_id": user_id,
        "created_at": NOW,
        "last_used_at": NOW,
        "expires_at": NOW + timedelta(days=30),
        "refresh_expires_at": NOW + timedelta(days=7),
        "current_hash": "h0-" + session_id,
        "ip": "10.0.0.1",
        "user_agent": "pytest",
    }
    values.update(changes)
    return SessionRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def db(services: Services) -> SqlDatabase:
    return services.database


async def test_user_round_trip_keeps_fields_and_aware_times(db: SqlDatabase) -> None:
    """A stored user reads back identical, with timezone-aware UTC times."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
    async with db.transaction() as uow:
        by_email = await uow.users.by_email("ada@example.com")
        by_id = await uow.users.by_id("u-1")
    assert by_email is not None and by_id is not None
    assert by_email.user == _user() == by_id.user
    assert by_email.user.created_at.tzinfo is not None
    assert by_email.password_hash == "hash"


async def test_duplicate_email_raises_email_taken_and_keeps_the_transaction(
    db: SqlDatabase,
) -> None:
    """EMAIL_TAKEN is raised without poisoning the surrounding transaction (a savepoint)."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
    async with db.transaction(write=True) as uow:
        with pytest.raises(EmailTaken):
            await uow.users.add(_user(user_id="u-2"), "hash")
        await uow.users.add(_user("grace@example.com", "u-3"), "hash")
    async with db.transaction() as uow:
        assert [r.user.id for r in await uow.users.list()] == ["u-1", "u-3"]


async def test_disable_marks_once(db: SqlDatabase) -> None:
    """Disabling a user succeeds once; the second time reports nothing changed."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
        assert await uow.users.disable("u-1", NOW)
        assert not await uow.users.disable("u-1", NOW)
        await uow.users.set_password_hash("u-1", "new")
    async with db.transaction() as uow:
        record = await uow.users.by_id("u-1")
    assert record is not None and record.disabled_at == NOW and record.password_hash == "new"


async def test_session_rotation_keeps_previous_hash_and_counts_generations(
    db: SqlDatabase,
) -> None:
    """save_rotation makes the new hash current, keeps the old as previous, bumps generation."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
        await uow.sessions.add(_session("s-1"))
    later = NOW + timedelta(minutes=5)
    async with db.transaction(write=True) as uow:
        locked = await uow.sessions.lock("s-1")
        assert locked is not None and locked.generation == 0
        await uow.sessions.save_rotation(
            "s-1",
            new_hash="h1",
            rotated_at=later,
            refresh_expires_at=later + timedelta(days=7),
            ip="10.0.0.2",
            user_agent="ua2",
        )
    async with db.transaction() as uow:
        session = await uow.sessions.get("s-1")
        assert await uow.sessions.lock("missing") is None
    assert session is not None
    assert (session.current_hash, session.previous_hash) == ("h1", "h0-s-1")
    assert session.generation == 1 and session.rotated_at == later
    assert session.last_used_at == later and session.ip == "10.0.0.2"


async def test_revoke_changes_only_live_sessions(db: SqlDatabase) -> None:
    """revoke returns the sessions it ended; ending one twice reports nothing the second time."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
        for sid in ("s-1", "s-2", "s-3"):
            await uow.sessions.add(_session(sid))
        first = await uow.sessions.revoke(["s-1", "s-2"], at=NOW, reason=RevokeReason.LOGOUT)
        again = await uow.sessions.revoke(["s-1"], at=NOW, reason=RevokeReason.LOGOUT_ALL)
        active = await uow.sessions.revocable_ids_for_user("u-1", NOW)
        listed = await uow.sessions.list_active("u-1", NOW)
        count = await uow.sessions.count_active(NOW)
    assert sorted(first) == ["s-1", "s-2"] and again == []
    assert active == ["s-3"] and [s.id for s in listed] == ["s-3"] and count == 1
    async with db.transaction() as uow:
        s1 = await uow.sessions.get("s-1")
    assert s1 is not None and s1.revoked_reason is RevokeReason.LOGOUT


async def test_delete_expired_sessions_and_revocations(db: SqlDatabase) -> None:
    """Cleanup removes sessions past their refresh expiry and revocations past ``until``."""
    async with db.transaction(write=True) as uow:
        await uow.users.add(_user(), "hash")
        await uow.sessions.add(_session("old", refresh_expires_at=NOW - timedelta(days=2)))
        await uow.sessions.add(_session("new"))
        await uow.revocations.add(
            [
                Revocation("old", NOW - timedelta(minutes=1)),
                Revocation("gone", NOW - timedelta(minutes=1)),
                Revocation("new", NOW + timedelta(minutes=10)),
            ]
        )
    async with db.transaction(write=True) as uow:
        assert await uow.sessions.delete_expired(NOW - timedelta(days=1)) == 1
        assert await uow.revocations.delete_expired(NOW) == 2
        live, cursor = await uow.revocations.live(NOW)
    assert [r.session_id for r in live] == ["new"] and cursor >= 3


async def test_revocation_log_reads_incrementally(db: SqlDatabase) -> None:
    """``since`` and ``after`` return rows past a cursor, ``after`` also the named gaps."""
    until = NOW + timedelta(minutes=15)
    async with db.transaction(write=True) as uow:
        await uow.revocations.add([Revocation("a", until), Revocation("b", until)])
        live, cursor = await uow.revocations.live(NOW)
        await uow.revocations.add([Revocation("c", until)])
        new, new_cursor = await uow.revocations.since(cursor)
        again = await uow.revocations.after(new_cursor, [cursor])
    assert sorted(r.session_id for r in live) == ["a", "b"]
    assert [r.session_id for r in new] == ["c"] and new_cursor > cursor
    assert [(seq, r.session_id) for seq, r in again] == [(cursor, "b")]
    assert live[0].until == until


async def test_audit_query_filters_and_keeps_detail(db: SqlDatabase) -> None:
    """Audit events come back oldest first, filtered, with their JSON detail."""
    async with db.transaction(write=True) as uow:
        await uow.audit.add(AuditEvent(AuditKind.LOGIN, NOW, "u-1", "s-1"))
        await uow.audit.add(
            AuditEvent(AuditKind.REUSE_DETECTED, NOW, "u-1", "s-1", detail={"generation": 3})
        )
        await uow.audit.add(AuditEvent(AuditKind.LOGIN, NOW, "u-2", "s-2"))
    async with db.transaction() as uow:
        mine = await uow.audit.query(user_id="u-1")
        reuse = await uow.audit.query(kind=AuditKind.REUSE_DETECTED.value)
    assert [e.kind for e in mine] == [AuditKind.LOGIN, AuditKind.REUSE_DETECTED]
    assert reuse[0].detail == {"generation": 3}


async def test_an_error_rolls_the_whole_unit_of_work_back(db: SqlDatabase) -> None:
    """Nothing written in a unit of work that raised is visible afterwards."""
    with pytest.raises(RuntimeError):
        async with db.transaction(write=True) as uow:
            await uow.users.add(_user(), "hash")
            await uow.revocations.add([Revocation("s", NOW + timedelta(minutes=1))])
            raise RuntimeError("boom")
    async with db.transaction() as uow:
        assert await uow.users.by_id("u-1") is None
        assert (await uow.revocations.live(NOW))[0] == []
