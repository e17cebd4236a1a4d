"""The loader's public types and entry point (implementation in sibling modules)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

#: progress(table, rows_done, rows_total_or_None)
ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class LoadOptions:
    encoding: str = "auto"  # "auto" | "utf-8" | "gb18030" | "gbk"
    mapping: str | Path | None = None  # shipped mapping name or a YAML path
    strict: bool = False  # any rejected row is an error (StrictModeFailure)
    pseudonymise: bool = True
    quarantine_dir: Path | None = None  # default: <workspace>/quarantine
    reload: bool = False  # read the files even when unchanged since the last load


@dataclass
class TableReport:
    table: str
    source: str  # file (or files) read
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    quarantine: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # reason kind -> count
    # added by the loader:
    examples: list[str] = field(default_factory=list)  # first reasons (never PII values)
    inserted: int = 0  # of the loaded rows: new keys
    updated: int = 0  # keys already stored, with other values (replaced)
    unchanged: int = 0  # identical to the stored row
    removed: int = 0  # claim_items: stored items of a loaded claim that are gone
    encoding: str | None = None  # CSV bytes as read: utf-8 / gb18030 / gbk
    derived_from: str | None = None  # mapping: distinct rows of another table's source

    @property
    def reconciled(self) -> bool:
        return self.read == self.loaded + self.rejected


@dataclass
class LoadReport:
    tables: list[TableReport] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # added by the loader:
    load_id: int | None = None  # row of the workspace's _loads table (None: nothing written)
    quarantine_dir: Path | None = None
    mapping: str | None = None
    strict: bool = False
    seconds: float = 0.0
    # inputs unchanged since this load of the workspace: nothing was read, its report
    reused_load: int | None = None
    reused_at: str | None = None  # when that load finished

    def table(self, name: str) -> TableReport | None:
        return next((t for t in self.tables if t.table == name), None)

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables)


def report_dict(report: LoadReport) -> dict[str, Any]:
    """The report as plain JSON-able data (paths as text; no personal data is in it)."""
    d = asdict(report)
    d["quarantine_dir"] = str(report.quarantine_dir) if report.quarantine_dir else None
    for t in d["tables"]:
        t["quarantine"] = str(t["quarantine"]) if t["quarantine"] else None
    return d


def report_json(report: LoadReport) -> str:
    return json.dumps(report_dict(report), ensure_ascii=False, sort_keys=True)


def report_from_json(text: str) -> LoadReport:
    d = json.loads(text)
    tables = [
        TableReport(**{**t, "quarantine": Path(t["quarantine"]) if t["quarantine"] else None})
        for t in d.pop("tables")
    ]
    qdir = d.pop("quarantine_dir")
    return LoadReport(tables=tables, quarantine_dir=Path(qdir) if qdir else None, **d)


def load_folder(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    options: LoadOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load every canonical table found in ``data_dir`` into the store behind ``con``.

    Reads ``<table>.csv`` / ``<table>.parquet`` (or, with ``options.mapping``, the
    mapping's source files), validates every row, pseudonymises PII, writes rejected
    rows to ``<quarantine_dir>/<table>.csv`` and upserts the good rows by key, all
    tables in one transaction. Raises InputError (missing required table or column,
    unreadable file), EncodingMismatch, MappingError, ConfigError (key problems) and,
    in strict mode, StrictModeFailure; a load that raises is rolled back whole (nothing
    of it is written). When the inputs are unchanged since the workspace's last load
    (:mod:`ringfinder.load.unchanged`) nothing is read and that load's report comes
    back (``reused_load``), unless ``options.reload``.
    """
    from ringfinder.load.loader import run_load

    return run_load(con, Path(data_dir), options or LoadOptions(), progress)
