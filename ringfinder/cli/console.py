"""Shared rich consoles: results to stdout, messages and progress to stderr."""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Width when the stream is a file or a pipe (CI logs, issue notes): rich would use 80
#: and fold every table; COLUMNS still wins when set.
PIPE_WIDTH = 140


def _width(stream: object) -> int | None:
    isatty = getattr(stream, "isatty", None)
    if os.environ.get("COLUMNS") or (isatty is not None and isatty()):
        return None
    return PIPE_WIDTH


out = Console(soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, soft_wrap=True, width=_width(sys.stderr))
