"""Error presentation, in one place: the status table, the challenges, the body, the handlers.

Every error body is ``{"error": message, "code": CODE}`` (422 adds ``details``), contract 4.
:data:`STATUS` maps each error *class* to its HTTP status; a subclass without an entry takes its
nearest parent's (so :class:`~tokensmith.errors.PasswordMismatch` is ``INVALID_CREDENTIALS`` with
403, and an app's own subclass of a tokensmith error answers like its parent).
:class:`ErrorPresenter` is what turns an error into a response, for the exception handlers and the
body-size middleware alike, and tells its observers (metrics) about each answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from tokensmith.errors import (
    AuthenticationError,
    CsrfFailed,
    EmailNotVerified,
    EmailTaken,
    HookFailed,
    InsufficientScope,
    InvalidClient,
    InvalidCredentials,
    InvalidCursor,
    InvalidRefreshToken,
    InvalidRequest,
    InvalidResetToken,
    InvalidToken,
    LogoutTokenMissing,
    MethodNotAllowed,
    NotFound,
    NoToken,
    PasswordMismatch,
    PayloadTooLarge,
    RateLimited,
    RefreshTokenExpired,
    RefreshTokenRequired,
    RegistrationClosed,
    ServiceUnavailable,
    SessionRevoked,
    StepUpRequired,
    TokenExpired,
    TokenReuseDetected,
    TokenRevoked,
    TokensmithError,
    ValidationError,
    error_from_code,
)

__all__ = [
    "STATUS",
    "ErrorObserver",
    "ErrorPresenter",
    "error_response",
    "status_of",
    "www_authenticate",
]

log = logging.getLogger("tokensmith.web")

STATUS: Final[dict[type[TokensmithError], int]] = {
    NoToken: 401,
    LogoutTokenMissing: 400,
    TokenExpired: 401,
    InvalidToken: 401,
    TokenRevoked: 401,
    InvalidCredentials: 401,
    PasswordMismatch: 403,
    InvalidClient: 401,
    StepUpRequired: 401,
    RefreshTokenRequired: 401,
    InvalidRefreshToken: 401,
    RefreshTokenExpired: 401,
    TokenReuseDetected: 401,
    SessionRevoked: 401,
    InvalidResetToken: 400,
    InvalidRequest: 400,
    CsrfFailed: 403,
    InsufficientScope: 403,
    EmailNotVerified: 403,
    RegistrationClosed: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    EmailTaken: 409,
    PayloadTooLarge: 413,
    ValidationError: 422,
    InvalidCursor: 400,
    RateLimited: 429,
    ServiceUnavailable: 503,
}
"""HTTP status by error class (contract 4). Errors outside the table are 500."""

_LOG_ONLY: Final = (HookFailed,)
"""Errors whose message is for the operator's log: the client gets the class's generic one."""


def status_of(error: TokensmithError) -> int:
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


REALM = "tokensmith"


def www_authenticate(error: TokensmithError) -> str | None:
    """The challenge of an error, or ``None``.

    RFC 6750 section 3: no ``error`` attribute when no token was sent; ``invalid_token`` for a
    bad, expired or revoked one; ``invalid_request`` for an ambiguous request (400);
    ``insufficient_scope`` with the ``scope`` needed (section 3.1).
    RFC 9470 section 3: ``insufficient_user_authentication`` with the ``max_age`` allowed.
    RFC 6749 section 5.2: a client that failed HTTP Basic authentication gets a Basic challenge.
    """
    if isinstance(error, InvalidClient):
        return f'Basic realm="{REALM}"'
    if isinstance(error, InvalidRequest):
        description = _quoted(error.message)
        return f'Bearer realm="{REALM}", error="invalid_request", error_description="{description}"'
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


def error_response(error: TokensmithError) -> JSONResponse:
    """The contract's answer for ``error``: status from :data:`STATUS`, the challenge, and
    ``Retry-After`` where it applies. Never cacheable."""
    message = ServiceUnavailable.default_message if isinstance(error, _LOG_ONLY) else error.message
    body: dict[str, Any] = {"error": message, "code": error.code}
    if isinstance(error, ValidationError):
        body["details"] = error.details
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if (challenge := www_authenticate(error)) is not None:
        headers["WWW-Authenticate"] = challenge
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = "5"
    return JSONResponse(body, status_code=status_of(error), headers=headers)


ErrorObserver = Callable[[Scope, TokensmithError, int], None]
"""``observer(scope, error, status)``: told of every error answer (metrics count them)."""

_HTTP_CODES: Final = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}

_UNPARSABLE: Final = (RecursionError, ValueError, UnicodeDecodeError)
"""What :func:`json.loads` raises beyond ``JSONDecodeError`` (a ``ValueError`` too)."""
_UNPARSABLE_MESSAGE: Final = (
    "body: the JSON cannot be parsed (nested too deeply, or a number with too many digits)"
)
_UNPARSABLE_DETAIL: Final = {
    "loc": ["body"],
    "message": _UNPARSABLE_MESSAGE,
    "type": "json_invalid",
}


class ErrorPresenter:
    """Turns errors into answers and tells the observers; one per app."""

    def __init__(self) -> None:
        self._observers: list[ErrorObserver] = []

    def __repr__(self) -> str:
        return f"ErrorPresenter(observers={len(self._observers)})"

    def observe(self, observer: ErrorObserver) -> None:
        self._observers.append(observer)

    def present(self, scope: Scope, error: TokensmithError) -> JSONResponse:
        if isinstance(error, _LOG_ONLY):
            # The app's directory or hook failed: the details are for the operator (the log line
            # carries the request id), never for the client.
            cause = error.__cause__
            log.error(
                "%s; answered 503",
                error.message,
                exc_info=(type(cause), cause, cause.__traceback__) if cause is not None else None,
            )
        response = error_response(error)
        for observer in self._observers:
            observer(scope, error, response.status_code)
        return response

    def install(self, app: FastAPI) -> None:
        """The exception handlers of ``app``: every error leaves in the contract's shape."""
        app.add_exception_handler(TokensmithError, self._tokensmith_error)
        app.add_exception_handler(RequestValidationError, self._validation_error)
        app.add_exception_handler(StarletteHTTPException, self._http_error)
        app.add_exception_handler(Exception, self._unexpected)

    async def _tokensmith_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TokensmithError)
        return self.present(request.scope, exc)

    async def _validation_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [_detail(e) for e in exc.errors()]
        first = details[0] if details else {"message": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        message = f"{where}: {first['message']}" if where else str(first["message"])
        return self.present(request.scope, ValidationError(message, details))

    async def _http_error(self, request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, _UNPARSABLE):
            # FastAPI answers 400 (a code outside the contract) when the JSON parser itself
            # gives up: nesting past its recursion limit, or an integer past Python's 4300-digit
            # conversion limit. That is malformed JSON to the client: 422 (contract 4).
            return self.present(
                request.scope, ValidationError(_UNPARSABLE_MESSAGE, [_UNPARSABLE_DETAIL])
            )
        code = _HTTP_CODES.get(exc.status_code)
        if code is None:
            body = {"error": str(exc.detail), "code": f"HTTP_{exc.status_code}"}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        response = self.present(request.scope, error_from_code(code))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def _unexpected(self, request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return self.present(request.scope, TokensmithError("Internal error"))


def _detail(error: Any) -> dict[str, Any]:
    # Never echo the input back: it may be a password.
    return {
        "loc": [str(p) for p in error.get("loc", ())],
        "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        "type": str(error.get("type", "invalid")),
    }
