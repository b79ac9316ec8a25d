"""Helpers of the security suite: test services, their keys, and the requests attacks use."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.security.forge import b64url, low_s, split
from tests.support.databases import service_missing
from tests.support.servers import ServerProcess, start_server
from tokensmith.core.keys import KeySet
from tokensmith.core.tokens import ACCESS_TYP, REFRESH_TYP

ALGORITHMS = ("HS256", "ES256")
PASSWORD = "correct horse battery staple"
ACCESS_SECRET = "security-suite-access-secret-0123456789abcdef"
REFRESH_SECRET = "security-suite-refresh-secret-0123456789abcdef"
GENEROUS = "100000/minute"


def new_es256_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def service_env(data_dir: Path, algorithm: str, **extra: str) -> dict[str, str]:
    """Settings for a test service: fixed secrets the tests know, generous rate limits."""
    env = {
        "TOKENSMITH_DATA_DIR": str(data_dir),
        "JWT_SECRET": ACCESS_SECRET,
        "JWT_REFRESH_SECRET": REFRESH_SECRET,
        "JWT_ALGORITHM": algorithm,
        "RATE_LIMIT_LOGIN": GENEROUS,
        "RATE_LIMIT_REFRESH": GENEROUS,
        "RATE_LIMIT_REGISTER": GENEROUS,
        "RATE_LIMIT_LOGIN_IP": GENEROUS,
        "RATE_LIMIT_LOGIN_ACCOUNT": GENEROUS,
        "RATE_LIMIT_PASSWORD": GENEROUS,
        "RATE_LIMIT_PASSWORD_IP": GENEROUS,
    }
    if algorithm != "HS256":
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file = data_dir / "signing-key.pem"
        key_file.write_bytes(new_es256_pem())
        env["JWT_PRIVATE_KEY_FILE"] = str(key_file)
    env.update(extra)
    return env


class InProcess:
    """A synchronous face on ``httpx.AsyncClient`` + ``ASGITransport``: the app's lifespan and
    every request run on one private event loop, so module-scoped fixtures and plain (sync) tests
    and hypothesis rules can share one app."""

    def __init__(self, app: Any) -> None:
        self._runner = asyncio.Runner()
        self._lifespan = app.router.lifespan_context(app)
        self._runner.run(self._lifespan.__aenter__())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    @property
    def cookies(self) -> httpx.Cookies:
        return self.client.cookies

    def run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.run(self.client.request(method, url, **kwargs))
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        try:
            self.run(self.client.aclose())
            self.run(self._lifespan.__aexit__(None, None, None))
        finally:
            self._runner.close()


@dataclass
class Session:
    access: str
    refresh: str


@dataclass
class Api:
    """One service under attack, with the keys a test needs to forge *validly signed* tokens
    (so a claim check is proven to be what refuses them, not the signature)."""

    client: Any  # httpx.Client or InProcess
    algorithm: str
    access_keys: KeySet
    refresh_keys: KeySet
    email: str
    private_pem: bytes | None = None

    # -- requests ----------------------------------------------------------------------------

    def login(self) -> Session:
        response = self.client.post("/auth/login", json={"email": self.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        return Session(body["accessToken"], body["refreshToken"])

    def me(self, token: str | None = None, *, authorization: str | None = None) -> httpx.Response:
        header = authorization if authorization is not None else f"Bearer {token}"
        return self.client.get("/auth/me", headers={"Authorization": header})

    def refresh(self, token: Any) -> httpx.Response:
        return self.client.post("/auth/refresh", json={"refreshToken": token})

    def logout(self, session: Session) -> None:
        response = self.client.post(
            "/auth/logout",
            headers={"Authorization": f"Bearer {session.access}"},
            json={"refreshToken": session.refresh},
        )
        assert response.status_code == 200, response.text

    def assert_still_works(self) -> None:
        """A legitimate login, its access token and a refresh all still work."""
        session = self.login()
        assert self.me(session.access).status_code == 200
        response = self.refresh(session.refresh)
        assert response.status_code == 200, response.text
        assert self.me(response.json()["accessToken"]).status_code == 200

    # -- forging with the real keys ----------------------------------------------------------

    def sign_with(self, keys: KeySet, header: dict[str, Any] | str, payload: Any) -> str:
        from tests.security.forge import _segment

        signing_input = f"{_segment(header)}.{_segment(payload)}"
        signature = keys.implementation.sign(signing_input.encode(), keys.signing_key)
        if keys.algorithm == "ES256":  # tokensmith accepts only the low-S spelling
            signature = low_s(signature)
        return f"{signing_input}.{b64url(signature)}"

    def access_header(self, **changes: Any) -> dict[str, Any]:
        header = {"alg": self.access_keys.algorithm, "kid": self.access_keys.signing_kid}
        header["typ"] = ACCESS_TYP
        header.update(changes)
        return header

    def refresh_header(self, **changes: Any) -> dict[str, Any]:
        header = {"alg": "HS256", "kid": self.refresh_keys.signing_kid, "typ": REFRESH_TYP}
        header.update(changes)
        return header

    def sign_access(self, payload: Any, **header_changes: Any) -> str:
        return self.sign_with(self.access_keys, self.access_header(**header_changes), payload)

    def sign_refresh(self, payload: Any, **header_changes: Any) -> str:
        return self.sign_with(self.refresh_keys, self.refresh_header(**header_changes), payload)

    def claims_of(self, token: str) -> dict[str, Any]:
        return split(token).payload


def register(client: Any, email: str) -> None:
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


def start_live(tmp_path_factory: pytest.TempPathFactory, algorithm: str) -> ServerProcess:
    data_dir = tmp_path_factory.mktemp(f"live-{algorithm}")
    # Debug logging: test_leaks.py reads the server's log for tokens, secrets and passwords.
    env = service_env(data_dir, algorithm, TOKENSMITH_LOG_LEVEL="debug")
    try:
        # tests/support/servers.py drops its handle on the server log without closing it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            return start_server(data_dir, env)
    except (RuntimeError, OSError) as exc:
        service_missing(f"cannot start tokensmith serve ({algorithm}): {exc}")
        raise  # unreachable: service_missing fails or skips


@dataclass
class Live:
    server: ServerProcess
    api: Api


def live_api(server: ServerProcess, algorithm: str) -> Iterator[Live]:
    env = server.env
    with httpx.Client(base_url=server.url, timeout=30) as client:
        email = f"live-{algorithm.lower()}@example.com"
        register(client, email)
        if algorithm == "HS256":
            access = KeySet.hmac(ACCESS_SECRET.encode())
            pem = None
        else:
            pem = Path(env["JWT_PRIVATE_KEY_FILE"]).read_bytes()
            access = KeySet.asymmetric(algorithm, [pem])
        yield Live(
            server, Api(client, algorithm, access, KeySet.hmac(REFRESH_SECRET.encode()), email, pem)
        )
