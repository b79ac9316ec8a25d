"""How tokens travel: the Bearer header (RFC 6750) and the cookie transport (contract 5.5).

Kept apart from what a token *is* (``tokensmith.core.tokens``) and where its state lives.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from fastapi import Request, Response

from tokensmith.core.bearer import bearer_token
from tokensmith.errors import CsrfFailed, InvalidRequest

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "TRANSPORT_HEADER",
    "ClientAddress",
    "CookieTransport",
    "authorization_of",
    "bearer_token",
]

REFRESH_COOKIE: Final = "refresh_token"
CSRF_COOKIE: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
TRANSPORT_HEADER: Final = "x-token-transport"


def authorization_of(request: Request) -> str | None:
    """The request's one ``Authorization`` header, or ``None``.

    Two or more are :class:`InvalidRequest` (400, RFC 6750 section 3.1 ``invalid_request``: the
    request "uses more than one method for including an access token"). Taking the first would
    let a proxy and tokensmith disagree about whose request this is.
    """
    found: bytes | None = None
    # The ASGI header list itself (names arrive lower-cased), as Starlette's ``getlist`` reads
    # it, without building a ``Headers`` and decoding every value: guarded routes run this.
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            if found is not None:
                raise InvalidRequest(
                    "Send one Authorization header, not several (RFC 6750 section 3.1)"
                )
            found = value
    return None if found is None else found.decode("latin-1")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """The client's address; ``X-Forwarded-For`` counts only when it came through a trusted
    proxy, and then the right-most address not itself a trusted proxy is the client."""

    trusted_proxies: Sequence[Network] = ()

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def of(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        if peer is None or not self.trusted_proxies or not self._trusted(peer):
            return peer
        # RFC 9110 section 5.3: several header lines are one comma-separated list. A proxy that
        # appends its own line after the client's must not let the client's line win.
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return hops[0] if hops else peer

    def is_https(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else None
        return self.forwarded_scheme(peer, request.headers.getlist("x-forwarded-proto")) == "https"

    def forwarded_scheme(self, peer: str | None, values: Sequence[str]) -> str | None:
        """The scheme a trusted proxy says the client used (``X-Forwarded-Proto``), else None.
        Of several values the last is the nearest proxy's, the one we trust."""
        if peer is None or not self._trusted(peer):
            return None
        schemes = [v.strip().lower() for v in ",".join(values).split(",") if v.strip()]
        if not schemes or schemes[-1] not in ("http", "https"):
            return None
        return schemes[-1]


@dataclass(frozen=True, slots=True)
class CookieTransport:
    """Refresh token in an HttpOnly cookie scoped to ``/auth``, plus a readable CSRF cookie
    checked against the ``X-CSRF-Token`` header (double-submit, OWASP CSRF cheat sheet)."""

    samesite: str = "Strict"
    always_secure: bool = False

    @staticmethod
    def wanted(request: Request) -> bool:
        return request.headers.get(TRANSPORT_HEADER, "").strip().lower() == "cookie"

    @staticmethod
    def refresh_cookie(request: Request) -> str | None:
        return request.cookies.get(REFRESH_COOKIE) or None

    @staticmethod
    def check_csrf(request: Request) -> None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        header = request.headers.get(CSRF_HEADER, "")
        # Bytes: compare_digest refuses non-ASCII str (a 500 for a crafted cookie).
        if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
            raise CsrfFailed()

    def set(
        self,
        response: Response,
        refresh_token: str,
        max_age_s: int | None,
        *,
        secure: bool,
        csrf: str | None = None,
    ) -> None:
        """Set both cookies; ``max_age_s=None`` makes them session cookies (no ``Max-Age``:
        they end with the browser, for ``remember: false``)."""
        secure = secure or self.always_secure or self.samesite == "None"
        samesite = self.samesite.lower()
        response.set_cookie(
            REFRESH_COOKIE,
            refresh_token,
            max_age=max_age_s,
            path="/auth",
            httponly=True,
            secure=secure,
            samesite=samesite,  # type: ignore[arg-type]
        )
        response.set_cookie(
            CSRF_COOKIE,
            csrf or secrets.token_urlsafe(24),
            max_age=max_age_s,
            path="/",
            httponly=False,
            secure=secure,
            samesite=samesite,  # type: ignore[arg-type]
        )

    def clear(self, response: Response, *, secure: bool) -> None:
        secure = secure or self.always_secure or self.samesite == "None"
        samesite = self.samesite.lower()
        response.delete_cookie(
            REFRESH_COOKIE,
            path="/auth",
            httponly=True,
            secure=secure,
            samesite=samesite,  # type: ignore[arg-type]
        )
        response.delete_cookie(
            CSRF_COOKIE,
            path="/",
            secure=secure,
            samesite=samesite,  # type: ignore[arg-type]
        )
