"""The lean ``/auth/login`` (tokensmith.web.lean.LeanLogin) answers exactly as the FastAPI route
does: each request goes once through the app as installed and once with the lean paths taken
out. A body the route's model refuses is handed to the FastAPI route, so its 422 is pydantic's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inprocess import PASSWORD, Api, bearer
from tests.support.lean import fastapi_route_only, same_answer
from tokensmith.web import lean as lean_module
from tokensmith.web import routes_accounts
from tokensmith.web.lean import login_body_in

EMAIL = "ada@example.com"
JSON = {"content-type": "application/json"}


async def _both(api: Api, **request: Any) -> tuple[Any, Any]:
    lean = await api.client.post("/auth/login", **request)
    with fastapi_route_only(api):
        plain = await api.client.post("/auth/login", **request)
    return lean, plain


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"{not json", "headers": JSON},
        {"content": b"email=a@b.c&password=x", "headers": {"content-type": "text/plain"}},
        {"content": b"[1, 2]", "headers": JSON},
        {"content": b'"a string"'},
        {"content": b""},
        {"content": b"null", "headers": JSON},
        {"json": {}},
        {"json": {"email": EMAIL}},
        {"json": {"email": 12345, "password": PASSWORD}},
        {"json": {"email": "not an email", "password": PASSWORD}},
        {"json": {"email": "a" * 320 + "@example.com", "password": PASSWORD}},
        {"json": {"email": EMAIL, "password": "short"}},
        {"json": {"email": EMAIL, "password": "x" * 1025}},
        {"json": {"email": EMAIL, "password": ["not", "a", "string"]}},
        {"json": {"email": EMAIL, "password": PASSWORD, "remember": "yes"}},
        {"json": {"email": EMAIL, "password": PASSWORD, "remember": 1}},
        {"json": {"email": EMAIL, "password": PASSWORD, "remember": None}},
        {"content": b'{"email": "ada@example.com", "password": NaN}', "headers": JSON},
        {"content": b'{"email": "ada@example.com", "password": "\xff\xfe invalid"}'},
        # Well-formed, so both answer them (401: no such account, or a wrong password).
        {"json": {"email": "nobody@example.com", "password": PASSWORD}},
        {"json": {"email": EMAIL, "password": "not the password"}},
        {"json": {"email": EMAIL, "password": "not the password", "extra": {"x": 1}}},
        {
            "content": b'{"email": "x@example.com", "email": "ada@example.com", '
            b'"password": "not the password"}',
            "headers": {"content-type": "application/json; charset=utf-8"},
        },
    ],
)
async def test_bad_bodies_and_bad_credentials_answer_as_the_fastapi_route(
    api: Api, request_kwargs: dict[str, Any]
) -> None:
    await api.register(EMAIL)
    lean, plain = await _both(api, **request_kwargs)
    same_answer(lean, plain)
    assert lean.status_code in (401, 422)


async def test_a_login_answers_as_the_fastapi_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.register(EMAIL)
    answered_by = []

    async def log_in(*args: Any) -> Any:
        answered_by.append("lean")
        return await routes_accounts.log_in(*args)

    monkeypatch.setattr(lean_module, "log_in", log_in)
    lean, plain = await _both(api, json={"email": " Ada@Example.com ", "password": PASSWORD})
    assert answered_by == ["lean"]  # the FastAPI route answered the second
    assert lean.status_code == plain.status_code == 200
    assert set(lean.json()) == set(plain.json())
    assert lean.json()["user"] == plain.json()["user"]
    for header in ("content-type", "cache-control", "pragma", "x-content-type-options"):
        assert lean.headers.get(header) == plain.headers.get(header), header
    assert "x-request-id" in lean.headers
    me = await api.me(lean.json()["accessToken"])
    assert me.status_code == 200 and me.json()["email"] == EMAIL
    assert (await api.refresh(lean.json()["refreshToken"])).status_code == 200


def _cookie_names(response: Any) -> list[str]:
    return sorted(
        c.split("=", 1)[0] + ("; max-age" if "max-age" in c.lower() else "")
        for c in response.headers.get_list("set-cookie")
    )


@pytest.mark.parametrize("remember", [True, False])
async def test_the_cookie_transport_answers_as_the_fastapi_route(api: Api, remember: bool) -> None:
    await api.register(EMAIL)
    body = {"email": EMAIL, "password": PASSWORD, "remember": remember}
    headers = {"X-Token-Transport": "cookie"}
    lean, plain = await _both(api, json=body, headers=headers)
    api.client.cookies.clear()
    assert lean.status_code == plain.status_code == 200
    assert "refreshToken" not in lean.json() and "refreshToken" not in plain.json()
    assert _cookie_names(lean) == _cookie_names(plain)
    assert any(name.startswith("refresh_token") for name in _cookie_names(lean))


async def test_the_rate_limits_answer_as_the_fastapi_route(make_api: Any) -> None:
    async with make_api(RATE_LIMIT_LOGIN_ACCOUNT="2/minute") as api:
        await api.register(EMAIL)
        wrong = {"email": EMAIL, "password": "not the password"}
        first, second = await _both(api, json=wrong)
        assert first.status_code == second.status_code == 401
        lean, plain = await _both(api, json=wrong)
        same_answer(lean, plain)
        assert lean.status_code == 429 and lean.json()["code"] == "RATE_LIMITED"
        assert lean.headers.get("retry-after") == plain.headers.get("retry-after")


async def test_logins_are_counted_by_the_metrics_and_the_openapi_description_stays(
    api: Api,
) -> None:
    tokens = await api.signed_up()
    assert (await api.me(tokens["accessToken"])).status_code == 200
    text = (await api.client.get("/metrics")).text
    assert 'route="/auth/login"' in text
    operation = (await api.client.get("/openapi.json")).json()["paths"]["/auth/login"]["post"]
    assert "requestBody" in operation
    get = await api.client.get("/auth/login", headers=bearer(tokens["accessToken"]))
    assert get.status_code == 405 and get.json()["code"] == "METHOD_NOT_ALLOWED"


def test_the_common_shape_is_read_by_the_routes_model() -> None:
    json = b"application/json"
    body = login_body_in(b'{"email": "a@example.com", "password": "12345678"}', None)
    assert body is not None and body.remember is True
    assert body.email == "a@example.com" and body.password == "12345678"
    short = login_body_in(
        b'{"email": "a@example.com", "password": "12345678", "remember": false}',
        b"Application/JSON; charset=utf-8",
    )
    assert short is not None and short.remember is False
    for unusual in (
        b"",
        b"{}",
        b"[]",
        b"{",
        b'{"email": "a@example.com", "password": "short"}',
        b'{"email": "a@example.com", "password": "12345678", "remember": "no"}',
    ):
        assert login_body_in(unusual, json) is None
    plain_text = b"text/plain"
    assert login_body_in(b'{"email": "a@example.com", "password": "12345678"}', plain_text) is None
