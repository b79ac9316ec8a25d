"""The wire side of the client: reading the server's answers, building the refresh request.

Pure functions over ``httpx`` objects, so sync and async code share them. Errors are translated
here, at the boundary: a contract ``{"error", "code"}`` body becomes the library's own error class
(:func:`tokensmith.errors.error_from_code`), whatever the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tokensmith.errors import RateLimited, TokensmithError, ValidationError, error_from_code

__all__ = [
    "RefreshAnswer",
    "build_refresh_request",
    "error_code",
    "error_from_response",
    "judge_refresh_response",
    "raise_for_error",
]


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_code(response: httpx.Response) -> str | None:
    """The contract ``code`` of an error response (its body must have been read), else ``None``."""
    body = _json_body(response)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return str(body["code"])
    return None


def error_from_response(response: httpx.Response) -> TokensmithError:
    """Rebuild the error the server raised from its ``{"error", "code"}`` body (contract 4).

    A body without a code (a proxy's error page) becomes a :class:`TokensmithError` whose code is
    ``HTTP_<status>``, or :class:`~tokensmith.errors.ServiceUnavailable` for a bare 503.
    """
    body = _json_body(response)
    code = error_code(response)
    if code is None:
        fallback = "SERVICE_UNAVAILABLE" if response.status_code == 503 else None
        unexpected = f"Unexpected HTTP {response.status_code} from the server"
        return error_from_code(fallback or f"HTTP_{response.status_code}", unexpected)
    message = body.get("error") if isinstance(body.get("error"), str) else None
    if code == RateLimited.code:
        return RateLimited(message, retry_after_s=_retry_after_s(response))
    if code == ValidationError.code:
        details = body.get("details")
        return ValidationError(message, details if isinstance(details, list) else None)
    return error_from_code(code, message)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the library error for a non-2xx response; return quietly for a success."""
    if not response.is_success:
        raise error_from_response(response)


def _retry_after_s(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1


def build_refresh_request(refresh_url: str, refresh_token: str, timeout_s: float) -> httpx.Request:
    """``POST /auth/refresh {refreshToken}``: the token travels in the body, never in the URL."""
    return httpx.Request(
        "POST",
        refresh_url,
        json={"refreshToken": refresh_token},
        headers={"Accept": "application/json"},
        extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
    )


@dataclass(frozen=True)
class RefreshAnswer:
    """What a refresh response means: new tokens (``body``), or an ``error``, retryable or not."""

    body: object = None
    error: TokensmithError | None = None
    retryable: bool = False


def judge_refresh_response(response: httpx.Response) -> RefreshAnswer:
    """Classify a read refresh response.

    A 5xx is retryable: the server may or may not have rotated the token, and presenting the same
    one again inside the reuse grace is safe either way (contract 5.3). Anything else that is not
    a success is final; a 429 is final too (retrying at once would only be refused again).
    """
    if response.is_success:
        body = _json_body(response)
        if body is None:
            return RefreshAnswer(error=TokensmithError("The server's token response is not JSON"))
        return RefreshAnswer(body=body)
    error = error_from_response(response)
    return RefreshAnswer(error=error, retryable=response.status_code >= 500)
