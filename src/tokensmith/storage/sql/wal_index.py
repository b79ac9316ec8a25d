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

**The ``-shm`` file is opened once per process and never closed.** SQLite holds POSIX advisory
locks on it (among them a shared "dead-man switch" lock that tells a process opening the database
that others are using the WAL-index), and closing *any* descriptor of a file releases every POSIX
lock the process holds on that file (https://www.sqlite.org/howtocorrupt.html, section 2.2).
Opening the file, mapping it and closing the descriptor (or the map, which keeps a duplicate of
it) dropped this process's locks: another process opening the database could then find no one
using the WAL-index and rebuild it under this one. A CI run saw the symptom, a second worker of
``serve --workers 2`` stuck in its startup for ten seconds together with the first one's
request. So descriptor and map live in a module-level table until the process exits.
"""

from __future__ import annotations

import mmap
import os

__all__ = ["WalIndexHeader"]

_HEADER = 48
"""The size of one copy of the header (``WalIndexHdr``); two copies, back to back."""


_MAPS: dict[str, mmap.mmap] = {}
"""Each ``-shm`` file's map, by path, for the life of the process (never closed: see above)."""
_DESCRIPTORS: dict[str, int] = {}
"""Each ``-shm`` file's descriptor, by path, kept open for the same reason."""


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
        _forget_if_replaced(self._path)
        self._map = _MAPS.get(self._path)
        if self._map is not None:
            return self._map
        fd = _DESCRIPTORS.get(self._path)
        if fd is None:
            try:
                fd = _DESCRIPTORS[self._path] = os.open(self._path, os.O_RDONLY)
            except OSError:
                return None  # no -shm file (yet): not in WAL mode, or no connection opened it
        try:
            if os.fstat(fd).st_size < 2 * _HEADER:
                return None  # not initialised yet: the same descriptor is tried again
            self._map = _MAPS[self._path] = mmap.mmap(fd, 2 * _HEADER, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        return self._map

    def close(self) -> None:
        """Stop reading; the map itself stays open (see the module's docstring)."""
        self._map = None


def _forget_if_replaced(path: str) -> None:
    """When every connection to a database closed, SQLite deleted its ``-shm`` file, and a later
    connection made a new one: the descriptor kept here is of the old file, which SQLite no
    longer locks, so it can be closed and the new file opened (for a new reader)."""
    fd = _DESCRIPTORS.get(path)
    if fd is None:
        return
    try:
        current = os.stat(path).st_ino
    except OSError:
        current = None
    if current == os.fstat(fd).st_ino:
        return
    old_map = _MAPS.pop(path, None)
    if old_map is not None:
        old_map.close()
    del _DESCRIPTORS[path]
    os.close(fd)
