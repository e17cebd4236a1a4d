"""The audit log of exports that revealed real identities (``WORKSPACE/audit.jsonl``).

One JSON object per line: who (OS user), when, which leads, which files and their
SHA-256, where the identities came from, and the key's fingerprint. The file is only
ever appended to (``O_APPEND``, an exclusive lock, ``fsync`` of the file and of its
folder), and each entry carries the SHA-256 of the line before it, so removing or
editing an entry breaks the chain (:func:`verify_chain`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ringfinder import __version__
from ringfinder.errors import ConfigError
from ringfinder.triage import current_user, utc_now_iso

AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


@contextmanager
def _locked_append(path: Path) -> Iterator[int]:
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _last_hash(path: Path) -> str:
    if not path.is_file():
        return GENESIS
    last = b""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                last = line
    return _line_hash(last) if last else GENESIS


def append_entry(workspace: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one entry (who/when/prev added here); raise if it cannot be made durable."""
    if not workspace.is_dir():
        raise ConfigError(f"{workspace}: workspace folder missing, cannot write the audit log")
    path = workspace / AUDIT_FILE
    try:
        with _locked_append(path) as fd:
            full = {
                "when": utc_now_iso(),
                "who": current_user(),
                "host": socket.gethostname(),
                "ringfinder": __version__,
                **entry,
                "prev": _last_hash(path),
            }
            line = (json.dumps(full, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
            written = os.write(fd, line)
            if written != len(line):
                raise OSError("short write")
    except OSError as exc:
        raise ConfigError(f"cannot write the audit log {path}: {exc}") from None
    return full


def read_entries(workspace: Path) -> list[dict[str, Any]]:
    path = workspace / AUDIT_FILE
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def verify_chain(workspace: Path) -> list[str]:
    """Problems with the audit log's hash chain (empty when intact)."""
    path = workspace / AUDIT_FILE
    if not path.is_file():
        return []
    problems = []
    prev = GENESIS
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(f"line {n}: not JSON")
            prev = _line_hash(line)
            continue
        if entry.get("prev") != prev:
            problems.append(f"line {n}: chain broken (an entry before it was changed or removed)")
        prev = _line_hash(line)
    return problems
