"""Whether another connection committed to a SQLite database, in well under a microsecond.

The revocation feed asks this on every guarded request (feed.py): ``PRAGMA data_version`` answers
it, but costs 5-10 us (locks and system calls), a third of a protected route's whole guard. In
WAL mode every commit rewrites the *WAL-index header* at the start of the database's ``-shm``
file (its ``iChange`` counter goes up with each transaction, and checkpoints rewrite it too;
https://www.sqlite.org/walformat.html, "The WAL-Index Header"). Every connection maps that file;
so can we, read-only. The header is written as two copies, the second after the first, which a
reader compares (as SQLite's own readers do) to see whether it caught a write half done.

So: a header byte-identical to the one read just *before* the last ``data_version`` read means
nothing was committed since, and the ``PRAGMA`` can be skipped. Anything else (a different
header, two copies that disagree, no ``-shm`` file, a database not in WAL mode) means "ask
SQLite", never "nothing changed".
"""

from __future__ import annotations

import mmap
import os

__all__ = ["WalIndexHeader"]

_HEADER = 48
"""The size of one copy of the header (``WalIndexHdr``); two copies, back to back."""


class WalIndexHeader:
    def __init__(self, database_path: str) -> None:
        self._path = database_path + "-shm"
        self._map: mmap.mmap | None = None

    def __repr__(self) -> str:
        return f"WalIndexHeader(mapped={self._map is not None})"

    def snapshot(self) -> bytes | None:
        """The header now, or None when it cannot be read consistently (then ask SQLite)."""
        view = self._map or self._open()
        if view is None:
            return None
        data = view[: 2 * _HEADER]
        first = data[:_HEADER]
        if first != data[_HEADER:] or not first[12]:  # torn, or isInit not set
            return None
        return first

    def _open(self) -> mmap.mmap | None:
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except OSError:
            return None  # no -shm file (yet): not in WAL mode, or no connection opened it
        try:
            if os.fstat(fd).st_size < 2 * _HEADER:
                return None
            self._map = mmap.mmap(fd, 2 * _HEADER, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        return self._map

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
