"""Service-client authentication at the edge: HTTP Basic (RFC 6749 section 2.3.1) or a Bearer
credential, judged by :class:`~tokensmith.core.clients.ServiceClients`, with failures counted.

Each failed attempt counts against the caller's IP (``client_auth`` bucket); once the bucket is
full every attempt from that IP is 429 *before* its credentials are looked at, right ones
included, so a secret cannot be guessed online. Success never counts.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from fastapi import Request

from tokensmith.core.clients import ServiceClient, ServiceClients
from tokensmith.errors import InvalidClient
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.transport import ClientAddress, authorization_of

__all__ = ["ClientAuthenticator", "client_credentials"]


def client_credentials(authorization: str | None) -> tuple[str | None, str] | None:
    """``(client_id, secret)`` of an HTTP Basic header, ``(None, secret)`` of a Bearer header,
    ``None`` when neither is usable."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return (None, value) if value else None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def is_basic(authorization: str | None) -> bool:
    """The header uses the Basic scheme (whatever its value)."""
    if not authorization:
        return False
    return authorization.strip().split(" ", 1)[0].lower() == "basic"


class ClientAuthenticator:
    """``await authenticator(request)``: the service client of the request, or an error:
    401 ``INVALID_CLIENT`` (Basic challenge), or 429 after repeated failures from the IP."""

    def __init__(
        self, clients: ServiceClients, limits: RateLimits, addresses: ClientAddress
    ) -> None:
        self.clients = clients
        self._limits = limits
        self._addresses = addresses

    def __repr__(self) -> str:
        return f"ClientAuthenticator({self.clients!r})"

    async def __call__(self, request: Request) -> ServiceClient:
        ip = self._addresses.of(request) or "-"
        await self._limits.check("client_auth", ip)
        credentials = client_credentials(authorization_of(request))
        if not self.clients.configured:
            raise InvalidClient(
                "No service clients are configured: set SERVICE_CLIENTS (id:secret pairs) "
                "or INTROSPECTION_SECRET"
            )
        try:
            if credentials is None:
                raise InvalidClient("Authenticate with HTTP Basic: the client id and secret")
            return self.clients.authenticate(*credentials)
        except InvalidClient:
            await self._limits.hit("client_auth", ip)
            raise

    async def check(self, request: Request, client_id: str | None, secret: str) -> ServiceClient:
        """Credentials sent another way (``client_secret_post``, RFC 6749 section 2.3.1), judged
        and counted like HTTP Basic ones."""
        ip = self._addresses.of(request) or "-"
        await self._limits.check("client_auth", ip)
        try:
            return self.clients.authenticate(client_id, secret)
        except InvalidClient:
            await self._limits.hit("client_auth", ip)
            raise

    async def optional(self, request: Request) -> ServiceClient | None:
        """For endpoints where client authentication is optional (RFC 7009 revocation): no
        Basic header is ``None``; a Basic header must be right."""
        if not is_basic(authorization_of(request)):
            return None
        return await self(request)
