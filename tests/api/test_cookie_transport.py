"""Cookie transport for web apps (contract 5.5)."""

from __future__ import annotations

from http.cookies import SimpleCookie

from tests.support.inprocess import PASSWORD, Api, ApiFactory

COOKIE = {"X-Token-Transport": "cookie"}


def set_cookies(response: object) -> dict[str, SimpleCookie]:
    cookies: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            cookies[name] = jar
    return cookies


async def cookie_login(api: Api) -> tuple[dict[str, object], str]:
    await api.register()
    response = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=COOKIE
    )
    assert response.status_code == 200
    return response.json(), api.client.cookies["csrf_token"]


async def test_cookie_login_puts_the_refresh_token_in_an_httponly_cookie(api: Api) -> None:
    """The refresh token is an HttpOnly, SameSite=Strict, Path=/auth cookie, not in the body;
    a readable csrf_token cookie comes with it."""
    await api.register()
    response = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=COOKIE
    )
    assert "refreshToken" not in response.json()
    assert response.json()["accessToken"]
    headers = response.headers.get_list("set-cookie")
    refresh = next(h for h in headers if h.startswith("refresh_token="))
    csrf = next(h for h in headers if h.startswith("csrf_token="))
    assert "HttpOnly" in refresh and "Path=/auth" in refresh and "SameSite=strict" in refresh
    assert "HttpOnly" not in csrf
    assert "Secure" not in refresh  # development over plain http


async def test_cookie_refresh_needs_the_csrf_header(api: Api) -> None:
    """Refresh from the cookie without the matching X-CSRF-Token is 403 CSRF_FAILED."""
    await cookie_login(api)
    missing = await api.client.post("/auth/refresh")
    assert missing.status_code == 403 and missing.json()["code"] == "CSRF_FAILED"
    wrong = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403


async def test_cookie_refresh_rotates_the_cookie(api: Api) -> None:
    """With the CSRF header, refresh rotates the cookie and keeps the token out of the body."""
    _, csrf = await cookie_login(api)
    before = api.client.cookies["refresh_token"]
    response = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert "refreshToken" not in response.json()
    assert api.client.cookies["refresh_token"] != before
    assert (await api.me(response.json()["accessToken"])).status_code == 200


async def test_cookie_logout_clears_both_cookies_and_ends_the_session(api: Api) -> None:
    """Logout from the cookie (with CSRF) ends the session and clears both cookies."""
    body, csrf = await cookie_login(api)
    response = await api.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    cleared = response.headers.get_list("set-cookie")
    assert any(h.startswith("refresh_token=") and "Max-Age=0" in h for h in cleared)
    assert any(h.startswith("csrf_token=") and "Max-Age=0" in h for h in cleared)
    assert (await api.me(str(body["accessToken"]))).json()["code"] == "TOKEN_REVOKED"


async def test_cookie_logout_without_csrf_is_403(api: Api) -> None:
    """A cross-site logout (cookie but no CSRF header) is refused."""
    await cookie_login(api)
    response = await api.client.post("/auth/logout")
    assert response.status_code == 403


async def test_production_cookies_are_secure(make_api: ApiFactory) -> None:
    """In production the cookies carry Secure."""
    secrets = {"JWT_SECRET": "access-" * 6, "JWT_REFRESH_SECRET": "refresh-" * 5}
    # Production needs mail for password reset (contract 9); nothing is mailed here.
    mail = {"SMTP_URL": "smtp://127.0.0.1:1", "PUBLIC_URL": "https://auth.example.com"}
    async with make_api(TOKENSMITH_ENV="production", **secrets, **mail) as api:
        await api.register()
        response = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=COOKIE
        )
        assert all("Secure" in h for h in response.headers.get_list("set-cookie"))


async def test_cors_allows_only_configured_origins(make_api: ApiFactory) -> None:
    """Preflights from CORS_ORIGINS are answered with credentials; others are not."""
    async with make_api(CORS_ORIGINS="https://app.example.com") as api:
        ok = await api.client.options(
            "/auth/refresh",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-CSRF-Token",
            },
        )
        assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
        assert ok.headers["access-control-allow-credentials"] == "true"
        evil = await api.client.options(
            "/auth/refresh",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in evil.headers
