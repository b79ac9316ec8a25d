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

The event loop talks to the children itself: it writes a request to a child's stdin and waits
for the answer line on a non-blocking stdout (``loop.add_reader``). No server thread takes part,
so none of them holds the server's GIL, or waits for a CPU with it, while the loop has requests
to serve (docs/performance.md, "Round seven").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
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
        os.set_blocking(self.stdout.fileno(), False)

    async def ask(self, request: list[str]) -> Any:
        """Send one request and wait for its answer without blocking the loop. The child reads
        its stdin only between requests, so the pipe is empty and the write does not wait."""
        self.stdin.write(json.dumps(request).encode() + b"\n")
        self.stdin.flush()
        loop = asyncio.get_running_loop()
        fd = self.stdout.fileno()
        line: asyncio.Future[bytes] = loop.create_future()
        loop.add_reader(fd, _read_line, fd, line, [])
        try:
            answer = json.loads(await line)
        finally:
            loop.remove_reader(fd)
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


def _read_line(fd: int, line: asyncio.Future[bytes], chunks: list[bytes]) -> None:
    """``fd`` is readable: one answer is one line, in one read or in several."""
    if line.done():
        return
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError as error:
        line.set_exception(error)
        return
    if not chunk:
        line.set_exception(BrokenPipeError("hashing process ended"))
        return
    chunks.append(chunk)
    if chunk.endswith(b"\n"):
        line.set_result(b"".join(chunks))


class HashingProcesses:
    """``size`` child processes; :meth:`call` borrows one for one request, on whichever event
    loop calls it (a caller waits, asynchronously, while all are busy)."""

    def __init__(self, size: int, params: Argon2Parameters, nice: int, batch: bool):
        self._spec = json.dumps({"params": asdict(params), "nice": nice, "batch": batch})
        self._idle: list[_Child | None] = [None] * size  # a slot: its child starts on first use
        self._waiting: collections.deque[asyncio.Future[_Child | None]] = collections.deque()
        self._children: list[_Child] = []
        self._lock = threading.Lock()  # callers may be on several loops, in several threads
        self._closed = False

    async def call(self, *request: str) -> Any:
        child = await self._borrow()
        try:
            if child is None or child.process.poll() is not None:
                if child is not None:
                    self._forget(child)
                child = self._start()
            try:
                return await child.ask(list(request))
            except (OSError, ValueError) as error:  # a broken pipe, a torn answer
                if isinstance(error, HashingFailed):
                    raise  # argon2's refusal: the child is fine
                # The child died (killed, out of memory): one retry in a fresh one.
                self._forget(child)
                child = None  # if no child can start, the slot goes back empty
                child = self._start()
                return await child.ask(list(request))
        except asyncio.CancelledError:
            # The answer would reach the next caller: this child is not reused.
            if child is not None:
                self._forget(child)
            child = None
            raise
        finally:
            self._give_back(child)

    async def _borrow(self) -> _Child | None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the hashing processes are closed")
            if self._idle:
                return self._idle.pop()
            turn: asyncio.Future[_Child | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._give_back(turn.result())  # handed over just as the caller went away
            raise

    def _give_back(self, child: _Child | None) -> None:
        with self._lock:
            while self._waiting:
                turn = self._waiting.popleft()
                if not turn.done():
                    _soon(turn.get_loop(), self._hand_over, turn, child)
                    return
            self._idle.append(child)

    def _hand_over(self, turn: asyncio.Future[_Child | None], child: _Child | None) -> None:
        if turn.done():  # the caller went away meanwhile: the next one gets the child
            self._give_back(child)
        else:
            turn.set_result(child)

    def _start(self) -> _Child:
        with self._lock:
            if self._closed:
                raise RuntimeError("the hashing processes are closed")
            child = _Child(self._spec)
            self._children.append(child)
            return child

    def _forget(self, child: _Child) -> None:
        child.close()
        with contextlib.suppress(OSError):
            child.process.kill()
        with self._lock:
            if child in self._children:
                self._children.remove(child)
        threading.Thread(target=child.process.wait, daemon=True).start()  # reaped off the loop

    def pids(self) -> list[int]:
        with self._lock:
            return [c.process.pid for c in self._children if c.process.poll() is None]

    def close(self, *, wait: bool) -> None:
        """Close every child's stdin: each exits after its current request (whose answer its
        caller still reads). ``wait``: until they have exited; otherwise a daemon thread reaps
        them. Callers still waiting for a child get :class:`RuntimeError`."""
        with self._lock:
            self._closed = True
            children = list(self._children)
            waiting, self._waiting = list(self._waiting), collections.deque()
        for turn in waiting:
            _soon(turn.get_loop(), _refuse, turn)
        for child in children:
            child.end_input()
        if wait:
            _reap(children)
        elif children:
            threading.Thread(target=_reap, args=(children,), daemon=True).start()


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """``callback`` on ``loop``, after the caller's lock is released: from the loop's own thread
    without waking it through its self-pipe."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        loop.call_soon(callback, *args)
    else:
        loop.call_soon_threadsafe(callback, *args)


def _refuse(turn: asyncio.Future[_Child | None]) -> None:
    if not turn.done():
        turn.set_exception(RuntimeError("the hashing processes are closed"))


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
