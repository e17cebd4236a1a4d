"""Writing to the workspace: set-wise upserts, quarantine files, ``_meta`` and ``_loads``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv

from ringfinder.errors import ConfigError
from ringfinder.load.mapping import qident, qlit
from ringfinder.load.pseudonym import Pseudonymiser, kind_of
from ringfinder.schema import TABLES

META_DDL = "CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
LOADS_DDL = """CREATE TABLE IF NOT EXISTS _loads (
    load_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, folder VARCHAR,
    mapping VARCHAR, strict BOOLEAN, pseudonymised BOOLEAN, tables VARCHAR)"""


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
        "AND database_name = current_database()",
        [name],
    ).fetchall()[0]
    return bool(row and row[0])


def read_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not _has_table(con, "_meta"):
        return {}
    return dict(con.execute("SELECT key, value FROM main._meta").fetchall())


def check_key(con: duckdb.DuckDBPyConnection, pseud: Pseudonymiser | None) -> None:
    """Refuse a key (or a raw/pseudonymised mode) other than the workspace's."""
    meta = read_meta(con)
    mode = meta.get("pii_mode")
    if mode == "raw" and pseud is not None:
        raise ConfigError(
            "this workspace holds raw (not pseudonymised) personal data from an earlier "
            "--no-pseudonymise load; use --no-pseudonymise again or a new workspace"
        )
    if mode == "pseudonymised" and pseud is None:
        raise ConfigError(
            "this workspace holds pseudonymised personal data; a --no-pseudonymise load "
            "would mix raw values in: use a new workspace"
        )
    have = meta.get("key_fingerprint")
    if pseud is not None and have and have != pseud.fingerprint:
        raise ConfigError(
            f"this workspace was loaded with another pseudonymisation key (fingerprint {have}, "
            f"now {pseud.fingerprint}); pseudonyms would not join. Use the original key "
            "(RINGFINDER_KEY or the key file) or a new workspace"
        )


def record_meta(con: duckdb.DuckDBPyConnection, pseud: Pseudonymiser | None) -> None:
    con.execute(META_DDL)
    rows = [("pii_mode", "pseudonymised" if pseud else "raw"), ("schema", "1")]
    if pseud is not None:
        rows.append(("key_fingerprint", pseud.fingerprint))
    con.executemany("INSERT OR REPLACE INTO main._meta VALUES (?, ?)", rows)


def record_load(
    con: duckdb.DuckDBPyConnection,
    *,
    started: datetime,
    folder: Path,
    mapping: str | None,
    strict: bool,
    pseudonymised: bool,
    tables: dict[str, dict[str, int]],
) -> int:
    con.execute(LOADS_DDL)
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM main._loads").fetchall()[0]
    load_id = int(row[0]) if row else 1
    con.execute(
        "INSERT INTO main._loads VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            started,
            datetime.now(),
            str(folder),
            mapping,
            strict,
            pseudonymised,
            json.dumps(tables, ensure_ascii=False, sort_keys=True),
        ],
    )
    return load_id


def _select(
    table: str, pseud: Pseudonymiser | None, prefix: str = "", *, row_hash: bool = True
) -> str:
    """The canonical columns of a checked table, PII pseudonymised."""
    out = []
    for col in TABLES[table].columns:
        ref = prefix + qident(col.name)
        out.append(
            f"{pseud.sql(ref, kind_of(col.name))} AS {qident(col.name)}"
            if col.pii and pseud is not None
            else ref
        )
    if row_hash and "_row_hash" in TABLES[table].key:
        out.append(prefix + "_row_hash")
    return ", ".join(out)


def _params(table: str, pseud: Pseudonymiser | None) -> dict[str, bytes] | None:
    if pseud is not None and TABLES[table].pii_columns:
        return pseud.sql_params()
    return None


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, bytes] | None) -> None:
    if params:
        con.execute(sql, params)
    else:
        con.execute(sql)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row else 0


@dataclass
class Upsert:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def upsert(
    con: duckdb.DuckDBPyConnection, table: str, chk: str, pseud: Pseudonymiser | None
) -> Upsert:
    """Write the good rows of ``chk`` into the canonical table, by key, set-wise.

    A row with a new key is inserted; a row whose key is stored with other values
    replaces it; an identical row changes nothing. ``claim_items`` (key: claim_id,
    item_code, _row_hash) are replaced per claim: the items stored for a claim in
    this load become exactly this load's items of that claim.
    """
    t = TABLES[table]
    names = list(t.column_names) + (["_row_hash"] if "_row_hash" in t.key else [])
    cols = ", ".join(qident(c) for c in names)
    target = f"main.{qident(table)}"
    new = f"_rf_new_{table}"
    params = _params(table, pseud)
    if params:  # pseudonymise once
        _run(
            con,
            f"CREATE OR REPLACE TEMP TABLE {new} AS "
            f"SELECT {_select(table, pseud)} FROM {chk} WHERE _rf_err IS NULL",
            params,
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {new} AS SELECT {cols} FROM {chk} WHERE _rf_err IS NULL"
        )
    good = _count(con, f"SELECT count(*) FROM {new}")
    res = Upsert()
    if _count(con, f"SELECT count(*) FROM {target}") == 0:
        con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {new}").fetchall()
        res.inserted = good
    elif "_row_hash" in t.key:
        res.removed = _count(
            con,
            f"""DELETE FROM {target}
            WHERE claim_id IN (SELECT claim_id FROM {new})
              AND _row_hash NOT IN (SELECT _row_hash FROM {new})""",
        )
        res.inserted = _count(
            con,
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {new} "
            f"WHERE _row_hash NOT IN (SELECT _row_hash FROM {target})",
        )
    else:
        key = qident(t.key[0])
        differs = " OR ".join(f"n.{qident(c)} IS DISTINCT FROM s.{qident(c)}" for c in names)
        chg = f"_rf_chg_{table}"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {chg} AS
            SELECT n.*, s.{key} IS NOT NULL AS _rf_old
            FROM {new} n LEFT JOIN {target} s ON n.{key} = s.{key}
            WHERE s.{key} IS NULL OR {differs}"""
        )
        res.updated = _count(con, f"SELECT count(*) FROM {chg} WHERE _rf_old")
        res.inserted = _count(con, f"SELECT count(*) FROM {chg}") - res.updated
        if res.updated:
            con.execute(
                f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {chg} WHERE _rf_old)"
            ).fetchall()
        con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {chg}").fetchall()
        con.execute(f"DROP TABLE IF EXISTS {chg}")
    res.unchanged = good - res.inserted - res.updated
    con.execute(f"DROP VIEW IF EXISTS {new}" if not params else f"DROP TABLE IF EXISTS {new}")
    return res


def reason_sql(labels: dict[str, str]) -> str:
    """SQL of the full reason of a rejected row ``c`` of a checked table (file ``f``).

    ``file:line column 'x' (source): detail`` (Parquet: ``file row N ...``).
    """
    label_case = " ".join(
        f"WHEN {qlit(c)} THEN {qlit(repr(c) + (f' ({src})' if src and src != c else ''))}"
        for c, src in labels.items()
    )
    col = "split_part(c._rf_err, chr(31), 2)"
    col_label = f"'''' || {col} || ''''"
    if label_case:
        col_label = f"CASE {col} {label_case} ELSE {col_label} END"
    return f"""
        (CASE WHEN f.unit = 'row' THEN f.name || ' row ' || c._rf_line
              ELSE f.name || ':' || c._rf_line END)
        || CASE WHEN {col} <> '' THEN ' column ' || {col_label} ELSE '' END
        || ': ' || split_part(c._rf_err, chr(31), 3)"""


def examples(
    con: duckdb.DuckDBPyConnection, chk: str, labels: dict[str, str], n: int = 3
) -> list[str]:
    """The first ``n`` reasons of a checked table, one per kind first."""
    rows = con.execute(
        f"""SELECT reason FROM (
            SELECT {reason_sql(labels)} AS reason, c._rf_src, c._rf_line,
                   row_number() OVER (PARTITION BY split_part(c._rf_err, chr(31), 1)
                                      ORDER BY c._rf_src, c._rf_line) AS k
            FROM {chk} c JOIN _rf_files f ON f.src = c._rf_src
            WHERE c._rf_err IS NOT NULL)
        ORDER BY k, _rf_src, _rf_line LIMIT {int(n)}"""
    ).fetchall()
    return [str(r[0]) for r in rows]


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    chk: str,
    txt: str | None,
    path: Path,
    pseud: Pseudonymiser | None,
    labels: dict[str, str],
) -> None:
    """``<quarantine>/<table>.csv``: file, line, reason, kind, the row's columns as read.

    PII columns are pseudonymised here too (the workspace never holds raw PII); the
    user finds the raw row in their own file by its line. UTF-8 with a BOM (Excel).
    """
    reason = reason_sql(labels)
    if txt is not None:
        values = _select(table, pseud, prefix="t.", row_hash=False)
        join = f"LEFT JOIN {txt} t ON t._rf_src = c._rf_src AND t._rf_line = c._rf_line"
    else:
        values = ", ".join(
            f"CAST(NULL AS VARCHAR) AS {qident(c)}" for c in TABLES[table].column_names
        )
        join = ""
    sql = f"""
        SELECT f.name AS file, c._rf_line AS line, {reason} AS reason,
               split_part(c._rf_err, chr(31), 1) AS kind, {values}
        FROM {chk} c JOIN _rf_files f ON f.src = c._rf_src {join}
        WHERE c._rf_err IS NOT NULL
        ORDER BY c._rf_src, c._rf_line"""
    params = _params(table, pseud)
    reader = con.sql(sql, params=params).to_arrow_reader(1 << 16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.part")
    with tmp.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        with pacsv.CSVWriter(fh, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    tmp.replace(path)


def reason_rows(con: duckdb.DuckDBPyConnection, chk: str) -> tuple[dict[str, int], int, int]:
    """(reason kind -> count, good rows, rejected rows) of a checked table."""
    kinds = dict(
        con.execute(
            f"SELECT split_part(_rf_err, chr(31), 1) AS kind, count(*) FROM {chk} "
            "WHERE _rf_err IS NOT NULL GROUP BY kind ORDER BY count(*) DESC, kind"
        ).fetchall()
    )
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE _rf_err IS NULL), count(*) FILTER "
        f"(WHERE _rf_err IS NOT NULL) FROM {chk}"
    ).fetchall()[0]
    assert row is not None
    return {str(k): int(v) for k, v in kinds.items()}, int(row[0]), int(row[1])
