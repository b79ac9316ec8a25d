"""Mail through SMTP with aiosmtplib, or into the log in development."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

__all__ = ["LogMailer", "SmtpMailer"]

log = logging.getLogger("tokensmith.mail")


class SmtpMailer:
    """``smtp://user:pass@host:port`` (STARTTLS when the server offers it; port 25 by default)
    or ``smtps://`` (TLS from the first byte; port 465 by default)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout_s = timeout_s

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({'smtps' if self._tls else 'smtp'}://{self._host}:{self._port})"

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._user,
            password=self._password,
            use_tls=self._tls,
            # None: STARTTLS when the server offers it (aiosmtplib's default), plain otherwise.
            start_tls=None if not self._tls else False,
            timeout=self._timeout_s,
        )


class LogMailer:
    """Development without ``SMTP_URL``: the whole mail goes to the log (link included), so a
    developer can follow it. Production refuses to start without ``SMTP_URL``."""

    def __repr__(self) -> str:
        return "LogMailer()"

    async def send(self, message: EmailMessage) -> None:
        log.warning(
            "SMTP_URL is not set: this mail is written here instead of sent\n"
            "To: %s\nSubject: %s\n\n%s",
            message["To"],
            message["Subject"],
            message.get_content(),
        )
