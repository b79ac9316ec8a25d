"""The lean ``/auth/refresh`` and ``/auth/me`` (tokensmith.web.lean) answer exactly as the
FastAPI routes do.

Every request below goes once through the app as installed (lean route in front) and once
through the same app with the lean route taken out; status, body and the headers that matter
must be the same. Unusual bodies are handed to the FastAPI route, so their 422s are pydantic's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inprocess import Api, bearer
from tests.support.lean import fastapi_route_only, same_answer
from tokensmith.web.lean import refresh_token_in

LONG = "a" * 16385


async def _both(api: Api, **request: Any) -> tuple[Any, Any]:
    """The answer with the lean path, then without it (the FastAPI route alone)."""
    lean = await api.client.post("/auth/refresh", **request)
    with fastapi_route_only(api):
        plain = await api.client.post("/auth/refresh", **request)
    return lean, plain


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"refreshToken=x", "headers": {"content-type": "text/plain"}},
        {"content": b"[1, 2]", "headers": {"content-type": "application/json"}},
        {"content": b'"a string"'},
        {"json": {"refreshToken": 12345}},
        {"json": {"refreshToken": ["x"]}},
        {"json": {"refreshToken": LONG}},
        {"json": {"refresh_token": LONG}},
        {"json": {"refreshToken": None, "refresh_token": "x.y.z"}},
        {"json": {"refreshToken": "not-a-jwt"}},
        {"json": {"refresh_token": "not-a-jwt"}},
        {"json": {"refreshToken": ""}},
        {"json": {}},
        {"json": None},
        {"content": b""},
        {"content": b"null", "headers": {"content-type": "application/json; charset=utf-8"}},
        {"content": b'{"refreshToken": NaN}', "headers": {"content-type": "application/json"}},
        {"json": {"refreshToken": "a.b.c", "extra": {"ignored": True}}},
    ],
)
async def test_unusual_and_bad_bodies_answer_as_the_fastapi_route(
    api: Api, request_kwargs: dict[str, Any]
) -> None:
    lean, plain = await _both(api, **request_kwargs)
    same_answer(lean, plain)
    assert lean.status_code in (401, 422)


async def test_a_rotation_answers_as_the_fastapi_route(api: Api) -> None:
    first = await api.signed_up()
    second = await api.signed_up("bob@example.com")
    lean = await api.client.post("/auth/refresh", json={"refreshToken": first["refreshToken"]})
    with fastapi_route_only(api):
        plain = await api.client.post(
            "/auth/refresh", json={"refresh_token": second["refreshToken"]}
        )
    assert lean.status_code == plain.status_code == 200
    assert set(lean.json()) == set(plain.json())
    for header in ("content-type", "cache-control", "pragma", "x-content-type-options"):
        assert lean.headers.get(header) == plain.headers.get(header), header
    assert "x-request-id" in lean.headers


async def test_cookie_transport_and_csrf_on_the_lean_path(api: Api) -> None:
    login = await api.client.post(
        "/auth/register",
        json={"email": "c@example.com", "password": "correct horse battery"},
    )
    assert login.status_code == 201
    login = await api.client.post(
        "/auth/login",
        json={"email": "c@example.com", "password": "correct horse battery"},
        headers={"X-Token-Transport": "cookie"},
    )
    assert login.status_code == 200
    csrf = api.client.cookies.get("csrf_token")
    assert csrf
    missing = await api.client.post("/auth/refresh")
    assert missing.status_code == 403 and missing.json()["code"] == "CSRF_FAILED"
    rotated = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert rotated.status_code == 200
    assert "refreshToken" not in rotated.json()
    assert "refresh_token=" in rotated.headers["set-cookie"]
    api.client.cookies.clear()
    none = await api.client.post("/auth/refresh")
    assert none.status_code == 401 and none.json()["code"] == "REFRESH_TOKEN_REQUIRED"


async def test_other_methods_and_the_openapi_description_stay(api: Api) -> None:
    get = await api.client.get("/auth/refresh")
    assert get.status_code == 405 and get.json()["code"] == "METHOD_NOT_ALLOWED"
    spec = (await api.client.get("/openapi.json")).json()
    operation = spec["paths"]["/auth/refresh"]["post"]
    assert "Rotate a refresh token" in operation["description"] + operation.get("summary", "")
    assert "requestBody" in operation


async def test_refreshes_are_counted_by_the_metrics(api: Api) -> None:
    tokens = await api.signed_up()
    assert (await api.refresh(tokens["refreshToken"])).status_code == 200
    assert (await api.refresh("x.y.z")).status_code == 401
    text = (await api.client.get("/metrics")).text
    assert 'route="/auth/refresh"' in text
    assert 'outcome="rotated"' in text


def test_the_common_shapes_are_read_by_hand() -> None:
    json = b"application/json"
    assert refresh_token_in(b"", None) is None
    assert refresh_token_in(b"null", json) is None
    assert refresh_token_in(b"{}", json) is None
    assert refresh_token_in(b'{"refreshToken": "a.b.c"}', None) == "a.b.c"
    assert refresh_token_in(b'{"refresh_token": "a.b.c"}', b"Application/JSON; charset=utf-8")
    assert refresh_token_in(b'{"refreshToken": "a", "refresh_token": "b"}', json) == "a"
    for unusual in (
        b"[]",
        b"1",
        b'{"refreshToken": 1}',
        b"{",
        b'{"refreshToken": "%s"}' % LONG.encode(),
    ):
        assert refresh_token_in(unusual, json) not in (None, "a.b.c")
    assert refresh_token_in(b'{"refreshToken": "a"}', b"text/plain") not in (None, "a")


async def test_me_answers_as_the_fastapi_route(api: Api) -> None:
    tokens = await api.signed_up()
    access = tokens["accessToken"]
    other = await api.signed_up("eve@example.com")
    cases: list[list[tuple[str, str]]] = [
        [],
        [("Authorization", f"Bearer {access}")],
        [("Authorization", f"bearer   {access}")],
        [("Authorization", "Bearer")],
        [("Authorization", "Bearer ")],
        [("Authorization", "Basic dXNlcjpwYXNz")],
        [("Authorization", "Bearer not a token")],
        [("Authorization", "Bearer a.b.c")],
        [("Authorization", f"Bearer {access}x")],
        [("Authorization", f"Bearer {access}"), ("Authorization", "Bearer a.b.c")],
        [("Authorization", "Bearer a.b.c"), ("Authorization", f"Bearer {access}")],
    ]
    for headers in cases:
        lean = await api.client.get("/auth/me", headers=headers)
        with fastapi_route_only(api):
            plain = await api.client.get("/auth/me", headers=headers)
        same_answer(lean, plain)
    logout = await api.client.post("/auth/logout", headers=bearer(other["accessToken"]))
    assert logout.status_code == 200
    headers = [("Authorization", f"Bearer {other['accessToken']}")]
    lean = await api.client.get("/auth/me", headers=headers)
    with fastapi_route_only(api):
        plain = await api.client.get("/auth/me", headers=headers)
    same_answer(lean, plain)
    assert lean.status_code == 401 and lean.json()["code"] == "TOKEN_REVOKED"
    post = await api.client.post("/auth/me", headers=bearer(access))
    assert post.status_code == 405
