"""From the environment to a complete :class:`Settings`: secrets generated in development,
production's rules for every secret, and every problem as one :class:`ConfigError` line."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pydantic
from pydantic import SecretStr

from tokensmith.errors import ConfigError
from tokensmith.settings.model import FieldProblem, Settings
from tokensmith.settings.secret_rules import MIN_SECRET_BYTES, NamedSecret, check_secrets

__all__ = ["MIN_SECRET_BYTES", "load_settings"]

_SECRETS_FILE = "secrets.json"


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
    except FieldProblem as exc:
        raise ConfigError(exc.field.upper(), str(exc)) from None
    return _with_secrets(settings, persist=persist_secrets)


def _config_error(exc: pydantic.ValidationError) -> ConfigError:
    error = exc.errors()[0]
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, FieldProblem):
        return ConfigError(ctx_error.field.upper(), str(ctx_error))
    variable = str(error["loc"][0]).upper() if error["loc"] else "configuration"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error":
        message = f"must be one of {error['ctx']['expected']}"
    return ConfigError(variable, message)


def _with_secrets(settings: Settings, *, persist: bool) -> Settings:
    access, refresh = settings.jwt_secret, settings.jwt_refresh_secret
    if settings.is_production:
        for name, value in (("JWT_SECRET", access), ("JWT_REFRESH_SECRET", refresh)):
            if value is None:
                raise ConfigError(name, "required when TOKENSMITH_ENV=production")
    elif access is None or refresh is None:
        stored = _development_secrets(settings.tokensmith_data_dir, persist=persist)
        access = access or SecretStr(stored["jwt_secret"])
        refresh = refresh or SecretStr(stored["jwt_refresh_secret"])
    assert access is not None and refresh is not None
    if not access.get_secret_value():
        raise ConfigError("JWT_SECRET", "must not be empty")
    resolved = settings.model_copy(update={"jwt_secret": access, "jwt_refresh_secret": refresh})
    keys, others = _named_secrets(resolved)
    check_secrets(keys, others, production=settings.is_production)
    return resolved


def _named_secrets(settings: Settings) -> tuple[list[NamedSecret], list[NamedSecret]]:
    """The signing keys (in this order, so two equal keys are reported as the contract words it:
    ``JWT_REFRESH_SECRET`` must differ from ``JWT_SECRET``), and every other secret."""
    assert settings.jwt_secret is not None and settings.jwt_refresh_secret is not None
    keys: list[NamedSecret] = [
        ("JWT_SECRET", settings.jwt_secret),
        ("JWT_REFRESH_SECRET", settings.jwt_refresh_secret),
        *(("JWT_PREVIOUS_SECRETS", s) for s in settings.jwt_previous_secrets),
    ]
    named: list[tuple[str, SecretStr | None]] = [
        ("INTROSPECTION_SECRET", settings.introspection_secret),
        *(("SERVICE_CLIENTS", c.secret) for c in settings.service_clients),
        ("WEBHOOK_SECRET", settings.webhook_secret),
    ]
    return keys, [(name, value) for name, value in named if value is not None]


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
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # secrets and the database
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
