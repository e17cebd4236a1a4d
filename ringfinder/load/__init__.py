"""Loading the canonical tables: read, map, validate, quarantine, pseudonymise, upsert.

Public API (used by the CLI and the engines)::

    report = load_folder(con, data_dir, LoadOptions(...), progress=callback)
"""

from __future__ import annotations

from ringfinder.load.api import LoadOptions, LoadReport, ProgressCallback, TableReport, load_folder

__all__ = ["LoadOptions", "LoadReport", "ProgressCallback", "TableReport", "load_folder"]
