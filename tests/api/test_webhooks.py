"""Webhooks and ``auth.on`` (contract 9): events leave through the outbox, signed, at least once,
with the same id on every retry; on SQLite and PostgreSQL, to a real HTTP receiver."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.support.inprocess import Api, ApiFactory, bearer
from tests.support.webhooks import webhook_receiver
from tokensmith.core.audit import RequestContext
from tokensmith.webhooks import verify_signature

SECRET = "whsec-" + "k" * 32


async def _retry_until(api: Api, receiver: Any, count: int) -> list[Any]:
    """Move the injected clock past each backoff and wake the worker until ``count``
    deliveries arrived (the worker schedules retries on the injected clock)."""
    for _ in range(200):
        if len(receiver.received()) >= count:
            break
        api.clock.advance(timedelta(minutes=11))
        api.auth.services.worker.wake.set()
        await asyncio.sleep(0.05)
    return list(await receiver.arrived(count))


async def test_a_webhook_failing_three_times_is_delivered_with_the_same_id(
    make_api: ApiFactory,
) -> None:
    """The receiver answers 500 three times, then 200: four deliveries of one event, the same
    id each time, each signature valid."""
    with webhook_receiver([500, 500, 500]) as receiver:
        async with make_api(WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET) as api:
            await api.register()
            await api.auth.services.accounts.disable("ada@example.com", RequestContext())
            deliveries = await _retry_until(api, receiver, 4)
            await asyncio.sleep(0.3)  # nothing more comes after the 200
            await_count = len(receiver.received())
    disabled = [d for d in deliveries if d.event["type"] == "user.disabled"]
    assert [d.status for d in disabled] == [500, 500, 500, 200]
    assert len({d.event["id"] for d in disabled}) == 1
    assert await_count == len(deliveries)
    for delivery in disabled:
        assert delivery.signature is not None
        t = int(delivery.signature.split(",")[0].removeprefix("t="))
        assert verify_signature(SECRET, delivery.signature, delivery.body, now=t)
        assert not verify_signature("wrong", delivery.signature, delivery.body, now=t)
    event = disabled[0].event
    assert set(event) == {"id", "type", "createdAt", "data"}
    assert event["createdAt"].endswith("Z")


async def test_session_events_reach_the_webhook(make_api: ApiFactory) -> None:
    """A login is session.created; a logout session.revoked; a password change
    user.password_changed; a refresh token reused past the grace session.reuse_detected."""
    with webhook_receiver() as receiver:
        async with make_api(WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET) as api:
            tokens = await api.signed_up()
            other = await api.login()
            rotated = (await api.refresh(tokens["refreshToken"])).json()
            assert rotated["refreshToken"]
            api.clock.advance(timedelta(seconds=11))
            reused = await api.refresh(tokens["refreshToken"])
            assert reused.json()["code"] == "TOKEN_REUSE_DETECTED"
            changed = await api.client.post(
                "/auth/password",
                headers=bearer(other["accessToken"]),
                json={"currentPassword": "correct horse battery", "newPassword": "x" * 12},
            )
            assert changed.status_code == 204
            # created x2, reuse_detected and its session.revoked, password_changed (no other
            # session was left to end)
            deliveries = await receiver.arrived(5)
    types = [d.event["type"] for d in deliveries]
    assert types.count("session.created") == 2
    assert "session.reuse_detected" in types and "user.password_changed" in types
    reuse = next(d.event for d in deliveries if d.event["type"] == "session.reuse_detected")
    assert reuse["data"]["userId"] == tokens["user"]["id"]
    assert reuse["data"]["sessionId"] in reuse["data"]["endedSessions"]
    revoked = [d.event for d in deliveries if d.event["type"] == "session.revoked"]
    assert {r["data"]["reason"] for r in revoked} >= {"reuse_detected"}


async def test_auth_on_calls_the_handler_after_the_change_committed(
    make_api: ApiFactory,
) -> None:
    """auth.on("session.reuse_detected", handler): the handler gets the event (same shape as the
    webhook); a handler that raises is called again with the same id."""
    async with make_api() as api:
        seen: list[dict[str, Any]] = []
        fail_once = [True]

        async def handler(event: dict[str, Any]) -> None:
            seen.append(event)
            if fail_once.pop() if fail_once else False:
                raise RuntimeError("the app's handler failed once")

        api.auth.on("session.reuse_detected", handler)
        tokens = await api.signed_up()
        await api.refresh(tokens["refreshToken"])
        api.clock.advance(timedelta(seconds=11))
        await api.refresh(tokens["refreshToken"])
        for _ in range(200):
            if len(seen) >= 2:
                break
            api.clock.advance(timedelta(minutes=11))
            api.auth.services.worker.wake.set()
            await asyncio.sleep(0.05)
    assert len(seen) == 2 and seen[0]["id"] == seen[1]["id"]
    assert seen[0]["type"] == "session.reuse_detected"
    assert seen[0]["data"]["userId"] == tokens["user"]["id"]


async def test_auth_on_refuses_an_unknown_event(make_api: ApiFactory) -> None:
    """A typo in the event name is an error at once, not a handler never called."""
    async with make_api() as api:
        try:
            api.auth.on("session.reused", lambda event: None)
        except ValueError as exc:
            assert "session.reuse_detected" in str(exc)
        else:
            raise AssertionError("no error")


async def test_auth_on_works_as_a_decorator(make_api: ApiFactory) -> None:
    """@auth.on("session.created") registers the function and returns it unchanged."""
    async with make_api() as api:
        seen: list[str] = []

        @api.auth.on("session.created")
        def created(event: dict[str, Any]) -> None:
            seen.append(event["data"]["sessionId"])

        assert callable(created)
        tokens = await api.signed_up()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
    assert seen and seen[0]
    assert tokens["accessToken"]
