"""The doctor's one HTTP seam: every request to the server goes through :class:`ServerApi`.

Tests pass an ``httpx.MockTransport`` (or any transport); the CLI passes none and talks to the
network. httpx errors are translated here, at the boundary, into :class:`ServerUnreachable`; a
429 from any endpoint becomes :class:`ServerRateLimited` so no check mistakes it for a finding.
Cookies are never kept between requests: the checks decide what to send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tokensmith.diagnostics.doctor.results import ServerRateLimited, ServerUnreachable

__all__ = ["Clock", "Exchange", "ServerApi"]

Clock = Callable[[], datetime]
USER_AGENT = "tokensmith-doctor"


@dataclass(frozen=True)
class Exchange:
    """One request and its response, with this machine's clock around it."""

    method: str
    path: str
    status: int
    headers: httpx.Headers
    body: Any
    """Parsed JSON, or ``None`` when the body is empty or not JSON."""
    text: str
    sent_at: datetime
    received_at: datetime

    @property
    def is_json(self) -> bool:
        return self.body is not None

    @property
    def fields(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def code(self) -> str | None:
        code = self.fields.get("code")
        return code if isinstance(code, str) else None

    @property
    def midpoint(self) -> datetime:
        return self.sent_at + (self.received_at - self.sent_at) / 2

    def summary(self) -> str:
        """``POST /auth/refresh -> 401 REFRESH_TOKEN_REQUIRED`` for evidence lines."""
        outcome = f"{self.status} {self.code}" if self.code else str(self.status)
        return f"{self.method} {self.path} -> {outcome}"

    def set_cookies(self) -> list[str]:
        return self.headers.get_list("set-cookie")


class ServerApi:
    """The contract's endpoints, as the doctor uses them."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._timeout_s = timeout_s
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ServerApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        bearer: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        all_headers = dict(headers or {})
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        sent_at = self._clock()
        try:
            response = self._client.request(
                method,
                path,
                content=None if json_body is None else json.dumps(json_body).encode(),
                headers=(
                    {**all_headers, "Content-Type": "application/json"}
                    if json_body is not None
                    else all_headers
                ),
            )
        except httpx.ConnectError as exc:
            raise ServerUnreachable(f"cannot connect to {self.base_url}: {_reason(exc)}") from exc
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"{self.base_url} did not answer {method} {path} within {self._timeout_s:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ServerUnreachable(
                f"{method} {path} on {self.base_url} failed: {_reason(exc)}"
            ) from exc
        finally:
            self._client.cookies.clear()
        received_at = self._clock()
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        exchange = Exchange(
            method,
            path,
            response.status_code,
            response.headers,
            body,
            response.text,
            sent_at,
            received_at,
        )
        if response.status_code == 429:
            retry = response.headers.get("retry-after")
            after = f"; retry after {retry}s" if retry else ""
            raise ServerRateLimited(
                f"{exchange.summary()}: the server rate-limited the doctor{after}"
            )
        return exchange

    # -- the contract's endpoints ---------------------------------------------------------

    def health(self) -> Exchange:
        return self.request("GET", "/healthz")

    def register(self, email: str, password: str) -> Exchange:
        body = {"email": email, "password": password, "name": "tokensmith doctor"}
        return self.request("POST", "/auth/register", json_body=body)

    def login(self, email: str, password: str, *, cookie_transport: bool = False) -> Exchange:
        headers = {"X-Token-Transport": "cookie"} if cookie_transport else None
        return self.request(
            "POST",
            "/auth/login",
            json_body={"email": email, "password": password},
            headers=headers,
        )

    def refresh(self, refresh_token: str | None) -> Exchange:
        body = {} if refresh_token is None else {"refreshToken": refresh_token}
        return self.request("POST", "/auth/refresh", json_body=body)

    def me(self, access_token: str) -> Exchange:
        return self.request("GET", "/auth/me", bearer=access_token)

    def logout(self, access_token: str, refresh_token: str | None = None) -> Exchange:
        body = {} if refresh_token is None else {"refreshToken": refresh_token}
        return self.request("POST", "/auth/logout", json_body=body, bearer=access_token)


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused (is the server running?)"
    return text.splitlines()[0]
