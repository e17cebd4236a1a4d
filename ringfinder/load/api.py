"""The loader's public types and entry point (implementation in sibling modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class TableReport:
    table: str
    source: str  # file (or files) read
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    quarantine: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # reason kind -> count

    @property
    def reconciled(self) -> bool:
        return self.read == self.loaded + self.rejected


@dataclass
class LoadReport:
    tables: list[TableReport] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables)


def load_folder(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    options: LoadOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load every canonical table found in ``data_dir`` into the store behind ``con``."""
    raise NotImplementedError("the loader is being written")
