"""Where the client keeps its tokens: a :class:`TokenStore` port and two implementations.

:class:`MemoryTokenStore` keeps them for the life of the process. :class:`FileTokenStore` also
writes them to a file, atomically (a temporary file in the same directory, then ``os.replace``)
and readable by the owner only (created with mode ``0o600``), so a CLI can stay logged in across
runs. One process per file: two processes refreshing with the same file would race.

A store never logs a token and its ``repr`` only says whether it holds any.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tokensmith.client.tokens import MonotonicClock, TokenSet, WallClock

__all__ = ["FileTokenStore", "MemoryTokenStore", "TokenStore"]

_log = logging.getLogger("tokensmith.client")
_FILE_FORMAT_VERSION = 1


@runtime_checkable
class TokenStore(Protocol):
    """Holds the current :class:`TokenSet`. Implementations must be safe to call from threads."""

    def load(self) -> TokenSet | None:
        """The stored tokens, or ``None`` when there are none."""
        ...

    def save(self, tokens: TokenSet) -> None:
        """Replace the stored tokens with ``tokens``."""
        ...

    def clear(self) -> None:
        """Forget the stored tokens (logout, or a refresh the server refused)."""
        ...


class MemoryTokenStore:
    """Tokens in memory only, for the life of the process (the default)."""

    def __init__(self) -> None:
        self._tokens: TokenSet | None = None

    def load(self) -> TokenSet | None:
        """The stored tokens, or ``None``."""
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        """Keep ``tokens``, replacing any before."""
        self._tokens = tokens

    def clear(self) -> None:
        """Forget the tokens."""
        self._tokens = None

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_tokens={self._tokens is not None})"


class FileTokenStore:
    """Tokens in memory, mirrored to a JSON file at ``path`` (``~`` expanded) that only its
    owner can read.

    The file is read once, on the first :meth:`load`; after that memory is the truth and every
    :meth:`save` rewrites the file atomically. Expiry is kept in memory on the monotonic clock,
    which means nothing in another process, so the file also holds the wall time at which the
    tokens were received; on load the time elapsed since then (by the wall clock) is subtracted
    from their lifetime. The trade-off: a wall clock that was changed between two runs shifts the
    expiry of restored tokens by as much. That is harmless: too late and the server answers
    ``TOKEN_EXPIRED``, which makes the client refresh; too early and it refreshes a bit sooner.
    A constant clock error (a clock minutes off) cancels out. ``clock`` and ``wall_clock`` are
    for tests; pass the auth's clock too if you inject one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: MonotonicClock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._loaded = False
        self._tokens: TokenSet | None = None

    def load(self) -> TokenSet | None:
        """The stored tokens; the file is read on the first call only."""
        with self._lock:
            if not self._loaded:
                self._tokens = self._read()
                self._loaded = True
            return self._tokens

    def save(self, tokens: TokenSet) -> None:
        """Keep ``tokens`` and rewrite the file atomically with mode ``0o600``."""
        with self._lock:
            _write_atomically(self.path, _encode(tokens))
            self._tokens = tokens
            self._loaded = True

    def clear(self) -> None:
        """Forget the tokens and delete the file."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._tokens = None
            self._loaded = True

    def _read(self) -> TokenSet | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _decode(json.loads(raw), now_s=self._clock(), now_wall_s=self._wall_clock())
        except (ValueError, TypeError, KeyError):
            # Never echo the content: it may hold a token.
            _log.warning("ignoring unreadable token file %s", self.path)
            return None

    def __repr__(self) -> str:
        state = "unread" if not self._loaded else f"has_tokens={self._tokens is not None}"
        return f"FileTokenStore({str(self.path)!r}, {state})"


def _encode(tokens: TokenSet) -> bytes:
    document = {
        "version": _FILE_FORMAT_VERSION,
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresInS": tokens.expires_in_s,
        "refreshExpiresInS": tokens.refresh_expires_in_s,
        "receivedWallS": tokens.received_wall_s,
    }
    return json.dumps(document).encode()


def _decode(document: Any, *, now_s: float, now_wall_s: float) -> TokenSet:
    if not isinstance(document, dict) or document.get("version") != _FILE_FORMAT_VERSION:
        raise ValueError("not a token file")
    access, refresh = document["accessToken"], document["refreshToken"]
    if not isinstance(access, str) or not (refresh is None or isinstance(refresh, str)):
        raise TypeError("tokens are not strings")
    received_wall_s = float(document["receivedWallS"])
    refresh_expires_in = document.get("refreshExpiresInS")
    # A wall clock set back since the save would make elapsed negative: count it as no time.
    elapsed_s = max(0.0, now_wall_s - received_wall_s)
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_in_s=float(document["expiresInS"]),
        received_at_s=now_s - elapsed_s,
        received_wall_s=received_wall_s,
        refresh_expires_in_s=None if refresh_expires_in is None else float(refresh_expires_in),
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a mix.

    The temporary file is created in the same directory (``os.replace`` is atomic only within a
    file system) with ``O_EXCL`` and mode ``0o600`` from the start, so there is no moment at
    which another user could open it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, and not needed for safety.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
