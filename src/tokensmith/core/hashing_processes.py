"""argon2 in child processes: a pool of ``python -m tokensmith.core.hashing_processes`` workers
that hash and verify what they read on stdin, at a lower priority than the server.

Why not ``concurrent.futures.ProcessPoolExecutor``: it re-imports the parent's ``__main__`` in
every child (a user's unguarded ``app.py`` would start a second server there), its named
semaphores are reported as leaked when uvicorn ends a worker by re-raising SIGTERM, and its
children outlive a parent that did not shut it down. Here a child is a plain subprocess: it
imports only this module and argon2, and it exits when its stdin closes, which happens when the
pool closes or the server process dies, however it dies.

One request per line, JSON: ``["hash", password]`` or ``["verify", hash, password]``; one
answer per line: the hash, or true/false. Passwords never appear anywhere else (no logging).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokensmith.core.passwords import Argon2Parameters

__all__ = ["HashingFailed", "HashingProcesses"]


class HashingFailed(ValueError):
    """argon2 raised in a hashing process (the child lives on)."""


class _Child:
    def __init__(self, spec: str):
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "tokensmith.core.hashing_processes", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # a crash's traceback goes to the server's stderr
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout

    def ask(self, request: list[str]) -> Any:
        self.stdin.write(json.dumps(request).encode() + b"\n")
        self.stdin.flush()
        line = self.stdout.readline()
        if not line:
            raise BrokenPipeError("hashing process ended")
        answer = json.loads(line)
        if isinstance(answer, dict):
            # What argon2 raised in the child (its type only: the message could hold input).
            raise HashingFailed(f"argon2 raised {answer['error']} in the hashing process")
        return answer

    def end_input(self) -> None:
        """The child exits once it has answered what it is working on."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()

    def close(self) -> None:
        self.end_input()
        with contextlib.suppress(OSError, ValueError):
            self.stdout.close()


class HashingProcesses:
    """``size`` child processes; :meth:`call` borrows one (blocking: call it from a thread of
    the hasher's own pool, never from an event loop)."""

    def __init__(self, size: int, params: Argon2Parameters, nice: int, batch: bool):
        self._spec = json.dumps({"params": asdict(params), "nice": nice, "batch": batch})
        self._idle: queue.SimpleQueue[_Child | None] = queue.SimpleQueue()
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(None)  # a slot: its child starts on first use

    def call(self, *request: str) -> Any:
        child = self._idle.get()
        try:
            if child is None or child.process.poll() is not None:
                child = self._start()
            try:
                return child.ask(list(request))
            except (BrokenPipeError, ValueError, OSError):
                # The child died (killed, out of memory): one retry in a fresh one.
                self._forget(child)
                child = self._start()
                return child.ask(list(request))
        finally:
            self._idle.put(child)

    def _start(self) -> _Child:
        with self._lock:
            if self._closed:
                raise RuntimeError("the hashing processes are closed")
            child = _Child(self._spec)
            self._children.append(child)
            return child

    def _forget(self, child: _Child) -> None:
        child.close()
        child.process.kill()
        child.process.wait()
        with self._lock:
            if child in self._children:
                self._children.remove(child)

    def pids(self) -> list[int]:
        with self._lock:
            return [c.process.pid for c in self._children if c.process.poll() is None]

    def close(self, *, wait: bool) -> None:
        """Close every child's stdin: each exits after its current request (whose answer its
        caller still reads). ``wait``: until they have exited; otherwise a daemon thread reaps
        them."""
        with self._lock:
            self._closed = True
            children = list(self._children)
        for child in children:
            child.end_input()
        if wait:
            _reap(children)
        elif children:
            threading.Thread(target=_reap, args=(children,), daemon=True).start()


def _reap(children: list[_Child]) -> None:
    for child in children:
        child.process.wait()
        child.close()


def _serve(spec: dict[str, Any]) -> None:
    from tokensmith.core.passwords import Argon2Parameters, _argon2, _matches, lower_priority

    # Ctrl-C reaches the whole process group: the server shuts down, then closes our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority(int(spec["nice"]), bool(spec["batch"]))
    argon2 = _argon2(Argon2Parameters(**spec["params"]))
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        answer: object
        try:
            if request[0] == "hash":
                answer = argon2.hash(request[1])
            else:
                answer = _matches(argon2, request[1], request[2])
        except Exception as exc:  # e.g. a password with a lone surrogate: not UTF-8
            answer = {"error": type(exc).__name__}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        _serve(json.loads(sys.argv[1]))
    os._exit(0)
