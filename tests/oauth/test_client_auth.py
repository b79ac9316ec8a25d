"""Client authentication on the service endpoints: SERVICE_CLIENTS over HTTP Basic, and failed
attempts limited per IP so a client secret cannot be guessed online."""

from __future__ import annotations

import base64

import httpx

from tests.support.inprocess import Api, ApiFactory

BILLING = "billing-secret-0123456789-0123456789"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def introspect(api: Api, token: str, headers: dict[str, str]) -> httpx.Response:
    return await api.client.post("/auth/introspect", data={"token": token}, headers=headers)


async def test_a_service_client_introspects_with_its_own_credentials(
    make_api: ApiFactory,
) -> None:
    async with make_api(SERVICE_CLIENTS=f"billing:{BILLING}") as api:
        tokens = await api.signed_up()
        response = await introspect(api, tokens["accessToken"], basic("billing", BILLING))
        assert response.json()["active"] is True
        wrong = await introspect(api, tokens["accessToken"], basic("search", BILLING))
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "INVALID_CLIENT"
        assert wrong.headers["www-authenticate"] == 'Basic realm="tokensmith"'


async def test_repeated_failures_lock_the_ip_out_even_with_the_right_secret(
    make_api: ApiFactory,
) -> None:
    """Ten wrong secrets a minute from one IP; the eleventh attempt is 429 with Retry-After
    whatever it carries, on introspection and on revocation alike."""
    async with make_api(SERVICE_CLIENTS=f"billing:{BILLING}") as api:
        tokens = await api.signed_up()
        for attempt in range(10):
            response = await introspect(api, tokens["accessToken"], basic("billing", f"{attempt}"))
            assert response.status_code == 401, attempt
        locked = await introspect(api, tokens["accessToken"], basic("billing", BILLING))
        assert locked.status_code == 429
        assert locked.json()["code"] == "RATE_LIMITED"
        assert int(locked.headers["retry-after"]) >= 1
        revoke = await api.client.post(
            "/auth/revoke", data={"token": tokens["refreshToken"]}, headers=basic("billing", "x")
        )
        assert revoke.status_code == 429


async def test_another_ip_is_not_locked_out(make_api: ApiFactory) -> None:
    """The lock-out is per IP: a locked-out address does not lock out the real service."""
    async with make_api(SERVICE_CLIENTS=f"billing:{BILLING}", client_ip="10.0.0.1") as api:
        tokens = await api.signed_up()
        for attempt in range(11):
            await introspect(api, tokens["accessToken"], basic("billing", f"{attempt}"))
        assert (
            await introspect(api, tokens["accessToken"], basic("billing", BILLING))
        ).status_code == 429
        transport = httpx.ASGITransport(app=api.app, client=("10.0.0.2", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            response = await other.post(
                "/auth/introspect",
                data={"token": tokens["accessToken"]},
                headers=basic("billing", BILLING),
            )
        assert response.json()["active"] is True
