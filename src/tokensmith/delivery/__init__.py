"""Adapters that take outbox entries out of tokensmith: SMTP (aiosmtplib), the log, webhooks."""
