"""Online guessing (issue 11, items 1, 2 and 5): password checks of a signed-in user are limited
per user and per IP, audited, and end the session after repeated failures; login is limited per
IP and per account as well as per IP and email; failed client authentication on introspection
and revocation is limited per IP."""

from __future__ import annotations

import base64

from tests.support.inprocess import PASSWORD, Api, ApiFactory, bearer
from tokensmith.core.models import AuditKind, RevokeReason

NEW = "a brand new password"


async def change(api: Api, access: str, current: str) -> int:
    response = await api.client.post(
        "/auth/password",
        headers=bearer(access),
        json={"currentPassword": current, "newPassword": NEW},
    )
    return response.status_code


async def audit_kinds(api: Api) -> list[tuple[AuditKind, dict[str, object]]]:
    async with api.auth.services.database.transaction() as uow:
        events = await uow.audit.query(limit=100)
    return [(event.kind, event.detail) for event in events]


async def test_password_change_is_rate_limited_per_user(make_api: ApiFactory) -> None:
    """A thief with an access token tried 40 passwords a second; now the user's bucket answers
    429 with Retry-After, before argon2 runs, right password included."""
    async with make_api(RATE_LIMIT_PASSWORD="3/minute") as api:
        tokens = await api.signed_up()
        statuses = [await change(api, tokens["accessToken"], f"guess-{n:04d}") for n in range(3)]
        assert statuses == [403, 403, 403]
        response = await api.client.post(
            "/auth/password",
            headers=bearer(tokens["accessToken"]),
            json={"currentPassword": PASSWORD, "newPassword": NEW},
        )
        assert response.status_code == 429
        assert response.json()["code"] == "RATE_LIMITED"
        assert int(response.headers["retry-after"]) >= 1


async def test_password_change_is_rate_limited_per_ip(make_api: ApiFactory) -> None:
    """One address guessing through several accounts' tokens meets the per-IP bucket."""
    async with make_api(RATE_LIMIT_PASSWORD_IP="2/minute") as api:
        first = await api.signed_up("ada@example.com")
        second = await api.signed_up("bob@example.com")
        assert await change(api, first["accessToken"], "guess-one-x") == 403
        assert await change(api, second["accessToken"], "guess-two-x") == 403
        assert await change(api, second["accessToken"], PASSWORD) == 429


async def test_each_wrong_password_is_audited(make_api: ApiFactory) -> None:
    """Every wrong ``currentPassword`` leaves a ``password_failed`` event with the session."""
    async with make_api() as api:
        tokens = await api.signed_up()
        for n in range(2):
            assert await change(api, tokens["accessToken"], f"guess-{n:04d}") == 403
        failed = [d for kind, d in await audit_kinds(api) if kind is AuditKind.PASSWORD_FAILED]
        assert len(failed) == 2
        assert all(d["action"] == "change_password" for d in failed)


async def test_repeated_wrong_passwords_end_the_session(make_api: ApiFactory) -> None:
    """The session's fifth wrong password ends it: 401 TOKEN_REVOKED, its access and refresh
    tokens stop working, the end is audited; the user's other sessions are untouched."""
    async with make_api() as api:
        stolen = await api.signed_up()
        other = await api.login()
        for n in range(4):
            assert await change(api, stolen["accessToken"], f"guess-{n:04d}") == 403
        response = await api.client.post(
            "/auth/password",
            headers=bearer(stolen["accessToken"]),
            json={"currentPassword": "guess-last", "newPassword": NEW},
        )
        assert response.status_code == 401
        assert response.json()["code"] == "TOKEN_REVOKED"
        assert (await api.me(stolen["accessToken"])).status_code == 401
        assert (await api.refresh(stolen["refreshToken"])).status_code == 401
        assert (await api.me(other["accessToken"])).status_code == 200
        revoked = [
            d
            for kind, d in await audit_kinds(api)
            if kind is AuditKind.SESSION_REVOKED
            and d.get("reason") == RevokeReason.PASSWORD_GUESSING
        ]
        assert len(revoked) == 1


async def test_wrong_passwords_on_reauthenticate_count_too(make_api: ApiFactory) -> None:
    """``/auth/reauthenticate`` checks the same password: same limits, same session end."""
    async with make_api() as api:
        tokens = await api.signed_up()
        for n in range(5):
            response = await api.client.post(
                "/auth/reauthenticate",
                headers=bearer(tokens["accessToken"]),
                json={"password": f"guess-{n:04d}"},
            )
        assert response.status_code == 401
        assert (await api.me(tokens["accessToken"])).status_code == 401


async def test_one_ip_cannot_spray_many_emails(make_api: ApiFactory) -> None:
    """RATE_LIMIT_LOGIN counts per IP and email: one IP could try 40 emails a second, each
    costing an argon2 hash. RATE_LIMIT_LOGIN_IP counts per IP whatever the email."""
    async with make_api(RATE_LIMIT_LOGIN_IP="5/minute") as api:
        statuses = []
        for n in range(6):
            response = await api.client.post(
                "/auth/login", json={"email": f"user{n}@example.com", "password": "wrong pass"}
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429]


async def test_many_ips_cannot_guess_one_account(make_api: ApiFactory) -> None:
    """RATE_LIMIT_LOGIN_ACCOUNT counts per email whatever the IP (behind a trusted proxy each
    attempt claims another address)."""
    async with make_api(RATE_LIMIT_LOGIN_ACCOUNT="3/minute", TRUSTED_PROXIES="127.0.0.1") as api:
        await api.register()
        statuses = []
        for n in range(4):
            response = await api.client.post(
                "/auth/login",
                json={"email": "Ada@Example.com", "password": f"guess-{n:04d}"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]


def _basic(client_id: str, secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


async def test_failed_client_authentication_is_limited_on_introspection_and_revocation(
    make_api: ApiFactory,
) -> None:
    """INTROSPECTION_SECRET guessed as a Bearer credential or with HTTP Basic on either
    endpoint: ten failures a minute per IP, then 429 whatever the credentials."""
    secret = "hardening-introspection-0123456789abcdef"
    async with make_api(INTROSPECTION_SECRET=secret) as api:
        tokens = await api.signed_up()
        for n in range(5):
            response = await api.client.post(
                "/auth/introspect",
                data={"token": tokens["accessToken"]},
                headers=bearer(f"guess{n}"),
            )
            assert response.status_code == 401
        for n in range(5):
            response = await api.client.post(
                "/auth/revoke",
                data={"token": tokens["refreshToken"]},
                headers=_basic("introspection", f"guess{n}"),
            )
            assert response.status_code == 401
        locked = await api.client.post(
            "/auth/introspect", data={"token": tokens["accessToken"]}, headers=bearer(secret)
        )
        assert locked.status_code == 429
        assert locked.json()["code"] == "RATE_LIMITED"
