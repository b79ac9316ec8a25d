"""Request and response bodies (JSON, camelCase), contract section 5."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StrictStr, field_validator
from pydantic.alias_generators import to_camel

from tokensmith.core.claims import check_claims
from tokensmith.core.directory import Subject
from tokensmith.core.models import SessionRecord, User
from tokensmith.core.sessions import MAX_SUBJECT_LENGTH, check_amr
from tokensmith.errors import ClaimsError, ValidationError

__all__ = [
    "ChangePasswordBody",
    "ErrorBody",
    "ForgotPasswordBody",
    "LoginBody",
    "LoginResponse",
    "LogoutBody",
    "LogoutResponse",
    "MessageOut",
    "ReauthenticateBody",
    "RefreshBody",
    "RegisterBody",
    "RegisterResponse",
    "ResetPasswordBody",
    "RevokedCount",
    "SessionList",
    "SessionOut",
    "StartSessionBody",
    "TokenResponse",
    "UserOut",
    "VerifyEmailBody",
    "user_body",
]

MAX_SESSION_CLAIMS_BYTES = 4096
"""A service client's claims for one session, as JSON: room is left for the registered claims and
the claims hook's within the 8 KiB token."""

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
    remember: StrictBool = Field(
        default=True,
        description="false: a short session (SESSION_SHORT_MAX_AGE) whose cookie ends with the "
        "browser",
    )


class ReauthenticateBody(_Body):
    password: str = Password
    refresh_token: str | None = Field(
        default=None,
        max_length=16384,
        description="The session's refresh token (body transport), to rotate it as refresh does",
    )


class StartSessionBody(_Body):
    """``POST /auth/sessions`` (a service client, contract 8)."""

    subject: StrictStr = Field(
        min_length=1, max_length=MAX_SUBJECT_LENGTH, description="The user id: the tokens' sub"
    )
    claims: dict[str, Any] | None = Field(
        default=None, description="Claims for every access token of this session"
    )
    amr: list[StrictStr] = Field(
        default_factory=lambda: ["pwd"], description="How the user authenticated (RFC 8176)"
    )
    remember: StrictBool = True

    @field_validator("claims")
    @classmethod
    def _claims(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            checked = check_claims(value, "claims")
        except ClaimsError as exc:
            raise ValueError(exc.message.removeprefix("claims returned ")) from None
        if len(json.dumps(checked, separators=(",", ":")).encode()) > MAX_SESSION_CLAIMS_BYTES:
            raise ValueError(f"at most {MAX_SESSION_CLAIMS_BYTES} bytes of JSON")
        return checked

    @field_validator("amr")
    @classmethod
    def _amr(cls, value: list[str]) -> list[str]:
        try:
            return list(check_amr(value))
        except ValidationError as exc:
            raise ValueError(exc.message.removeprefix("amr: ")) from None


class RefreshBody(_Body):
    refresh_token: str | None = Field(default=None, max_length=16384)


class LogoutBody(_Body):
    refresh_token: str | None = Field(default=None, max_length=16384)


class ChangePasswordBody(_Body):
    current_password: str = Password
    new_password: str = Password


LinkToken = Field(min_length=1, max_length=200, description="The token of the mailed link")


class ForgotPasswordBody(_Body):
    email: EmailStr = Field(max_length=320)


class ResetPasswordBody(_Body):
    token: StrictStr = LinkToken
    new_password: str = Password


class VerifyEmailBody(_Body):
    token: StrictStr = LinkToken


class MessageOut(_Model):
    message: str


class UserOut(_Model):
    """A tokensmith account (contract 5.1); for a subject of the app's own directory, only the
    fields it has (``{"id": subject}`` for one tokensmith does not know)."""

    id: str
    email: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    email_verified: bool | None = Field(
        default=None, description="The user followed a link mailed to the address (contract 9)"
    )

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            email_verified=user.email_verified,
        )


def user_body(user: User | Subject) -> dict[str, Any]:
    """The JSON of a user: every field of an account; a subject's fields that it has."""
    if isinstance(user, User):
        return UserOut.of(user).model_dump(mode="json", by_alias=True)
    body: dict[str, Any] = {"id": user.id}
    if user.email is not None:
        body["email"] = user.email
    if user.name is not None:
        body["name"] = user.name
    return body


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
