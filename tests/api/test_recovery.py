"""Password reset and email verification (contract 9), in process, with mail sent over real SMTP
to an aiosmtpd server on a loopback port; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.inprocess import PASSWORD, Api, ApiFactory, bearer
from tests.support.smtp import SmtpServer, link_token, smtp_server
from tokensmith.core.audit import RequestContext
from tokensmith.storage.sql.tables import audit_log, one_time_tokens, outbox

PUBLIC = "https://auth.example.com"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def recovery_api(make_api: ApiFactory, smtp: SmtpServer) -> Any:
    @asynccontextmanager
    async def factory(**env: str) -> AsyncIterator[Api]:
        async with make_api(SMTP_URL=smtp.url, PUBLIC_URL=PUBLIC, **env) as api:
            yield api

    return factory


async def forgot(api: Api, email: str, **headers: str) -> Any:
    return await api.client.post("/auth/password/forgot", json={"email": email}, headers=headers)


async def reset(api: Api, token: str, password: str = NEW_PASSWORD) -> Any:
    return await api.client.post(
        "/auth/password/reset", json={"token": token, "newPassword": password}
    )


async def test_a_mailed_reset_link_sets_the_password_and_ends_every_session(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """Forgot: a mail to the user with a link on PUBLIC_URL; its token sets a new password
    (204), every session of the user ends, the old password stops working, the new one works."""
    async with recovery_api() as api:
        tokens = await api.signed_up()
        answer = await forgot(api, "ADA@example.com")
        assert answer.status_code == 202 and "message" in answer.json()
        [mail] = await smtp.arrived(1)
        assert mail.recipients == ["ada@example.com"]
        assert mail.subject == "Reset your password"
        assert mail.link.startswith(f"{PUBLIC}/#/reset-password?token=")

        assert (await reset(api, link_token(mail.link))).status_code == 204
        refreshed = await api.refresh(tokens["refreshToken"])
        assert refreshed.status_code == 401 and refreshed.json()["code"] == "SESSION_REVOKED"
        assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_REVOKED"
        old = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert old.status_code == 401
        await api.login(password=NEW_PASSWORD)


async def test_a_reset_token_works_once(recovery_api: Any, smtp: SmtpServer) -> None:
    """The same link twice: the second is 400 INVALID_RESET_TOKEN, and so is a made-up token."""
    async with recovery_api() as api:
        await api.register()
        await forgot(api, "ada@example.com")
        [mail] = await smtp.arrived(1)
        assert (await reset(api, link_token(mail.link))).status_code == 204
        again = await reset(api, link_token(mail.link), "yet another passphrase")
        assert again.status_code == 400 and again.json()["code"] == "INVALID_RESET_TOKEN"
        unknown = await reset(api, "x" * 43)
        assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_RESET_TOKEN"
        await api.login(password=NEW_PASSWORD)


async def test_an_expired_reset_token_is_refused(recovery_api: Any, smtp: SmtpServer) -> None:
    """Past PASSWORD_RESET_EXPIRES_IN the link is 400 INVALID_RESET_TOKEN; the password stays."""
    async with recovery_api(PASSWORD_RESET_EXPIRES_IN="10m") as api:
        await api.register()
        await forgot(api, "ada@example.com")
        [mail] = await smtp.arrived(1)
        api.clock.advance(timedelta(minutes=10, seconds=1))
        answer = await reset(api, link_token(mail.link))
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_RESET_TOKEN"
        await api.login()


async def test_a_reset_token_of_a_disabled_user_is_refused(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """A user disabled after the mail left cannot reset with it."""
    async with recovery_api() as api:
        await api.register()
        await forgot(api, "ada@example.com")
        [mail] = await smtp.arrived(1)
        await api.auth.services.accounts.disable("ada@example.com", RequestContext())
        answer = await reset(api, link_token(mail.link))
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_RESET_TOKEN"


async def test_forgot_answers_the_same_for_an_unknown_email_and_mails_nothing(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """Known and unknown emails get the same status and body; only the known one gets mail."""
    async with recovery_api() as api:
        await api.register()
        unknown = await forgot(api, "nobody@example.com")
        known = await forgot(api, "ada@example.com")
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        await smtp.arrived(1)
        assert [m.recipients for m in smtp.mails] == [["ada@example.com"]]


async def test_forgot_does_the_same_work_for_a_known_and_an_unknown_email(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """While the request waits, a known and an unknown email write the same rows (one outbox
    row, one audit row); the token exists only once the worker handled the known one."""
    async with recovery_api() as api:
        await api.register()
        worker = api.auth.services.worker
        assert worker is not None

        async def rows() -> tuple[int, int, int]:
            async with api.auth.services.database.connection() as conn:
                counted = [
                    len((await conn.execute(select(table))).all())
                    for table in (outbox, audit_log, one_time_tokens)
                ]
            return counted[0], counted[1], counted[2]

        before = await rows()
        await forgot(api, "nobody@example.com")
        after_unknown = await rows()
        await forgot(api, "ada@example.com")
        after_known = await rows()
        assert after_unknown[:2] == (before[0] + 1, before[1] + 1)
        assert after_known[:2] == (after_unknown[0] + 1, after_unknown[1] + 1)
        await smtp.arrived(1)
        assert (await rows())[2] == 1  # the known email's token, made by the worker
        assert [m.recipients for m in smtp.mails] == [["ada@example.com"]]


async def test_the_link_never_takes_its_host_from_the_request(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """Host-header poisoning: a forged Host or X-Forwarded-Host changes nothing in the link."""
    async with recovery_api() as api:
        await api.register()
        await forgot(api, "ada@example.com", host="evil.example", **{"x-forwarded-host": "evil"})
        [mail] = await smtp.arrived(1)
        assert mail.link.startswith(f"{PUBLIC}/#/") and "evil" not in mail.text


async def test_tokens_are_stored_only_as_hashes(recovery_api: Any, smtp: SmtpServer) -> None:
    """Neither the token table nor the outbox holds the mailed token."""
    async with recovery_api() as api:
        await api.register()
        await forgot(api, "ada@example.com")
        [mail] = await smtp.arrived(1)
        token = link_token(mail.link)
        async with api.auth.services.database.connection() as conn:
            stored = [str(v) for r in (await conn.execute(select(one_time_tokens))) for v in r]
            stored += [str(v) for r in (await conn.execute(select(outbox))) for v in r]
        assert stored and not any(token in value for value in stored)


async def test_a_verification_link_verifies_the_email(recovery_api: Any, smtp: SmtpServer) -> None:
    """emailVerified starts false; the mailed link makes it true (200 User), in /auth/me too."""
    async with recovery_api() as api:
        tokens = await api.signed_up()
        assert tokens["user"]["emailVerified"] is False
        asked = await api.client.post(
            "/auth/email/verify/request", headers=bearer(tokens["accessToken"])
        )
        assert asked.status_code == 202
        [mail] = await smtp.arrived(1)
        assert mail.subject == "Verify your email address"
        assert mail.link.startswith(f"{PUBLIC}/#/verify-email?token=")
        verified = await api.client.post(
            "/auth/email/verify", json={"token": link_token(mail.link)}
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["emailVerified"] is True
        assert (await api.me(tokens["accessToken"])).json()["emailVerified"] is True
        again = await api.client.post("/auth/email/verify", json={"token": link_token(mail.link)})
        assert again.status_code == 400 and again.json()["code"] == "INVALID_RESET_TOKEN"


async def test_verification_request_needs_a_token(recovery_api: Any) -> None:
    """Without a Bearer token the request is 401 NO_TOKEN."""
    async with recovery_api() as api:
        answer = await api.client.post("/auth/email/verify/request")
        assert answer.status_code == 401 and answer.json()["code"] == "NO_TOKEN"


async def test_required_verification_blocks_login_until_the_mailed_link_is_followed(
    recovery_api: Any, smtp: SmtpServer
) -> None:
    """REQUIRE_VERIFIED_EMAIL=true: registering mails a link; login is 403 EMAIL_NOT_VERIFIED
    until it is followed, then 200. A wrong password is still 401."""
    async with recovery_api(REQUIRE_VERIFIED_EMAIL="true") as api:
        await api.register()
        refused = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 403 and refused.json()["code"] == "EMAIL_NOT_VERIFIED"
        wrong = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": "not the password"}
        )
        assert wrong.status_code == 401
        [mail] = await smtp.arrived(1)
        verified = await api.client.post(
            "/auth/email/verify", json={"token": link_token(mail.link)}
        )
        assert verified.status_code == 200
        assert (await api.login())["user"]["emailVerified"] is True


async def test_a_reset_also_verifies_the_email(recovery_api: Any, smtp: SmtpServer) -> None:
    """Following a mailed reset link proves the mailbox: emailVerified becomes true."""
    async with recovery_api(REQUIRE_VERIFIED_EMAIL="true") as api:
        await api.register()
        await smtp.arrived(1)  # the verification mail, not followed
        await forgot(api, "ada@example.com")
        mails = await smtp.arrived(2)
        assert (await reset(api, link_token(mails[1].link))).status_code == 204
        assert (await api.login(password=NEW_PASSWORD))["user"]["emailVerified"] is True


async def test_recovery_is_rate_limited_per_email_and_per_ip(recovery_api: Any) -> None:
    """RATE_LIMIT_RECOVERY counts per email (forgot) and per IP (every route): 429 past it."""
    async with recovery_api(RATE_LIMIT_RECOVERY="2/minute") as api:
        for _ in range(2):
            assert (await forgot(api, "ada@example.com")).status_code == 202
        limited = await forgot(api, "ada@example.com")
        assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
        assert limited.headers["retry-after"]
        by_ip = await reset(api, "x" * 43)
        assert by_ip.status_code == 429


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/password/forgot", {"email": "not an email"}),
        ("/auth/password/forgot", {}),
        ("/auth/password/reset", {"token": "t", "newPassword": "short"}),
        ("/auth/password/reset", {"token": "", "newPassword": NEW_PASSWORD}),
        ("/auth/password/reset", {"token": 5, "newPassword": NEW_PASSWORD}),
        ("/auth/password/reset", {"token": "x" * 201, "newPassword": NEW_PASSWORD}),
        ("/auth/email/verify", {"token": None}),
    ],
)
async def test_bad_recovery_bodies_are_422(recovery_api: Any, path: str, body: Any) -> None:
    """Malformed bodies get VALIDATION_ERROR, never a 500."""
    async with recovery_api() as api:
        answer = await api.client.post(path, json=body)
        assert answer.status_code == 422 and answer.json()["code"] == "VALIDATION_ERROR"


async def test_without_smtp_url_development_writes_the_mail_to_the_log(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """No SMTP_URL in development: the mail, link included, goes to the log instead."""
    caplog.set_level("WARNING", logger="tokensmith.mail")
    async with make_api(PUBLIC_URL=PUBLIC) as api:
        await api.register()
        await forgot(api, "ada@example.com")
        for _ in range(200):
            if "reset-password?token=" in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert "To: ada@example.com" in caplog.text
    assert f"{PUBLIC}/#/reset-password?token=" in caplog.text
