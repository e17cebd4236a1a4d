"""The rooted exception hierarchy. The CLI turns any of these into one line on stderr."""

from __future__ import annotations


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
