"""Configuration: names, defaults, durations, secrets, and one-line errors."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tokensmith.durations import format_duration, parse_duration
from tokensmith.errors import ConfigError
from tokensmith.settings import load_settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("7d", 604800), ("900", 900)],
)
def test_durations_in_every_unit(text: str, seconds: int) -> None:
    """Lifetimes are written as 30s, 15m, 1h, 1d, 7d or whole seconds."""
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(parse_duration(text))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["banana", "-5", "1.5h", "", "15 minutes", "1y"])
def test_bad_durations_are_refused(text: str) -> None:
    """Anything else is a clear ValueError."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_defaults_match_the_contract(tmp_path: Path) -> None:
    """The contract's defaults: 15m, 7d, 30d, 60s, 10s, HS256, issuer/audience tokensmith."""
    settings = load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path)})
    assert settings.jwt_expires_in == timedelta(minutes=15)
    assert settings.jwt_refresh_expires_in == timedelta(days=7)
    assert settings.session_max_age == timedelta(days=30)
    assert settings.jwt_clock_tolerance == timedelta(seconds=60)
    assert settings.refresh_reuse_grace == timedelta(seconds=10)
    assert settings.jwt_algorithm == "HS256"
    assert settings.jwt_issuer == settings.jwt_audience == "tokensmith"
    assert settings.tokensmith_env == "development"
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_development_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    """Development generates both secrets once (0600) so a restart logs nobody out."""
    first = load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path)})
    second = load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path)})
    assert first.access_secret == second.access_secret
    assert first.refresh_secret == second.refresh_secret
    assert first.access_secret != first.refresh_secret
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"jwt_secret", "jwt_refresh_secret"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TOKENSMITH_ENV": "production"}, "JWT_SECRET"),
        ({"TOKENSMITH_ENV": "production", "JWT_SECRET": "a" * 40}, "JWT_REFRESH_SECRET"),
        (
            {"TOKENSMITH_ENV": "production", "JWT_SECRET": "short", "JWT_REFRESH_SECRET": "b" * 40},
            "JWT_SECRET",
        ),
        (
            {
                "TOKENSMITH_ENV": "production",
                "JWT_SECRET": "a" * 40,
                "JWT_REFRESH_SECRET": "a" * 40,
            },
            "JWT_REFRESH_SECRET",
        ),
        ({"JWT_EXPIRES_IN": "banana"}, "JWT_EXPIRES_IN"),
        ({"JWT_EXPIRES_IN": "30d"}, "JWT_REFRESH_EXPIRES_IN"),
        ({"JWT_CLOCK_TOLERANCE": "-1"}, "JWT_CLOCK_TOLERANCE"),
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_PRIVATE_KEY_FILE"),
        ({"RATE_LIMIT_LOGIN": "lots"}, "RATE_LIMIT_LOGIN"),
        ({"TRUSTED_PROXIES": "not-an-ip"}, "TRUSTED_PROXIES"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"COOKIE_SAMESITE": "None"}, "COOKIE_SAMESITE"),
        ({"TOKENSMITH_ENV": "staging"}, "TOKENSMITH_ENV"),
    ],
)
def test_bad_configuration_names_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    """Each mistake is a ConfigError whose one-line message starts with the variable."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"TOKENSMITH_DATA_DIR": str(tmp_path), **env})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    """The settings' repr hides both secrets."""
    settings = load_settings(
        {
            "TOKENSMITH_DATA_DIR": str(tmp_path),
            "JWT_SECRET": "s3cr3t-" * 6,
            "JWT_REFRESH_SECRET": "r" * 40,
        }
    )
    assert "s3cr3t" not in repr(settings) and "rrrr" not in repr(settings)
