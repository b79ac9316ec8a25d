"""The ONE table from error code to HTTP status and ``WWW-Authenticate``; and the handlers.

Every error body is ``{"error": message, "code": CODE}`` (422 adds ``details``), contract 4.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokensmith.errors import (
    AuthenticationError,
    InsufficientScope,
    InvalidClient,
    NoToken,
    RateLimited,
    ServiceUnavailable,
    StepUpRequired,
    TokensmithError,
    ValidationError,
)

__all__ = ["STATUS", "error_response", "install_error_handlers"]

log = logging.getLogger("tokensmith.web")

STATUS: dict[str, int] = {
    "NO_TOKEN": 401,
    "TOKEN_EXPIRED": 401,
    "INVALID_TOKEN": 401,
    "TOKEN_REVOKED": 401,
    "INVALID_CREDENTIALS": 401,
    "INVALID_CLIENT": 401,
    "STEP_UP_REQUIRED": 401,
    "REFRESH_TOKEN_REQUIRED": 401,
    "INVALID_REFRESH_TOKEN": 401,
    "REFRESH_TOKEN_EXPIRED": 401,
    "TOKEN_REUSE_DETECTED": 401,
    "SESSION_REVOKED": 401,
    "INVALID_RESET_TOKEN": 400,
    "CSRF_FAILED": 403,
    "INSUFFICIENT_SCOPE": 403,
    "EMAIL_NOT_VERIFIED": 403,
    "REGISTRATION_CLOSED": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "EMAIL_TAKEN": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "VALIDATION_ERROR": 422,
    "RATE_LIMITED": 429,
    "SERVICE_UNAVAILABLE": 503,
}

REALM = "tokensmith"


def www_authenticate(error: TokensmithError) -> str | None:
    """The challenge of an error, or ``None``.

    RFC 6750 section 3: no ``error`` attribute when no token was sent; ``invalid_token`` for a
    bad, expired or revoked one; ``insufficient_scope`` with the ``scope`` needed (section 3.1).
    RFC 9470 section 3: ``insufficient_user_authentication`` with the ``max_age`` allowed.
    RFC 6749 section 5.2: a client that failed HTTP Basic authentication gets a Basic challenge.
    """
    if isinstance(error, InvalidClient):
        return f'Basic realm="{REALM}"'
    if isinstance(error, InsufficientScope):
        scope = " ".join(error.scopes)
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{_quoted(scope)}"'
    if isinstance(error, StepUpRequired):
        challenge = (
            f'Bearer realm="{REALM}", error="insufficient_user_authentication", '
            f'error_description="{_quoted(error.message)}"'
        )
        return challenge if error.max_age_s is None else f"{challenge}, max_age={error.max_age_s}"
    if not isinstance(error, AuthenticationError):
        return None
    if isinstance(error, NoToken):
        return f'Bearer realm="{REALM}"'
    description = _quoted(error.message)
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'


def _quoted(text: str) -> str:
    """RFC 6750 section 3: attribute values are quoted strings; keep them free of quotes."""
    return text.replace("\\", "").replace('"', "'")


def error_response(error: TokensmithError, status: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error.message, "code": error.code}
    if isinstance(error, ValidationError):
        body["details"] = error.details
    status = status or STATUS.get(error.code, 500)
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if (challenge := www_authenticate(error)) is not None:
        headers["WWW-Authenticate"] = challenge
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = "5"
    return JSONResponse(body, status_code=status, headers=headers)


async def _tokensmith_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TokensmithError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_detail(e) for e in exc.errors()]
    first = details[0] if details else {"message": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
    message = f"{where}: {first['message']}" if where else str(first["message"])
    return error_response(ValidationError(message, details))


def _detail(error: Any) -> dict[str, Any]:
    # Never echo the input back: it may be a password.
    return {
        "loc": [str(p) for p in error.get("loc", ())],
        "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        "type": str(error.get("type", "invalid")),
    }


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code
    )
    if code is None:
        body = {"error": str(exc.detail), "code": f"HTTP_{exc.status_code}"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    from tokensmith.errors import error_from_code

    response = error_response(error_from_code(code))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": "Internal error", "code": "INTERNAL_ERROR"}
    return JSONResponse(body, status_code=500, headers={"Cache-Control": "no-store"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TokensmithError, _tokensmith_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
