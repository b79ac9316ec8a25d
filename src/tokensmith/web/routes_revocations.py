"""The revocation feed for other services (contract 10), behind service-client authentication.

- ``GET /auth/revocations?since=CURSOR``: ``{"revocations": [{"sid", "until"}], "cursor"}``,
  every revocation still live (no ``since``) or those after ``CURSOR``.
- ``GET /auth/revocations/stream``: the same as Server-Sent Events. The first event is the
  catch-up (from ``Last-Event-ID`` or ``?since=``, else the full live list), then one event per
  batch of revocations, each with ``id:`` the cursor to resume from; an idle stream gets a
  heartbeat comment every ``REVOCATION_STREAM_HEARTBEAT``. A subscriber that does not keep up is
  dropped (the stream ends) and resumes from its cursor.

A cursor this server never issued (forged, garbage, ahead of the log) is 400 ``VALIDATION_ERROR``
before anything streams: the caller must fetch the full list, never assume nothing happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tokensmith.core.broadcast import RevocationBroadcaster, render_revocations
from tokensmith.core.clients import ServiceClient
from tokensmith.web.client_auth import ClientAuthenticator
from tokensmith.web.responses import errors

__all__ = ["revocation_routes"]

_HEADERS: Final = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
_RETRY_MS: Final = 1000


def revocation_routes(
    broadcaster: RevocationBroadcaster, authenticate_client: ClientAuthenticator
) -> APIRouter:
    router = APIRouter(tags=["oauth"])

    @router.get("/revocations", responses=errors(400, 401, 429))
    async def revocations(
        request: Request,
        since: str | None = Query(None, max_length=64, description="A cursor from an answer"),
        client: ServiceClient = Depends(authenticate_client),
    ) -> JSONResponse:
        """Revoked sessions whose access tokens may still be live: all of them, or those after
        ``since`` (or ``Last-Event-ID``). Resume with the ``cursor`` of the answer."""
        found, cursor = await broadcaster.current(_cursor(request, since))
        return JSONResponse(render_revocations(found, cursor), headers=_HEADERS)

    @router.get(
        "/revocations/stream",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
            **errors(400, 401, 429),
        },
    )
    async def stream(
        request: Request,
        since: str | None = Query(None, max_length=64, description="A cursor (or Last-Event-ID)"),
        client: ServiceClient = Depends(authenticate_client),
    ) -> StreamingResponse:
        """The revocation feed as Server-Sent Events, resumable with ``Last-Event-ID``."""
        cursor = _cursor(request, since)
        # Subscribe before reading the catch-up: nothing committed in between is missed.
        subscriber = broadcaster.subscribe()
        try:
            found, resume = await broadcaster.current(cursor)
        except BaseException:
            broadcaster.unsubscribe(subscriber)
            raise
        first = f"retry: {_RETRY_MS}\n".encode() + broadcaster.event(found, resume)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield first
                while True:
                    event = await subscriber.next(broadcaster.heartbeat_s)
                    if event is None:
                        yield b": heartbeat\n\n"
                    elif event == b"":
                        return  # dropped for not keeping up, or the server stops
                    else:
                        yield event
            finally:
                broadcaster.unsubscribe(subscriber)

        return StreamingResponse(events(), media_type="text/event-stream", headers=_HEADERS)

    return router


def _cursor(request: Request, since: str | None) -> str | None:
    """``Last-Event-ID`` (an SSE client resuming) wins over ``since``; an empty value given is a
    bad cursor, not "no cursor" (it would turn a resume into a silent full restart)."""
    header = request.headers.get("last-event-id")
    return header if header is not None else since
