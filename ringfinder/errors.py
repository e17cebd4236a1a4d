"""The rooted exception hierarchy. The CLI turns any of these into one line on stderr."""

from __future__ import annotations

import errno


class RingfinderError(Exception):
    """Base of every error ringfinder raises on purpose."""

    exit_code = 1


class InputError(RingfinderError):
    """Bad or unreadable input data: names the file, line and column where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.line, self.column = file, line, column
        where = ":".join(str(x) for x in (file, line) if x is not None)
        if column:
            where = f"{where} column {column!r}" if where else f"column {column!r}"
        super().__init__(f"{where}: {message}" if where else message)


class EncodingMismatch(InputError):
    """The file's bytes do not match the encoding that was asked for or guessed."""


class MappingError(RingfinderError):
    """A mapping file is malformed or does not fit the source files."""


class ConfigError(RingfinderError):
    """Missing or unsafe configuration (keys, credentials, settings)."""


class EngineError(RingfinderError):
    """An engine failed or is not available (names the pip extra when missing)."""


class WorkspaceLocked(RingfinderError):
    """Another ringfinder process holds the workspace."""


class StrictModeFailure(RingfinderError):
    """Rows were rejected while strict mode was on."""

    exit_code = 3


class OutOfResources(RingfinderError):
    """The machine ran out of disk space or memory: what to change, not a bug report."""


_NO_SPACE = ("no space left on device", "disk quota exceeded")
_DISK = (
    "no space left on the disk (the workspace's database, its temporary folder, or an "
    "output file): free some space or put the workspace (--workspace) on a larger disk, "
    "then run the command again (a load is one transaction and can be repeated)"
)
_DUCKDB_MEMORY = (
    "DuckDB ran out of the memory it may use (--memory, RINGFINDER_MEMORY; default a "
    "quarter of the RAM): give it more if the machine has RAM to spare, then run the "
    "command again"
)
_MEMORY = (
    "the machine ran out of memory: close other programs or use a machine with more RAM, "
    "then run the command again"
)


def out_of_resources(exc: BaseException) -> OutOfResources | None:
    """The :class:`OutOfResources` error ``exc`` amounts to, or None when it is another.

    Recognises a full disk (``OSError`` ENOSPC/EDQUOT, DuckDB's I/O error saying so),
    DuckDB's own memory limit and the process running out of memory (``MemoryError``,
    Arrow's included). Only the cause is named: the library's message may quote data.
    """
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutOfResources(_DISK)
    module = type(exc).__module__.split(".")[0].lstrip("_")
    if module == "duckdb":
        if type(exc).__name__ == "OutOfMemoryException":
            return OutOfResources(_DUCKDB_MEMORY)
        if any(s in text for s in _NO_SPACE):
            return OutOfResources(_DISK)
    if isinstance(exc, MemoryError):
        return OutOfResources(_MEMORY)
    return None
