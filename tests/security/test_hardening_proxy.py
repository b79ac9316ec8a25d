"""Behind a proxy (issue 11, items 3 and 6): every ``X-Forwarded-For`` line counts, no trailing
slash under ``/auth`` is redirected, and ``X-Forwarded-Proto`` from a trusted proxy is the
request's scheme."""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import PASSWORD, ApiFactory, bearer


async def test_a_second_forwarded_for_line_is_not_ignored(make_api: ApiFactory) -> None:
    """The client sends its own ``X-Forwarded-For`` line and the proxy appends another: the
    proxy's line (the address it saw) is the client, so the client can neither dodge its rate
    limit nor forge the address in the session list and the audit log."""
    async with make_api(TRUSTED_PROXIES="127.0.0.1", RATE_LIMIT_REGISTER="1/minute") as api:
        statuses = []
        for n in range(2):
            response = await api.client.post(
                "/auth/register",
                json={"email": f"u{n}@example.com", "password": PASSWORD},
                headers=[
                    ("X-Forwarded-For", f"198.51.100.{n + 1}"),  # the client's choice
                    ("X-Forwarded-For", "203.0.113.9"),  # the proxy's line
                ],
            )
            statuses.append(response.status_code)
        assert statuses == [201, 429]
        login = await api.client.post(
            "/auth/login",
            json={"email": "u0@example.com", "password": PASSWORD},
            headers=[("X-Forwarded-For", "198.51.100.77"), ("X-Forwarded-For", "203.0.113.9")],
        )
        sessions = await api.client.get(
            "/auth/sessions", headers=bearer(login.json()["accessToken"])
        )
        assert sessions.json()["sessions"][0]["ip"] == "203.0.113.9"


@pytest.mark.parametrize("path", ["/auth/login/", "/auth/register/", "/auth/password/"])
async def test_no_slash_redirect_under_auth(make_api: ApiFactory, path: str) -> None:
    """``POST /auth/login/`` answered 307 to ``http://...`` behind a TLS proxy, and a client
    following it re-sent the password in cleartext. Now it is 404 ``NOT_FOUND``."""
    async with make_api(TRUSTED_PROXIES="127.0.0.1") as api:
        await api.register()
        response = await api.client.post(
            path,
            json={"email": "ada@example.com", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
        assert "location" not in response.headers


async def test_the_routes_without_slash_still_answer(make_api: ApiFactory) -> None:
    """The catch-all for trailing slashes shadows no route: 200, 405 and 404 as before."""
    async with make_api() as api:
        await api.register()
        assert (await api.client.get("/auth/login")).status_code == 405
        assert (await api.client.get("/auth/nothing")).status_code == 404
        login = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200


async def test_forwarded_proto_from_a_trusted_proxy_is_the_scheme(make_api: ApiFactory) -> None:
    """A redirect the app still makes elsewhere (``/healthz/``) keeps ``https`` behind a trusted
    TLS proxy; an untrusted peer's header changes nothing."""
    async with make_api(TRUSTED_PROXIES="127.0.0.1") as api:
        response = await api.client.get("/healthz/", headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 307
        assert response.headers["location"].startswith("https://")
    async with make_api() as api:
        response = await api.client.get("/healthz/", headers={"X-Forwarded-Proto": "https"})
        assert response.headers["location"].startswith("http://")


async def test_behind_a_trusted_tls_proxy_the_metrics_keep_the_route(make_api: ApiFactory) -> None:
    """Rewriting the scheme must not hide the matched route from the metrics outside it (a copy
    of the scope did: every request behind the proxy was counted as ``unmatched``)."""
    async with make_api(TRUSTED_PROXIES="127.0.0.1") as api:
        response = await api.client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert response.status_code == 200
        metrics = (await api.client.get("/metrics")).text
    assert 'route="/healthz"' in metrics
    assert 'route="unmatched"' not in metrics


async def test_a_non_ascii_csrf_cookie_is_403_not_500(make_api: ApiFactory) -> None:
    """``hmac.compare_digest`` refuses non-ASCII ``str``: a crafted cookie was a 500."""
    async with make_api() as api:
        transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            response = await raw.post(
                "/auth/logout",
                headers=[
                    (b"cookie", b"refresh_token=x; csrf_token=\xe9t\xe9"),
                    (b"x-csrf-token", b"\xe9t\xe8"),
                ],
            )
        assert response.status_code == 403
