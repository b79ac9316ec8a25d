"""Who is asking, as the core wants it: the client's address and User-Agent."""

from __future__ import annotations

from fastapi import Request

from tokensmith.core.audit import RequestContext
from tokensmith.web.transport import ClientAddress

__all__ = ["request_context"]


def request_context(addresses: ClientAddress, request: Request) -> RequestContext:
    return RequestContext(addresses.of(request), request.headers.get("user-agent"))
