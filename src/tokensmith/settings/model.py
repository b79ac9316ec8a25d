"""The :class:`Settings` model: every variable of the contract (sections 2, 8, 9 and 10), its
default, and the checks that need only the values themselves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tokensmith.settings.fields import (
    Duration,
    IpNetwork,
    ServiceClientSecret,
    http_url,
    parse_service_clients,
    split_list,
)

__all__ = ["FieldProblem", "Settings"]


class FieldProblem(ValueError):
    """A problem that belongs to one variable, raised from a check that sees several."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


class Settings(BaseSettings):
    """Every knob of tokensmith; the environment variable is the field name in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
        hide_input_in_errors=True,
    )

    # -- tokens (contract 2, 3) --------------------------------------------------------------
    jwt_secret: SecretStr | None = None
    """Key for access tokens (HS256). Development: generated once into the data dir."""
    jwt_refresh_secret: SecretStr | None = None
    """Key for refresh tokens; must differ from ``jwt_secret``."""
    jwt_previous_secrets: Annotated[list[SecretStr], NoDecode, BeforeValidator(split_list)] = []
    """Older access-token secrets still accepted for verification while tokens age out."""
    jwt_expires_in: Duration = timedelta(minutes=15)
    """Access-token lifetime."""
    jwt_refresh_expires_in: Duration = timedelta(days=7)
    """Refresh-token lifetime; every rotation issues a new one."""
    session_max_age: Duration = timedelta(days=30)
    """Absolute lifetime of a session, however often it refreshes."""
    jwt_clock_tolerance: Duration = timedelta(seconds=60)
    """Leeway for ``exp``, ``nbf`` and ``iat`` (RFC 7519 section 4.1.4)."""
    refresh_reuse_grace: Duration = timedelta(seconds=10)
    """How long a rotated refresh token still returns the same successor (contract 5.3)."""
    jwt_algorithm: Literal["HS256", "EdDSA", "ES256", "RS256"] = "HS256"
    """Algorithm of access tokens; refresh tokens are always HS256 with their own secret."""
    jwt_private_key_file: Path | None = None
    """PKCS#8 PEM private key for asymmetric access tokens."""
    jwt_issuer: str = Field("tokensmith", min_length=1)
    jwt_audience: str = Field("tokensmith", min_length=1)

    # -- storage -----------------------------------------------------------------------------
    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    """``sqlite:///path.db`` or ``postgresql://...``; default: SQLite in the data dir."""
    redis_url: str | None = Field(default=None, repr=False)
    """When set, revocations and rate limits are shared across instances."""

    # -- rate limits and the network ---------------------------------------------------------
    rate_limit_login: str = "10/minute"
    """Per client IP and email."""
    rate_limit_login_ip: str = "30/minute"
    """Login attempts per client IP, whatever the email (one IP spraying many emails)."""
    rate_limit_login_account: str = "20/minute"
    """Login attempts per email, whatever the IP (many IPs guessing one account)."""
    rate_limit_password: str = "5/minute"  # noqa: S105 - a rate limit, not a password
    """``POST /auth/password`` and ``/auth/reauthenticate`` attempts per user."""
    rate_limit_password_ip: str = "20/minute"  # noqa: S105 - a rate limit, not a password
    """``POST /auth/password`` and ``/auth/reauthenticate`` attempts per client IP."""
    rate_limit_refresh: str = "120/minute"
    """Per client IP."""
    rate_limit_register: str = "10/minute"
    """Per client IP."""
    trusted_proxies: Annotated[list[IpNetwork], NoDecode, BeforeValidator(split_list)] = []
    """Peers whose ``X-Forwarded-For`` is believed (addresses or CIDR ranges)."""
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(split_list)] = []
    """Exact origins allowed to call the API with credentials."""
    cookie_samesite: Literal["Strict", "Lax", "None"] = "Strict"

    # -- the process -------------------------------------------------------------------------
    tokensmith_env: Literal["development", "production"] = "development"
    tokensmith_data_dir: Path = Path(".tokensmith")
    tokensmith_log_level: Literal["debug", "info", "warning", "error"] = "info"

    # -- other services (contract 10) --------------------------------------------------------
    revocation_stream_heartbeat: Duration = timedelta(seconds=15)
    """How often ``/auth/revocations/stream`` sends a heartbeat on an idle stream (contract 10);
    a verifier that hears nothing for three of them reconnects."""
    revocation_stream_buffer: int = Field(64, ge=1, le=100_000)
    """Events held for one stream subscriber that is not reading; past it, it is dropped (it
    reconnects and resumes from its cursor), so the server never buffers without bound."""
    introspection_secret: SecretStr | None = None
    """Client secret other services use for ``/auth/introspect`` (RFC 7662); one more service
    client besides ``service_clients``."""
    service_clients: Annotated[
        list[ServiceClientSecret], NoDecode, BeforeValidator(parse_service_clients)
    ] = []
    """``id:secret`` pairs, comma-separated: services that start sessions (``POST /auth/sessions``),
    read the revocation feed, introspect and revoke, authenticating with HTTP Basic."""

    # -- session policies (contract 8) -------------------------------------------------------
    session_short_max_age: Duration = timedelta(hours=12)
    """Lifetime of a session opened with ``remember: false``; its cookie has no ``Max-Age``."""
    max_sessions_per_user: int = Field(0, ge=0)
    """``0``: no limit. Past the limit a new login revokes the least recently used session."""
    registration: Literal["open", "closed"] = "open"
    """``closed``: ``POST /auth/register`` answers 403 ``REGISTRATION_CLOSED``."""

    # -- account recovery, mail and webhooks (contract 9) -------------------------------------
    password_reset_expires_in: Duration = timedelta(minutes=30)
    """Lifetime of a password-reset link."""
    email_verification_expires_in: Duration = timedelta(days=1)
    """Lifetime of an email-verification link."""
    require_verified_email: bool = False
    """``true``: login of a user whose email is not verified is 403 ``EMAIL_NOT_VERIFIED``."""
    smtp_url: str | None = Field(default=None, repr=False)  # holds the SMTP password
    """``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://`` (TLS from the start).
    Unset in development: mails are written to the log."""
    mail_from: str = "tokensmith <no-reply@localhost>"
    """The ``From`` of every mail."""
    public_url: str | None = None
    """Base of the links in mails (``https://auth.example.com``); never taken from a request."""
    webhook_url: str | None = None
    """Where events are POSTed (contract 9)."""
    webhook_secret: SecretStr | None = None
    """Key of the ``Tokensmith-Signature`` HMAC; required with ``webhook_url``."""
    rate_limit_recovery: str = "10/minute"
    """Forgot, reset and verify: per client IP, and per email (or user) where there is one."""
    outbox_max_retry_delay: Duration = timedelta(minutes=10)
    """The longest wait between two delivery attempts of a mail or webhook (the backoff's cap)."""

    @field_validator("cookie_samesite", mode="before")
    @classmethod
    def _samesite_case(cls, value: Any) -> Any:
        return value.capitalize() if isinstance(value, str) else value

    @field_validator("jwt_algorithm", mode="before")
    @classmethod
    def _algorithm_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"eddsa": "EdDSA"}.get(value.lower(), value.upper())
        return value

    @field_validator("tokensmith_env", "tokensmith_log_level", "registration", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "rate_limit_login",
        "rate_limit_refresh",
        "rate_limit_register",
        "rate_limit_login_ip",
        "rate_limit_login_account",
        "rate_limit_password",
        "rate_limit_password_ip",
        "rate_limit_recovery",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit; use e.g. 5/minute") from None
        return value

    @field_validator(
        "jwt_expires_in",
        "jwt_refresh_expires_in",
        "session_max_age",
        "session_short_max_age",
        "password_reset_expires_in",
        "email_verification_expires_in",
        "outbox_max_retry_delay",
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0 seconds")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an exact origin like https://app.example.com")
        return [origin.rstrip("/") for origin in value]

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgres")):
            raise ValueError("use sqlite:///path.db or postgresql://user@host/db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use redis://host:6379/0")
        return value or None

    @field_validator("public_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value) if value else None

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            port, parts = None, None
        if parts is None or parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            # The value may hold a password: the message never repeats it.
            raise ValueError("use smtp://user:pass@host:587 or smtps://user:pass@host:465")
        del port  # parsed only to refuse a non-numeric port
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        if "@" not in value or any(c in value for c in "\r\n"):
            raise ValueError("use an address such as 'tokensmith <no-reply@example.com>'")
        return value.strip()

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.jwt_refresh_expires_in < self.jwt_expires_in:
            # Access tokens outliving the refresh token defeat rotation and revocation.
            raise FieldProblem("jwt_refresh_expires_in", "must be at least JWT_EXPIRES_IN")
        if self.session_max_age < self.jwt_expires_in:
            raise FieldProblem("session_max_age", "must be at least JWT_EXPIRES_IN")
        if self.session_short_max_age < self.jwt_expires_in:
            raise FieldProblem("session_short_max_age", "must be at least JWT_EXPIRES_IN")
        if self.cookie_samesite == "None" and not self.is_production:
            # SameSite=None requires Secure, and Secure cookies need https: production only.
            raise FieldProblem("cookie_samesite", "None requires TOKENSMITH_ENV=production")
        if self.jwt_algorithm != "HS256" and self.jwt_private_key_file is None:
            raise FieldProblem(
                "jwt_private_key_file", f"required when JWT_ALGORITHM={self.jwt_algorithm}"
            )
        if self.webhook_url and self.webhook_secret is None:
            raise FieldProblem("webhook_secret", "required when WEBHOOK_URL is set")
        return self

    @property
    def is_production(self) -> bool:
        return self.tokensmith_env == "production"

    @property
    def resolved_database_url(self) -> str:
        """The database URL; the default is a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.tokensmith_data_dir / 'tokensmith.db').resolve()}"

    @property
    def access_secret(self) -> bytes:
        assert self.jwt_secret is not None, "load_settings() resolves the secrets"
        return self.jwt_secret.get_secret_value().encode()

    @property
    def refresh_secret(self) -> bytes:
        assert self.jwt_refresh_secret is not None, "load_settings() resolves the secrets"
        return self.jwt_refresh_secret.get_secret_value().encode()
