"""The outbox worker built from the settings: which deliverer serves which channel, and the
base of mailed links (contract 9)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tokensmith.core.clock import Clock
from tokensmith.core.events import EventHandlers, HandlerDeliverer
from tokensmith.core.mail import MailDeliverer, MailRenderer
from tokensmith.core.models import Channel
from tokensmith.core.outbox import Deliverer, OutboxWorker, RetryPolicy
from tokensmith.core.ports import Database
from tokensmith.core.recovery import LinkTokens, RecoveryService
from tokensmith.errors import ConfigError
from tokensmith.settings import Settings

__all__ = [
    "DEVELOPMENT_PUBLIC_URL",
    "build_outbox_worker",
    "check_recovery_settings",
    "public_url_of",
]


def build_outbox_worker(
    settings: Settings,
    database: Database,
    clock: Clock,
    links: LinkTokens | None,
    handlers: EventHandlers,
    recovery: RecoveryService | None = None,
) -> tuple[OutboxWorker, list[Callable[[], Awaitable[None]]]]:
    """The worker with a deliverer for each configured channel: mail (SMTP, or the log without
    ``SMTP_URL``), webhooks (``WEBHOOK_URL``) and ``auth.on`` handlers; and what to close at the
    end."""
    from tokensmith.delivery.smtp import LogMailer, SmtpMailer

    closers: list[Callable[[], Awaitable[None]]] = []
    deliverers: dict[Channel, Deliverer] = {Channel.HANDLER: HandlerDeliverer(handlers)}
    if links is not None:
        renderer = MailRenderer(links, public_url_of(settings), settings.mail_from)
        mailer = SmtpMailer(settings.smtp_url) if settings.smtp_url else LogMailer()
        resolve = recovery.resolve if recovery is not None else None
        deliverers[Channel.MAIL] = MailDeliverer(renderer, mailer, resolve)
    if settings.webhook_url and settings.webhook_secret is not None:
        from tokensmith.delivery.webhook import WebhookDeliverer

        webhook = WebhookDeliverer(
            settings.webhook_url, settings.webhook_secret.get_secret_value().encode(), clock
        )
        closers.append(webhook.close)
        deliverers[Channel.WEBHOOK] = webhook
    worker = OutboxWorker(
        database, deliverers, clock, policy=RetryPolicy(max_delay=settings.outbox_max_retry_delay)
    )
    return worker, closers


DEVELOPMENT_PUBLIC_URL = "http://127.0.0.1:8000"
"""The base of mailed links in development when ``PUBLIC_URL`` is unset (``make serve``)."""


def public_url_of(settings: Settings) -> str:
    """``PUBLIC_URL``; in development, ``make serve``'s address when it is unset. Never a
    request's ``Host`` header."""
    return settings.public_url or DEVELOPMENT_PUBLIC_URL


def check_recovery_settings(settings: Settings) -> None:
    """Production with password reset and email verification (tokensmith's own users) needs
    ``SMTP_URL`` and ``PUBLIC_URL``: one line naming the variable otherwise."""
    if not settings.is_production:
        return
    if not settings.smtp_url:
        raise ConfigError(
            "SMTP_URL", "required when TOKENSMITH_ENV=production (password-reset mail)"
        )
    if not settings.public_url:
        raise ConfigError(
            "PUBLIC_URL", "required when TOKENSMITH_ENV=production (the base of mailed links)"
        )
