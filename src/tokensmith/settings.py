"""Settings: parsed and validated once, from the environment and a ``.env`` file.

Nothing below this module reads the environment: the composition root builds a
:class:`Settings` and passes it (or the parts it needs) to constructors.

Every problem becomes a :class:`~tokensmith.errors.ConfigError` naming the variable, which the
CLI prints as one line.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from limits import parse as parse_rate_limit
from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tokensmith.durations import parse_duration
from tokensmith.errors import ConfigError

__all__ = ["MIN_SECRET_BYTES", "Settings", "load_settings"]

MIN_SECRET_BYTES = 32
"""Production refuses shorter secrets: RFC 7518 section 3.2 wants a key at least as long as the
HS256 output (256 bits)."""

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


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

    jwt_secret: SecretStr | None = None
    """Key for access tokens (HS256). Development: generated once into the data dir."""
    jwt_refresh_secret: SecretStr | None = None
    """Key for refresh tokens; must differ from ``jwt_secret``."""
    jwt_previous_secrets: Annotated[list[SecretStr], NoDecode, BeforeValidator(_split_list)] = []
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
    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    """``sqlite:///path.db`` or ``postgresql://...``; default: SQLite in the data dir."""
    redis_url: str | None = Field(default=None, repr=False)
    """When set, revocations and rate limits are shared across instances."""
    rate_limit_login: str = "10/minute"
    """Per client IP and email."""
    rate_limit_refresh: str = "120/minute"
    """Per client IP."""
    rate_limit_register: str = "10/minute"
    """Per client IP."""
    trusted_proxies: Annotated[list[IpNetwork], NoDecode, BeforeValidator(_split_list)] = []
    """Peers whose ``X-Forwarded-For`` is believed (addresses or CIDR ranges)."""
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_split_list)] = []
    """Exact origins allowed to call the API with credentials."""
    cookie_samesite: Literal["Strict", "Lax", "None"] = "Strict"
    tokensmith_env: Literal["development", "production"] = "development"
    tokensmith_data_dir: Path = Path(".tokensmith")
    tokensmith_log_level: Literal["debug", "info", "warning", "error"] = "info"
    introspection_secret: SecretStr | None = None
    """Client secret other services use for ``/auth/introspect`` (RFC 7662)."""

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

    @field_validator("tokensmith_env", "tokensmith_log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("rate_limit_login", "rate_limit_refresh", "rate_limit_register")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit; use e.g. 5/minute") from None
        return value

    @field_validator("jwt_expires_in", "jwt_refresh_expires_in", "session_max_age")
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

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.jwt_refresh_expires_in < self.jwt_expires_in:
            # Access tokens outliving the refresh token defeat rotation and revocation.
            raise _FieldProblem("jwt_refresh_expires_in", "must be at least JWT_EXPIRES_IN")
        if self.session_max_age < self.jwt_expires_in:
            raise _FieldProblem("session_max_age", "must be at least JWT_EXPIRES_IN")
        if self.cookie_samesite == "None" and not self.is_production:
            # SameSite=None requires Secure, and Secure cookies need https: production only.
            raise _FieldProblem("cookie_samesite", "None requires TOKENSMITH_ENV=production")
        if self.jwt_algorithm != "HS256" and self.jwt_private_key_file is None:
            raise _FieldProblem(
                "jwt_private_key_file", f"required when JWT_ALGORITHM={self.jwt_algorithm}"
            )
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


class _FieldProblem(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(problem)


def load_settings(env: dict[str, str] | None = None, *, persist_secrets: bool = True) -> Settings:
    """Build :class:`Settings` from ``env`` (default: the process environment and ``.env``).

    In development, missing secrets are generated once and kept in the data dir so a restart does
    not log anyone out. In production they are required, long and distinct. Raises
    :class:`ConfigError` naming the variable.
    """
    try:
        if env is None:
            settings = Settings()
        else:
            settings = Settings.model_validate(
                {k.lower(): v for k, v in env.items()}, context={"from_env": True}
            )
    except pydantic.ValidationError as exc:
        raise _config_error(exc) from None
    except _FieldProblem as exc:
        raise ConfigError(exc.field.upper(), str(exc)) from None
    return _with_secrets(settings, persist=persist_secrets)


def _config_error(exc: pydantic.ValidationError) -> ConfigError:
    error = exc.errors()[0]
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _FieldProblem):
        return ConfigError(ctx_error.field.upper(), str(ctx_error))
    variable = str(error["loc"][0]).upper() if error["loc"] else "configuration"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = f"must be one of {error['ctx']['expected']}"
    return ConfigError(variable, message)


_SECRETS_FILE = "secrets.json"


def _with_secrets(settings: Settings, *, persist: bool) -> Settings:
    access, refresh = settings.jwt_secret, settings.jwt_refresh_secret
    if settings.is_production:
        for name, value in (("JWT_SECRET", access), ("JWT_REFRESH_SECRET", refresh)):
            if value is None:
                raise ConfigError(name, "required when TOKENSMITH_ENV=production")
            if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise ConfigError(name, f"must be at least {MIN_SECRET_BYTES} bytes in production")
    elif access is None or refresh is None:
        stored = _development_secrets(settings.tokensmith_data_dir, persist=persist)
        access = access or SecretStr(stored["jwt_secret"])
        refresh = refresh or SecretStr(stored["jwt_refresh_secret"])
    assert access is not None and refresh is not None
    if secrets.compare_digest(access.get_secret_value(), refresh.get_secret_value()):
        raise ConfigError("JWT_REFRESH_SECRET", "must differ from JWT_SECRET")
    if not access.get_secret_value():
        raise ConfigError("JWT_SECRET", "must not be empty")
    return settings.model_copy(update={"jwt_secret": access, "jwt_refresh_secret": refresh})


def _development_secrets(data_dir: Path, *, persist: bool) -> dict[str, str]:
    """Read the generated development secrets, creating them once (0600, never overwritten)."""
    path = data_dir / _SECRETS_FILE
    try:
        return _read_secrets(path)
    except FileNotFoundError:
        pass
    fresh = {
        "jwt_secret": secrets.token_urlsafe(48),
        "jwt_refresh_secret": secrets.token_urlsafe(48),
    }
    if not persist:
        return fresh
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its secrets
        return _read_secrets(path)
    except OSError as exc:
        raise ConfigError("TOKENSMITH_DATA_DIR", f"cannot write secrets: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        json.dump(fresh, handle)
    return fresh


def _read_secrets(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        return {
            "jwt_secret": str(data["jwt_secret"]),
            "jwt_refresh_secret": str(data["jwt_refresh_secret"]),
        }
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            "TOKENSMITH_DATA_DIR", f"{path} is unreadable; delete it to generate new secrets"
        ) from None
