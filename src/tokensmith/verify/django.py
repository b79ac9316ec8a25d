"""Django and Django REST framework: a middleware and a DRF authentication class (contract 10).

``settings.py``::

    TOKENSMITH = {
        "ISSUER_URL": "https://auth.example.com",
        "CLIENT_ID": "invoices", "CLIENT_SECRET": "...",    # a service client, for logouts
        "PROTECTED_PATHS": ["/api/"],      # the middleware refuses these without a valid token
        # "AUDIENCE", "JWT_SECRET" (HS256 only), "ALGORITHM" (pin it),
        # "REVOCATION_STALE_AFTER" (s), "ON_STALE"
    }
    MIDDLEWARE = [..., "tokensmith.verify.django.TokensmithMiddleware"]
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tokensmith.verify.django.TokensmithAuthentication"],
        "EXCEPTION_HANDLER": "tokensmith.verify.django.exception_handler",
    }

The middleware sets ``request.tokensmith_claims`` (or ``None``); under ``PROTECTED_PATHS`` a
missing or refused token is answered with the status, body and ``WWW-Authenticate`` of contract
4. With DRF, ``request.user`` is a :class:`TokenUser` and ``request.auth`` the claims.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from tokensmith.core.models import AccessClaims
from tokensmith.errors import TokensmithError
from tokensmith.verify.presenting import refusal
from tokensmith.verify.verifier import Verifier

__all__ = [
    "TokenUser",
    "TokensmithAuthentication",
    "TokensmithMiddleware",
    "exception_handler",
    "get_verifier",
]

_lock = threading.Lock()
_verifiers: dict[str, Verifier] = {}
"""One verifier per process and issuer (Django settings are process-wide too)."""


def get_verifier() -> Verifier:
    """The process's verifier, built from ``settings.TOKENSMITH`` and started on first use."""
    config: dict[str, Any] = dict(getattr(settings, "TOKENSMITH", {}))
    if not config.get("ISSUER_URL"):
        raise RuntimeError("set TOKENSMITH['ISSUER_URL'] (the tokensmith server's URL)")
    key = str(config["ISSUER_URL"])
    with _lock:
        verifier = _verifiers.get(key)
        if verifier is None:
            verifier = Verifier(
                config["ISSUER_URL"],
                audience=config.get("AUDIENCE", "tokensmith"),
                client_id=config.get("CLIENT_ID"),
                client_secret=config.get("CLIENT_SECRET"),
                secret=config.get("JWT_SECRET"),
                algorithm=config.get("ALGORITHM"),
                stale_after=timedelta(seconds=float(config.get("REVOCATION_STALE_AFTER", 60))),
                on_stale=config.get("ON_STALE", "refuse"),
            ).start()
            _verifiers[key] = verifier
        return verifier


def error_response(error: TokensmithError) -> HttpResponse:
    answer = refusal(error)
    response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


class TokensmithMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        config = getattr(settings, "TOKENSMITH", {})
        self.protected = tuple(config.get("PROTECTED_PATHS", ()))
        self.verifier = get_verifier()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        authorization = request.headers.get("Authorization")
        claims: AccessClaims | None = None
        protected = bool(self.protected) and request.path.startswith(self.protected)
        if authorization or protected:
            try:
                claims = self.verifier.verify_header(authorization)
            except TokensmithError as exc:
                if protected:
                    return error_response(exc)
        request.tokensmith_claims = claims
        return self.get_response(request)


class TokenUser:
    """``request.user`` for DRF: the token's subject, authenticated, with no database row."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, claims: AccessClaims) -> None:
        self.claims = claims
        self.id = self.pk = claims.sub
        self.email = claims.email

    def __repr__(self) -> str:
        return f"TokenUser({self.id!r})"

    def __str__(self) -> str:
        return self.id


try:
    from rest_framework import exceptions as drf_exceptions
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.views import exception_handler as drf_exception_handler
except ImportError:  # DRF is optional: the middleware works without it
    BaseAuthentication = object


class TokenRefused(Exception):
    """A DRF-visible wrapper carrying the tokensmith error."""

    def __init__(self, error: TokensmithError) -> None:
        super().__init__(error.message)
        self.error = error


class TokensmithAuthentication(BaseAuthentication):  # type: ignore[misc]
    """DRF authentication: no Bearer header is "not mine" (other classes may try); a refused
    token is the error of contract 4 (with :func:`exception_handler`)."""

    def authenticate(self, request: Any) -> tuple[TokenUser, AccessClaims] | None:
        authorization = request.headers.get("Authorization")
        if not authorization or not authorization.lower().startswith("bearer"):
            return None
        try:
            claims = get_verifier().verify_header(authorization)
        except TokensmithError as exc:
            request._request.tokensmith_error = exc
            raise drf_exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return TokenUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        error = getattr(request._request, "tokensmith_error", None)
        if isinstance(error, TokensmithError):
            return refusal(error).headers.get("WWW-Authenticate", 'Bearer realm="tokensmith"')
        return 'Bearer realm="tokensmith"'


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's handler, with tokensmith's refusals in the shape of contract 4."""
    cause = exc.__cause__
    if isinstance(cause, TokensmithError):
        answer = refusal(cause)
        response = JsonResponse(answer.body, status=answer.status)
        for name, value in answer.headers.items():
            response[name] = value
        return response
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return error_response(_no_token())
    return drf_exception_handler(exc, context)


def _no_token() -> TokensmithError:
    from tokensmith.errors import NoToken

    return NoToken()
