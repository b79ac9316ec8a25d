"""OAuth endpoints for other services: RFC 7662 introspection and RFC 7009 revocation.

``POST /auth/introspect`` tells a resource server whether a token is active *now* (signature,
expiry, and the revocations a local JWT check cannot see). It is for services, not browsers: the
caller authenticates with ``INTROSPECTION_SECRET``, sent as HTTP Basic (RFC 6749 section 2.3.1,
any client id) or as a Bearer credential.

``POST /auth/revoke`` ends the session of the token given, whichever kind it is. Possession of a
token is enough authority to end its own session (``/auth/logout`` works the same way), so a
public client needs no client credentials; HTTP Basic credentials, when sent, must be right.
RFC 7009 section 2.2: the answer is 200 whether or not the token was valid.

Both read ``application/x-www-form-urlencoded`` bodies as the RFCs require.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.clients import ServiceClient
from tokensmith.core.introspection import Introspector
from tokensmith.errors import ValidationError
from tokensmith.web.client_auth import ClientAuthenticator
from tokensmith.web.context import request_context
from tokensmith.web.ratelimit import RateLimits
from tokensmith.web.responses import errors
from tokensmith.web.transport import ClientAddress

__all__ = ["oauth_routes"]

_FORM: Final = "application/x-www-form-urlencoded"

_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {"type": "string"},
                        "token_type_hint": {
                            "type": "string",
                            "enum": ["access_token", "refresh_token"],
                        },
                    },
                }
            }
        },
    }
}


def oauth_routes(
    introspector: Introspector,
    authenticate_client: ClientAuthenticator,
    limits: RateLimits,
    addresses: ClientAddress,
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/introspect",
        tags=["oauth"],
        openapi_extra=_FORM_BODY,
        responses={
            200: {"description": "RFC 7662 introspection response"},
            401: {"description": "Client authentication failed (INVALID_CLIENT)"},
            **errors(),
        },
    )
    async def introspect(
        request: Request, client: ServiceClient = Depends(authenticate_client)
    ) -> Response:
        """RFC 7662: is this token active, and whose is it? ``{"active": false}`` for anything
        invalid, expired or revoked. Needs a service client (``SERVICE_CLIENTS`` with HTTP Basic,
        or ``INTROSPECTION_SECRET`` as Basic or Bearer)."""
        token, hint = await _token_form(request)
        return JSONResponse(await introspector.describe(token, hint))

    @router.post(
        "/revoke",
        tags=["oauth"],
        response_class=Response,
        openapi_extra=_FORM_BODY,
        responses={
            200: {"description": "Revoked, or nothing to revoke (RFC 7009 section 2.2)"},
            401: {"description": "Wrong HTTP Basic client credentials (INVALID_CLIENT)"},
            **errors(429),
        },
    )
    async def revoke(request: Request) -> Response:
        """RFC 7009: end the session of an access or refresh token. Always 200 for a token, valid
        or not; client credentials are optional but must be right when sent with HTTP Basic."""
        await authenticate_client.optional(request)
        ctx = request_context(addresses, request)
        await limits.hit("refresh", ctx.ip or "-")
        token, hint = await _token_form(request)
        await introspector.revoke(token, hint, ctx)
        return Response(status_code=200)

    return router


async def _token_form(request: Request) -> tuple[str, str | None]:
    """``token`` and ``token_type_hint`` from a form body; 422 when ``token`` is missing."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != _FORM:
        raise ValidationError(f"Send the parameters as {_FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        form = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The form body is malformed") from None
    tokens = form.get("token", [])
    if len(tokens) != 1 or not tokens[0]:
        # RFC 6749 section 3.2: parameters must not be included more than once.
        raise ValidationError("token: exactly one non-empty 'token' parameter is required")
    hints = form.get("token_type_hint", [])
    return tokens[0], hints[0] if len(hints) == 1 else None
