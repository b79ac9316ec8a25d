"""The Python client for a tokensmith server (contract section 6).

:class:`TokensmithAuth` is an ``httpx.Auth`` for any ``httpx.Client`` or ``httpx.AsyncClient``:
it adds the Bearer token, refreshes shortly before expiry and once after a 401
``TOKEN_EXPIRED`` (one refresh however many threads or tasks need it), survives a lost refresh
response, and raises the library's own error when the session is over.
:class:`TokensmithClient` and :class:`AsyncTokensmithClient` wrap it with ``login``, ``logout``
and ``me``. Tokens live in a :class:`TokenStore`: :class:`MemoryTokenStore` or
:class:`FileTokenStore`.

This package depends on ``httpx`` and :mod:`tokensmith.errors` only; importing it never loads
the server's dependencies.
"""

from __future__ import annotations

from tokensmith.client.auth import TokensmithAuth
from tokensmith.client.clients import AsyncTokensmithClient, TokensmithClient
from tokensmith.client.stores import FileTokenStore, MemoryTokenStore, TokenStore
from tokensmith.client.tokens import MonotonicClock, RefreshPolicy, TokenSet, WallClock

__all__ = [
    "AsyncTokensmithClient",
    "FileTokenStore",
    "MemoryTokenStore",
    "MonotonicClock",
    "RefreshPolicy",
    "TokenSet",
    "TokenStore",
    "TokensmithAuth",
    "TokensmithClient",
    "WallClock",
]
