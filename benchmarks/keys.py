"""What integer surrogate keys would buy: text keys against integer keys on the same rows.

    python -m benchmarks.keys --workspace WS --result FILE [--tmp DIR] [--memory LIMIT]

The workspace stores every id as text (``claims.person_id``, ``claim_items.claim_id``,
...), as the contract names them. The profile says strings are the cost of the load's
write and of the detectors' joins; the remedy it names is integer keys assigned at load,
with each text id kept once in a dictionary. This measures that remedy before anyone
builds it, on a loaded workspace (read-only), in one process, each pair on the same
rows held in memory:

- ``references``: the loader's reference checks of ``claims`` (person, card, provider,
  doctor) and ``claim_items`` (claim), as mark joins on text, against the joins that
  would check them *and* hand out the integer keys (the keyed load pays these instead);
- ``write``: storing ``claims`` and ``claim_items`` as the workspace stores them (the
  loader's DDL) against the same rows with integer keys (the claim id kept once, in
  ``claims``);
- ``queries``: three of the heaviest scans of a run, written both ways: pharmacy
  resale's purchases (34 M items joined to their claims at 3 M persons), the community
  stage's co-admission pairs, visits per person and month (rules, shared_card); each
  says whether both shapes counted the same rows (``same_rows``);
- ``row_hash``: the claim items' row key as it is computed (SHA-256 of the row's
  values, 32 hex digits) against MD5 of the same text (not a change of key type; what
  a cheaper digest would save).

``saved_s`` is text minus integer; ``load_saved_s`` and ``queries_saved_s`` sum them.
Nothing here is a product code path: the figures say what a rewrite would gain.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: claims' referenced id columns -> (dictionary table, its key column)
_REFS = {
    "person_id": ("persons", "person_id"),
    "card_id": ("cards", "card_id"),
    "provider_id": ("providers", "provider_id"),
    "doctor_id": ("doctors", "doctor_id"),
}

_PURCHASES = """
SELECT count(*) FROM (
    WITH pc AS (
        SELECT c.{claim} AS k, coalesce(c.{card}, {person_as_buyer}) AS buyer,
               c.{provider} AS ph, CAST(c.start_time AS DATE) AS d
        FROM {claims} c SEMI JOIN {pharmacies} f ON c.{provider} = f.k)
    SELECT pc.ph, i.item_code AS drug, pc.buyer, pc.d,
           sum(i.quantity) AS qty, sum(CAST(i.amount AS DOUBLE)) AS amount
    FROM {items} i JOIN pc ON i.{item_claim} = pc.k
    WHERE coalesce(i.item_kind, 'drug') = 'drug' AND i.quantity > 0 GROUP BY ALL)
"""

_CO_ADMISSION = """
SELECT count(*) FROM (
    WITH adm AS (
        SELECT DISTINCT {person} AS p, {provider} AS v, CAST(start_time AS DATE) AS d
        FROM {claims} WHERE visit_type = 'inpatient'),
    rep AS (SELECT p, v FROM adm GROUP BY ALL HAVING count(*) >= 2),
    cand AS (SELECT a.* FROM adm a JOIN rep USING (p, v)),
    crowd AS (SELECT v, d, count(*) AS n FROM cand GROUP BY ALL
              HAVING count(*) BETWEEN 2 AND 200),
    c AS (SELECT cand.*, n FROM cand JOIN crowd USING (v, d))
    SELECT x.p AS a, y.p AS b, sum(1.0 / (x.n - 1)) AS weight, count(*) AS days
    FROM c x JOIN c y ON x.v = y.v AND x.d = y.d AND x.p < y.p
    GROUP BY ALL HAVING count(*) >= 2)
"""

_PER_MONTH = """
SELECT count(*) FROM (
    SELECT {person}, date_trunc('month', start_time) AS m, count(*) AS n
    FROM {claims} GROUP BY ALL HAVING count(*) >= 15)
"""


class _Clock:
    def __init__(self, con: Any) -> None:
        self.con = con
        self.seconds: dict[str, float] = {}
        self.last: list[Any] = []  # the rows of the last statement

    def __call__(self, name: str, *sqls: str) -> float:
        t0 = time.perf_counter()
        for sql in sqls:
            self.last = self.con.execute(sql).fetchall()
        if any(s.lstrip().upper().startswith(("CREATE TABLE", "INSERT")) for s in sqls):
            self.con.execute("CHECKPOINT")
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        return self.seconds[name]


def _stage(con: Any) -> dict[str, int]:
    """The rows of both shapes in memory (TEMP tables): text as stored, and keyed."""
    con.execute("CREATE TEMP TABLE c AS SELECT * FROM ws.claims")
    con.execute("CREATE TEMP TABLE i AS SELECT * FROM ws.claim_items")
    con.execute(
        "CREATE TEMP TABLE providers AS SELECT provider_id, row_number() OVER () AS k FROM ("
        "SELECT institution_id AS provider_id FROM ws.institutions "
        "UNION ALL SELECT pharmacy_id FROM ws.pharmacies)"
    )
    for table, key in (("persons", "person_id"), ("cards", "card_id"), ("doctors", "doctor_id")):
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT {key}, row_number() OVER () AS k FROM ws.{table}"
        )
    con.execute(
        "CREATE TEMP TABLE terminals AS SELECT terminal_id, row_number() OVER () AS k "
        "FROM (SELECT DISTINCT terminal_id FROM c WHERE terminal_id IS NOT NULL)"
    )
    con.execute("CREATE TEMP TABLE pharm_text AS SELECT pharmacy_id AS k FROM ws.pharmacies")
    con.execute(
        "CREATE TEMP TABLE pharm_int AS SELECT p.k FROM providers p "
        "SEMI JOIN ws.pharmacies f ON p.provider_id = f.pharmacy_id"
    )
    (claims,) = con.execute("SELECT count(*) FROM c").fetchone() or (0,)
    (items,) = con.execute("SELECT count(*) FROM i").fetchone() or (0,)
    return {"claims": int(claims), "claim_items": int(items)}


def _references(clock: _Clock) -> dict[str, Any]:
    """Mark joins on text (as the loader checks) against the key-assigning joins."""
    unknown = " OR ".join(
        f"({col} IS NOT NULL AND NOT coalesce({col} IN (SELECT {key} FROM {dic}), false))"
        for col, (dic, key) in _REFS.items()
    )
    text = clock(
        "references_text",
        f"CREATE OR REPLACE TEMP TABLE chk_c AS SELECT *, {unknown} AS bad FROM c",
        "CREATE OR REPLACE TEMP TABLE chk_i AS SELECT *, "
        "NOT coalesce(claim_id IN (SELECT claim_id FROM c), false) AS bad FROM i",
    )
    for t in ("chk_c", "chk_i"):
        clock.con.execute(f"DROP TABLE {t}")
    joins = " ".join(
        f"LEFT JOIN {dic} AS j_{col} ON c.{col} = j_{col}.{key}"
        for col, (dic, key) in _REFS.items()
    )
    # the claim key is the row's position (the loader has one: file and line), so no
    # numbering pass; a NULL key is the unknown reference the text check flags
    keyed = clock(
        "references_int",
        "CREATE OR REPLACE TEMP TABLE kc AS SELECT c.rowid AS claim_key, "
        "c.claim_id, j_person_id.k AS person_key, j_card_id.k AS card_key, "
        "j_provider_id.k AS provider_key, j_doctor_id.k AS doctor_key, t.k AS terminal_key, "
        "c.visit_type, c.start_time, c.end_time, c.diagnosis_code, c.total_amount, "
        f"c.fund_amount FROM c {joins} LEFT JOIN terminals t USING (terminal_id)",
        "CREATE OR REPLACE TEMP TABLE ki AS SELECT kc.claim_key, i.* EXCLUDE (claim_id) "
        "FROM i LEFT JOIN kc USING (claim_id)",
    )
    return {"text_s": text, "int_s": keyed, "saved_s": round(text - keyed, 3)}


def _write(clock: _Clock) -> dict[str, Any]:
    from ringfinder.engine.embedded import table_ddl

    con = clock.con
    for name in ("claims", "claim_items"):
        con.execute(table_ddl(name))  # as the workspace stores them
    text = clock(
        "write_text",
        "INSERT INTO main.claims SELECT * FROM c",
        "INSERT INTO main.claim_items SELECT * FROM i",
    )
    for src, name in (("kc", "claims"), ("ki", "claim_items")):
        con.execute(_keyed_ddl(con, src, name))
    keyed = clock(
        "write_int",
        "INSERT INTO main.claims_keyed SELECT * FROM kc",
        "INSERT INTO main.claim_items_keyed SELECT * FROM ki",
    )
    for t in ("c", "i", "kc", "ki"):  # the queries read the stored tables
        con.execute(f"DROP TABLE {t}")
    return {"text_s": round(text, 3), "int_s": keyed, "saved_s": round(text - keyed, 3)}


def _keyed_ddl(con: Any, src: str, name: str) -> str:
    """The keyed table of ``name``, its text columns stored as the workspace stores them."""
    from ringfinder.engine.embedded import UNCOMPRESSED

    plain = UNCOMPRESSED.get(name, frozenset())
    cols = [
        f'"{c}" {t}' + (" USING COMPRESSION uncompressed" if c in plain else "")
        for c, t, *_ in con.execute(f"DESCRIBE {src}").fetchall()
    ]
    return f"CREATE TABLE main.{name}_keyed ({', '.join(cols)})"


def _queries(clock: _Clock) -> dict[str, Any]:
    shapes = {
        "text": {
            "claims": "main.claims",
            "items": "main.claim_items",
            "pharmacies": "pharm_text",
            "claim": "claim_id",
            "item_claim": "claim_id",
            "card": "card_id",
            "person": "person_id",
            "person_as_buyer": "c.person_id",
            "provider": "provider_id",
        },
        "int": {
            "claims": "main.claims_keyed",
            "items": "main.claim_items_keyed",
            "pharmacies": "pharm_int",
            "claim": "claim_key",
            "item_claim": "claim_key",
            "card": "card_key",
            "person": "person_key",
            "person_as_buyer": "-c.person_key",  # card keys and person keys kept apart
            "provider": "provider_key",
        },
    }
    out: dict[str, Any] = {}
    for name, sql in (
        ("purchases", _PURCHASES),
        ("co_admission", _CO_ADMISSION),
        ("per_person_month", _PER_MONTH),
    ):
        pair, rows = {}, []
        for shape, f in shapes.items():
            pair[shape] = clock(f"{name}_{shape}", sql.format(**f))
            rows.append(clock.last)
        out[name] = {"text_s": pair["text"], "int_s": pair["int"], "rows": rows[0][0][0]}
        out[name]["same_rows"] = rows[0] == rows[1]
        out[name]["saved_s"] = round(pair["text"] - pair["int"], 3)
    return out


def _row_hash(clock: _Clock) -> dict[str, Any]:
    parts = ", ".join(
        f"coalesce(CAST({c} AS VARCHAR), '')"
        for c in ("claim_id", "item_code", "item_name", "item_kind", "quantity", "amount")
    )
    text = f"concat_ws(chr(31), {parts})"
    sha = clock("row_hash_sha256", f"SELECT max(left(sha256({text}), 32)) FROM main.claim_items")
    md5 = clock("row_hash_md5", f"SELECT max(md5({text})) FROM main.claim_items")
    return {"sha256_s": sha, "md5_s": md5, "saved_s": round(sha - md5, 3)}


def measure(workspace: Path, tmp: Path | None = None, memory: str | None = None) -> dict[str, Any]:
    """Every pair on ``workspace`` (opened read-only), in a scratch database.

    ``memory``: DuckDB's memory limit (default: DuckDB's own, 80 % of RAM). Both shapes
    of the two big tables are held at once, so under the load's 4 GiB cap they spill
    and the figures measure the disk; the study is about the key shapes.
    """
    import duckdb

    from ringfinder.engine.embedded import DB_FILE

    with tempfile.TemporaryDirectory(prefix="keys-", dir=tmp) as scratch:
        con = duckdb.connect(str(Path(scratch) / "keys.duckdb"))
        if memory:
            con.execute("SET memory_limit = ?", [memory])
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET temp_directory = ?", [str(Path(scratch) / "spill")])
        con.execute(f"ATTACH '{workspace / DB_FILE}' AS ws (READ_ONLY)")
        clock = _Clock(con)
        (limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
        out: dict[str, Any] = {"duckdb": duckdb.__version__, "memory_limit": limit}
        out["rows"] = _stage(con)
        out["references"] = _references(clock)
        out["write"] = _write(clock)
        out["queries"] = _queries(clock)
        out["row_hash"] = _row_hash(clock)
        out["seconds"] = clock.seconds
        con.close()
    out["load_saved_s"] = round(out["references"]["saved_s"] + out["write"]["saved_s"], 3)
    out["queries_saved_s"] = round(sum(q["saved_s"] for q in out["queries"].values()), 3)
    out["status"] = "ok"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.keys", description=__doc__)
    ap.add_argument("--workspace", type=Path, required=True, help="a loaded workspace folder")
    ap.add_argument("--tmp", type=Path, help="folder for the scratch database")
    ap.add_argument("--memory", help="DuckDB memory limit (default: DuckDB's, 80%% of RAM)")
    ap.add_argument("--result", type=Path, required=True)
    args = ap.parse_args(argv)
    out = measure(args.workspace, args.tmp, args.memory)
    args.result.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
