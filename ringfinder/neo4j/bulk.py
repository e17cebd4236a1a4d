"""Offline bulk import: the workspace graph as neo4j-admin CSVs, imported in one pass.

The same graph model as the Bolt loader (:mod:`ringfinder.neo4j.model`): every
``NodeSpec`` becomes one node file, every ``RelSpec`` one relationship file per (start
label, end label) pair. DuckDB numbers the nodes of all labels 0..n-1 and joins each
relationship's ends to those numbers, so the files carry integer ``:ID``/``:START_ID``/
``:END_ID`` that neo4j-admin takes as the store's node ids (``--id-type=actual``): it
maps no string ids, which was most of its time. The label's key (``person_id``...) is
an ordinary string property, as the loader writes it. Values keep their types
(``:long``, ``:double``, ``:boolean``, ``:date``, ``:localdatetime``, arrays as
``type[]``), and a NULL is an empty unquoted field, so it is not set, as with the
loader's ``SET n += props``. DuckDB writes the files with ``COPY`` (no Python loop over
rows); headers go in their own files.

Then ``neo4j-admin database import full`` (``org.neo4j.cli.AdminTool``, from the same
jars and classpath as the launcher) builds the store of a **stopped** local home, and a
short-lived server on that home creates the constraints and indexes of
``cypher/schema.cypher`` and waits until they are online.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ringfinder.duck import one
from ringfinder.errors import EngineError
from ringfinder.neo4j.model import KEYS, NODES, RELS, NodeSpec, RelSpec
from ringfinder.neo4j.server import (
    JVM_FLAGS,
    PID_FILE,
    _jvm_size,
    _launcher_alive,
    default_runtime_dir,
    fetch_runtime,
    find_java,
    parse_size,
    start_server,
)

log = logging.getLogger(__name__)

ADMIN_CLASS = "org.neo4j.cli.AdminTool"
ARRAY_DELIMITER = ";"
#: DuckDB column type -> neo4j-admin CSV type (absent: string)
_SCALAR = {
    "BIGINT": "long",
    "INTEGER": "long",
    "SMALLINT": "long",
    "TINYINT": "long",
    "UBIGINT": "long",
    "UINTEGER": "long",
    "USMALLINT": "long",
    "UTINYINT": "long",
    "HUGEINT": "long",
    "DOUBLE": "double",
    "FLOAT": "double",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "localdatetime",
}
_ISO = "'%Y-%m-%dT%H:%M:%S.%f'"  # ISO 8601, as Neo4j parses localdatetime
_REL_FIXED = ("a", "b", "a_label", "b_label", "rkey")
#: progress(step, detail)
Step = Callable[[str, str], None]


@dataclass
class ImportReport:
    """What a bulk import wrote and how long each phase took."""

    nodes: dict[str, int] = field(default_factory=dict)  # label -> nodes in the store
    relationships: dict[str, int] = field(default_factory=dict)  # type -> relationships
    csv_seconds: float = 0.0
    import_seconds: float = 0.0
    schema_seconds: float = 0.0
    csv_bytes: int = 0
    home: Path | None = None
    #: seconds of the steps inside the import and schema phases (neo4j-admin's own stages)
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.csv_seconds + self.import_seconds + self.schema_seconds


@dataclass(frozen=True)
class _File:
    kind: str  # "nodes" | "relationships"
    group: str  # label or relationship type
    header: Path
    data: Path


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    return [
        (str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    ]


def _prop(name: str, dtype: str, table: str) -> tuple[str, str]:
    """(header field, select expression) for one property column of ``table``."""
    col = f"{table}.{_ident(name)}"
    if dtype.endswith("[]"):
        inner = dtype[:-2]
        typ = _SCALAR.get(inner, "string")
        expr = f"array_to_string({col}, '{ARRAY_DELIMITER}')"
        if inner == "TIMESTAMP":
            iso = f"list_transform({col}, x -> strftime(x, {_ISO}))"
            expr = f"array_to_string({iso}, '{ARRAY_DELIMITER}')"
        return f"{name}:{typ}[]", expr
    if dtype == "TIMESTAMP":
        return f"{name}:localdatetime", f"strftime({col}, {_ISO})"
    if dtype.startswith("DECIMAL"):
        return f"{name}:double", f"CAST({col} AS DOUBLE)"
    typ = _SCALAR.get(dtype)
    if typ is None:
        return name, f"CAST({col} AS VARCHAR)"
    return f"{name}:{typ}", col


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    con.execute(
        f"COPY ({select}) TO '{path.as_posix()}' (FORMAT csv, HEADER false, QUOTE '\"', "
        "ESCAPE '\"', DELIMITER ',')"
    )


def _present(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> bool:
    return any(one(con.execute(f"SELECT count(*) > 0 FROM {_ident(t)}"))[0] for t in tables)  # type: ignore[index]


def _id_table(label: str) -> str:
    return _ident(f"_rf_nid_{label}")


def _number_nodes(con: duckdb.DuckDBPyConnection, specs: list[NodeSpec]) -> set[str]:
    """Give every node one integer id, unique over all labels: a TEMP table per label.

    neo4j-admin then takes these as the store's own node ids (``--id-type=actual``), so
    it maps no string ids: on 2 cores that made its relationship stage 6.7 times faster
    (300k-person city: 73 s against 11 s). Returns the labels numbered.
    """
    by_label: dict[str, list[NodeSpec]] = {}
    for spec in specs:
        by_label.setdefault(spec.label, []).append(spec)
    first = 0
    for label, group in by_label.items():
        keys = " UNION ALL ".join(f"SELECT key FROM ({spec.sql})" for spec in group)
        created = one(
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_id_table(label)} AS "
                f"SELECT key AS _rf_key, CAST({first} + row_number() OVER () - 1 AS BIGINT) "
                f"AS _rf_nid FROM ({keys})"
            )
        )
        first += int(created[0]) if created else 0  # CREATE ... AS returns its row count
    return set(by_label)


def _drop_numbers(con: duckdb.DuckDBPyConnection, labels: set[str]) -> None:
    for label in labels:
        con.execute(f"DROP TABLE IF EXISTS {_id_table(label)}")


def _node_file(con: duckdb.DuckDBPyConnection, spec: NodeSpec, out: Path) -> _File:
    header = [":ID", KEYS[spec.label]]
    select = ["n._rf_nid", 'CAST(s."key" AS VARCHAR)']  # the key stays a string, as loaded
    for name, dtype in _columns(con, spec.sql):
        if name == "key":
            continue
        h, expr = _prop(name, dtype, "s")
        header.append(h)
        select.append(expr)
    head = out / f"nodes-{spec.name}.header.csv"
    data = out / f"nodes-{spec.name}.csv"
    head.write_text(",".join(header) + "\n", encoding="utf-8")
    _copy(
        con,
        f"SELECT {', '.join(select)} FROM ({spec.sql}) s "
        f'JOIN {_id_table(spec.label)} n ON n._rf_key = s."key"',
        data,
    )
    return _File("nodes", spec.label, head, data)


def _rel_files(
    con: duckdb.DuckDBPyConnection, spec: RelSpec, out: Path, labels: set[str]
) -> list[_File]:
    """One file per (start label, end label) pair; ``labels`` are those with nodes."""
    cols = _columns(con, spec.sql)
    props = [(n, t) for n, t in cols if n not in _REL_FIXED]
    source, temp = f"({spec.sql})", not (spec.a_label and spec.b_label)
    pairs: list[tuple[str, str]] = [(str(spec.a_label), str(spec.b_label))]
    if temp:  # labels per row: run the query once, not once per pair and once for the pairs
        source = _ident(f"_rf_rel_{spec.name}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {source} AS {spec.sql}")
        a = "a_label" if spec.a_label is None else f"'{spec.a_label}'"
        b = "b_label" if spec.b_label is None else f"'{spec.b_label}'"
        pairs = [
            (str(r[0]), str(r[1]))
            for r in con.execute(f"SELECT DISTINCT {a}, {b} FROM {source} ORDER BY 1, 2").fetchall()
        ]
    try:
        return [
            f
            for la, lb in pairs
            if (f := _rel_file(con, spec, source, props, la, lb, labels, out)) is not None
        ]
    finally:
        if temp:
            con.execute(f"DROP TABLE IF EXISTS {source}")


def _rel_file(
    con: duckdb.DuckDBPyConnection,
    spec: RelSpec,
    source: str,
    props: list[tuple[str, str]],
    la: str,
    lb: str,
    labels: set[str],
    out: Path,
) -> _File | None:
    """The file of the relationships of ``source`` from ``la`` to ``lb`` nodes."""
    if la not in KEYS or lb not in KEYS:
        raise EngineError(f"{spec.name}: label outside the graph model: {la!r}, {lb!r}")
    if la not in labels or lb not in labels:  # no node to attach to: nothing to write
        return None
    header, select = [":START_ID", ":END_ID"], ["na._rf_nid", "nb._rf_nid"]
    if spec.rel_key:
        header.append(spec.rel_key)
        select.append("r.rkey")
    for name, dtype in props:
        h, expr = _prop(name, dtype, "r")
        header.append(h)
        select.append(expr)
    where = []
    if spec.a_label is None:
        where.append(f"r.a_label = '{la}'")
    if spec.b_label is None:
        where.append(f"r.b_label = '{lb}'")
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    stem = f"rels-{spec.name}-{la}-{lb}"
    head, data = out / f"{stem}.header.csv", out / f"{stem}.csv"
    head.write_text(",".join(header) + "\n", encoding="utf-8")
    # an end with no node drops the row, as the Bolt loader's MATCH skips it
    _copy(
        con,
        f"SELECT {', '.join(select)} FROM {source} r "
        f"JOIN {_id_table(la)} na ON na._rf_key = r.a "
        f"JOIN {_id_table(lb)} nb ON nb._rf_key = r.b{cond}",
        data,
    )
    return _File("relationships", spec.type, head, data)


def write_csv(
    con: duckdb.DuckDBPyConnection, out: Path, step: Step | None = None
) -> tuple[list[_File], bool]:
    """Write every node and relationship file of the model into ``out``.

    Returns the files and whether any text value holds a line break (then the import
    must parse multi-line fields).
    """
    out.mkdir(parents=True, exist_ok=True)
    files: list[_File] = []
    nodes = [spec for spec in NODES if _present(con, spec.requires)]
    labels = _number_nodes(con, nodes)
    try:
        for spec in nodes:
            if step:
                step("csv", spec.name)
            files.append(_node_file(con, spec, out))
        for rel in RELS:
            if _present(con, rel.requires):
                if step:
                    step("csv", rel.name)
                files.extend(_rel_files(con, rel, out, labels))
    finally:
        _drop_numbers(con, labels)
    multiline = _line_breaks(con)
    return files, multiline


def _line_breaks(con: duckdb.DuckDBPyConnection) -> bool:
    """True if any text value of the canonical tables holds CR or LF."""
    from ringfinder.schema import LOAD_ORDER

    checks = []
    for table in LOAD_ORDER:
        cols = _columns(con, f"SELECT * FROM {_ident(table)}")
        text = [n for n, t in cols if t == "VARCHAR"]
        if text:
            cond = " OR ".join(
                f"contains({_ident(n)}, chr(10)) OR contains({_ident(n)}, chr(13))" for n in text
            )
            checks.append(
                f"(SELECT count(*) FROM (SELECT 1 FROM {_ident(table)} WHERE {cond} LIMIT 1))"
            )
    if not checks:
        return False
    row = one(con.execute(f"SELECT {' + '.join(checks)}"))
    return bool(row and row[0])


# --------------------------------------------------------------------------- the import


def server_running(home: Path) -> int | None:
    """The pid of a ringfinder Neo4j server running on ``home``, else None."""
    try:
        pid = int(json.loads((home / PID_FILE).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _launcher_alive(pid, home) else None


def database_exists(home: Path, database: str = "neo4j") -> bool:
    """True if ``home`` already holds a store for ``database``."""
    db = home / "data" / "databases" / database
    return db.is_dir() and any(db.iterdir())


def admin_command(
    files: list[_File],
    *,
    home: Path,
    runtime: Path,
    java: str,
    database: str = "neo4j",
    heap: str = "1g",
    off_heap: str = "2g",
    threads: int | None = None,
    multiline: bool = False,
    overwrite: bool = False,
    report_file: Path | None = None,
) -> list[str]:
    """The ``neo4j-admin database import full`` command line for ``files``."""
    cmd = [
        java,
        f"-Xmx{_jvm_size(heap)}",
        *JVM_FLAGS,
        "-cp",
        str(runtime / "lib" / "*"),
        ADMIN_CLASS,
        "database",
        "import",
        "full",
        database,  # before the --nodes/--relationships lists, which take many values
        f"--max-off-heap-memory={parse_size(off_heap)}",
        f"--array-delimiter={ARRAY_DELIMITER}",
        "--id-type=actual",  # the ids of write_csv's numbering are the store's node ids
        f"--overwrite-destination={'true' if overwrite else 'false'}",
    ]
    if threads:
        cmd.append(f"--threads={int(threads)}")
    if multiline:
        cmd.append("--multiline-fields=true")
    if report_file:
        cmd.append(f"--report-file={report_file}")
    for f in files:
        flag = "--nodes" if f.kind == "nodes" else "--relationships"
        cmd.append(f"{flag}={f.group}={f.header},{f.data}")
    return cmd


def run_import(
    con: duckdb.DuckDBPyConnection,
    *,
    home: Path | None = None,
    csv_dir: Path,
    database: str = "neo4j",
    heap: str = "1g",
    off_heap: str = "2g",
    pagecache: str = "1g",
    threads: int | None = None,
    overwrite: bool = False,
    keep_csv: bool = False,
    step: Step | None = None,
    runtime: Path | None = None,
) -> ImportReport:
    """CSVs from the workspace, ``neo4j-admin database import full``, then the schema.

    ``home`` must not have a server running on it, and its database must be absent or
    ``overwrite`` given. Raises :class:`EngineError` (one line plus the tool's tail).
    """
    from ringfinder.neo4j.writer import actual_counts, apply_schema

    home = (home or default_runtime_dir() / "home").expanduser().resolve()
    pid = server_running(home)
    if pid is not None:
        raise EngineError(
            f"Neo4j (pid {pid}) is running on {home}: the offline import needs it stopped "
            "(scripts/neo4j-start stop --home ...), or pass --home NEW_DIR for a fresh home"
        )
    if database_exists(home, database) and not overwrite:
        raise EngineError(
            f"{home} already holds database {database!r}: pass --overwrite to replace it, "
            "or --home NEW_DIR for a fresh home"
        )
    runtime_dir = fetch_runtime(runtime)
    for jar in ("neo4j-command-line", "neo4j-import-tool"):  # AdminTool and its import command
        if not any((runtime_dir / "lib").glob(f"{jar}-*.jar")):
            raise EngineError(f"{runtime_dir / 'lib'} has no {jar} jar: run scripts/neo4j-fetch")
    java, _ = find_java()
    report = ImportReport(home=home)

    t0 = time.perf_counter()
    csv_dir = csv_dir.expanduser().resolve()
    if csv_dir.exists():
        shutil.rmtree(csv_dir)
    files, multiline = write_csv(con, csv_dir, step)
    report.csv_seconds = time.perf_counter() - t0
    report.csv_bytes = sum(f.data.stat().st_size for f in files)

    # DuckDB's buffers are not needed while Java runs: give their memory back
    limit = one(con.execute("SELECT current_setting('memory_limit')"))[0]  # type: ignore[index]
    con.execute("SET memory_limit = '256MB'")
    home.mkdir(parents=True, exist_ok=True)
    (home / "conf").mkdir(exist_ok=True)
    cmd = admin_command(
        files,
        home=home,
        runtime=runtime_dir,
        java=java,
        database=database,
        heap=heap,
        off_heap=off_heap,
        threads=threads,
        multiline=multiline,
        overwrite=overwrite,
        report_file=csv_dir / "import.report",
    )
    if step:
        step("import", f"{len(files)} files, {report.csv_bytes / 1e9:.2f} GB")
    t1 = time.perf_counter()
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    log_path = home / "import.log"
    with log_path.open("wb") as fh:
        done = subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=home, check=False
        )
    report.import_seconds = time.perf_counter() - t1
    con.execute("SET memory_limit = ?", [limit])
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    report.steps.update(admin_stages(log_text))
    if done.returncode != 0:
        first = _first_error(log_text)
        if done.returncode > 128 or done.returncode < 0:
            first = f"stopped by signal {abs(done.returncode) % 128}"
        raise EngineError(
            f"neo4j-admin import failed (exit {done.returncode}): {first} (log: {log_path})"
        )

    if step:
        step("schema", "constraints and indexes")
    t2 = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.steps[name] = now - clock
        clock = now

    server = start_server(
        home=home, heap=heap, pagecache=pagecache, runtime=runtime_dir, timeout=900
    )
    lap("server start")
    try:
        driver = server.driver()
        apply_schema(driver, database, workers=2)
        lap("constraints and indexes")  # a constraint returns once its index is built
        driver.execute_query("CALL db.awaitIndexes(3600)", database_=database)
        lap("waiting for indexes")
        report.nodes, report.relationships = actual_counts(driver, database)
    finally:
        server.stop()
    lap("counts and server stop")
    report.schema_seconds = time.perf_counter() - t2
    if not keep_csv:
        shutil.rmtree(csv_dir, ignore_errors=True)
    return report


_STAGE = re.compile(r"^(\w[\w ]*?) COMPLETED in ((?:\d+(?:ms|[hms]) ?)+)$", re.MULTILINE)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def admin_stages(log_text: str) -> dict[str, float]:
    """neo4j-admin's stage times from its output (``Node import COMPLETED in 1m 3s 7ms``)."""
    return {
        m.group(1).lower(): sum(
            float(n) * _UNIT[u] for n, u in re.findall(r"(\d+)(ms|[hms])", m.group(2))
        )
        for m in _STAGE.finditer(log_text)
    }


def _first_error(text: str) -> str:
    """The first line of the tool's output that names an error (not a stack frame)."""
    for line in text.splitlines():
        if not line.strip().startswith("at ") and re.search(r"(?i)error|exception|fail", line):
            return line.strip()[:300]
    return (text.strip().splitlines() or ["(no output)"])[-1][:300]


def describe(report: ImportReport) -> dict[str, Any]:
    """A JSON-ready summary of an import (for benchmarks and the CLI)."""
    return {
        "csv_seconds": round(report.csv_seconds, 1),
        "import_seconds": round(report.import_seconds, 1),
        "schema_seconds": round(report.schema_seconds, 1),
        "seconds": round(report.seconds, 1),
        "csv_bytes": report.csv_bytes,
        "nodes": sum(report.nodes.values()),
        "relationships": sum(report.relationships.values()),
        "steps": {k: round(v, 1) for k, v in report.steps.items()},
    }
