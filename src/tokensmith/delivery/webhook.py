"""Webhooks: the outbox's ``webhook`` channel, POSTing signed JSON with httpx."""

from __future__ import annotations

import json

import httpx

from tokensmith.core.clock import Clock
from tokensmith.core.models import OutboxEntry
from tokensmith.webhooks import SIGNATURE_HEADER, signature_header

__all__ = ["WebhookDeliverer", "WebhookRejected"]


class WebhookRejected(Exception):
    """The receiver answered something other than 2xx."""


class WebhookDeliverer:
    def __init__(self, url: str, secret: bytes, clock: Clock, *, timeout_s: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    def __repr__(self) -> str:
        return f"WebhookDeliverer({self._url!r})"

    async def deliver(self, entry: OutboxEntry) -> None:
        body = json.dumps(entry.payload, separators=(",", ":")).encode()
        # Signed at each attempt: the timestamp is the attempt's, so a receiver's replay window
        # holds for a delivery retried hours later.
        header = signature_header(self._secret, body, timestamp=int(self._clock.now().timestamp()))
        response = await self._client.post(
            self._url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: header,
                "User-Agent": "tokensmith-webhooks",
            },
        )
        if not 200 <= response.status_code < 300:
            raise WebhookRejected(f"the receiver answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
