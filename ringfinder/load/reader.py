"""Read one CSV or Parquet file, as text, into an Arrow staging table with line numbers.

The staging table (Arrow in memory, registered as a view on the connection; for a
file above ``ARROW_MAX_BYTES`` a DuckDB TEMP table, which DuckDB may spill to its
temporary folder; never written to the workspace file) has the columns
``_rf_line`` (1-based physical line of the row's first line in the file, the header
being line 1; for Parquet the row number) and ``c0 .. cN`` (the file's columns, all
VARCHAR, never parsed: ids keep their leading zeros). Nothing loops over rows in
Python: Arrow parses in batches, and each batch's line numbers are the running sum
of ``1 + newlines inside the row's quoted values``.

Rows with the wrong number of fields are skipped by the parser; when there are any,
a vectorised (numpy) scan of the file's bytes finds every record's start line and
field count, places those rows on their lines (they become rejects) and corrects the
line numbers of the rows after them. The byte scan is exact for RFC 4180 files with
LF or CRLF line ends, and what it finds is checked against the parser (records,
field counts of the skipped rows, lines of the parsed rows). For a file with a lone
CR line end or a quote inside a value (which the parser keeps as text), where the
two disagree, or where a quoted value may run to the end of the file (an odd number
of quotes, a value ending with a line end), Python's ``csv`` parser (Arrow's grammar)
places the rows instead and finds a quoted value that is never closed: on the last
line (a file cut off) that row is a reject; opened before other lines, which it
would swallow silently, the file is refused.

A big CSV file can also be registered as a one-pass stream (``stage_file(stream=True)``,
what the loader does for a table no other table is derived from): the check reads it
straight off the parser, with no copy of the raw text; :func:`settle_stream` then places
the skipped rows and corrects lines in the checked table, and :func:`restage_rejects`
parses the file a second time for the raw text of the rows it rejected (the quarantine
shows them as read).
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ringfinder.duck import unregister
from ringfinder.errors import InputError
from ringfinder.load.encoding import SNIFF_BYTES, UTF8_BOM, Prepared, prepare, sniff

log = logging.getLogger(__name__)

BLOCK = 1 << 24  # Arrow CSV block size (bytes)
#: files larger than this are staged in a DuckDB TEMP table (spills to disk) rather
#: than kept as Arrow in memory (faster, but bounded by RAM)
ARROW_MAX_BYTES = 1 << 30
PARQUET_BATCH = 1 << 17
LINE = "_rf_line"


@dataclass
class StagedFile:
    """One source file in a staging table."""

    src: int  # global file number in this load
    display: str  # file name for messages (relative to the data folder)
    path: Path
    unit: str  # "line" (CSV) or "row" (Parquet)
    stage: str  # registered Arrow view with _rf_line, c0..cN
    columns: list[str]  # header names (stripped), column i is staged as c{i}
    rows: int = 0  # rows staged (parsed); blank rows are not rows
    bad_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # unparsable
    #: their field counts; UNCLOSED: a quoted value that is never closed (a file cut off)
    bad_fields: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    has_nul: bool = False  # some value holds a NUL byte (validation rejects those rows)
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    empty: bool = False  # 0 bytes: no header at all
    fallback_line: int | None = None  # auto: not UTF-8 from this line on, read as GB18030
    table: pa.Table | None = None  # the rows (kept alive while registered)
    in_duckdb: bool = False  # a big file: staged in a DuckDB TEMP table (can spill)
    #: a big file registered as a one-pass stream (``stage_file(stream=True)``)
    pending: _Pending | None = None

    @property
    def read(self) -> int:
        return self.rows + len(self.bad_lines)

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        """Free the staged rows."""
        if self.table is not None:
            con.unregister(self.stage)
            self.table = None
        elif self.in_duckdb:
            con.execute(f"DROP TABLE IF EXISTS temp.{self.stage}")
            self.in_duckdb = False
        elif self.pending is not None:
            con.unregister(self.stage)
        self.pending = None

    def index(self, name: str) -> int | None:
        """Column position by name (exact first, then case-insensitive)."""
        if name in self.columns:
            return self.columns.index(name)
        low = name.lower()
        for i, c in enumerate(self.columns):
            if c.lower() == low:
                return i
        return None


RowsCallback = Callable[[int], None]
HeaderCallback = Callable[[list[str]], None]
UNCLOSED = -1  # bad_fields value of a row whose quoted value is never closed


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    src: int,
    display: str,
    stage: str,
    encoding: str,
    delimiter: str,
    tmp_dir: Path,
    on_rows: RowsCallback | None = None,
    on_header: HeaderCallback | None = None,
    stream: bool = False,
) -> StagedFile:
    """Stage a ``.csv`` or ``.parquet`` file (by suffix; anything else is read as CSV).

    ``on_header(names)`` runs before any row is read (to refuse a missing column early).
    A file that cannot be read (permissions, vanished, a folder) is an InputError.
    ``stream``: a CSV file above ``ARROW_MAX_BYTES`` is only registered as a one-pass
    stream (``staged.pending``); whoever reads it then calls :func:`settle_stream`.
    """
    try:
        return _stage_file(
            con,
            path,
            src=src,
            display=display,
            stage=stage,
            encoding=encoding,
            delimiter=delimiter,
            tmp_dir=tmp_dir,
            on_rows=on_rows,
            on_header=on_header,
            stream=stream,
        )
    except OSError as exc:
        raise InputError(_os_msg(exc), file=display) from None


def _os_msg(exc: OSError) -> str:
    return f"cannot read the file ({exc.strerror or type(exc).__name__})"


def _stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    src: int,
    display: str,
    stage: str,
    encoding: str,
    delimiter: str,
    tmp_dir: Path,
    on_rows: RowsCallback | None,
    on_header: HeaderCallback | None,
    stream: bool,
) -> StagedFile:
    if path.suffix.lower() in (".parquet", ".pq"):
        return _stage_parquet(
            con,
            path,
            src=src,
            display=display,
            stage=stage,
            on_rows=on_rows,
            on_header=on_header,
        )
    return _stage_csv(
        con,
        path,
        src=src,
        display=display,
        stage=stage,
        encoding=encoding,
        delimiter=delimiter,
        tmp_dir=tmp_dir,
        on_rows=on_rows,
        on_header=on_header,
        stream=stream,
    )


def _check_names(names: list[str], display: str, unit_line: int | None) -> list[str]:
    out: list[str] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(names):
        name = raw.strip().lstrip("\ufeff").strip()
        if not name:
            name = f"_unnamed_{i + 1}"
        low = name.lower()
        if low in seen:
            raise InputError(
                f"duplicate column name {name!r} in the header", file=display, line=unit_line
            )
        seen[low] = name
        out.append(name)
    return out


def _register(con: duckdb.DuckDBPyConnection, staged: StagedFile, table: pa.Table) -> None:
    """Keep the rows as Arrow (no copy into DuckDB) and register them as ``staged.stage``."""
    staged.table = table
    con.register(staged.stage, table)


def _empty_table(ncols: int) -> pa.Table:
    return pa.table(
        {
            LINE: pa.array([], pa.int64()),
            **{f"c{i}": pa.array([], pa.string()) for i in range(ncols)},
        }
    )


def _collect(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(list(batches), schema=schema)


def _ingest(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
) -> None:
    """Stream the rows into a DuckDB TEMP table (which DuckDB may spill to disk).

    An exception in ``batches`` is raised as itself: DuckDB only passes on its text.
    """
    caught: list[Exception] = []

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except Exception as exc:
            caught.append(exc)
            raise

    reader = pa.RecordBatchReader.from_batches(schema, guarded())
    view = f"{staged.stage}_arrow"
    con.register(view, reader)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged.stage} AS SELECT * FROM {view}")
    except duckdb.Error:
        if caught:
            raise caught[0] from None
        raise
    finally:
        unregister(con, view)
    staged.in_duckdb = True


# -- CSV ------------------------------------------------------------------------------


def peek_headers(path: Path, display: str, encoding: str, delimiter: str) -> list[list[str]]:
    """Candidate header names of a file, read from its first bytes only (cheap).

    A CSV whose encoding is not settled yet gives one candidate per plausible
    encoding (UTF-8, then GB18030); a Parquet file its schema's names.
    """
    try:
        return _peek_headers(path, display, encoding, delimiter)
    except OSError as exc:
        raise InputError(_os_msg(exc), file=display) from None


def _parquet_file(path: Path, display: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
        hint = ""
        if head and b"\0" not in head:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                hint = "; it looks like text: a CSV file named .parquet?"
        raise InputError(
            f"not a readable Parquet file ({_arrow_msg(exc)}){hint}", file=display
        ) from None


def _peek_headers(path: Path, display: str, encoding: str, delimiter: str) -> list[list[str]]:
    if path.suffix.lower() in (".parquet", ".pq"):
        names = list(_parquet_file(path, display).schema_arrow.names)
        return [_check_names(names, display, None)]
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    if not head:
        return [[]]
    sniff(head[:SNIFF_BYTES], display)
    cut = head.rfind(b"\n") + 1
    if cut and len(head) == 1 << 20:
        head = head[:cut]  # whole lines only: no character cut in two
    codecs = {"utf-8": ["utf-8-sig"], "gb18030": ["gb18030"], "gbk": ["gbk"]}.get(
        encoding, ["utf-8-sig", "gb18030"]
    )
    out: list[list[str]] = []
    first_error: InputError | None = None
    for codec in codecs:
        if codec != "utf-8-sig" and head.startswith(UTF8_BOM):
            continue  # UTF-8 read as GB: staging says so (not a missing column)
        try:
            text = head.decode(codec)
        except UnicodeDecodeError:
            continue  # reading the whole file will say where and why
        names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        try:
            out.append(_check_names(names, display, 1))
        except InputError as exc:
            first_error = first_error or exc
    if not out and first_error is not None:
        raise first_error
    return out


def _read_header(path: Path, delimiter: str) -> list[str]:
    """The header's names (the first CSV record)."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        head = fh.read(1 << 20)
    return next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), [])


class _CsvParse:
    """One pass of Arrow's CSV parser over a prepared file: batches of ``_rf_line, c0..cN``.

    Counts what the pass saw (rows, blank rows, rows with the wrong number of fields, a
    NUL byte, a value that may run to the end of the file) for :func:`_settle`.
    """

    def __init__(
        self,
        prepared: Prepared,
        display: str,
        delimiter: str,
        n: int,
        on_rows: RowsCallback | None,
    ) -> None:
        path = prepared.path
        self.display, self.on_rows = display, on_rows
        self._nul_possible = prepared.nul  # the byte scan saw a NUL somewhere
        cols = [f"c{i}" for i in range(n)]
        self.schema = pa.schema([(LINE, pa.int64())] + [(c, pa.string()) for c in cols])
        self.invalid_fields: list[int] = []  # as the parser counted them (any order)
        self.line, self.rows, self.empty = 1, 0, 0
        self.header, self.nul, self.tail = True, False, False
        self.error: Exception | None = None  # what stopped a pass read by DuckDB
        self._open = [False]
        fields, spans_lines = self.invalid_fields, self._open

        def on_invalid(row: pacsv.InvalidRow) -> str:  # no reference to self: no cycle
            fields.append(row.actual_columns)
            if not spans_lines[0] and ("\n" in row.text or "\r" in row.text):
                spans_lines[0] = True  # a quoted value that runs to the end of the file?
            return "skip"

        self._reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=cols, block_size=BLOCK),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in cols},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    @property
    def invalid(self) -> int:
        """Rows skipped for the wrong number of fields."""
        return len(self.invalid_fields)

    @property
    def open(self) -> bool:
        """A skipped row spans lines: a quoted value may run to the end of the file."""
        return self._open[0]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows; a parse error is kept in ``error`` (DuckDB only passes on its text)."""
        try:
            yield from self._batches()
        except pa.ArrowInvalid as exc:
            self.error = InputError(f"cannot parse the CSV: {_arrow_msg(exc)}", file=self.display)
            raise
        except OSError as exc:
            self.error = InputError(_os_msg(exc), file=self.display)
            raise
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self._reader.close()  # the file, now: not when the collector finds the reader

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in self._reader:
            if batch.num_rows == 0:
                continue
            arrays = list(batch.columns)
            spans = _row_spans(arrays)
            starts = pc.add(pc.subtract(pc.cumulative_sum(spans), spans), self.line)
            self.line += pc.sum(spans).as_py()
            if self.header:  # the header is the first parsed row: drop it
                self.header = False
                arrays = [a.slice(1) for a in arrays]
                starts = starts.slice(1)
                spans = spans.slice(1)
            if len(arrays[-1]):  # a last value ending with a line end: runs to the end?
                end = pc.utf8_slice_codeunits(arrays[-1].slice(len(arrays[-1]) - 1), -1)
                self.tail = end[0].as_py() in ("\n", "\r")
            arrays = [trim(a) for a in arrays]  # after counting the newlines
            if self._nul_possible and not self.nul:
                self.nul = any(_has_byte(a, 0) for a in arrays)
            empty = _all_empty(arrays) if arrays and len(arrays[0]) else None
            out = pa.RecordBatch.from_arrays([starts, *arrays], schema=self.schema)
            if empty is not None and pc.any(empty).as_py():
                out = out.filter(pc.invert(empty))
                self.empty += len(arrays[0]) - out.num_rows
            self.rows += out.num_rows
            if self.on_rows:
                self.on_rows(self.rows)
            yield out

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())


@dataclass
class _Pending:
    """A big CSV file registered as a one-pass stream, checked straight off the parser."""

    parse: _CsvParse
    prepared: Prepared
    delimiter: str
    fix: tuple[np.ndarray, np.ndarray] | None = None  # line corrections, once settled


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    src: int,
    display: str,
    stage: str,
    encoding: str,
    delimiter: str,
    tmp_dir: Path,
    on_rows: RowsCallback | None,
    on_header: HeaderCallback | None,
    stream: bool = False,
) -> StagedFile:
    staged = StagedFile(src, display, path, "line", stage, [])
    if path.stat().st_size == 0:
        staged.empty = True
        staged.warnings.append(f"{display}: empty file (0 bytes): 0 rows")
        _register(con, staged, _empty_table(0))
        return staged
    prepared = prepare(path, encoding, display, tmp_dir)
    staged.encoding = prepared.encoding
    staged.fallback_line = prepared.fallback_line
    if prepared.odd_line is not None:
        staged.warnings.append(
            f"{display}:{prepared.odd_line}: read as UTF-8 as asked, but the text looks like "
            "GB18030 bytes (letters of unexpected scripts); check it, or use --encoding gb18030"
        )
    raw_names = _read_header(prepared.path, delimiter)
    staged.columns = _check_names(raw_names, display, 1)
    n = len(staged.columns)
    if n == 0:
        staged.empty = True
        staged.warnings.append(f"{display}: no header row: 0 rows")
        _register(con, staged, _empty_table(0))
        return staged
    if on_header:
        on_header(staged.columns)
    parse = _CsvParse(prepared, display, delimiter, n, on_rows)
    big = path.stat().st_size > ARROW_MAX_BYTES
    if big and stream:
        # checked straight off the parser (no copy of the raw text); settled afterwards
        staged.pending = _Pending(parse, prepared, delimiter)
        staged.has_nul = prepared.nul  # the check must know before it reads a row
        con.register(stage, parse.reader())
        return staged
    try:
        if big:
            _ingest(con, staged, parse.schema, parse.batches())
        else:
            table = _collect(parse.schema, parse.batches())
    except pa.ArrowInvalid:
        if parse.error is not None:
            raise parse.error from None
        raise
    fix, unclosed = _settle(staged, parse, prepared, delimiter, None if big else table)
    if big:
        if fix is not None:
            _fix_lines_duckdb(con, stage, n, *fix)
    else:
        if fix is not None:
            table = _fix_lines_arrow(table, *fix)
    if unclosed is not None and _unclosed_row(staged, unclosed) is not None:
        if big:
            con.execute(f"DELETE FROM temp.{stage} WHERE {LINE} = ?", [unclosed])
        else:
            table = table.filter(pc.not_equal(table.column(LINE), unclosed))
    if not big:
        _register(con, staged, table)
    return staged


def _settle(
    staged: StagedFile,
    parse: _CsvParse,
    prepared: Prepared,
    delimiter: str,
    table: pa.Table | None,
) -> tuple[tuple[np.ndarray, np.ndarray] | None, int | None]:
    """After the parse: place the skipped rows on their lines (they become rejects).

    Returns the line corrections for the parsed rows (or None) and the line of a last
    row cut off inside a quoted value (or None). ``table``: the parsed rows, when they
    are in memory (their lines are checked against the byte scan too).
    """
    display, n = staged.display, len(staged.columns)
    staged.rows = parse.rows
    staged.has_nul = staged.has_nul or parse.nul
    fix = None
    unclosed: _Unclosed | None = None
    # a quoted value never closed (the parser reads it to the end of the file)?
    odd = prepared.quotes % 2 == 1 or parse.open or parse.tail
    if parse.invalid or odd:
        placed = None
        if not (odd or prepared.irregular):  # the fast byte scan, checked against Arrow
            fast = _scan_records(prepared.path, delimiter)
            parsed = parse.rows + parse.empty + parse.invalid
            if not fast.stray and len(fast.starts) - 1 == parsed:
                placed = _place_bad_rows(fast, n, parse.invalid)
                if placed is not None and (
                    sorted(placed[1].tolist()) != sorted(parse.invalid_fields)
                    or (table is not None and not _lines_fit(table, fast, placed))
                ):
                    placed = None
        if placed is None:
            scan = _scan_exact(prepared.path, delimiter, display)
            unclosed = scan.unclosed
            _refuse_unclosed(unclosed, display)
            if parse.invalid:
                placed = _place_bad_rows(scan, n, parse.invalid)
                if placed is None:
                    raise InputError(
                        f"{parse.invalid} rows have the wrong number of fields, but they "
                        "cannot be placed on exact lines (unbalanced quotes?); fix the "
                        "quoting of the file",
                        file=display,
                    )
        if placed is not None:
            staged.bad_lines, staged.bad_fields, fix = placed
    return fix, unclosed.line if unclosed is not None else None


def _unclosed_row(staged: StagedFile, line: int) -> int | None:
    """Mark the row cut off on ``line`` as a reject; its line when it was parsed as a row."""
    hit = np.flatnonzero(staged.bad_lines == line)
    if len(hit):  # already a bad row (wrong number of fields)
        staged.bad_fields[hit] = UNCLOSED
        return None
    staged.rows -= 1
    staged.bad_lines = np.append(staged.bad_lines, np.int64(line))
    staged.bad_fields = np.append(staged.bad_fields, np.int64(UNCLOSED))
    return line


#: up to this many line corrections are applied as one CASE expression (an UPDATE
#: with an ASOF join costs a minute on 30 M rows; the CASE about a second)
MAX_CASE_FIXES = 256


def settle_stream(con: duckdb.DuckDBPyConnection, staged: StagedFile, chk: str) -> None:
    """After the check read a streamed file: fix the lines of its rows in ``chk``.

    Rows with the wrong number of fields shift the lines of the rows after them; a
    last row cut off inside a quoted value leaves ``chk`` (it becomes a bad row).
    """
    pending = staged.pending
    assert pending is not None
    fix, unclosed = _settle(staged, pending.parse, pending.prepared, pending.delimiter, None)
    pending.fix = fix
    con.unregister(staged.stage)  # spent: nothing reads raw text but the quarantine
    con.register(staged.stage, pending.parse.schema.empty_table())
    where = f"_rf_src = {int(staged.src)}"
    if fix is not None:
        thresholds, shift = fix
        if len(thresholds) <= MAX_CASE_FIXES:
            whens = " ".join(
                f"WHEN {LINE} >= {int(t)} THEN {int(d)}"
                for t, d in zip(thresholds[::-1], shift[::-1], strict=True)
            )
            con.execute(
                f"UPDATE {chk} SET {LINE} = {LINE} + CASE {whens} ELSE 0 END "
                f"WHERE {where} AND {LINE} >= {int(thresholds[0])}"
            )
        else:
            with _line_fix(con, thresholds, shift):
                con.execute(
                    f"UPDATE {chk} AS c SET {LINE} = c.{LINE} + d.s FROM ("
                    f"SELECT g.{LINE} AS l, f.s FROM {chk} g "
                    f"ASOF JOIN _rf_line_fix f ON g.{LINE} >= f.t WHERE g.{where}"
                    f") AS d WHERE c.{where} AND c.{LINE} = d.l AND d.s <> 0"
                )
    if unclosed is not None and _unclosed_row(staged, unclosed) is not None:
        con.execute(f"DELETE FROM {chk} WHERE {where} AND {LINE} = ?", [unclosed])


def restage_rejects(con: duckdb.DuckDBPyConnection, staged: StagedFile, chk: str) -> None:
    """Parse a streamed file again, keeping only the raw text of its rows ``chk`` rejected.

    The quarantine shows each rejected row's values as read; a streamed file kept no
    copy of them, so a second pass stages those rows alone (their lines are corrected
    and picked batch by batch in Arrow: DuckDB only sees the few rows kept).
    """
    pending = staged.pending
    assert pending is not None
    wanted = (
        con.execute(
            f"SELECT {LINE} FROM {chk} WHERE _rf_src = ? AND _rf_err IS NOT NULL "
            "AND NOT starts_with(_rf_err, 'bad_row') ORDER BY 1",
            [staged.src],
        )
        .fetchnumpy()[LINE]
        .astype(np.int64)
    )
    parse = _CsvParse(
        pending.prepared, staged.display, pending.delimiter, len(staged.columns), None
    )

    def kept() -> Iterator[pa.RecordBatch]:
        for batch in parse.batches():
            lines = batch.column(0).to_numpy()
            if pending.fix is not None:
                lines = _fixed_lines(lines, *pending.fix)
            keep = np.isin(lines, wanted, assume_unique=True)
            if keep.any():
                columns = [pa.array(lines, pa.int64()), *batch.columns[1:]]
                out = pa.RecordBatch.from_arrays(columns, schema=parse.schema)
                yield out.filter(pa.array(keep))

    con.unregister(staged.stage)  # the empty stand-in for the spent stream
    try:
        _ingest(con, staged, parse.schema, kept())
    except pa.ArrowInvalid:
        if parse.error is not None:
            raise parse.error from None
        raise


def _refuse_unclosed(unclosed: _Unclosed | None, display: str) -> None:
    """A quoted value never closed, before the last line: the file is refused."""
    if unclosed is None:
        return
    if unclosed.line == 1:
        raise InputError(
            "a quoted column name in the header is never closed; fix the quoting",
            file=display,
            line=1,
        )
    if unclosed.last_line > unclosed.line:  # it would swallow the lines after it
        raise InputError(
            "a quoted value opened on this line is never closed: the "
            f"{unclosed.last_line - unclosed.line} line(s) after it would be read as part "
            "of it; fix the quoting (or the file was cut off)",
            file=display,
            line=unclosed.line,
        )


def _lines_fit(
    table: pa.Table, scan: _Scan, placed: tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]
) -> bool:
    """Whether every parsed row, its line fixed, starts where the scan has a good record."""
    bad_lines, _, (thresholds, shift) = placed
    fixed = _fixed_lines(table.column(LINE).to_numpy(), thresholds, shift)
    good = np.setdiff1d(scan.starts[1:][~scan.blank[1:]], bad_lines)
    return bool(np.isin(fixed, good).all())


def _has_byte(a: pa.Array, byte: int) -> bool:
    """Whether any value of a string array may contain ``byte`` (a fast byte scan)."""
    data = a.buffers()[2]
    return data is not None and bool((np.frombuffer(data, dtype=np.uint8) == byte).any())


def _has_newline(a: pa.Array) -> bool:
    """Whether any value of a string array may contain a newline (a fast byte scan)."""
    return _has_byte(a, 10)


def _row_spans(arrays: list[pa.Array]) -> pa.Array:
    """Physical lines each row takes: 1 + newlines inside its values."""
    n = len(arrays[0]) if arrays else 0
    total: pa.Array | None = None
    for a in arrays:
        if not _has_newline(a):
            continue
        nl = pc.count_substring(a, "\n")
        total = nl if total is None else pc.add(total, nl)
    if total is None:
        return pa.array(np.ones(n, dtype=np.int64))
    return pc.add(pc.cast(total, pa.int64()), 1)


WS_CHARS = " \t\r\n\u3000\u00a0"  # trimmed from both ends of every value


def _edge_bytes(chars: str, *, last: bool) -> np.ndarray:
    """Lookup table: may a value's first (last) byte belong to one of ``chars``?"""
    out = np.zeros(256, dtype=bool)
    for ch in chars:
        b = ch.encode("utf-8")
        out[b[-1] if last else b[0]] = True
    return out


_TRIMMED = WS_CHARS + "\v\f"  # what either trim below may remove (ASCII: also VT, FF)
_FIRST_WS = _edge_bytes(_TRIMMED, last=False)
_LAST_WS = _edge_bytes(_TRIMMED, last=True)


def _may_need_trim(a: pa.Array) -> bool:
    """False when no value starts or ends with a byte of a trimmed character (cheap).

    Looks only at each value's first and last byte (a superset test: a CJK letter may
    share its lead or last byte with U+3000 or U+00A0; then the real trim runs).
    """
    if not pa.types.is_string(a.type) or a.null_count:
        return True
    _, offs, data = a.buffers()
    if data is None or len(a) == 0:
        return False
    off = np.frombuffer(offs, dtype=np.int32)[a.offset : a.offset + len(a) + 1]
    buf = np.frombuffer(data, dtype=np.uint8)
    begin, end = off[:-1], off[1:]
    full = end > begin
    return bool(_FIRST_WS[buf[begin[full]]].any() or _LAST_WS[buf[end[full] - 1]].any())


def trim(a: pa.Array) -> pa.Array:
    """Values without surrounding whitespace (ASCII, ideographic and no-break spaces)."""
    if not _may_need_trim(a):
        return a
    if pc.all(pc.string_is_ascii(a)).as_py() is not False:
        return pc.ascii_trim_whitespace(a)
    return pc.utf8_trim(a, characters=WS_CHARS)


def _all_empty(arrays: list[pa.Array]) -> pa.Array | None:
    """Rows whose every value is empty (None when there are none: the usual case)."""
    if not pc.any(pc.equal(pc.utf8_length(arrays[0]), 0)).as_py():
        return None
    out: pa.Array | None = None
    for a in arrays:
        e = pc.equal(pc.utf8_length(a), 0)
        out = e if out is None else pc.and_(out, e)
    assert out is not None
    return out


def _arrow_msg(exc: Exception) -> str:
    """Arrow's message without any quoted row text (data may hold PII)."""
    msg = (str(exc).splitlines() or [type(exc).__name__])[0]
    return ": ".join(msg.split(": ")[:2])[:200]


@dataclass(frozen=True)
class _Unclosed:
    """A record whose quoted value is still open at the end of the file."""

    line: int  # the record's first line
    last_line: int  # the file's last line


@dataclass(frozen=True)
class _Scan:
    """Per CSV record (header included): start line, field count, blank flag."""

    starts: np.ndarray
    fields: np.ndarray
    blank: np.ndarray
    unclosed: _Unclosed | None = None
    stray: bool = False  # a quote inside a value: this byte scan is not exact


def _scan_records(path: Path, delimiter: str) -> _Scan:
    """The records of an RFC 4180 file with LF or CRLF line ends, from its bytes.

    Quote parity decides which newlines and delimiters are inside quoted values
    (exact for RFC 4180 quoting, where a quote opens only at a field's start and
    records end with LF or CRLF; see :func:`_scan_exact` for the other files). A
    run of quotes with neither a quote, a delimiter nor a line end on both sides
    (``a"b``, ``a""b``) sits inside a value, where the parsers keep it as text:
    then ``stray``. (Not all such quotes are seen: ``12",`` could also close a value;
    the caller checks the records found against the parser's.)
    """
    d, q, nl, cr = ord(delimiter), ord('"'), ord("\n"), ord("\r")
    starts: list[np.ndarray] = []
    fields: list[np.ndarray] = []
    blanks: list[np.ndarray] = []
    carry_quotes = 0  # quotes seen before this chunk (parity)
    carry_lines = 0  # newlines seen before this chunk
    rec_line = 1  # start line of the open record
    rec_fields = 1  # fields so far in the open record
    rec_len = 0  # bytes so far in the open record (minus CR before LF)
    stray = False
    prev_byte = nl  # the byte before the chunk (the file's start is a line start)
    pending: int | None = None  # the byte before a run of quotes that ended the chunk

    def plain(x: np.ndarray) -> np.ndarray:
        return (x != q) & (x != d) & (x != nl) & (x != cr)

    with path.open("rb") as fh:
        first = True
        while True:
            buf = fh.read(1 << 26)
            if not buf:
                break
            a = np.frombuffer(buf, dtype=np.uint8)
            qpos = np.flatnonzero(a == q)
            if not stray:  # a run of quotes with value bytes on both sides: a stray
                if pending is not None and (not len(qpos) or qpos[0] != 0):
                    stray = bool(plain(np.array([pending, a[0]])).all())
                    pending = None
                if len(qpos):
                    brk = np.flatnonzero(np.diff(qpos) != 1)
                    first_q = qpos[np.concatenate(([0], brk + 1))]
                    last_q = qpos[np.concatenate((brk, [len(qpos) - 1]))]
                    before = a[np.maximum(first_q - 1, 0)].copy()
                    before[first_q == 0] = prev_byte if pending is None else pending
                    if first and buf.startswith(b"\xef\xbb\xbf"):
                        before[first_q == 3] = nl
                    after = a[np.minimum(last_q + 1, len(a) - 1)]
                    inside = last_q < len(a) - 1  # runs that end in this chunk
                    stray = stray or bool((plain(before) & plain(after))[inside].any())
                    pending = int(before[-1]) if not inside[-1] else None
                prev_byte = int(a[-1])
            first = False
            npos = np.flatnonzero(a == nl)
            dpos = np.flatnonzero(a == d)
            # parity of quotes before each position
            n_par = (carry_quotes + np.searchsorted(qpos, npos)) % 2
            d_par = (carry_quotes + np.searchsorted(qpos, dpos)) % 2
            ends = npos[n_par == 0]  # record terminators
            dout = dpos[d_par == 0]
            # line number at each terminator = newlines before it + 1
            end_lines = carry_lines + np.searchsorted(npos, ends) + 1
            k = len(ends)
            if k:
                seg = np.searchsorted(ends, dout)  # record index of each delimiter
                dcount = np.bincount(seg, minlength=k + 1)
                rec_starts = np.concatenate(([rec_line], end_lines[:-1] + 1))
                rec_fields_arr = dcount[:k] + 1
                rec_fields_arr[0] += rec_fields - 1
                begin = np.concatenate(([-1], ends[:-1])) + 1
                length = ends - begin
                has_cr = np.zeros(k, dtype=bool)
                nz = ends > 0
                has_cr[nz] = a[ends[nz] - 1] == cr
                length = length - has_cr
                length[0] += rec_len
                starts.append(rec_starts)
                fields.append(rec_fields_arr)
                blanks.append(length == 0)
                rec_line = int(end_lines[-1]) + 1
                rec_fields = int(dcount[k]) + 1
                rec_len = len(a) - int(ends[-1]) - 1
            else:
                rec_fields += len(dout)
                rec_len += len(a)
            carry_quotes += len(qpos)
            carry_lines += len(npos)
    if rec_len > 0 or rec_fields > 1:  # last record without a final newline
        starts.append(np.array([rec_line]))
        fields.append(np.array([rec_fields]))
        blanks.append(np.array([False]))
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return _Scan(empty, empty, np.zeros(0, dtype=bool), stray=stray)
    return _Scan(
        np.concatenate(starts), np.concatenate(fields), np.concatenate(blanks), stray=stray
    )


_EOF_MARK = "\x00ringfinder-end-of-file\x00"


def _scan_exact(path: Path, delimiter: str, display: str) -> _Scan:
    """The records of any file, with Python's ``csv`` parser (Arrow's grammar).

    Slower than :func:`_scan_records` (a Python loop over records), used for files
    the byte scan cannot read exactly: a lone CR line end (a line end for both
    parsers), a quote inside a value (text for both), and to find a quoted value that
    is never closed. A
    marker line fed after the last line tells whether the file ends inside a quoted
    value: then the marker is part of the last record rather than a record of its own.
    """
    starts: list[int] = []
    fields: list[int] = []
    blanks: list[bool] = []
    unclosed: _Unclosed | None = None
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, (1 << 31) - 1))
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(itertools.chain(fh, [_EOF_MARK]), delimiter=delimiter)
            prev = 0
            for rec in reader:
                if rec == [_EOF_MARK]:
                    break
                if rec and rec[-1].endswith(_EOF_MARK):
                    unclosed = _Unclosed(prev + 1, reader.line_num - 1)
                starts.append(prev + 1)
                fields.append(len(rec) if rec else 1)
                blanks.append(not rec)
                prev = reader.line_num
    except csv.Error as exc:
        raise InputError(f"cannot parse the CSV ({exc})", file=display) from None
    finally:
        csv.field_size_limit(limit)
    return _Scan(
        np.array(starts, dtype=np.int64),
        np.array(fields, dtype=np.int64),
        np.array(blanks, dtype=bool),
        unclosed,
    )


def _place_bad_rows(
    scan: _Scan, ncols: int, n_invalid: int
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
    """The rows the parser skipped: (lines, field counts, line fix for the other rows).

    The fix is (thresholds, shifts): a row the reader numbered ``line`` really starts
    ``shift[i]`` lines later, ``i`` the last threshold <= line. None when the scan
    does not find as many such rows as the parser skipped.
    """
    starts, nfields, blank = scan.starts[1:], scan.fields[1:], scan.blank[1:]  # no header
    bad = (nfields != ncols) & ~blank
    if int(bad.sum()) != n_invalid:
        return None
    # span of each record = next record's start line - its start line
    next_start = np.concatenate((starts[1:], [starts[-1] + 1])) if len(starts) else starts
    spans = next_start - starts
    bad_idx = np.flatnonzero(bad)
    bad_lines, bad_spans = starts[bad_idx], spans[bad_idx]
    # the reader's lines counted only good rows: a good row after bad rows i..j has
    # reader line >= t_i = line_i - (spans of bad rows before i)
    before = np.concatenate(([0], np.cumsum(bad_spans)[:-1]))
    thresholds = bad_lines - before
    shift = np.cumsum(bad_spans)
    last = np.append(thresholds[1:] != thresholds[:-1], True)  # adjacent bad rows: one step
    fix = (thresholds[last].astype(np.int64), shift[last].astype(np.int64))
    return bad_lines.astype(np.int64), nfields[bad_idx].astype(np.int64), fix


def _fixed_lines(lines: np.ndarray, thresholds: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Parsed rows' lines corrected for the bad rows (skipped by the parser) before them."""
    step = np.searchsorted(thresholds, lines, side="right")  # bad-row runs before each row
    return lines + np.concatenate(([0], shift))[step]


def _fix_lines_arrow(table: pa.Table, thresholds: np.ndarray, shift: np.ndarray) -> pa.Table:
    fixed = _fixed_lines(table.column(LINE).to_numpy(), thresholds, shift)
    return table.set_column(0, LINE, pa.array(fixed, pa.int64()))


@contextmanager
def _line_fix(
    con: duckdb.DuckDBPyConnection, thresholds: np.ndarray, shift: np.ndarray
) -> Iterator[None]:
    """The line corrections registered as ``_rf_line_fix (t, s)`` for an ASOF join."""
    fix = pa.table({"t": pa.array(thresholds, pa.int64()), "s": pa.array(shift, pa.int64())})
    con.register("_rf_line_fix", fix)
    try:
        yield
    finally:
        unregister(con, "_rf_line_fix")


def _fix_lines_duckdb(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    ncols: int,
    thresholds: np.ndarray,
    shift: np.ndarray,
) -> None:
    with _line_fix(con, thresholds, shift):
        cols = ", ".join(f"g.c{i}" for i in range(ncols))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {stage} AS "
            f"SELECT g.{LINE} + coalesce(f.s, 0) AS {LINE}, {cols} "
            f"FROM {stage} g ASOF LEFT JOIN _rf_line_fix f ON g.{LINE} >= f.t"
        )


# -- Parquet ----------------------------------------------------------------------------


def _as_text(arr: pa.ChunkedArray | pa.Array, name: str, display: str) -> pa.Array:
    t = arr.type
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        out = arr
    elif pa.types.is_null(t):
        out = pa.nulls(len(arr), pa.string())
    elif pa.types.is_timestamp(t):
        out = pc.strftime(pc.cast(arr, pa.timestamp("s", t.tz), safe=False), "%Y-%m-%d %H:%M:%S")
    elif pa.types.is_date(t):
        out = pc.strftime(arr, "%Y-%m-%d")
    elif (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_time(t)
    ):
        out = pc.cast(arr, pa.string())
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            out = pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            raise InputError(
                "binary values that are not UTF-8 text", file=display, column=name
            ) from None
    else:
        raise InputError(f"type {t} cannot be read as text", file=display, column=name)
    return pc.fill_null(pc.cast(out, pa.string()), "")


def _stage_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    src: int,
    display: str,
    stage: str,
    on_rows: RowsCallback | None,
    on_header: HeaderCallback | None,
) -> StagedFile:
    staged = StagedFile(src, display, path, "row", stage, [])
    pf = _parquet_file(path, display)
    arrow_schema = pf.schema_arrow
    staged.columns = _check_names(list(arrow_schema.names), display, None)
    n = len(staged.columns)
    for f, name in zip(arrow_schema, staged.columns, strict=True):
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_map(t):
            raise InputError(f"type {f.type} cannot be read as text", file=display, column=name)
        if pa.types.is_integer(t) and name.lower().endswith("_id"):
            staged.warnings.append(
                f"{display}: column {name!r} is stored as integers; leading zeros of ids "
                "may have been lost before ringfinder saw them"
            )
    if on_header:
        on_header(staged.columns)
    cols = [f"c{i}" for i in range(n)]
    schema = pa.schema([(LINE, pa.int64())] + [(c, pa.string()) for c in cols])
    state = {"rows": 0}

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH):
            arrays = [_as_text(batch.column(i), staged.columns[i], display) for i in range(n)]
            if not staged.has_nul:
                staged.has_nul = any(_has_byte(a, 0) for a in arrays)
            rows = pa.array(
                np.arange(state["rows"] + 1, state["rows"] + batch.num_rows + 1), pa.int64()
            )
            state["rows"] += batch.num_rows
            if on_rows:
                on_rows(state["rows"])
            yield pa.RecordBatch.from_arrays([rows, *arrays], schema=schema)

    big = path.stat().st_size > ARROW_MAX_BYTES // 4  # compressed: ~4x as text
    try:
        if big:
            _ingest(con, staged, schema, batches())
        else:
            _register(con, staged, _collect(schema, batches()))
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot read the Parquet file: {_arrow_msg(exc)}", file=display) from None
    staged.rows = state["rows"]
    return staged
