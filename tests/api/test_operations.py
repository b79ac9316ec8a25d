"""Operations endpoints: health, readiness, JWKS, OpenAPI (contract 5.6)."""

from __future__ import annotations

from tests.support.inprocess import Api


async def test_healthz_and_readyz(api: Api) -> None:
    """healthz is ok; readyz is 200 while the database answers."""
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_jwks_is_empty_for_hs256(api: Api) -> None:
    """With HS256 the key is secret: the JWKS has no keys."""
    assert (await api.client.get("/.well-known/jwks.json")).json() == {"keys": []}


async def test_openapi_and_docs_are_served(api: Api) -> None:
    """/openapi.json describes the auth routes; /docs is the interactive page."""
    spec = (await api.client.get("/openapi.json")).json()
    for path in ("/auth/login", "/auth/refresh", "/auth/logout", "/auth/me", "/auth/sessions"):
        assert path in spec["paths"]
    assert (await api.client.get("/docs")).status_code == 200


async def test_every_auth_response_is_no_store(api: Api) -> None:
    """Every /auth response, errors included, has Cache-Control: no-store."""
    for response in (
        await api.client.get("/auth/me"),
        await api.client.post("/auth/refresh", json={}),
        await api.client.post("/auth/login", json={}),
    ):
        assert response.headers["cache-control"] == "no-store"


async def test_static_files_answer_head_and_refuse_paths(api: Api) -> None:
    """The web app and the browser client answer GET and HEAD; names with paths are 404."""
    for path in ("/", "/tokensmith.js"):
        assert (await api.client.head(path)).status_code == 200
    assert (await api.client.get("/static/..%2Fapp.py")).status_code == 404
    assert (await api.client.get("/static/.hidden")).status_code == 404
