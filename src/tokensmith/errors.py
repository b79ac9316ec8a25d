"""One error tree for the whole of tokensmith.

Every error carries the contract's stable ``code`` (CONTRACT.md section 4). The core raises these;
the edges present them: the web layer maps ``code`` to an HTTP status and ``WWW-Authenticate``
(``tokensmith.web.errors``), the CLI maps them to exit codes, and the Python client rebuilds the
same class from the ``code`` it receives (:func:`error_from_code`).

::

    TokensmithError
    ├── AuthenticationError            access-token problems on protected routes
    │   ├── NoToken                    NO_TOKEN
    │   │   └── LogoutTokenMissing     NO_TOKEN (400: logout named no session)
    │   ├── TokenExpired               TOKEN_EXPIRED
    │   ├── InvalidToken               INVALID_TOKEN
    │   └── TokenRevoked               TOKEN_REVOKED
    ├── InvalidRequest                 INVALID_REQUEST (400: RFC 6750 section 3.1 invalid_request)
    ├── InsufficientScope              INSUFFICIENT_SCOPE (403: the token lacks a scope)
    ├── StepUpRequired                 STEP_UP_REQUIRED (401: the login is too old, RFC 9470)
    ├── InvalidCredentials             INVALID_CREDENTIALS
    │   └── PasswordMismatch           INVALID_CREDENTIALS (403: a signed-in user's password)
    ├── InvalidClient                  INVALID_CLIENT (a service client's credentials)
    ├── RefreshError                   refresh-token problems
    │   ├── RefreshTokenRequired       REFRESH_TOKEN_REQUIRED
    │   ├── InvalidRefreshToken        INVALID_REFRESH_TOKEN
    │   ├── RefreshTokenExpired        REFRESH_TOKEN_EXPIRED
    │   ├── TokenReuseDetected         TOKEN_REUSE_DETECTED
    │   └── SessionRevoked             SESSION_REVOKED
    ├── CsrfFailed                     CSRF_FAILED
    ├── EmailTaken                     EMAIL_TAKEN
    ├── EmailNotVerified               EMAIL_NOT_VERIFIED
    ├── RegistrationClosed             REGISTRATION_CLOSED
    ├── InvalidResetToken              INVALID_RESET_TOKEN
    ├── NotFound                       NOT_FOUND
    ├── MethodNotAllowed               METHOD_NOT_ALLOWED
    ├── PayloadTooLarge                PAYLOAD_TOO_LARGE
    ├── ValidationError                VALIDATION_ERROR
    │   └── InvalidCursor              VALIDATION_ERROR (400: a feed cursor we never gave)
    ├── RateLimited                    RATE_LIMITED
    ├── ServiceUnavailable             SERVICE_UNAVAILABLE
    │   └── HookFailed                 SERVICE_UNAVAILABLE (the app's directory or claims hook)
    │       └── ClaimsError            SERVICE_UNAVAILABLE (a claim tokensmith cannot carry)
    └── ConfigError                    CONFIG_ERROR (start-up only, never over HTTP)

Messages are written for the person reading them and never contain a token, a secret or a
password. A subclass without a ``code`` of its own shares its parent's code and differs only in how
the edges present it (an HTTP status, a message kept for the log).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "ClaimsError",
    "ConfigError",
    "CsrfFailed",
    "EmailNotVerified",
    "EmailTaken",
    "HookFailed",
    "InsufficientScope",
    "InvalidClient",
    "InvalidCredentials",
    "InvalidCursor",
    "InvalidRefreshToken",
    "InvalidRequest",
    "InvalidResetToken",
    "InvalidToken",
    "LogoutTokenMissing",
    "MethodNotAllowed",
    "NoToken",
    "NotFound",
    "PasswordMismatch",
    "PayloadTooLarge",
    "RateLimited",
    "RefreshError",
    "RefreshTokenExpired",
    "RefreshTokenRequired",
    "RegistrationClosed",
    "ServiceUnavailable",
    "SessionRevoked",
    "StepUpRequired",
    "TokenExpired",
    "TokenReuseDetected",
    "TokenRevoked",
    "TokensmithError",
    "ValidationError",
    "error_from_code",
]


class TokensmithError(Exception):
    """Base of every tokensmith error; ``code`` is the contract's stable identifier."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Something went wrong"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class AuthenticationError(TokensmithError):
    """The access token on a protected route is missing or not acceptable."""


class NoToken(AuthenticationError):
    code = "NO_TOKEN"
    default_message = "No access token: send 'Authorization: Bearer <token>'"


class LogoutTokenMissing(NoToken):
    """Logout (or revocation) named no session: neither an access nor a refresh token came."""

    default_message = "Send the access token (Bearer) or the refresh token to log out"


class TokenExpired(AuthenticationError):
    code = "TOKEN_EXPIRED"
    default_message = "The access token has expired: refresh it"


class InvalidToken(AuthenticationError):
    code = "INVALID_TOKEN"
    default_message = "The access token is not valid"


class TokenRevoked(AuthenticationError):
    code = "TOKEN_REVOKED"
    default_message = "The session of this token has ended: log in again"


class InvalidRequest(TokensmithError):
    """The request is ambiguous about whose credentials it carries (RFC 6750 section 3.1,
    ``invalid_request``): two ``Authorization`` headers, or a logout naming two users."""

    code = "INVALID_REQUEST"
    default_message = "The request is malformed"


class InsufficientScope(TokensmithError):
    """The token is valid but lacks a scope the route needs (RFC 6750 section 3.1)."""

    code = "INSUFFICIENT_SCOPE"
    default_message = "The access token does not grant the scope this needs"

    def __init__(self, message: str | None = None, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.scopes = scopes
        """Every scope the route requires (the ``scope`` attribute of the challenge)."""


class StepUpRequired(TokensmithError):
    """The login behind the token is older than the route allows (RFC 9470)."""

    code = "STEP_UP_REQUIRED"
    default_message = "This needs a recent login: authenticate again"

    def __init__(self, message: str | None = None, max_age_s: int | None = None) -> None:
        super().__init__(message)
        self.max_age_s = max_age_s
        """The route's ``max_age`` (the challenge's ``max_age`` attribute)."""


class InvalidCredentials(TokensmithError):
    code = "INVALID_CREDENTIALS"
    default_message = "Invalid email or password"


class PasswordMismatch(InvalidCredentials):
    """A signed-in user's password is wrong (password change, reauthentication): the token is
    fine, so the answer is 403, never a 401 that would make a client refresh or log out."""

    default_message = "The password is wrong"


class InvalidClient(TokensmithError):
    """A service client's credentials are missing or wrong (RFC 6749 section 5.2
    ``invalid_client``)."""

    code = "INVALID_CLIENT"
    default_message = "Client authentication failed"


class RefreshError(TokensmithError):
    """The refresh token presented cannot mint new tokens."""


class RefreshTokenRequired(RefreshError):
    code = "REFRESH_TOKEN_REQUIRED"
    default_message = "A refresh token is required"


class InvalidRefreshToken(RefreshError):
    code = "INVALID_REFRESH_TOKEN"
    default_message = "The refresh token is not valid"


class RefreshTokenExpired(RefreshError):
    code = "REFRESH_TOKEN_EXPIRED"
    default_message = "The refresh token has expired: log in again"


class TokenReuseDetected(RefreshError):
    code = "TOKEN_REUSE_DETECTED"
    default_message = (
        "This refresh token was already used; the session has been revoked as a precaution"
    )


class SessionRevoked(RefreshError):
    code = "SESSION_REVOKED"
    default_message = "The session has ended: log in again"


class CsrfFailed(TokensmithError):
    code = "CSRF_FAILED"
    default_message = "Missing or wrong X-CSRF-Token header"


class EmailTaken(TokensmithError):
    code = "EMAIL_TAKEN"
    default_message = "An account with this email already exists"


class EmailNotVerified(TokensmithError):
    code = "EMAIL_NOT_VERIFIED"
    default_message = "Verify your email address before logging in"


class RegistrationClosed(TokensmithError):
    code = "REGISTRATION_CLOSED"
    default_message = "Registration is closed"


class InvalidResetToken(TokensmithError):
    code = "INVALID_RESET_TOKEN"
    default_message = "This reset link is not valid: it was used, it expired, or it is unknown"


class NotFound(TokensmithError):
    code = "NOT_FOUND"
    default_message = "Not found"


class MethodNotAllowed(TokensmithError):
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


class PayloadTooLarge(TokensmithError):
    code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body is larger than 64 KiB"


class ValidationError(TokensmithError):
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid"

    def __init__(self, message: str | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.details = details or []


class InvalidCursor(ValidationError):
    """A revocation-feed cursor (``since``, ``Last-Event-ID``) that this server never handed out:
    forged, from the future (another database) or garbage. 400: the caller must resynchronise
    from the full list, never carry on as if nothing was revoked."""

    default_message = "The cursor is not one this server issued: fetch the full list again"


class RateLimited(TokensmithError):
    code = "RATE_LIMITED"
    default_message = "Too many requests: try again later"

    def __init__(self, message: str | None = None, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class ServiceUnavailable(TokensmithError):
    code = "SERVICE_UNAVAILABLE"
    default_message = "The service is temporarily unavailable: try again shortly"


class HookFailed(ServiceUnavailable):
    """The app's user directory or claims hook raised, or answered something unusable.

    Presented as 503 ``SERVICE_UNAVAILABLE`` with the generic message (the details go to the log,
    with the request id): no session starts and no token is issued without its claims.
    """


class ClaimsError(HookFailed):
    """Claims tokensmith cannot put in an access token: a reserved name, a value JSON cannot
    carry, or a token over 8 KiB. A programming error; the message names the claim."""


class ConfigError(TokensmithError):
    """A configuration value is wrong; ``variable`` names it. Raised at start-up only."""

    code = "CONFIG_ERROR"

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


def _all_subclasses(cls: type[TokensmithError]) -> list[type[TokensmithError]]:
    found: list[type[TokensmithError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_BY_CODE: dict[str, type[TokensmithError]] = {
    # InvalidCredentials is 401 on login and 403 on password change: one class, one code.
    sub.code: sub
    for sub in _all_subclasses(TokensmithError)
    if "code" in vars(sub)
}


def error_from_code(code: str, message: str | None = None) -> TokensmithError:
    """Rebuild the error class the server raised from the contract ``code`` it sent.

    An unknown code (a newer server) becomes a plain :class:`TokensmithError` keeping the code.
    """
    cls = _BY_CODE.get(code)
    if cls is None or cls is ConfigError:
        err = TokensmithError(message)
        err.code = code  # type: ignore[misc]  # keep the server's code on the generic error
        return err
    return cls(message)
