"""Which optional dependencies a feature needs, and the one line that says how to install them."""

from __future__ import annotations

__all__ = ["SERVER_EXTRA", "missing_server_extra"]

SERVER_EXTRA = "pip install 'tokensmith[server]'"

# Top-level modules of the server extra; the base install (client, verifier) has none of them.
_SERVER_MODULES = frozenset(
    {
        "aiosmtplib",
        "aiosqlite",
        "alembic",
        "argon2",
        "click",
        "email_validator",
        "fastapi",
        "limits",
        "prometheus_client",
        "pydantic",
        "pydantic_settings",
        "rich",
        "sqlalchemy",
        "starlette",
        "uvicorn",
    }
)


def missing_server_extra(exc: ModuleNotFoundError, what: str) -> str | None:
    """One line telling how to install ``what`` when ``exc`` is a missing server dependency;
    ``None`` when it is something else (a bug to report, not an install to make)."""
    module = (exc.name or "").partition(".")[0]
    if module not in _SERVER_MODULES:
        return None
    return f"{what} needs the server extra ({module} is not installed): {SERVER_EXTRA}"
