"""Helpers for tests that run several real ``tokensmith serve`` processes on shared backends."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery"


def shared_env(database_url: str, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """What every instance of one deployment shares: secrets, database, Redis."""
    env = {
        "JWT_SECRET": "a" * 32 + secrets.token_hex(8),
        "JWT_REFRESH_SECRET": "b" * 32 + secrets.token_hex(8),
        "DATABASE_URL": database_url,
        "TOKENSMITH_LOG_LEVEL": "info",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(url: str, email: str) -> None:
    response = httpx.post(
        f"{url}/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 201, response.text


def login(url: str, email: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def new_user(url: str) -> tuple[str, dict[str, Any]]:
    email = f"user-{secrets.token_hex(4)}@example.com"
    register(url, email)
    return email, login(url, email)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``condition`` held (polled tightly); fails past ``timeout_s``."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s}s")
        time.sleep(0.001)
    return time.perf_counter() - start


def code_of(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("code"))
    except ValueError:
        return None
