"""OpenAPI descriptions of the error answers each route can give (contract section 4)."""

from __future__ import annotations

from typing import Any

from tokensmith.web.schemas import ErrorBody

__all__ = ["errors"]

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Validation error",
    429: "Rate limited (see Retry-After)",
    503: "Database unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in (*statuses, 413, 422, 503)
    }
