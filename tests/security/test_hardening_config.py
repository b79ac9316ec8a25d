"""Configuration hardening (issue 11, items 2 and 11): every secret is held to the same rules,
weak and repeated secrets are refused in production, a previous secret may not equal another key,
and a non-ASCII secret starts the server (or stops it with one line), never with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.servers import free_port, running_server
from tokensmith.errors import ConfigError
from tokensmith.settings import load_settings

ACCESS = "hardening-access-secret-0123456789abcdef"
REFRESH = "hardening-refresh-secret-0123456789abcdef"
OTHER = "hardening-other-secret-0123456789abcdef"


def production(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "TOKENSMITH_DATA_DIR": str(tmp_path),
        "TOKENSMITH_ENV": "production",
        "JWT_SECRET": ACCESS,
        "JWT_REFRESH_SECRET": REFRESH,
        **env,
    }


def refused(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "\n" not in message
    for value in env.values():
        if "secret" in value and value not in (ACCESS, REFRESH):
            assert value not in message, "a secret was repeated in the error"
    return caught.value


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_PREVIOUS_SECRETS", "x"),
        ("JWT_PREVIOUS_SECRETS", f"{OTHER},y"),
        ("INTROSPECTION_SECRET", "short-introspection"),
        ("SERVICE_CLIENTS", "billing:short"),
        ("WEBHOOK_SECRET", "short-webhook"),
    ],
)
def test_every_secret_needs_32_bytes_in_production(
    tmp_path: Path, variable: str, value: str
) -> None:
    """A one-byte previous secret used to verify access tokens; INTROSPECTION_SECRET had no
    minimum. Every secret now needs 32 bytes in production."""
    env = production(tmp_path, **{variable: value})
    if variable == "WEBHOOK_SECRET":
        env["WEBHOOK_URL"] = "https://hooks.example.com/tokensmith"
    error = refused(env)
    assert error.variable == variable
    assert "32 bytes" in str(error)


@pytest.mark.parametrize("variable", ["JWT_SECRET", "JWT_REFRESH_SECRET", "INTROSPECTION_SECRET"])
@pytest.mark.parametrize(
    "value",
    [
        "A" * 32,
        "7" * 64,
        "secretsecretsecretsecretsecretsecret",  # on the shipped weak list
        "SUPER-SECRET-KEY-CHANGE-IN-PRODUCTION",  # on the list, in another case
    ],
)
def test_weak_and_repeated_secrets_are_refused_in_production(
    tmp_path: Path, variable: str, value: str
) -> None:
    """``"A" * 32`` and the weak list's entries passed the length check; they are refused."""
    error = refused(production(tmp_path, **{variable: value}))
    assert error.variable == variable


@pytest.mark.parametrize(
    ("variable", "value", "other"),
    [
        ("JWT_PREVIOUS_SECRETS", REFRESH, "JWT_REFRESH_SECRET"),
        ("JWT_PREVIOUS_SECRETS", f"{OTHER},{ACCESS}", "JWT_SECRET"),
        ("JWT_PREVIOUS_SECRETS", f"{OTHER},{OTHER}", "JWT_PREVIOUS_SECRETS"),
        ("INTROSPECTION_SECRET", ACCESS, "JWT_SECRET"),
        ("SERVICE_CLIENTS", f"billing:{REFRESH}", "JWT_REFRESH_SECRET"),
    ],
)
@pytest.mark.parametrize("mode", ["production", "development"])
def test_a_secret_equal_to_a_signing_key_is_refused(
    tmp_path: Path, variable: str, value: str, other: str, mode: str
) -> None:
    """A previous access-token secret equal to the refresh secret (or a service client holding
    a signing key) is a mistake in any mode."""
    error = refused(production(tmp_path, TOKENSMITH_ENV=mode, **{variable: value}))
    assert error.variable == variable
    assert other in str(error)


def test_strong_secrets_of_every_kind_are_accepted(tmp_path: Path) -> None:
    """The rules refuse weak values, not the variables."""
    settings = load_settings(
        production(
            tmp_path,
            JWT_PREVIOUS_SECRETS=OTHER,
            INTROSPECTION_SECRET="hardening-introspection-0123456789abcdef",
            SERVICE_CLIENTS="billing:hardening-billing-0123456789abcdef",
        )
    )
    assert len(settings.jwt_previous_secrets) == 1


def test_a_non_ascii_secret_is_accepted(tmp_path: Path) -> None:
    """``secrets.compare_digest`` refuses non-ASCII ``str``: it crashed the start."""
    settings = load_settings(
        production(tmp_path, JWT_SECRET="clé-secrète-über-lång-0123456789abcdef")
    )
    assert settings.access_secret == "clé-secrète-über-lång-0123456789abcdef".encode()


def test_equal_non_ascii_secrets_are_refused_with_one_line(tmp_path: Path) -> None:
    value = "clé-secrète-über-lång-0123456789abcdef"
    error = refused(production(tmp_path, JWT_SECRET=value, JWT_REFRESH_SECRET=value))
    assert error.variable == "JWT_REFRESH_SECRET"


def test_a_secret_that_is_not_utf8_is_refused_with_one_line(tmp_path: Path) -> None:
    """Undecodable bytes in the environment arrive as surrogates; encoding them crashed."""
    error = refused(production(tmp_path, JWT_SECRET="bad-\udcff-" + "x" * 40))
    assert error.variable == "JWT_SECRET"
    assert "UTF-8" in str(error)


def test_the_server_stops_with_one_line_on_equal_non_ascii_secrets(tmp_path: Path) -> None:
    """Contract 2: a config mistake is one line naming the variable, never a traceback (it
    was ``TypeError: comparing strings with non-ASCII characters is not supported``)."""
    secret = "sécret-ünïcode-0123456789-0123456789"
    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "serve", "--port", str(free_port())],
        env={
            "PATH": "/usr/bin:/bin",
            "TOKENSMITH_DATA_DIR": str(tmp_path),
            "JWT_SECRET": secret,
            "JWT_REFRESH_SECRET": secret,
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "JWT_REFRESH_SECRET" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_the_server_runs_with_a_non_ascii_secret(tmp_path: Path) -> None:
    """A non-ASCII ``JWT_SECRET`` is a fine secret: the real server starts and signs with it."""
    secret = "sécret-ünïcode-0123456789-0123456789"
    with running_server(tmp_path, {"JWT_SECRET": secret}) as server:
        email = {"email": "ada@example.com", "password": "correct horse battery"}
        assert httpx.post(f"{server.url}/auth/register", json=email).status_code == 201
        login = httpx.post(f"{server.url}/auth/login", json=email)
        assert login.status_code == 200
        access = login.json()["accessToken"]
        jwt.decode(access, secret.encode(), algorithms=["HS256"], audience="tokensmith")
