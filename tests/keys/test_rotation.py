"""Key rings in the running service: rotation keeps everyone logged in, retiring ends old tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from tests.support.inprocess import ApiFactory
from tokensmith.core.clock import ManualClock
from tokensmith.core.keys import generate_private_pem, parse_ring, serialize_ring

ALGORITHMS = ["EdDSA", "ES256", "RS256"]


def header(token: str) -> dict[str, str]:
    return dict(jwt.get_unverified_header(token))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_asymmetric_tokens_carry_the_signing_kid_and_jwks_publishes_it(
    make_api: ApiFactory, tmp_path: Path, algorithm: str
) -> None:
    """Access tokens are signed with the ring's first key; the JWKS verifies them."""
    ring = tmp_path / "ring.pem"
    key = generate_private_pem(algorithm)
    ring.write_bytes(key.pem)
    async with make_api(JWT_ALGORITHM=algorithm, JWT_PRIVATE_KEY_FILE=str(ring)) as api:
        tokens = await api.signed_up()
        assert header(tokens["accessToken"]) == {"alg": algorithm, "kid": key.kid, "typ": "at+jwt"}
        assert header(tokens["refreshToken"])["alg"] == "HS256"
        jwks = (await api.client.get("/.well-known/jwks.json")).json()
        assert [k["kid"] for k in jwks["keys"]] == [key.kid]
        public = jwt.PyJWK(jwks["keys"][0])
        claims = jwt.decode(
            tokens["accessToken"], public.key, algorithms=[algorithm], audience="tokensmith"
        )
        assert claims["email"] == "ada@example.com"
        assert (await api.me(tokens["accessToken"])).status_code == 200
        assert (await api.refresh(tokens["refreshToken"])).status_code == 200


async def test_rotation_keeps_old_tokens_valid_until_the_key_is_retired(
    make_api: ApiFactory, tmp_path: Path
) -> None:
    """After a rotation new tokens use the new kid and old ones still verify; once the old key is
    retired its tokens are INVALID_TOKEN while the session itself lives on."""
    ring = tmp_path / "ring.pem"
    old = generate_private_pem("ES256")
    ring.write_bytes(old.pem)
    env = {"JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY_FILE": str(ring)}
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    async with make_api(clock, **env) as api:
        before = await api.signed_up()

    new = generate_private_pem("ES256")
    ring.write_bytes(serialize_ring([new, *parse_ring(ring.read_bytes())]))
    async with make_api(clock, **env) as api:
        assert (await api.me(before["accessToken"])).status_code == 200
        after = await api.refresh(before["refreshToken"])
        assert after.status_code == 200
        assert header(after.json()["accessToken"])["kid"] == new.kid
        kids = [k["kid"] for k in (await api.client.get("/.well-known/jwks.json")).json()["keys"]]
        assert kids == [new.kid, old.kid]

    ring.write_bytes(new.pem)  # retire the old key
    async with make_api(clock, **env) as api:
        response = await api.me(before["accessToken"])
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_TOKEN"
        assert (await api.me(after.json()["accessToken"])).status_code == 200


async def test_hs256_previous_secrets_verify_during_rotation(
    make_api: ApiFactory, tmp_path: Path
) -> None:
    """JWT_PREVIOUS_SECRETS keeps tokens signed with the old JWT_SECRET valid; dropping it ends
    them."""
    old, new, refresh = "o" * 40, "n" * 40, "r" * 40
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    async with make_api(clock, JWT_SECRET=old, JWT_REFRESH_SECRET=refresh) as api:
        before = await api.signed_up()
    rotated = {"JWT_SECRET": new, "JWT_REFRESH_SECRET": refresh, "JWT_PREVIOUS_SECRETS": old}
    async with make_api(clock, **rotated) as api:
        assert (await api.me(before["accessToken"])).status_code == 200
        fresh = (await api.refresh(before["refreshToken"])).json()
        assert header(fresh["accessToken"])["kid"] != header(before["accessToken"])["kid"]
        assert (await api.client.get("/.well-known/jwks.json")).json() == {"keys": []}
    async with make_api(clock, JWT_SECRET=new, JWT_REFRESH_SECRET=refresh) as api:
        assert (await api.me(before["accessToken"])).json()["code"] == "INVALID_TOKEN"
        assert (await api.me(fresh["accessToken"])).status_code == 200
