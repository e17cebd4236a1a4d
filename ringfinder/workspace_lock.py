"""One writer per workspace: an OS lock on ``WORKSPACE/.ringfinder.lock``.

A process that writes to a workspace (``run``, ``load``, ``neo4j load``, ``rules``,
``eval``, ``leads mark``) holds an exclusive ``flock`` on the lock file for as long as the
workspace is open; readers (``leads list``, ``export``) hold a shared one. A second
writer is refused at once with one line naming the holder's pid and command, instead of
waiting or corrupting the first run's output.

Why ``flock`` and not a pid file: the kernel releases the lock when the holder's file
descriptor closes, which includes the process being killed (SIGKILL, OOM, power loss of
the process), so a dead run never leaves a stale lock behind and nobody has to delete a
lock file by hand. The file itself stays (deleting a locked file would let two processes
lock two different files); its content is only informative. ``flock`` locks are not
reliable on some network file systems: keep workspaces on a local disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from pathlib import Path

from ringfinder.errors import WorkspaceLocked

LOCK_FILE = ".ringfinder.lock"


#: Locks this process holds: resolved lock path -> [fd, users, shared]. A process may open
#: its own workspace more than once (DuckDB shares one database per process), so the lock
#: is re-entrant within a process and exclusive between processes.
_HELD: dict[Path, list] = {}  # type: ignore[type-arg]


class WorkspaceLock:
    """An exclusive (writer) or shared (reader) lock on one workspace folder."""

    def __init__(self, workspace: Path | str, *, shared: bool = False) -> None:
        self.workspace = Path(workspace)
        self.path = self.workspace / LOCK_FILE
        self.shared = shared
        self._key: Path | None = None

    def acquire(self) -> WorkspaceLock:
        """Take the lock now, or raise :class:`WorkspaceLocked` (never waits)."""
        if self._key is not None:
            return self
        self.workspace.mkdir(parents=True, exist_ok=True)
        key = self.path.resolve()
        held = _HELD.get(key)
        if held is not None and (held[2] <= self.shared):  # same or stronger lock: share it
            held[1] += 1
            self._key = key
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        try:
            if held is not None:  # upgrading our own shared lock: drop it first
                os.close(held[0])
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd, self.shared)
            os.close(fd)
            if held is not None:
                _HELD.pop(key, None)
            raise WorkspaceLocked(
                f"{self.workspace}: in use by another ringfinder process{holder}; "
                "wait for it to finish, or use another workspace"
            ) from None
        except OSError:
            os.close(fd)
            raise
        if not self.shared:
            _write_holder(fd)
        _HELD[key] = [fd, (held[1] if held else 0) + 1, self.shared]
        self._key = key
        return self

    def release(self) -> None:
        """Give the lock up (the last user in this process closes the descriptor)."""
        key, self._key = self._key, None
        held = _HELD.get(key) if key is not None else None
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                os.close(held[0])

    @property
    def held(self) -> bool:
        return self._key is not None

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _command() -> str:
    """``ringfinder run`` style: the program and its subcommand words, never paths or data."""
    words = [Path(sys.argv[0]).name if sys.argv else "python"]
    for arg in sys.argv[1:3]:
        if arg.startswith("-") or "/" in arg or not arg.isidentifier():
            break
        words.append(arg)
    return " ".join(words)


def _write_holder(fd: int) -> None:
    text = f"pid {os.getpid()}: {_command()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)


def _holder(fd: int, shared: bool) -> str:
    """Who blocks us: the writer named in the file, or readers (the file names no reader)."""
    if not shared:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # a writer holds it
        else:
            return " (reading it)"
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""
