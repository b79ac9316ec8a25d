"""Cursors of the revocation feed that other services follow (contract 10).

A cursor names a position in the revocation log (its sequence number) and carries a MAC, so the
server can tell a cursor it handed out from one a caller made up. That matters because the answer
to "what was revoked since X?" is trusted as complete: a forged or garbage cursor must be refused
(400, the caller resynchronises from the full list), never answered with an empty "all clear".
A cursor past the newest entry of the log (another database, a restored backup) is refused too.

Format: ``<seq>.<mac>``, the MAC being the first 128 bits of HMAC-SHA256 over ``seq`` with a key
derived from the refresh-token secret, base64url without padding.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from jwt.utils import base64url_encode

from tokensmith.errors import InvalidCursor

__all__ = ["CursorCodec"]

_SHAPE: Final = re.compile(r"^(0|[1-9][0-9]{0,18})\.([A-Za-z0-9_-]{22})$")
_LABEL: Final = b"tokensmith revocation cursor v1"


class CursorCodec:
    """Signs and checks feed cursors; :meth:`decode` raises :class:`InvalidCursor`."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.digest(secret, _LABEL, "sha256")

    def __repr__(self) -> str:
        return "CursorCodec()"

    def encode(self, seq: int) -> str:
        return f"{seq}.{self._mac(seq)}"

    def decode(self, cursor: str, *, newest: int) -> int:
        """The sequence number of ``cursor``; ``newest`` is the log's newest number (a cursor
        beyond it was not issued by this log)."""
        match = _SHAPE.match(cursor.strip()) if isinstance(cursor, str) else None
        if match is None:
            raise InvalidCursor("The cursor is malformed: fetch the full list again")
        seq = int(match.group(1))
        if not hmac.compare_digest(match.group(2), self._mac(seq)):
            raise InvalidCursor()
        if seq > newest:
            raise InvalidCursor(
                "The cursor is ahead of this server's revocation log (another database?): "
                "fetch the full list again"
            )
        return seq

    def _mac(self, seq: int) -> str:
        digest = hmac.digest(self._key, str(seq).encode(), hashlib.sha256)
        return base64url_encode(digest[:16]).decode()
