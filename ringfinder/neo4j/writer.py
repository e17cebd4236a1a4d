"""Write the workspace graph to Neo4j: batched ``UNWIND $rows ... MERGE``, idempotent, resumable.

Rows come from the embedded workspace (already validated and pseudonymised), so
Neo4j never sees raw personal data. Each spec of :mod:`ringfinder.neo4j.model` is
streamed in key order in batches; each batch is one managed transaction (the driver
retries transient errors with backoff). After every committed batch the position is
recorded in the workspace, so an interrupted load resumes where it stopped; MERGE
makes a repeated batch harmless.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ringfinder.neo4j.model import KEYS, NODES, RELS, NodeSpec, RelSpec
from ringfinder.resources import resource_file

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000
#: progress(spec_name, rows_done, rows_total)
Progress = Callable[[str, int, int], None]


#: Temporal columns travel as ISO strings and are parsed by Neo4j: the driver's own
#: conversion of Python dates and datetimes costs more than the rest of a load.
_TEMPORAL = {"DATE": "date", "TIMESTAMP": "localdatetime"}


def _set_temporal(var: str, temporal: dict[str, str]) -> str:
    return "".join(
        f" SET {var}.`{col}` = {fn}(row.tv.`{col}`)" for col, fn in sorted(temporal.items())
    )


def node_statement(label: str, temporal: dict[str, str] | None = None) -> str:
    key = KEYS[label]
    return (
        f"UNWIND $rows AS row MERGE (n:`{label}` {{`{key}`: row.key}}) SET n += row.props"
        + _set_temporal("n", temporal or {})
    )


def rel_statement(
    rel_type: str,
    a_label: str,
    b_label: str,
    rel_key: str | None,
    temporal: dict[str, str] | None = None,
) -> str:
    ka, kb = KEYS[a_label], KEYS[b_label]
    rkey = f" {{`{rel_key}`: row.rkey}}" if rel_key else ""
    return (
        f"UNWIND $rows AS row MATCH (a:`{a_label}` {{`{ka}`: row.a}}) "
        f"MATCH (b:`{b_label}` {{`{kb}`: row.b}}) "
        f"MERGE (a)-[r:`{rel_type}`{rkey}]->(b) SET r += row.props"
        + _set_temporal("r", temporal or {})
    )


@dataclass
class WriteReport:
    nodes: dict[str, int] = field(default_factory=dict)  # spec -> rows written
    relationships: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.nodes.values()) + sum(self.relationships.values())


def apply_schema(driver: Any, database: str) -> None:
    """Constraints and indexes from cypher/schema.cypher (idempotent)."""
    text = resource_file("cypher", "schema.cypher").read_text(encoding="utf-8")
    statements = [
        s.strip()
        for s in "\n".join(
            line for line in text.splitlines() if not line.strip().startswith("//")
        ).split(";")
        if s.strip()
    ]
    for stmt in statements:
        driver.execute_query(stmt, database_=database)


def _present(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> bool:
    for t in tables:
        row = con.execute(f'SELECT count(*) > 0 FROM "{t}"').fetchone()
        if row and row[0]:
            return True
    return False


def _batches(
    con: duckdb.DuckDBPyConnection, sql: str, order: str, skip: int, size: int
) -> Iterator[list[dict[str, Any]]]:
    cur = con.cursor()
    reader = cur.execute(f"SELECT * FROM ({sql}) ORDER BY {order} OFFSET {int(skip)}")
    while True:
        batch = reader.fetchmany(size)
        if not batch:
            return
        cols = [d[0] for d in reader.description]
        yield [dict(zip(cols, r, strict=True)) for r in batch]


def _split(
    row: dict[str, Any], fixed: tuple[str, ...], temporal: dict[str, str] | None = None
) -> dict[str, Any]:
    temporal = temporal or {}
    out = {k: row[k] for k in fixed if k in row}
    out["props"] = {
        k: v for k, v in row.items() if k not in fixed and k not in temporal and v is not None
    }
    if temporal:
        out["tv"] = {k: None if row[k] is None else row[k].isoformat() for k in temporal}
    return out


def _temporal_columns(
    con: duckdb.DuckDBPyConnection, sql: str, fixed: tuple[str, ...]
) -> dict[str, str]:
    """Property columns of a spec's query holding dates or timestamps -> Cypher parser."""
    out = {}
    for name, dtype, *_ in con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall():
        fn = _TEMPORAL.get(str(dtype))
        if fn and name not in fixed:
            out[name] = fn
    return out


class GraphWriter:
    """Writes the workspace graph into one Neo4j database."""

    def __init__(
        self,
        driver: Any,
        con: duckdb.DuckDBPyConnection,
        *,
        database: str = "neo4j",
        batch_rows: int = BATCH_ROWS,
        target: str = "",
    ) -> None:
        self.driver, self.con, self.database = driver, con, database
        self.batch_rows = batch_rows
        self.target = hashlib.sha256(f"{target}/{database}".encode()).hexdigest()[:16]
        con.execute(
            "CREATE TABLE IF NOT EXISTS _neo4j_progress ("
            "target VARCHAR, spec VARCHAR, rows_done BIGINT, PRIMARY KEY (target, spec))"
        )

    # -- progress bookkeeping (resume) -------------------------------------
    def _done(self, spec: str) -> int:
        row = self.con.execute(
            "SELECT rows_done FROM _neo4j_progress WHERE target = ? AND spec = ?",
            [self.target, spec],
        ).fetchone()
        return int(row[0]) if row else 0

    def _mark(self, spec: str, rows_done: int) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO _neo4j_progress VALUES (?, ?, ?)",
            [self.target, spec, rows_done],
        )

    def reset_progress(self) -> None:
        self.con.execute("DELETE FROM _neo4j_progress WHERE target = ?", [self.target])

    # -- writing ------------------------------------------------------------
    def _write(self, statement: str, rows: list[dict[str, Any]]) -> None:
        def work(tx: Any) -> None:
            tx.run(statement, rows=rows).consume()

        with self.driver.session(database=self.database) as session:
            session.execute_write(work)

    def _count(self, sql: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
        return int(row[0]) if row else 0

    def write_nodes(self, spec: NodeSpec, progress: Progress | None = None) -> int:
        total = self._count(spec.sql)
        done = self._done(spec.name)
        temporal = _temporal_columns(self.con, spec.sql, ("key",))
        stmt = node_statement(spec.label, temporal)
        for rows in _batches(self.con, spec.sql, "key", done, self.batch_rows):
            self._write(stmt, [_split(r, ("key",), temporal) for r in rows])
            done += len(rows)
            self._mark(spec.name, done)
            if progress:
                progress(spec.name, done, total)
        return total

    def write_rels(self, spec: RelSpec, progress: Progress | None = None) -> int:
        total = self._count(spec.sql)
        done = self._done(spec.name)
        fixed = ("a", "b", "a_label", "b_label", "rkey")
        temporal = _temporal_columns(self.con, spec.sql, fixed)
        order = "a, b" + (", rkey" if spec.rel_key else "")
        # rows of one batch may mix labels: write each label pair with its own statement
        for rows in _batches(self.con, spec.sql, order, done, self.batch_rows):
            by_labels: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for r in rows:
                labels = (r.get("a_label") or spec.a_label, r.get("b_label") or spec.b_label)
                by_labels.setdefault(labels, []).append(_split(r, fixed, temporal))  # type: ignore[arg-type]
            for (la, lb), part in sorted(by_labels.items()):
                self._write(rel_statement(spec.type, la, lb, spec.rel_key, temporal), part)
            done += len(rows)
            self._mark(spec.name, done)
            if progress:
                progress(spec.name, done, total)
        return total

    def write_all(self, progress: Progress | None = None, *, resume: bool = True) -> WriteReport:
        """Every node spec, then every relationship spec, whose tables have rows."""
        if not resume:
            self.reset_progress()
        t0 = time.perf_counter()
        report = WriteReport()
        apply_schema(self.driver, self.database)
        for spec in NODES:
            if _present(self.con, spec.requires):
                if self._done(spec.name):
                    report.resumed.append(spec.name)
                report.nodes[spec.name] = self.write_nodes(spec, progress)
        for rel in RELS:
            if _present(self.con, rel.requires):
                if self._done(rel.name):
                    report.resumed.append(rel.name)
                report.relationships[rel.name] = self.write_rels(rel, progress)
        report.seconds = time.perf_counter() - t0
        self.reset_progress()  # complete: a later load starts over (MERGE keeps it idempotent)
        return report


def expected_counts(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Nodes per label and relationships per type that the workspace should give."""
    nodes: dict[str, int] = {}
    rels: dict[str, int] = {}
    for spec in NODES:
        n = int(con.execute(f"SELECT count(*) FROM ({spec.sql})").fetchone()[0])  # type: ignore[index]
        nodes[spec.label] = nodes.get(spec.label, 0) + n
    for rel in RELS:
        n = int(con.execute(f"SELECT count(*) FROM ({rel.sql})").fetchone()[0])  # type: ignore[index]
        rels[rel.type] = rels.get(rel.type, 0) + n
    return nodes, rels


def actual_counts(driver: Any, database: str) -> tuple[dict[str, int], dict[str, int]]:
    """Nodes per label and relationships per type in Neo4j (from the count store)."""
    nodes, rels = {}, {}
    for spec_label in sorted({s.label for s in NODES}):
        recs, _, _ = driver.execute_query(
            f"MATCH (n:`{spec_label}`) RETURN count(n) AS n", database_=database
        )
        nodes[spec_label] = recs[0]["n"]
    for rel_type in sorted({r.type for r in RELS}):
        recs, _, _ = driver.execute_query(
            f"MATCH ()-[r:`{rel_type}`]->() RETURN count(r) AS n", database_=database
        )
        rels[rel_type] = recs[0]["n"]
    return nodes, rels
