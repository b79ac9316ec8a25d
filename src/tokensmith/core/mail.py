"""The mails of contract 9, rendered when they are sent.

The link's base is ``PUBLIC_URL`` from the settings, never a request's ``Host`` header (a forged
``Host`` would otherwise send the victim a reset link to the attacker's site: host-header
poisoning). The token itself is recomputed from the outbox row's nonce
(:class:`~tokensmith.core.recovery.LinkTokens`); it is in the mail and nowhere else.

Links put the token in the URL *fragment* (``#/reset-password?token=...``): browsers never send a
fragment to a server, so it stays out of access logs and ``Referer`` headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any, Protocol

from tokensmith.core.models import OutboxEntry
from tokensmith.core.recovery import EMAIL_VERIFICATION, PASSWORD_RESET, LinkTokens

__all__ = ["LINK_PATHS", "MailDeliverer", "MailRenderer", "Mailer"]

LINK_PATHS = {
    PASSWORD_RESET: "/#/reset-password?token=",
    EMAIL_VERIFICATION: "/#/verify-email?token=",
}

_TEXTS = {
    PASSWORD_RESET: (
        "Reset your password",
        "Hello{name},\n\n"
        "Someone (hopefully you) asked to reset the password of your account. Open this link to "
        "choose a new one:\n\n{link}\n\n"
        "The link works once and expires in {minutes} minutes. Setting a new password signs you "
        "out everywhere.\nIf you did not ask for this, ignore this mail: your password stays as "
        "it is.\n",
    ),
    EMAIL_VERIFICATION: (
        "Verify your email address",
        "Hello{name},\n\nPlease confirm that this is your email address by opening this link:"
        "\n\n{link}\n\nThe link works once and expires in {minutes} minutes.\n",
    ),
}


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the mail system; raise when it was not accepted."""
        ...


class MailRenderer:
    def __init__(self, links: LinkTokens, public_url: str, mail_from: str) -> None:
        self._links = links
        self._public_url = public_url.rstrip("/")
        self._from = mail_from

    def __repr__(self) -> str:
        return f"MailRenderer({self._public_url!r})"

    def link(self, purpose: str, nonce: str) -> str:
        return f"{self._public_url}{LINK_PATHS[purpose]}{self._links.token(nonce)}"

    def render(self, entry: OutboxEntry) -> EmailMessage:
        payload: dict[str, Any] = entry.payload
        subject, text = _TEXTS[entry.type]
        name = payload.get("name")
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = str(payload["to"])
        message["Subject"] = subject
        domain = self._from.rsplit("@", 1)[-1].strip(" >") or "tokensmith"
        # The same Message-ID on every retry: a mail system that got it twice may drop one.
        message["Message-ID"] = f"<{entry.event_id}@{domain}>"
        message["X-Tokensmith-Event-Id"] = entry.event_id
        message.set_content(
            text.format(
                name=f" {name}" if name else "",
                link=self.link(entry.type, str(payload["nonce"])),
                minutes=payload.get("expiresInMinutes", 30),
            )
        )
        return message


class MailDeliverer:
    """The outbox's ``mail`` channel."""

    def __init__(
        self,
        renderer: MailRenderer,
        mailer: Mailer,
        resolve: Callable[[OutboxEntry], Awaitable[OutboxEntry | None]] | None = None,
    ) -> None:
        """``resolve`` turns a stored request into the mail to send (None: nothing to send)."""
        self._renderer = renderer
        self._mailer = mailer
        self._resolve = resolve

    def __repr__(self) -> str:
        return f"MailDeliverer({self._mailer!r})"

    async def deliver(self, entry: OutboxEntry) -> None:
        mail = await self._resolve(entry) if self._resolve is not None else entry
        if mail is not None:
            await self._mailer.send(self._renderer.render(mail))
