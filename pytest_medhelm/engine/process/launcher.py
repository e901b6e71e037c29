"""Starting the engine process: forked from a single-threaded session on Linux, spawned elsewhere."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from pytest_medhelm.engine.core import ModelError
from pytest_medhelm.engine.process.child import forked_main
from pytest_medhelm.engine.process.client import EngineConnection


class EngineProcess(EngineConnection):
    """Starts the child at once; calls from this process go over a socket pair.

    With ``listen``, the child also accepts connections from other processes (xdist workers) at
    :attr:`address`, a socket in a directory only this user can enter.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        cache: Path | None,
        listen: bool = False,
        include_text: bool = False,
        budget_usd: float | None = None,
    ) -> None:
        parent_end, child_end = socket.socketpair()
        passed = [child_end]
        self._directory: str | None = None
        address: str | None = None
        listener: socket.socket | None = None
        if listen:
            # Bound here, not in the child: a worker may connect before the child is up (the
            # connection waits in the backlog), and the directory (mode 0700) keeps others out.
            self._directory = tempfile.mkdtemp(prefix="medhelm-engine-")
            address = os.path.join(self._directory, "engine.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(address)
            listener.listen(128)
            passed.append(listener)
        if _can_fork():
            # A forked child has every module this process has imported (pytest, pydantic, the
            # engine): it is serving within milliseconds, not after 0.3 s of imports of its own.
            self._process: _Child = _Forked(
                parent_end, child_end, listener, concurrency, cache, include_text, budget_usd
            )
        else:
            self._process = _Spawned(child_end, listener, concurrency, cache, include_text, budget_usd)
        for sock in passed:
            sock.close()
        self._socket = parent_end
        super().__init__(address)

    async def _open_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(sock=self._socket)

    def _gone_error(self) -> ModelError:
        return ModelError(f"the engine process exited (status {self._process.exitcode()})")

    def close(self, timeout_s: float = 10.0) -> None:
        """Close the socket (the child finishes and exits), then wait for it."""
        self._socket.close()
        self._process.wait(timeout_s)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def _can_fork() -> bool:
    # Forking is safe only from a single-threaded process (a lock held by another thread stays
    # held in the child), and only Linux's fork is free of the platform caveats macOS has.
    return sys.platform.startswith("linux") and threading.active_count() == 1


class _Child(Protocol):
    pid: int | None

    def exitcode(self) -> int | None: ...

    def wait(self, timeout_s: float) -> None: ...


class _Forked:
    """The child as a fork of this process (multiprocessing's ``fork`` start method)."""

    def __init__(
        self,
        parent_end: socket.socket,
        owner: socket.socket,
        listener: socket.socket | None,
        concurrency: int,
        cache: Path | None,
        include_text: bool = False,
        budget_usd: float | None = None,
    ) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        context = multiprocessing.get_context("fork")
        self._process = context.Process(
            target=forked_main,
            args=(parent_end, owner, listener, concurrency, cache, include_text, budget_usd),
            name="medhelm-engine",
            daemon=True,
        )
        self._process.start()
        self.pid = self._process.pid

    def exitcode(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout_s: float) -> None:
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class _Spawned:
    """The child as a new interpreter (``python -m pytest_medhelm.engine.process``), where forking is not safe."""

    def __init__(
        self,
        owner: socket.socket,
        listener: socket.socket | None,
        concurrency: int,
        cache: Path | None,
        include_text: bool = False,
        budget_usd: float | None = None,
    ) -> None:
        passed = [owner] if listener is None else [owner, listener]
        command = [
            sys.executable,
            "-m",
            "pytest_medhelm.engine.process",
            "--fd",
            str(owner.fileno()),
            "--concurrency",
            str(concurrency),
        ]
        if listener is not None:
            command += ["--listen-fd", str(listener.fileno())]
        if cache is not None:
            command += ["--cache", str(cache)]
        if include_text:
            command += ["--include-text"]
        if budget_usd is not None:
            command += ["--budget", repr(budget_usd)]
        self._process = subprocess.Popen(
            command, pass_fds=[sock.fileno() for sock in passed], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        self.pid: int | None = self._process.pid

    def exitcode(self) -> int | None:
        return self._process.poll()

    def wait(self, timeout_s: float) -> None:
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
