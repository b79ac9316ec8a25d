"""Service clients (contract 10): ids and secrets from SERVICE_CLIENTS, INTROSPECTION_SECRET as
one more client, constant-time checks, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokensmith.core.clients import INTROSPECTION_CLIENT_ID, ServiceClient, ServiceClients
from tokensmith.errors import ConfigError, InvalidClient
from tokensmith.runtime import build_service_clients
from tokensmith.settings import load_settings

BILLING = "billing-secret-0123456789-0123456789"
SEARCH = "search:secret-with-a-colon-0123456789"


def registry(tmp_path: Path, **env: str) -> ServiceClients:
    return build_service_clients(load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path), **env}))


def test_each_client_is_known_by_its_own_secret(tmp_path: Path) -> None:
    """An id matches only its own secret; a secret may contain ':' (the id ends at the first)."""
    clients = registry(tmp_path, SERVICE_CLIENTS=f"billing:{BILLING}, search:{SEARCH}")
    assert clients.authenticate("billing", BILLING) == ServiceClient("billing")
    assert clients.authenticate("search", SEARCH) == ServiceClient("search")
    for client_id, secret in (("billing", SEARCH), ("search", BILLING), ("nobody", BILLING)):
        with pytest.raises(InvalidClient):
            clients.authenticate(client_id, secret)


def test_introspection_secret_is_a_client_that_cannot_start_sessions(tmp_path: Path) -> None:
    """INTROSPECTION_SECRET works with any id or as a Bearer credential, as before, and is the
    client "introspection", which may not open sessions for users."""
    clients = registry(
        tmp_path, SERVICE_CLIENTS=f"billing:{BILLING}", INTROSPECTION_SECRET="i" * 8 + "x" * 24
    )
    for client_id in (None, "anything", INTROSPECTION_CLIENT_ID):
        client = clients.authenticate(client_id, "i" * 8 + "x" * 24)
        assert client == ServiceClient(INTROSPECTION_CLIENT_ID, starts_sessions=False)
    with pytest.raises(InvalidClient):  # a listed id must use its own secret
        clients.authenticate("billing", "i" * 8 + "x" * 24)


def test_without_clients_nothing_authenticates(tmp_path: Path) -> None:
    clients = registry(tmp_path)
    assert not clients.configured
    with pytest.raises(InvalidClient):
        clients.authenticate(None, "")


def test_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    settings = load_settings(
        {"TOKENSMITH_DATA_DIR": str(tmp_path), "SERVICE_CLIENTS": f"billing:{BILLING}"}
    )
    assert BILLING not in repr(settings)
    assert BILLING not in repr(build_service_clients(settings))
    assert "billing" in repr(build_service_clients(settings))


@pytest.mark.parametrize(
    "value", ["billing", "billing:", ":secret", "a b:secret", f"x:{BILLING},x:{BILLING}"]
)
def test_a_malformed_list_stops_the_server_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path), "SERVICE_CLIENTS": value})
    assert caught.value.variable == "SERVICE_CLIENTS"
    assert BILLING not in str(caught.value)


def test_production_wants_32_byte_client_secrets(tmp_path: Path) -> None:
    env = {
        "TOKENSMITH_DATA_DIR": str(tmp_path),
        "TOKENSMITH_ENV": "production",
        "JWT_SECRET": "a1" * 20,
        "JWT_REFRESH_SECRET": "b2" * 20,
    }
    load_settings({**env, "SERVICE_CLIENTS": f"billing:{BILLING}"})
    with pytest.raises(ConfigError, match="SERVICE_CLIENTS: must be at least 32 bytes"):
        load_settings({**env, "SERVICE_CLIENTS": "billing:short"})
