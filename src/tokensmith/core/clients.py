"""Service clients (contract 10): the other services of a user's system.

A service client starts sessions for users it authenticated itself (``POST /auth/sessions``),
reads the revocation feed, introspects (RFC 7662) and revokes (RFC 7009). It authenticates with
its id and secret; ``SERVICE_CLIENTS`` lists them, and ``INTROSPECTION_SECRET`` stays valid as one
more client (``introspection``) that may do everything but start sessions.

Secrets are compared with :func:`hmac.compare_digest`, and an unknown id costs the same comparison
as a known one, so neither the time nor the answer tells which ids exist.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from tokensmith.errors import InvalidClient

__all__ = ["INTROSPECTION_CLIENT_ID", "ServiceClient", "ServiceClients"]

INTROSPECTION_CLIENT_ID = "introspection"


@dataclass(frozen=True, slots=True)
class ServiceClient:
    """An authenticated service client."""

    id: str
    starts_sessions: bool = True
    """``POST /auth/sessions`` is allowed (not for the ``INTROSPECTION_SECRET`` client)."""


class ServiceClients:
    """The registry of client ids and secrets; :meth:`authenticate` is the one check."""

    def __init__(
        self, secrets: Mapping[str, bytes], *, introspection_secret: bytes | None = None
    ) -> None:
        # Digests of equal length: compare_digest's time then depends on neither secret's length.
        self._secrets = {cid: _digest(secret) for cid, secret in secrets.items()}
        self._introspection = _digest(introspection_secret) if introspection_secret else None
        self._decoy = _digest(b"\0" * 32)

    def __repr__(self) -> str:
        return f"ServiceClients(ids={sorted(self._secrets)!r})"

    @property
    def configured(self) -> bool:
        """Any client at all: without one, client-only endpoints are disabled."""
        return bool(self._secrets) or self._introspection is not None

    def authenticate(self, client_id: str | None, secret: str) -> ServiceClient:
        """The client whose credentials these are, or :class:`InvalidClient`.

        ``client_id`` is ``None`` for a Bearer credential. An id listed in ``SERVICE_CLIENTS``
        must match its own secret; any other id (or none) may present ``INTROSPECTION_SECRET``,
        which before ``SERVICE_CLIENTS`` was accepted with any id.
        """
        presented = _digest(secret.encode())
        expected = self._secrets.get(client_id) if client_id is not None else None
        if expected is not None:
            if hmac.compare_digest(presented, expected):
                return ServiceClient(client_id or "")
            raise InvalidClient()
        legacy = self._introspection or self._decoy
        if hmac.compare_digest(presented, legacy) and self._introspection is not None:
            return ServiceClient(INTROSPECTION_CLIENT_ID, starts_sessions=False)
        raise InvalidClient()


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()
