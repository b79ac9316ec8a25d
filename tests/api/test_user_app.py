"""The FastAPI integration mounted in a user's own app, as the README shows."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import Depends, FastAPI

from tests.support.inprocess import PASSWORD, base_env, bearer
from tokensmith.core.passwords import TESTING
from tokensmith.settings import load_settings
from tokensmith.web import Principal, Tokensmith


async def test_user_app_guards_its_own_route(tmp_path: Path) -> None:
    """`Depends(auth.principal)` guards a route of the user's app; `auth.current_user` gives
    the User; logout makes the guarded route refuse the token at once."""
    auth = Tokensmith(load_settings(base_env(tmp_path)), argon2=TESTING)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)

    @app.get("/orders")
    async def orders(principal: Principal = Depends(auth.principal)) -> dict[str, str]:
        return {"user": principal.sub}

    @app.get("/profile")
    async def profile(user: object = Depends(auth.current_user)) -> dict[str, str]:
        return {"email": user.email}  # type: ignore[attr-defined]

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as client,
    ):
        assert (await client.get("/orders")).json()["code"] == "NO_TOKEN"
        await client.post("/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
        login = await client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        token = login.json()["accessToken"]
        assert (await client.get("/orders", headers=bearer(token))).status_code == 200
        assert (await client.get("/profile", headers=bearer(token))).json() == {
            "email": "ada@example.com"
        }
        await client.post("/auth/logout", headers=bearer(token))
        refused = await client.get("/orders", headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_REVOKED"
        assert refused.headers["www-authenticate"].startswith("Bearer")
