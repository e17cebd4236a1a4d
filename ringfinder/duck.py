"""Reading one row from DuckDB without leaving the connection busy.

DuckDB 2 refuses a later ``register()`` (or ``sql()``) on a connection whose last result
was not read to its end, which ``fetchone()`` leaves it: ``ResourceInUseException``.
Every single-row read in ringfinder goes through :func:`one`, so no module can leave a
connection in that state for the next one that registers a table on it.
"""

from __future__ import annotations

from typing import Any

import duckdb


def one(result: Any) -> tuple[Any, ...] | None:
    """The first row of a DuckDB result (None if it has none), the result read to its end.

    For queries of one row (aggregates, ``LIMIT 1``): the rest is read and dropped.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """``con.unregister(name)`` in a ``finally``: quiet when the transaction is aborted.

    A load runs in one transaction; when a statement fails in it, DuckDB refuses every
    later one (the unregister too) until the rollback, which drops the view registered
    in it. The error to report is the one that aborted the transaction.
    """
    try:
        con.unregister(name)
    except duckdb.TransactionException:
        pass
