"""Value types of the settings and their parsers: durations, address ranges, lists, URLs and
service clients. Each parser raises ``ValueError`` with a message for the operator."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, SecretStr

from tokensmith.durations import parse_duration

__all__ = [
    "Duration",
    "IpNetwork",
    "ServiceClientSecret",
    "http_url",
    "parse_service_clients",
    "split_list",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_list(value: Any) -> Any:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (empty parts dropped); other values pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


@dataclass(frozen=True)
class ServiceClientSecret:
    """One ``SERVICE_CLIENTS`` entry: a client id and its secret (never in a repr)."""

    client_id: str
    secret: SecretStr = field(repr=False)


def parse_service_clients(value: Any) -> Any:
    """``"billing:s3cr3t,search:0th3r"`` -> entries. The id is everything before the first
    ``:`` (RFC 6749 section 2.3.1 forbids nothing in a secret, so the secret may hold ``:``)."""
    if not isinstance(value, str):
        return value
    clients: list[ServiceClientSecret] = []
    for part in split_list(value):
        client_id, colon, secret = part.partition(":")
        client_id = client_id.strip()
        if not colon or not client_id or not secret:
            raise ValueError("use comma-separated id:secret pairs, e.g. billing:<secret>")
        if any(c.isspace() or not c.isprintable() for c in client_id):
            raise ValueError(f"client id {client_id!r} has a space or a control character")
        if client_id in {c.client_id for c in clients}:
            raise ValueError(f"client id {client_id!r} appears twice")
        clients.append(ServiceClientSecret(client_id, SecretStr(secret)))
    return clients


def http_url(value: str, *, what: str = "URL") -> str:
    """An absolute ``http(s)://host`` URL without a query or fragment, trailing slash removed."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) {what}; use e.g. https://auth.example.com")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: a {what} has no query or fragment")
    return value.strip().rstrip("/")
