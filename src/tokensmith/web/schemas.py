"""Request and response bodies (JSON, camelCase), contract section 5."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic.alias_generators import to_camel

from tokensmith.core.models import SessionRecord, User

__all__ = [
    "ChangePasswordBody",
    "ErrorBody",
    "LoginBody",
    "LoginResponse",
    "LogoutBody",
    "LogoutResponse",
    "RefreshBody",
    "RegisterBody",
    "RegisterResponse",
    "RevokedCount",
    "SessionList",
    "SessionOut",
    "TokenResponse",
    "UserOut",
]

Password = Field(min_length=8, max_length=1024)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _Body(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", hide_input_in_errors=True
    )


class RegisterBody(_Body):
    email: EmailStr = Field(max_length=320)
    password: str = Password
    name: str | None = Field(default=None, max_length=200)


class LoginBody(_Body):
    email: EmailStr = Field(max_length=320)
    password: str = Password


class RefreshBody(_Body):
    refresh_token: str | None = Field(default=None, max_length=16384)


class LogoutBody(_Body):
    refresh_token: str | None = Field(default=None, max_length=16384)


class ChangePasswordBody(_Body):
    current_password: str = Password
    new_password: str = Password


class UserOut(_Model):
    id: str
    email: str
    name: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


class RegisterResponse(_Model):
    user: UserOut


class TokenResponse(_Model):
    access_token: str
    refresh_token: str | None = Field(
        default=None, description="Absent with cookie transport (it is in an HttpOnly cookie)"
    )
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
    expires_in: int = Field(description="Access-token lifetime in seconds")
    refresh_expires_in: int = Field(description="Refresh-token lifetime in seconds")


class LoginResponse(TokenResponse):
    user: UserOut


class LogoutResponse(_Model):
    message: str = "Logged out successfully"


class RevokedCount(_Model):
    revoked: int


class SessionOut(_Model):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool

    @classmethod
    def of(cls, session: SessionRecord, current_id: str) -> SessionOut:
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.refresh_expires_at,
            ip=session.ip,
            user_agent=session.user_agent,
            current=session.id == current_id,
        )


class SessionList(_Model):
    sessions: list[SessionOut]


class ErrorBody(BaseModel):
    error: str
    code: str
    details: list[dict[str, object]] | None = None
