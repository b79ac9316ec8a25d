"""Standard OAuth for clients and services nobody here wrote (contract 10).

- ``GET /.well-known/openid-configuration`` and ``GET /.well-known/oauth-authorization-server``
  (RFC 8414 section 3): where the keys, the token endpoint and the revocation feed are.
- ``POST /oauth/token`` with ``grant_type=refresh_token`` (RFC 6749 section 6): the same rotation
  as ``/auth/refresh`` (the same core call, so the same grace and reuse rules of contract 5.3),
  answered in the shape of RFC 6749 section 5.1 and, on failure, section 5.2.

``issuer`` is ``JWT_ISSUER``, the value access tokens carry in ``iss``: a verifier compares the
two. RFC 8414 wants it to be the server's URL; set ``JWT_ISSUER`` to ``PUBLIC_URL`` for that.
Endpoint URLs are built from ``PUBLIC_URL`` when set, else from the request.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tokensmith.core.sessions import SessionService
from tokensmith.errors import InvalidClient, RefreshError
from tokensmith.settings import Settings
from tokensmith.web.client_auth import ClientAuthenticator, is_basic
from tokensmith.web.context import request_context
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.transport import ClientAddress

__all__ = ["discovery_routes"]

_FORM: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "refresh_token"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["refresh_token"]},
                        "refresh_token": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    }
}


def discovery_routes(
    settings: Settings,
    sessions: SessionService,
    authenticate_client: ClientAuthenticator,
    limits: RateLimits,
    addresses: ClientAddress,
    *,
    prefix: str = "/auth",
) -> APIRouter:
    router = APIRouter(tags=["oauth"])

    def metadata(request: Request) -> JSONResponse:
        base = (settings.public_url or str(request.base_url)).rstrip("/")
        body = {
            "issuer": settings.jwt_issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/oauth/token",
            "introspection_endpoint": f"{base}{prefix}/introspect",
            "revocation_endpoint": f"{base}{prefix}/revoke",
            "revocation_feed_endpoint": f"{base}{prefix}/revocations",
            "revocation_stream_endpoint": f"{base}{prefix}/revocations/stream",
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            "access_token_signing_alg_values_supported": [settings.jwt_algorithm],
            "access_token_audience": settings.jwt_audience,
        }
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    @router.get("/.well-known/openid-configuration")
    async def openid_configuration(request: Request) -> JSONResponse:
        """Discovery (the OpenID Connect location): the same document as RFC 8414's."""
        return metadata(request)

    @router.get("/.well-known/oauth-authorization-server")
    async def authorization_server(request: Request) -> JSONResponse:
        """RFC 8414 authorization-server metadata: keys, token endpoint, revocation feed."""
        return metadata(request)

    @router.post(
        "/oauth/token",
        openapi_extra=_TOKEN_BODY,
        responses={
            200: {"description": "RFC 6749 section 5.1 access token response"},
            400: {"description": "RFC 6749 section 5.2 error response"},
            401: {"description": "invalid_client (RFC 6749 section 5.2)"},
            429: {"description": "Rate limited (see Retry-After)"},
        },
    )
    async def token(request: Request) -> JSONResponse:
        """RFC 6749 section 6: a new access token (and a rotated refresh token) for a refresh
        token. A public client sends its ``client_id`` in the form, no secret; a service client
        may authenticate with HTTP Basic or ``client_secret`` in the form."""
        ctx = request_context(addresses, request)
        await limits.hit("refresh", ctx.ip or "-")
        form = await _form(request)
        if isinstance(form, JSONResponse):
            return form
        try:
            if is_basic(request.headers.get("authorization")):
                await authenticate_client(request)
            elif form.get("client_secret"):
                await authenticate_client.check(
                    request, form.get("client_id"), form["client_secret"]
                )
        except InvalidClient as exc:
            return JSONResponse(
                {"error": "invalid_client", "error_description": exc.message},
                status_code=401,
                headers={**_NO_STORE, "WWW-Authenticate": 'Basic realm="tokensmith"'},
            )
        grant = form.get("grant_type")
        if not grant:
            return oauth_error("invalid_request", "grant_type is required")
        if grant != "refresh_token":
            return oauth_error("unsupported_grant_type", "Only grant_type=refresh_token is offered")
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return oauth_error("invalid_request", "refresh_token is required")
        try:
            tokens = await sessions.refresh(refresh_token, ctx)
        except RefreshError as exc:
            return oauth_error("invalid_grant", f"{exc.message} ({exc.code})")
        body: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in_s,
            "refresh_token": tokens.refresh_token,
        }
        return JSONResponse(body, headers=_NO_STORE)

    return router


def oauth_error(error: str, description: str) -> JSONResponse:
    """RFC 6749 section 5.2: 400 with ``error`` and ``error_description``."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers=_NO_STORE
    )


async def _form(request: Request) -> dict[str, str] | JSONResponse:
    """The form's parameters, each at most once (RFC 6749 section 3.2), or the 400 to send."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != _FORM:
        return oauth_error("invalid_request", f"Send the parameters as {_FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return oauth_error("invalid_request", "The form body is malformed")
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        return oauth_error("invalid_request", f"Parameters sent more than once: {repeated[0]}")
    return {name: values[0] for name, values in parsed.items()}
