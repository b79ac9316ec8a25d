"""Identifiers an operator may have to type: random, URL-safe, and never read as an option.

``secrets.token_urlsafe`` draws from the base64url alphabet, which includes ``-``: about one id
in 64 would begin with it, and ``tokensmith sessions revoke ID`` would then parse the id as an
option (``No such option '-b'``). Ids are drawn again until the first character is not ``-``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

__all__ = ["new_session_id"]

SESSION_ID_BYTES = 16


def new_session_id(draw: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """A 128-bit base64url id (22 characters) that does not begin with ``-``."""
    while True:
        candidate = draw(SESSION_ID_BYTES)
        if not candidate.startswith("-"):
            return candidate
