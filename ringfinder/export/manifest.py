"""SHA-256 manifests of case packets, and their verification.

Each packet folder holds ``manifest.json`` (every file with its size and SHA-256,
and what the packet is) and ``SHA256SUMS`` in the format ``sha256sum -c`` reads, so
a recipient can check the packet without ringfinder. ``SHA256SUMS`` also covers
``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringfinder.leads import atomic_write_text

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in (MANIFEST, SUMS)
    )


def write_manifest(folder: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Hash every file under ``folder``; write manifest.json and SHA256SUMS."""
    entries = [
        {
            "path": p.relative_to(folder).as_posix(),
            "bytes": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in _files(folder)
    ]
    doc = {**meta, "algorithm": "sha256", "files": entries}
    atomic_write_text(folder / MANIFEST, json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    sums: list[tuple[str, str]] = [(str(e["sha256"]), str(e["path"])) for e in entries]
    sums.append((sha256_file(folder / MANIFEST), MANIFEST))
    atomic_write_text(
        folder / SUMS, "".join(f"{h}  {p}\n" for h, p in sorted(sums, key=lambda x: x[1]))
    )
    return entries


@dataclass
class VerifyResult:
    folder: Path
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra or self.problems)


def verify_packet(folder: Path) -> VerifyResult:
    """Check every file of a packet against its manifest (and the manifest against SUMS)."""
    res = VerifyResult(folder)
    mpath = folder / MANIFEST
    if not mpath.is_file():
        res.problems.append(f"no {MANIFEST}")
        return res
    try:
        doc = json.loads(mpath.read_text(encoding="utf-8"))
        entries = {e["path"]: e for e in doc["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        res.problems.append(f"{MANIFEST} unreadable: {exc}")
        return res
    spath = folder / SUMS
    if spath.is_file():
        sums = {}
        for line in spath.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            sums[name] = digest
        if sums.get(MANIFEST) != sha256_file(mpath):
            res.changed.append(MANIFEST)
        for name, entry in entries.items():
            if sums.get(name) != entry.get("sha256"):
                res.problems.append(f"{SUMS} and {MANIFEST} disagree on {name}")
    else:
        res.problems.append(f"no {SUMS}")
    for name, entry in sorted(entries.items()):
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            res.problems.append(f"unsafe path in manifest: {name}")
            continue
        if not path.is_file():
            res.missing.append(name)
            continue
        res.checked += 1
        if sha256_file(path) != entry.get("sha256"):
            res.changed.append(name)
    present = {p.relative_to(folder).as_posix() for p in _files(folder)}
    res.extra = sorted(present - set(entries))
    return res


def packet_folders(path: Path) -> list[Path]:
    """``path`` itself if it is a packet, else the packets directly inside it."""
    if (path / MANIFEST).is_file():
        return [path]
    return (
        sorted(p for p in path.iterdir() if p.is_dir() and (p / MANIFEST).is_file())
        if path.is_dir()
        else []
    )
