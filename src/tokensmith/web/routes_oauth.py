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

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tokensmith.core.models import AccessClaims, RefreshClaims
from tokensmith.core.tokens import hash_jti
from tokensmith.errors import (
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenExpired,
    TokenExpired,
    TokenRevoked,
    ValidationError,
)
from tokensmith.web.responses import errors

if TYPE_CHECKING:
    from tokensmith.web.integration import Tokensmith

__all__ = ["oauth_routes"]

_FORM: Final = "application/x-www-form-urlencoded"
_INACTIVE: Final = {"active": False}
_NOT_OURS = (InvalidToken, TokenExpired, TokenRevoked, InvalidRefreshToken, RefreshTokenExpired)

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


def oauth_routes(ts: Tokensmith) -> APIRouter:
    router = APIRouter()
    authenticate_client = ts.client_auth

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
    async def introspect(request: Request) -> Response:
        """RFC 7662: is this token active, and whose is it? ``{"active": false}`` for anything
        invalid, expired or revoked. Needs a service client (``SERVICE_CLIENTS`` with HTTP Basic,
        or ``INTROSPECTION_SECRET`` as Basic or Bearer)."""
        await authenticate_client(request)
        token, hint = await _token_form(request)
        order = (
            (_refresh_info, _access_info)
            if hint == "refresh_token"
            else (
                _access_info,
                _refresh_info,
            )
        )
        for describe in order:
            try:
                return JSONResponse(await describe(ts, token))
            except _NOT_OURS:
                continue
        return JSONResponse(_INACTIVE)

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
        ctx = ts.context(request)
        await ts.rate_limits.hit("refresh", ctx.ip or "-")
        token, hint = await _token_form(request)
        codec = ts.services.codec
        access: AccessClaims | None = None
        refresh: RefreshClaims | None = None
        # An expired token still names its session, as on /auth/logout.
        if hint == "refresh_token":
            refresh = _try(lambda: codec.verify_refresh(token, check_expiry=False))
        access = None if refresh else _try(lambda: codec.verify_access(token, check_expiry=False))
        if access is None and refresh is None and hint != "refresh_token":
            refresh = _try(lambda: codec.verify_refresh(token, check_expiry=False))
        if access is not None or refresh is not None:
            await ts.services.sessions.logout(access, refresh, ctx)
        return Response(status_code=200)

    return router


def _try(verify: Any) -> Any:
    try:
        return verify()
    except (InvalidToken, InvalidRefreshToken):
        return None


async def _access_info(ts: Tokensmith, token: str) -> dict[str, Any]:
    claims = ts.services.sessions.authenticate(token)  # signature, expiry, revocation
    user = await ts.services.accounts.get_user(claims.sub)  # TokenRevoked when disabled
    return {
        "active": True,
        "token_type": "Bearer",  # RFC 7662 section 2.2 / RFC 6749 section 7.1
        "token_use": "access",
        **_common(ts, claims.raw),
        "username": user.email,
        "email": user.email,
    }


async def _refresh_info(ts: Tokensmith, token: str) -> dict[str, Any]:
    claims = ts.services.codec.verify_refresh(token)
    now = ts.services.clock.now()
    async with ts.services.database.transaction() as uow:
        session = await uow.sessions.get(claims.sid)
    if (
        session is None
        or session.user_id != claims.sub
        or not session.is_active(now)
        or session.expires_at <= now
        # Only the live token of the session is active; a rotated one is spent.
        or session.current_hash != hash_jti(claims.jti)
    ):
        raise InvalidRefreshToken()
    user = await ts.services.accounts.get_user(claims.sub)
    raw = {
        "sub": claims.sub,
        "sid": claims.sid,
        "jti": claims.jti,
        "iat": claims.iat,
        "exp": claims.exp,
    }
    return {
        "active": True,
        "token_use": "refresh",
        **_common(ts, raw),
        "username": user.email,
        "email": user.email,
    }


def _common(ts: Tokensmith, claims: dict[str, Any]) -> dict[str, Any]:
    return {
        "sub": claims["sub"],
        "sid": claims["sid"],
        "jti": claims["jti"],
        "iat": claims["iat"],
        "exp": claims["exp"],
        "iss": ts.settings.jwt_issuer,
        "aud": ts.settings.jwt_audience,
    }


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
