"""End to end: a real server signs with an asymmetric key; another service verifies with
PyJWT's ``PyJWKClient`` from ``/.well-known/jwks.json`` and no secret at all."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from click.testing import CliRunner

from tests.support.servers import running_server
from tokensmith.cli.main import cli

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    # tests/support/servers.py leaves its handle on the server log open (reported to the lead).
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <_io.FileIO name='[^']*server-\d+\.log'"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_other_service_verifies_tokens_with_pyjwkclient(tmp_path: Path, algorithm: str) -> None:
    """Generate a key with the CLI, serve with it, verify a login's token through the JWKS."""
    ring = tmp_path / "keys" / "access.pem"
    result = CliRunner().invoke(
        cli, ["keys", "generate", "--algorithm", algorithm, "--out", str(ring)]
    )
    assert result.exit_code == 0, result.output
    env = {"JWT_ALGORITHM": algorithm, "JWT_PRIVATE_KEY_FILE": str(ring)}
    with running_server(tmp_path / "data", env) as server:
        account = {"email": "ada@example.com", "password": "correct horse battery"}
        assert httpx.post(f"{server.url}/auth/register", json=account).status_code == 201
        token = httpx.post(f"{server.url}/auth/login", json=account).json()["accessToken"]

        jwks_client = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json")
        signing_key = jwks_client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[algorithm],
            audience="tokensmith",
            issuer="tokensmith",
        )
    assert claims["email"] == "ada@example.com"
    assert jwt.get_unverified_header(token)["kid"] == signing_key.key_id
