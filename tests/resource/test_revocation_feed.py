"""``GET /auth/revocations`` and the cursor rules of the stream (contract 10), in process."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.support.inprocess import Api, ApiFactory, bearer

SECRET = "billing-secret-for-tests-0123456789abcdef"
CLIENTS = {"SERVICE_CLIENTS": f"billing:{SECRET}"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"billing:{SECRET}".encode()).decode()}


async def feed(api: Api, since: str | None = None) -> httpx.Response:
    params = {"since": since} if since is not None else {}
    return await api.client.get("/auth/revocations", params=params, headers=BASIC)


async def logout(api: Api, tokens: dict[str, str]) -> None:
    response = await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    assert response.status_code == 200


async def test_full_list_then_only_what_is_new(make_api: ApiFactory) -> None:
    """Without ``since`` every live revocation; with the cursor only the later ones."""
    async with make_api(**CLIENTS) as api:
        first = await api.signed_up()
        await logout(api, first)
        body = (await feed(api)).json()
        sid = api.auth.services.codec.verify_access(first["accessToken"]).sid
        assert [r["sid"] for r in body["revocations"]] == [sid]
        assert body["revocations"][0]["until"].endswith("Z")
        assert (await feed(api, body["cursor"])).json()["revocations"] == []
        second = await api.login()
        await logout(api, second)
        later = (await feed(api, body["cursor"])).json()
        sid2 = api.auth.services.codec.verify_access(second["accessToken"]).sid
        assert [r["sid"] for r in later["revocations"]] == [sid2]


async def test_feed_needs_a_service_client(make_api: ApiFactory) -> None:
    """No credentials or wrong ones: 401 INVALID_CLIENT."""
    async with make_api(**CLIENTS) as api:
        assert (await api.client.get("/auth/revocations")).json()["code"] == "INVALID_CLIENT"
        wrong = {"Authorization": "Basic " + base64.b64encode(b"billing:nope").decode()}
        response = await api.client.get("/auth/revocations/stream", headers=wrong)
        assert response.status_code == 401


@pytest.mark.parametrize("path", ["/auth/revocations", "/auth/revocations/stream"])
async def test_bad_cursors_are_400_never_an_all_clear(make_api: ApiFactory, path: str) -> None:
    """Garbage, a forged MAC, a cursor from the future: 400 VALIDATION_ERROR, on both
    endpoints and through ``Last-Event-ID`` too; never 500, never an empty 200."""
    async with make_api(**CLIENTS) as api:
        tokens = await api.signed_up()
        await logout(api, tokens)
        cursor = (await feed(api)).json()["cursor"]
        seq, mac = cursor.split(".")
        future = api.auth.services.broadcaster.cursors.encode(int(seq) + 5)
        forged = f"{seq}.{'A' * len(mac)}"
        for bad in ["garbage", "", "-1.x", f"{int(seq) + 1}.{mac}", forged, future, "9" * 40]:
            for headers, params in (({**BASIC, "Last-Event-ID": bad}, {}), (BASIC, {"since": bad})):
                response = await api.client.get(path, params=params, headers=headers)
                assert response.status_code in (400, 422), (bad, response.text)
                assert response.json()["code"] == "VALIDATION_ERROR"


async def test_cursor_of_an_empty_log_is_valid(make_api: ApiFactory) -> None:
    """A fresh server hands out a cursor that it accepts back."""
    async with make_api(**CLIENTS) as api:
        body = (await feed(api)).json()
        assert body["revocations"] == []
        assert (await feed(api, body["cursor"])).status_code == 200
