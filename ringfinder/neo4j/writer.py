"""Write the workspace graph to Neo4j: batched ``UNWIND $rows``, idempotent, resumable.

Rows come from the embedded workspace (already validated and pseudonymised), so
Neo4j never sees raw personal data. Each spec of :mod:`ringfinder.neo4j.model` is
streamed in key order in batches; each batch is one managed transaction (the driver
retries transient errors with backoff), ``workers`` of them in flight at once. After
every batch whose predecessors have all committed, the position is recorded in the
workspace, so an interrupted load resumes where it stopped.

A label or relationship type that is empty when its spec starts (and is not being
resumed) is written with ``CREATE``, else with ``MERGE``. ``CREATE`` is only ever the
first attempt of a batch: any retry of it (a deadlock, a lost connection, a commit
whose reply never came) is a ``MERGE``, so a batch that did commit is not doubled. A
node batch that meets an existing key violates its label's uniqueness constraint and is
merged too. MERGE makes a repeated batch harmless. CREATE gives the same graph as MERGE
because every spec's rows are distinct: each carries its table's key in ``a``, ``b`` or
``rkey`` (a test checks it).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
from neo4j.exceptions import ConstraintError

from ringfinder.duck import one
from ringfinder.neo4j.model import KEYS, NODES, RELS, NodeSpec, RelSpec
from ringfinder.neo4j.retry import with_retry
from ringfinder.resources import resource_file

log = logging.getLogger(__name__)

BATCH_ROWS = 20_000
#: Batches in flight at once. Parallel MERGE gains nothing (its locks serialise it);
#: parallel CREATE of a fresh type does: 2 workers wrote 204,993 claim-person
#: relationships at 43,000/s against 31,000/s for one (2-core server).
WORKERS = 2
#: progress(spec_name, rows_done, rows_total)
Progress = Callable[[str, int, int], None]


#: Temporal columns travel as ISO strings and are parsed by Neo4j: the driver's own
#: conversion of Python dates and datetimes costs more than the rest of a load.
_TEMPORAL = {"DATE": "date", "TIMESTAMP": "localdatetime"}


def _set_temporal(var: str, temporal: dict[str, str]) -> str:
    return "".join(
        f" SET {var}.`{col}` = {fn}(row.tv.`{col}`)" for col, fn in sorted(temporal.items())
    )


def node_statement(
    label: str,
    temporal: dict[str, str] | None = None,
    *,
    create: bool = False,
    props: bool = True,
) -> str:
    """``UNWIND``/``MERGE`` of one batch of nodes; ``create`` for a label known to be empty."""
    key = KEYS[label]
    verb = "CREATE" if create else "MERGE"
    return (
        f"UNWIND $rows AS row {verb} (n:`{label}` {{`{key}`: row.key}})"
        + (" SET n += row.props" if props else "")
        + _set_temporal("n", temporal or {})
    )


def rel_statement(
    rel_type: str,
    a_label: str,
    b_label: str,
    rel_key: str | None,
    temporal: dict[str, str] | None = None,
    *,
    create: bool = False,
    props: bool = True,
) -> str:
    """``UNWIND``/``MATCH``/``MERGE`` of one batch of relationships (``create``: CREATE)."""
    ka, kb = KEYS[a_label], KEYS[b_label]
    rkey = f" {{`{rel_key}`: row.rkey}}" if rel_key else ""
    verb = "CREATE" if create else "MERGE"
    return (
        f"UNWIND $rows AS row MATCH (a:`{a_label}` {{`{ka}`: row.a}}) "
        f"MATCH (b:`{b_label}` {{`{kb}`: row.b}}) "
        f"{verb} (a)-[r:`{rel_type}`{rkey}]->(b)"
        + (" SET r += row.props" if props else "")
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


def apply_schema(driver: Any, database: str, *, workers: int = 1) -> None:
    """Constraints and indexes from cypher/schema.cypher (idempotent).

    A ``CREATE CONSTRAINT`` returns when its index is built; with ``workers`` > 1 that
    many are built at once (the bulk import: on its 3M-person store, 2 workers took the
    schema from 131 to 117 s; all at once gained nothing more on 2 cores).
    """
    text = resource_file("cypher", "schema.cypher").read_text(encoding="utf-8")
    statements = [
        s.strip()
        for s in "\n".join(
            line for line in text.splitlines() if not line.strip().startswith("//")
        ).split(";")
        if s.strip()
    ]
    if workers <= 1:
        for stmt in statements:
            _schema_statement(driver, database, stmt)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="schema") as pool:
        for done in [pool.submit(_schema_statement, driver, database, s) for s in statements]:
            done.result()  # the first failure, re-raised here


def _schema_statement(driver: Any, database: str, stmt: str) -> None:
    try:
        driver.execute_query(stmt, database_=database)
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is the orphan case
        name = _orphaned_index(driver, database, stmt, exc)
        if name is None:
            raise
        # A constraint whose creation was cut short (server killed while it built its
        # index) can leave the index behind under the constraint's name; IF NOT EXISTS
        # then refuses. The index holds nothing the constraint will not rebuild.
        log.warning("dropping index %s left by an interrupted constraint creation", name)
        driver.execute_query(f"DROP INDEX `{name}` IF EXISTS", database_=database)
        driver.execute_query(stmt, database_=database)


_CONSTRAINT_NAME = re.compile(r"^CREATE CONSTRAINT (\w+) IF NOT EXISTS", re.IGNORECASE)


def _orphaned_index(driver: Any, database: str, stmt: str, exc: Exception) -> str | None:
    """The name of an index without its constraint that blocks ``stmt``, else None."""
    if "IndexWithNameAlreadyExists" not in str(getattr(exc, "code", "")):
        return None
    m = _CONSTRAINT_NAME.match(stmt)
    if not m:
        return None
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, owningConstraint WHERE name = $name "
        "RETURN owningConstraint IS NULL AS orphan",
        {"name": m.group(1)},
        database_=database,
    )
    return m.group(1) if records and records[0]["orphan"] else None


def _present(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> bool:
    for t in tables:
        row = one(con.execute(f'SELECT count(*) > 0 FROM "{t}"'))
        if row and row[0]:
            return True
    return False


def _row_sql(
    con: duckdb.DuckDBPyConnection, sql: str, fixed: tuple[str, ...]
) -> tuple[str, dict[str, str], bool]:
    """The spec's query reshaped to ``<fixed...>, props {..}, tv {..}`` rows.

    DuckDB builds each row's property map (``props``) and the ISO text of its dates and
    timestamps (``tv``, parsed by Neo4j), so no Python code touches single values.
    Returns the query, the temporal columns and whether there are plain properties.
    """
    cols = [
        (str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    ]
    keep = [f'"{n}"' for n, _ in cols if n in fixed]
    plain = [n for n, t in cols if n not in fixed and t not in _TEMPORAL]
    temporal = {n: _TEMPORAL[t] for n, t in cols if n not in fixed and t in _TEMPORAL}

    def text(n: str) -> str:
        if temporal[n] == "date":
            return f'CAST("{n}" AS VARCHAR)'
        return f"strftime(\"{n}\", '%Y-%m-%dT%H:%M:%S.%f')"

    parts = list(keep)
    if plain:
        parts.append("struct_pack(" + ", ".join(f'"{n}" := "{n}"' for n in plain) + ") AS props")
    if temporal:
        parts.append(
            "struct_pack(" + ", ".join(f'"{n}" := {text(n)}' for n in sorted(temporal)) + ") AS tv"
        )
    return f"SELECT {', '.join(parts)} FROM ({sql})", temporal, bool(plain)


def _batches(
    con: duckdb.DuckDBPyConnection, sql: str, order: str, skip: int, size: int
) -> Iterator[list[dict[str, Any]]]:
    """Rows of ``sql`` in ``order`` from row ``skip`` on, ``size`` at a time, as dicts.

    The cursor is opened here, in the caller's thread; the rows may be read in another.
    """
    cur = con.cursor()
    query = f"SELECT * FROM ({sql}) ORDER BY {order} OFFSET {int(skip)}"

    def rows() -> Iterator[list[dict[str, Any]]]:
        try:
            reader = cur.sql(query).to_arrow_reader(size)
            pending: list[dict[str, Any]] = []
            for chunk in reader:
                pending.extend(chunk.to_pylist())
                while len(pending) >= size:
                    yield pending[:size]
                    pending = pending[size:]
            if pending:
                yield pending
        finally:
            cur.close()

    return rows()


_END = object()


def _prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items``, produced by a background thread up to ``depth`` ahead.

    DuckDB reads and shapes the next batch while Neo4j writes the current one. Closing
    the returned iterator (an interrupted load) stops the thread.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
            return
        put(_END)

    worker = threading.Thread(target=run, name="neo4j-batches", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


@dataclass
class _Failed:
    exc: BaseException


class GraphWriter:
    """Writes the workspace graph into one Neo4j database."""

    def __init__(
        self,
        driver: Any,
        con: duckdb.DuckDBPyConnection,
        *,
        database: str = "neo4j",
        batch_rows: int = BATCH_ROWS,
        workers: int = WORKERS,
        target: str = "",
    ) -> None:
        self.driver, self.con, self.database = driver, con, database
        self.batch_rows = batch_rows
        self.workers = max(1, workers)
        self.target = hashlib.sha256(f"{target}/{database}".encode()).hexdigest()[:16]
        con.execute(
            "CREATE TABLE IF NOT EXISTS _neo4j_progress ("
            "target VARCHAR, spec VARCHAR, rows_done BIGINT, PRIMARY KEY (target, spec))"
        )

    # -- progress bookkeeping (resume) -------------------------------------
    def _done(self, spec: str) -> int:
        row = one(
            self.con.execute(
                "SELECT rows_done FROM _neo4j_progress WHERE target = ? AND spec = ?",
                [self.target, spec],
            )
        )
        return int(row[0]) if row else 0

    def _mark(self, spec: str, rows_done: int) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO _neo4j_progress VALUES (?, ?, ?)",
            [self.target, spec, rows_done],
        )

    def reset_progress(self) -> None:
        self.con.execute("DELETE FROM _neo4j_progress WHERE target = ?", [self.target])

    # -- writing ------------------------------------------------------------
    def _write(self, statement: str, rows: list[dict[str, Any]], first: str | None = None) -> None:
        """One batch in one managed transaction.

        ``first``, when given, runs on the first attempt only; every retry (the driver's
        or :func:`with_retry`'s) runs ``statement``, the MERGE that cannot double a batch
        whose commit went through unacknowledged.
        """
        attempts = 0

        def work(tx: Any) -> None:
            nonlocal attempts
            attempts += 1
            use = first if first is not None and attempts == 1 else statement
            tx.run(use, rows=rows).consume()

        def attempt() -> None:
            with self.driver.session(database=self.database) as session:
                session.execute_write(work)

        with_retry(attempt, what="a batch")  # outages longer than the driver's own retries

    def _count(self, sql: str) -> int:
        row = one(self.con.execute(f"SELECT count(*) FROM ({sql})"))
        return int(row[0]) if row else 0

    def _empty(self, pattern: str) -> bool:
        recs, _, _ = self.driver.execute_query(
            f"MATCH {pattern} RETURN count(*) AS n", database_=self.database
        )
        return int(recs[0]["n"]) == 0

    def _label_empty(self, label: str) -> bool:
        return self._empty(f"(n:`{label}`)")

    def _type_empty(self, rel_type: str) -> bool:
        return self._empty(f"()-[r:`{rel_type}`]->()")

    def _write_batches(
        self,
        name: str,
        batches: Iterator[list[dict[str, Any]]],
        write_batch: Callable[[list[dict[str, Any]]], None],
        done: int,
        total: int,
        progress: Progress | None,
    ) -> None:
        """``write_batch`` over ``batches``, up to ``workers`` at once, in key order.

        The position recorded after a batch counts it only once every batch before it
        has committed, and no more than ``workers`` batches are ever in flight past it,
        so a resumed load repeats at most those (as MERGE: a resumed spec never CREATEs).
        """
        pending: deque[tuple[Future[None], int]] = deque()

        def settle() -> None:
            nonlocal done
            future, n = pending.popleft()
            future.result()
            done += n
            self._mark(name, done)
            if progress:
                progress(name, done, total)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="neo4j-write") as pool:
            try:
                for rows in batches:
                    if len(pending) >= self.workers:
                        settle()
                    pending.append((pool.submit(write_batch, rows), len(rows)))
                while pending:
                    settle()
            except BaseException:
                for future, _ in pending:
                    future.cancel()  # the running ones finish before the pool closes
                raise

    def write_nodes(self, spec: NodeSpec, progress: Progress | None = None) -> int:
        """MERGE the spec's nodes; CREATE them when the label was empty at the start.

        A CREATE batch that meets an existing key (a batch retried after a commit whose
        reply was lost) violates the label's uniqueness constraint and is merged instead.
        """
        total = self._count(spec.sql)
        done = self._done(spec.name)
        sql, temporal, props = _row_sql(self.con, spec.sql, ("key",))
        merge = node_statement(spec.label, temporal, props=props)
        create = node_statement(spec.label, temporal, create=True, props=props)
        fresh = done == 0 and self._label_empty(spec.label)

        def write_batch(rows: list[dict[str, Any]]) -> None:
            nonlocal fresh
            if not fresh:
                self._write(merge, rows)
                return
            try:
                self._write(merge, rows, first=create)
            except ConstraintError:
                fresh = False
                self._write(merge, rows)

        batches = _prefetched(_batches(self.con, sql, "key", done, self.batch_rows))
        try:
            self._write_batches(spec.name, batches, write_batch, done, total, progress)
        finally:
            batches.close()
        return total

    def write_rels(self, spec: RelSpec, progress: Progress | None = None) -> int:
        """MERGE the spec's relationships; CREATE them when the type was empty at the start."""
        total = self._count(spec.sql)
        done = self._done(spec.name)
        fixed = ("a", "b", "a_label", "b_label", "rkey")
        sql, temporal, props = _row_sql(self.con, spec.sql, fixed)
        order = "a, b" + (", rkey" if spec.rel_key else "")
        fixed_labels = spec.a_label is not None and spec.b_label is not None
        fresh = done == 0 and self._type_empty(spec.type)

        def write_batch(rows: list[dict[str, Any]]) -> None:
            if fixed_labels:
                by_labels = {(spec.a_label, spec.b_label): rows}
            else:  # rows of one batch may mix labels: one statement per label pair
                by_labels = {}
                for r in rows:
                    la, lb = r.pop("a_label", None), r.pop("b_label", None)
                    key = (la or spec.a_label, lb or spec.b_label)
                    by_labels.setdefault(key, []).append(r)
            for (la, lb), part in sorted(by_labels.items()):  # type: ignore[arg-type]
                args = (spec.type, la, lb, spec.rel_key, temporal)
                merge = rel_statement(*args, props=props)  # type: ignore[arg-type]
                create = rel_statement(*args, create=True, props=props) if fresh else None  # type: ignore[arg-type]
                self._write(merge, part, first=create)

        batches = _prefetched(_batches(self.con, sql, order, done, self.batch_rows))
        try:
            self._write_batches(spec.name, batches, write_batch, done, total, progress)
        finally:
            batches.close()
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
        n = int(one(con.execute(f"SELECT count(*) FROM ({spec.sql})"))[0])  # type: ignore[index]
        nodes[spec.label] = nodes.get(spec.label, 0) + n
    for rel in RELS:
        n = int(one(con.execute(f"SELECT count(*) FROM ({rel.sql})"))[0])  # type: ignore[index]
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
