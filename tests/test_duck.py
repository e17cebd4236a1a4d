"""Single-row DuckDB reads leave the connection free for a later register()."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa

from ringfinder.duck import one

PACKAGE = Path(__file__).resolve().parents[1] / "ringfinder"


def test_one_reads_the_first_row_and_frees_the_connection() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(5000)")
    assert one(con.execute("SELECT count(*), max(i) FROM t")) == (5000, 4999)
    assert one(con.execute("SELECT i FROM t WHERE i < 0")) is None
    assert one(con.execute("SELECT i FROM t ORDER BY i DESC")) == (4999,)
    # what fetchone() would refuse under DuckDB 2 (ResourceInUseException)
    con.register("later", pa.table({"a": [1, 2]}))
    assert one(con.execute("SELECT sum(a) FROM later")) == (3,)


def test_no_module_reads_a_row_with_fetchone() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.fetchone\(", line)
    ]
    assert offenders == [], "use ringfinder.duck.one(): " + ", ".join(offenders)
