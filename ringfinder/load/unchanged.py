"""Inputs unchanged since the workspace's last load are not read again.

Investigators rerun ``ringfinder run`` on the same data while they explore (another
``--min-score``, after triage marks). Reading and validating a city-year again takes
minutes and, the load being idempotent, stores nothing new. So each load records what
it read, and a later load with the same inputs, on the workspace as that load left
it, returns that load's report instead of reading anything.

"The same inputs" is everything that decides what a load stores:

- each source file's resolved path, size, modification time (ns) and inode (the quick
  check of make and rsync: a file written again, or replaced, has another time or
  inode; hashing a city-year's 8 GB would cost as much as a tenth of the load);
- the mapping file's bytes, the encoding, strict mode, pseudonymisation and the key's
  fingerprint, the quarantine folder;
- the loader's own code (a hash of the modules that validate and store).

"As that load left it": its row is the last of ``_loads``, every canonical table
holds the rows it held after that load, and the quarantine files are the ones that
load wrote (a later load that failed rewrites them). ``--reload`` reads the files
whatever.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from ringfinder.load.api import LoadOptions, LoadReport, report_from_json, report_json
from ringfinder.load.mapping import Mapping, qident
from ringfinder.load.pseudonym import Pseudonymiser
from ringfinder.schema import LOAD_ORDER

log = logging.getLogger(__name__)

INPUTS_DDL = """CREATE TABLE IF NOT EXISTS _load_inputs (
    load_id BIGINT, inputs VARCHAR, workspace VARCHAR, report VARCHAR)"""

#: the modules whose code decides what a load stores (their hash is part of the inputs)
_LOADER_MODULES = (
    "api",
    "encoding",
    "loader",
    "mapping",
    "pseudonym",
    "reader",
    "store",
    "validate",
)


def _loader_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in (*_LOADER_MODULES, "../schema"):
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()


def _file_id(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino]


def inputs_of(
    files: Iterable[tuple[str, Path]],
    options: LoadOptions,
    *,
    encoding: str,
    mapping: Mapping | None,
    pseud: Pseudonymiser | None,
    quarantine_dir: Path,
) -> str:
    """What this load would read and how, as canonical JSON (no personal data)."""
    doc = {
        "files": sorted([table, *_file_id(p)] for table, p in files),
        "mapping": hashlib.sha256(mapping.path.read_bytes()).hexdigest() if mapping else None,
        "encoding": encoding,
        "strict": options.strict,
        "key": pseud.fingerprint if pseud is not None else None,
        "quarantine": str(quarantine_dir.resolve()),
        "loader": _loader_hash(),
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def _workspace_state(con: duckdb.DuckDBPyConnection, quarantine_dir: Path) -> str:
    """The canonical tables' row counts and the quarantine files, as canonical JSON."""
    counts = {
        t: con.execute(f"SELECT count(*) FROM main.{qident(t)}").fetchall()[0][0]
        for t in LOAD_ORDER
    }
    quarantine = {}
    for t in LOAD_ORDER:
        q = quarantine_dir / f"{t}.csv"
        try:
            st = q.stat()
            quarantine[t] = [st.st_size, st.st_mtime_ns]
        except OSError:
            quarantine[t] = None
    return json.dumps({"rows": counts, "quarantine": quarantine}, sort_keys=True)


def remember(
    con: duckdb.DuckDBPyConnection, inputs: str, report: LoadReport, quarantine_dir: Path
) -> None:
    """Record this load's inputs and report (inside the load's transaction, after its
    writes and its ``_loads`` row)."""
    con.execute(INPUTS_DDL)
    con.execute(
        "INSERT INTO main._load_inputs VALUES (?, ?, ?, ?)",
        [report.load_id, inputs, _workspace_state(con, quarantine_dir), report_json(report)],
    )


def unchanged_load(
    con: duckdb.DuckDBPyConnection, inputs: str, quarantine_dir: Path
) -> LoadReport | None:
    """The report of the workspace's last load if it read ``inputs`` and the workspace is
    as it left it; else None (the files are to be read)."""
    try:
        rows = con.execute(
            """SELECT i.load_id, i.inputs, i.workspace, i.report, l.finished_at
            FROM main._load_inputs i JOIN main._loads l USING (load_id)
            WHERE l.load_id = (SELECT max(load_id) FROM main._loads)"""
        ).fetchall()
    except duckdb.CatalogException:  # a workspace loaded before inputs were recorded
        return None
    if len(rows) != 1:
        return None
    load_id, stored, workspace, report, finished = rows[0]
    if stored != inputs:
        return None
    if workspace != _workspace_state(con, quarantine_dir):
        log.info("load %s: the workspace changed since, the files are read again", load_id)
        return None
    try:
        out = report_from_json(report)
    except (TypeError, ValueError, KeyError):  # a report another version wrote: read again
        return None
    out.reused_load, out.reused_at = int(load_id), finished.isoformat(" ", "seconds")
    return out


__all__ = ["INPUTS_DDL", "inputs_of", "remember", "unchanged_load"]
