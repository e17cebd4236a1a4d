"""One load, start to end: plan, stage, validate, quarantine, write.

1. **Plan**: for each table in ``LOAD_ORDER`` find its source: a mapping alternative
   (files, or distinct rows derived from another table's source) or the canonical
   ``<table>.csv`` / ``<table>.parquet``. A missing required table fails here,
   before anything is read. When the planned files and the options are those of the
   workspace's last load and the workspace is as it left it, that load's report is
   returned and nothing is read (:mod:`ringfinder.load.unchanged`; ``reload`` reads).
2. **Check headers** of every file (first bytes only): a missing required column
   fails before any row is read.
3. In one transaction, for each table in load order: **stage** its source files
   when first needed, as text with line numbers, in Arrow
   (:mod:`ringfinder.load.reader`); **validate** into the TEMP table
   ``_rf_chk_<table>`` (:mod:`ringfinder.load.validate`), where references see the
   workspace's rows, the tables written before included; write its **quarantine**
   ``<quarantine_dir>/<table>.csv`` (PII pseudonymised); **write** its good rows, a
   set-wise upsert by key (:mod:`ringfinder.load.store`), and drop the checked
   rows; free the staged rows no later table needs. Only one big table's checked
   rows are held at a time (holding them all until the end spilled 9.4 GB at 3 M
   persons, one at a time 7.3 GB, and the load took 178-186 s instead of 193-202 s).
4. ``_meta``, a ``_loads`` row and the load's inputs, then **commit**. Any failure
   rolls the whole load back, and so does strict mode when a row was rejected:
   nothing is written.

During the load DuckDB's memory limit is at most :data:`LOAD_MEMORY_BYTES` (its TEMP
tables spill to the workspace's temporary folder beyond it), so a city-scale load
keeps a bounded footprint; the connection's own limit is restored at the end.

Raw values (PII included) only ever sit in memory (the staged Arrow rows, TEMP tables
of the connection, which DuckDB may spill to its temporary folder) and in transcoded
temp files under ``WORKSPACE/.tmp``, all removed at the end.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ringfinder.duck import one, unregister
from ringfinder.errors import (
    InputError,
    MappingError,
    RingfinderError,
    StrictModeFailure,
    out_of_resources,
)
from ringfinder.load.api import LoadOptions, LoadReport, ProgressCallback, TableReport
from ringfinder.load.encoding import normalise_encoding
from ringfinder.load.mapping import (
    ColumnSpec,
    Mapping,
    TableSource,
    identity_source,
    load_mapping,
    match_files,
    qident,
)
from ringfinder.load.pseudonym import Pseudonymiser, load_key
from ringfinder.load.reader import (
    UNCLOSED,
    StagedFile,
    peek_headers,
    restage_rejects,
    settle_stream,
    stage_file,
)
from ringfinder.load.store import (
    check_key,
    examples,
    reason_rows,
    record_load,
    record_meta,
    upsert,
    write_quarantine,
)
from ringfinder.load.unchanged import inputs_of, remember, unchanged_load
from ringfinder.load.validate import check_table_sql, duplicates_sql, occurrences_sql
from ringfinder.schema import LOAD_ORDER, TABLES

log = logging.getLogger(__name__)


@contextmanager
def _timed(what: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    log.debug("%s: %.2f s", what, time.perf_counter() - t0)


@dataclass
class Plan:
    """Where one canonical table comes from in this load."""

    table: str
    source: TableSource
    files: list[Path] = field(default_factory=list)
    staged: list[StagedFile] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # column -> source (messages)

    @property
    def derived(self) -> bool:
        return self.source.derive_from is not None


def run_load(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    options: LoadOptions,
    progress: ProgressCallback | None = None,
) -> LoadReport:
    from ringfinder.engine.embedded import create_schema

    t0 = time.perf_counter()
    started = datetime.now()
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: not a folder")
    encoding = normalise_encoding(options.encoding)
    mapping = load_mapping(options.mapping) if options.mapping else None
    report = LoadReport(mapping=mapping.name if mapping else None, strict=options.strict)
    pseud: Pseudonymiser | None = None
    if options.pseudonymise:
        pseud = Pseudonymiser(load_key())
    else:
        msg = "pseudonymisation is off: personal data (PII) is stored as read"
        log.warning(msg)
        report.warnings.append(msg)
    create_schema(con)
    check_key(con, pseud)
    plans = _plan(data_dir, mapping, report)
    workspace = _workspace(con)
    qdir = options.quarantine_dir or (
        workspace / "quarantine"
        if workspace
        else Path(tempfile.mkdtemp(prefix="ringfinder-quarantine-"))
    )
    report.quarantine_dir = qdir
    inputs = inputs_of(
        ((p.table, f) for p in plans.values() for f in p.files),
        options,
        encoding=encoding,
        mapping=mapping,
        pseud=pseud,
        quarantine_dir=qdir,
    )
    if not options.reload:
        prior = unchanged_load(con, inputs, qdir)
        if prior is not None:
            prior.seconds = time.perf_counter() - t0
            log.info("inputs unchanged since load %s: not read again", prior.reused_load)
            return prior
    tmp_root = workspace / ".tmp" if workspace else None
    if tmp_root:
        tmp_root.mkdir(parents=True, exist_ok=True)
        _sweep(tmp_root)
    tmp = Path(tempfile.mkdtemp(prefix="load-", dir=tmp_root))
    restore = _cap_memory(con)
    try:
        st = _Staging(data_dir, encoding, mapping, tmp, progress, report)
        _precheck(plans, st)
        for table in LOAD_ORDER:  # each load rewrites the quarantine folder
            (qdir / f"{table}.csv").unlink(missing_ok=True)
        con.execute("BEGIN TRANSACTION")  # one load commits whole or not at all
        try:
            with _timed("stage, validate and write"):
                _validate_all(con, plans, st, qdir, pseud)
            if st.fallback:
                report.warnings.append(
                    "not valid UTF-8, read as GB18030 (say --encoding gb18030 to silence this): "
                    + ", ".join(st.fallback)
                )
            if options.strict and report.rejected:
                counts = ", ".join(f"{t.table} {t.rejected:,}" for t in report.tables if t.rejected)
                exc = StrictModeFailure(
                    f"strict mode: {report.rejected:,} rows rejected ({counts}); nothing was "
                    f"loaded. Reasons: {qdir}"
                )
                exc.report = report  # type: ignore[attr-defined]
                raise exc
            _record(con, data_dir, options, pseud, started, report, inputs)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        _cleanup(con, plans)
        shutil.rmtree(tmp, ignore_errors=True)
        if restore:
            con.execute("SET memory_limit = ?", [restore])
    report.seconds = time.perf_counter() - t0
    for w in report.warnings:
        log.info("load warning: %s", w)
    return report


# -- 1. plan ----------------------------------------------------------------------------


def _plan(data_dir: Path, mapping: Mapping | None, report: LoadReport) -> dict[str, Plan]:
    chosen: dict[str, Plan | None] = {}

    def choose(table: str, stack: tuple[str, ...] = ()) -> Plan | None:
        if table in chosen:
            return chosen[table]
        if table in stack:
            raise MappingError(f"derive_from cycle: {' -> '.join((*stack, table))}")
        plan = None
        for alt in mapping.tables.get(table, ()) if mapping else ():
            if alt.files:
                files = match_files(data_dir, alt.files)
                if files:
                    plan = Plan(table, alt, files=files)
                    break
            else:
                assert alt.derive_from is not None
                base = choose(alt.derive_from, (*stack, table))
                if base is not None and not base.derived and not base.source.identity:
                    plan = Plan(table, alt)
                    break
        if plan is None:
            ident = identity_source(table)
            files = [data_dir / f for f in ident.files if (data_dir / f).is_file()]
            if len(files) > 1:
                raise InputError(
                    f"both {table}.csv and {table}.parquet are present: keep one",
                    file=str(data_dir),
                )
            if files:
                plan = Plan(table, ident, files=files)
        chosen[table] = plan
        return plan

    missing: list[str] = []
    plans: dict[str, Plan] = {}
    for table in LOAD_ORDER:
        plan = choose(table)
        if plan is not None:
            plans[table] = plan
        elif TABLES[table].required:
            alts = mapping.tables.get(table, ()) if mapping else ()
            pats = [p for a in alts for p in a.files]
            where = f"no file matches {', '.join(pats)}, and no " if pats else "no "
            missing.append(f"{table} ({where}{table}.csv or {table}.parquet)")
        else:
            report.missing_optional.append(table)
    if missing:
        hint = ""
        canonical = [
            t for t in LOAD_ORDER for f in identity_source(t).files if (data_dir / f).is_file()
        ]
        if mapping is None and not canonical and any(data_dir.glob("*.csv")):
            hint = " (a source export with its own file names? give --mapping)"
        raise InputError(
            f"required table{'s' if len(missing) > 1 else ''} missing in {data_dir}: "
            + "; ".join(missing)
            + hint
        )
    return plans


# -- 2. stage ---------------------------------------------------------------------------


@dataclass
class _Staging:
    """State of the staging of one load (files are staged when first needed)."""

    data_dir: Path
    encoding: str
    mapping: Mapping | None
    tmp: Path
    progress: ProgressCallback | None
    report: LoadReport
    src: int = 0
    fallback: list[str] = field(default_factory=list)


def _precheck(plans: dict[str, Plan], st: _Staging) -> None:
    """Check every header before any row is read (a missing column fails fast)."""
    peeked: dict[Path, list[list[str]]] = {}
    for table in LOAD_ORDER:
        plan = plans.get(table)
        if plan is None:
            continue
        base = plans[plan.source.derive_from] if plan.derived else plan  # type: ignore[index]
        for path in base.files:
            if path not in peeked:
                enc = _encoding_for(base, st)
                peeked[path] = peek_headers(
                    path, _display(path, st.data_dir), enc, base.source.delimiter
                )
            candidates = [c for c in peeked[path] if c]
            if not candidates:  # empty, or undecodable: staging reports it
                continue
            error: InputError | None = None
            for names in candidates:  # the first decoding that fits wins
                try:
                    _check_header(plan, names, _display(path, st.data_dir), st.mapping, None)
                except InputError as exc:
                    error = error or exc
                else:
                    error = None
                    break
            if error is not None:
                raise error


def _encoding_for(plan: Plan, st: _Staging) -> str:
    if st.encoding != "auto":
        return st.encoding
    return normalise_encoding(plan.source.encoding or "auto")


def _stage_plan(
    con: duckdb.DuckDBPyConnection, plan: Plan, st: _Staging, *, stream: bool = False
) -> None:
    """Stage a file-based plan's files (once); ``stream``: see :func:`stage_file`."""
    if plan.staged or plan.derived:
        return
    done = 0
    table, progress = plan.table, st.progress
    for path in plan.files:
        display = _display(path, st.data_dir)

        def on_rows(n: int, done: int = done) -> None:
            if progress:
                progress(table, done + n, None)

        def on_header(names: list[str], display: str = display) -> None:
            _check_header(plan, names, display, st.mapping, st.report)

        staged = stage_file(
            con,
            path,
            src=st.src,
            display=display,
            stage=f"_rf_raw_{st.src}",
            encoding=_encoding_for(plan, st),
            delimiter=plan.source.delimiter,
            tmp_dir=st.tmp,
            on_rows=on_rows,
            on_header=on_header,
            stream=stream,
        )
        con.execute("INSERT INTO _rf_files VALUES (?, ?, ?)", [st.src, display, staged.unit])
        st.report.warnings.extend(staged.warnings)
        if staged.fallback_line is not None:
            st.fallback.append(f"{display} (line {staged.fallback_line})")
        plan.staged.append(staged)
        done += staged.read
        st.src += 1


def _display(path: Path, data_dir: Path) -> str:
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return path.name


def _check_header(
    plan: Plan,
    names: list[str],
    display: str,
    mapping: Mapping | None,
    report: LoadReport | None,
) -> None:
    """Required columns present (InputError naming file and column); note the rest.

    Warnings (mapped columns absent, unknown columns) go to ``report`` when given.
    """
    table = TABLES[plan.table]
    used: set[str] = set()
    absent: list[str] = []
    for cname, spec in plan.source.columns.items():
        if not spec.source:
            continue
        present = spec.resolve(names)
        if present is not None:
            used.add(present.lower())
            plan.labels.setdefault(cname, present)
            continue
        if cname in table.required_columns:
            if plan.source.identity:
                raise InputError(
                    "required column is missing from the header", file=display, column=cname
                )
            raise InputError(
                f"source column missing from the header (mapping "
                f"{mapping.name if mapping else ''} needs it for {plan.table}.{cname})",
                file=display,
                column=" / ".join(spec.source),
            )
        absent.append(f"{cname} ({' / '.join(spec.source)})")
    if report is None:
        return
    if absent and not plan.source.identity:
        report.warnings.append(
            f"{display}: mapped columns not in the header, left empty: {', '.join(absent)}"
        )
    if plan.source.identity:
        extra = [n for n in names if n.lower() not in used]
        if extra:
            msg = f"{display}: ignoring unknown columns: {', '.join(extra)}"
            log.warning(msg)
            report.warnings.append(msg)


# -- text views -------------------------------------------------------------------------


def _file_select(plan: Plan, f: StagedFile, where: str | None = None) -> str:
    """SELECT _rf_src, _rf_line, <canonical columns as text> over one staged file."""
    table = TABLES[plan.table]
    if not f.columns:  # an empty file
        cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {qident(c)}" for c in table.column_names)
        return f"SELECT {f.src} AS _rf_src, _rf_line, {cols} FROM {f.stage}"
    # staged values are already trimmed (reader.trim): empty means NULL
    inner = ", ".join(f"nullif(c{i}, '') AS {qident(n)}" for i, n in enumerate(f.columns))
    outs = []
    for col in table.columns:
        spec: ColumnSpec | None = plan.source.columns.get(col.name)
        if spec is None:
            outs.append(f"CAST(NULL AS VARCHAR) AS {qident(col.name)}")
        else:
            present = spec.resolve(f.columns) if spec.source else None
            outs.append(f"{spec.sql(col.type, present)} AS {qident(col.name)}")
    sql = (
        f"SELECT {f.src} AS _rf_src, _rf_line, {', '.join(outs)} "
        f"FROM (SELECT _rf_line, {inner} FROM {f.stage}) AS s"
    )
    if where:
        sql += f" WHERE ({where})"
    return sql


def _build_view(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    plans: dict[str, Plan],
    mapping: Mapping | None,
    report: LoadReport,
) -> None:
    """The view ``_rf_txt_<table>``: the table's rows as canonical text."""
    if plan.derived:
        assert plan.source.derive_from and plan.source.key
        base = plans[plan.source.derive_from]
        for f in base.staged:
            if f.columns:
                _check_header(plan, f.columns, f.display, mapping, report)
        union = " UNION ALL ".join(_file_select(plan, f, plan.source.where) for f in base.staged)
        key = qident(plan.source.key)
        sql = (
            f"SELECT * FROM ({union}) AS u WHERE {key} IS NOT NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _rf_src, _rf_line) = 1"
        )
    else:
        sql = " UNION ALL ".join(_file_select(plan, f) for f in plan.staged)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _rf_txt_{plan.table} AS {sql}")
    except duckdb.Error as exc:
        if mapping is None:
            raise
        raise MappingError(
            f"mapping {mapping.name}: table {plan.table}: {_duck_msg(exc)}"
        ) from None


def _duck_msg(exc: Exception) -> str:
    """DuckDB's message, first line, without quoted values (they may be data)."""
    import re

    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    if "Conversion Error" in first or "Invalid Input" in first:
        first = re.sub(r"'[^']*'", "'…'", first)
    return first[:300]


# -- 3. validate ------------------------------------------------------------------------


def _validate_all(
    con: duckdb.DuckDBPyConnection,
    plans: dict[str, Plan],
    st: _Staging,
    qdir: Path,
    pseud: Pseudonymiser | None,
) -> None:
    """Stage (when first needed), validate and quarantine each table in load order."""
    mapping, progress, report = st.mapping, st.progress, st.report
    con.execute("CREATE OR REPLACE TEMP TABLE _rf_files (src INTEGER, name VARCHAR, unit VARCHAR)")
    loaded_now: set[str] = set()
    for table in LOAD_ORDER:
        plan = plans.get(table)
        if plan is None:
            continue
        # a table no other table is derived from is checked straight off the parser
        stream = (
            STREAM_CHECK
            and not plan.derived
            and not any(p.source.derive_from == table for p in plans.values())
        )
        with _timed(f"{table}: stage"):
            _stage_plan(
                con,
                plans[plan.source.derive_from] if plan.derived else plan,  # type: ignore[index]
                st,
                stream=stream,
            )
        _build_view(con, plan, plans, mapping, report)
        chk = f"_rf_chk_{table}"
        sources = plans[plan.source.derive_from or ""].staged if plan.derived else plan.staged
        streamed = [f for f in sources if f.pending is not None]
        nul = any(f.has_nul for f in sources)
        t_chk = time.perf_counter()
        try:
            con.execute(check_table_sql(table, f"_rf_txt_{table}", chk, nul=nul))
        except duckdb.Error as exc:
            for f in streamed:  # the parser's own error, not DuckDB's account of it
                if f.pending is not None and f.pending.parse.error is not None:
                    raise f.pending.parse.error from None
            if mapping is None or out_of_resources(exc) is not None:
                raise  # a full disk or memory is not the mapping's fault
            raise MappingError(
                f"mapping {mapping.name}: table {table}: evaluating the mapping failed: "
                f"{_duck_msg(exc)}"
            ) from None
        for f in streamed:
            settle_stream(con, f, chk)
        for f in plan.staged if not plan.derived else ():
            if len(f.bad_lines):
                _insert_bad_rows(con, chk, f)
        t_dup = time.perf_counter()
        log.debug("%s: check: %.2f s", table, t_dup - t_chk)
        if "_row_hash" in TABLES[table].key:
            # identical rows are numbered, not rejected: the good rows' keys are then
            # distinct (a duplicate key would take a SHA-256 collision), no check needed
            con.execute(occurrences_sql(chk))
        else:
            con.execute(duplicates_sql(table, chk))
        log.debug("%s: duplicates: %.2f s", table, time.perf_counter() - t_dup)
        kinds, good, rejected = reason_rows(con, chk)
        if plan.derived:
            read = good + rejected
            base = plans[plan.source.derive_from or ""]
            source = ", ".join(f.display for f in base.staged) + f" (distinct {plan.source.key})"
        else:
            read = sum(f.read for f in plan.staged)
            source = ", ".join(f.display for f in plan.staged)
        if read != good + rejected:
            raise RingfinderError(
                f"internal error: {table}: {read} rows read but {good} loaded + {rejected} "
                "rejected; please report it"
            )
        files = plans[plan.source.derive_from or ""].staged if plan.derived else plan.staged
        encs = sorted({f.encoding for f in files if f.encoding})
        tr = TableReport(
            table=table,
            source=source,
            read=read,
            loaded=good,
            rejected=rejected,
            reasons=kinds,
            encoding=", ".join(encs) or None,
            derived_from=plan.source.derive_from,
        )
        report.tables.append(tr)
        log.info("%s: read %d, good %d, rejected %d", table, read, good, rejected)
        if set(kinds) - {"bad_row"}:  # rows the parser read (bad rows never were)
            for f in streamed:
                with _timed(f"{table}: {f.display}: second pass for the rejected rows"):
                    restage_rejects(con, f, chk)
        _quarantine_table(con, plan, tr, qdir, pseud)
        with _timed(f"{table}: write"):
            _write_table(con, tr, pseud)
        con.execute(f"DROP TABLE {chk}")  # its rows are in the table now: free them
        loaded_now.add(table)
        _release(con, plans, loaded_now)
        if progress:
            progress(table, read, read)


def _insert_bad_rows(con: duckdb.DuckDBPyConnection, chk: str, f: StagedFile) -> None:
    ncols = len(f.columns)
    lines = pa.array(f.bad_lines, pa.int64())
    nfields = pa.array(f.bad_fields, pa.int64())
    detail = pc.if_else(
        pc.equal(nfields, UNCLOSED),
        "bad_row\x1f\x1fa quoted value is never closed: the file ends inside it (cut off?)",
        pc.binary_join_element_wise(
            "bad_row\x1f\x1fwrong number of fields: ",
            pc.cast(nfields, pa.string()),
            f", expected {ncols}",
            "",
        ),
    )
    bad = pa.table({"line": lines, "err": detail})
    con.register("_rf_bad_rows", bad)
    try:
        con.execute(
            f"INSERT INTO {chk} (_rf_src, _rf_line, _rf_err) "
            f"SELECT {f.src}, line, err FROM _rf_bad_rows"
        )
    finally:
        unregister(con, "_rf_bad_rows")


# -- 4. quarantine ----------------------------------------------------------------------


def _quarantine_table(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    tr: TableReport,
    qdir: Path,
    pseud: Pseudonymiser | None,
) -> None:
    if not tr.rejected:
        return
    path = qdir / f"{tr.table}.csv"
    chk = f"_rf_chk_{tr.table}"
    write_quarantine(con, tr.table, chk, f"_rf_txt_{tr.table}", path, pseud, plan.labels)
    tr.quarantine = path
    tr.examples = examples(con, chk, plan.labels)


def _release(con: duckdb.DuckDBPyConnection, plans: dict[str, Plan], done: set[str]) -> None:
    """Free the staged rows no table still to be validated reads (bounds memory)."""
    for name, plan in plans.items():
        if plan.derived or not plan.staged:
            continue
        users = {name} | {t for t, p in plans.items() if p.source.derive_from == name}
        if users <= done:
            for f in plan.staged:
                f.release(con)


# -- 5. write ---------------------------------------------------------------------------


def _write_table(
    con: duckdb.DuckDBPyConnection, tr: TableReport, pseud: Pseudonymiser | None
) -> None:
    """Upsert one validated table's good rows (inside the load's transaction)."""
    res = upsert(con, tr.table, f"_rf_chk_{tr.table}", pseud)
    tr.inserted, tr.updated = res.inserted, res.updated
    tr.unchanged, tr.removed = res.unchanged, res.removed


def _record(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    options: LoadOptions,
    pseud: Pseudonymiser | None,
    started: datetime,
    report: LoadReport,
    inputs: str,
) -> None:
    """``_meta``, the ``_loads`` row and the inputs of the load (its last writes)."""
    record_meta(con, pseud)
    report.load_id = record_load(
        con,
        started=started,
        folder=data_dir.resolve(),
        mapping=str(options.mapping) if options.mapping else None,
        strict=options.strict,
        pseudonymised=pseud is not None,
        tables={
            t.table: {
                "read": t.read,
                "loaded": t.loaded,
                "rejected": t.rejected,
                "inserted": t.inserted,
                "updated": t.updated,
            }
            for t in report.tables
        },
    )
    assert report.quarantine_dir is not None
    remember(con, inputs, report, report.quarantine_dir)


# -- helpers ----------------------------------------------------------------------------

#: check a big CSV file straight off the parser (no TEMP copy of its raw text); the
#: tests switch it off to keep the TEMP path (files other tables derive from) covered
STREAM_CHECK = True
#: DuckDB's memory during a load (it spills its TEMP tables beyond it): the staged and
#: checked rows of a city-scale load would otherwise grow to most of the RAM
LOAD_MEMORY_BYTES = 4 << 30
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def _bytes(setting: str) -> int | None:
    """``'18.8 GiB'`` as bytes (None when it does not parse)."""
    parts = setting.strip().lower().split()
    try:
        if len(parts) == 2 and parts[1] in _UNITS:
            return int(float(parts[0]) * _UNITS[parts[1]])
        return int(parts[0]) if len(parts) == 1 else None
    except ValueError:
        return None


def _cap_memory(con: duckdb.DuckDBPyConnection) -> str | None:
    """Lower DuckDB's memory limit to :data:`LOAD_MEMORY_BYTES`; the old value to restore.

    A lower limit that is already set (``EmbeddedEngine(memory_limit=...)``) is kept.
    """
    row = one(con.execute("SELECT current_setting('memory_limit')"))
    now = str(row[0]) if row else ""
    have = _bytes(now)
    if have is not None and have <= LOAD_MEMORY_BYTES:
        return None
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_BYTES >> 20}MiB'")
    return now if have is not None else None


def _workspace(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The folder of the connection's database file (None when in memory)."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()[0]
    if not row or not row[0] or row[0] == ":memory:":
        return None
    return Path(row[0]).resolve().parent


def _sweep(tmp_root: Path) -> None:
    """Delete what a killed load left in the workspace's temporary folder.

    Its files (a GB18030 file transcoded to UTF-8, say) hold raw values: personal data.
    The caller holds the workspace's writer lock, so no other load is using them.
    """
    for stale in tmp_root.glob("load-*"):
        log.info("removing a killed load's temporary files: %s", stale.name)
        shutil.rmtree(stale, ignore_errors=True)


def _cleanup(con: duckdb.DuckDBPyConnection, plans: dict[str, Plan]) -> None:
    """Drop this load's TEMP views, tables and staged Arrow data (they hold raw values)."""
    for plan in plans.values():
        for f in plan.staged:
            f.release(con)
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '_rf_')"
    ).fetchall()
    for (name,) in views:
        con.execute(f"DROP VIEW IF EXISTS temp.{qident(name)}")
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_rf_')"
    ).fetchall()
    for (name,) in tables:
        con.execute(f"DROP TABLE IF EXISTS temp.{qident(name)}")
