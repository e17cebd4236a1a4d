"""Reading one row from DuckDB without leaving the connection busy.

DuckDB 2 refuses a later ``register()`` (or ``sql()``) on a connection whose last result
was not read to its end, which ``fetchone()`` leaves it: ``ResourceInUseException``.
Every single-row read in ringfinder goes through :func:`one`, so no module can leave a
connection in that state for the next one that registers a table on it.
"""

from __future__ import annotations

from typing import Any


def one(result: Any) -> tuple[Any, ...] | None:
    """The first row of a DuckDB result (None if it has none), the result read to its end.

    For queries of one row (aggregates, ``LIMIT 1``): the rest is read and dropped.
    """
    rows = result.fetchall()
    return rows[0] if rows else None
