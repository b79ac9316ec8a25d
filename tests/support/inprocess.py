"""An in-process server over ``httpx.ASGITransport`` with an injected clock, and helpers."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tokensmith.core.clock import ManualClock

PASSWORD = "correct horse battery"


@dataclass
class Api:
    """An in-process server and a client for it; ``clock`` drives every token time."""

    client: httpx.AsyncClient
    clock: ManualClock
    app: Any

    @property
    def auth(self) -> Any:
        return self.app.state.tokensmith

    async def register(
        self, email: str = "ada@example.com", password: str = PASSWORD
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/auth/register", json={"email": email, "password": password, "name": "Ada"}
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["user"])

    async def login(
        self, email: str = "ada@example.com", password: str = PASSWORD
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def signed_up(self, email: str = "ada@example.com") -> dict[str, Any]:
        await self.register(email)
        return await self.login(email)

    async def me(self, access_token: str) -> httpx.Response:
        return await self.client.get("/auth/me", headers=bearer(access_token))

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post("/auth/refresh", json={"refreshToken": refresh_token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def base_env(data_dir: Path) -> dict[str, str]:
    return {
        "TOKENSMITH_DATA_DIR": str(data_dir),
        "RATE_LIMIT_LOGIN": "10000/minute",
        "RATE_LIMIT_REFRESH": "10000/minute",
        "RATE_LIMIT_REGISTER": "10000/minute",
        "RATE_LIMIT_LOGIN_IP": "10000/minute",
        "RATE_LIMIT_LOGIN_ACCOUNT": "10000/minute",
        "RATE_LIMIT_PASSWORD": "10000/minute",
        "RATE_LIMIT_PASSWORD_IP": "10000/minute",
    }


ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]
