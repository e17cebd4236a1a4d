"""Validation and typing of one canonical table, as DuckDB SQL over its text rows.

Input: a relation with ``_rf_src``, ``_rf_line`` and the canonical columns as trimmed
text (NULL when empty). Output: a TEMP table ``_rf_chk_<table>`` with the same
positions, the typed columns and ``_rf_err`` (NULL for a good row), where an error is
``kind \\x1f column \\x1f detail``. The first failing check of a row wins:
NUL bytes (only when the reader saw one), required, type, enum, ID number,
cross-column checks, references, then duplicates.

Details never quote the value of a PII column.
"""

from __future__ import annotations

from ringfinder.load.mapping import qident, qlit
from ringfinder.load.pseudonym import normalise_sql
from ringfinder.schema import TABLES, ColType, Column, Table

SEP = "chr(31)"
MAX_SHOWN = 60

DATE_RE = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
DATETIME_RE = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
DATETIME_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d']"
MONEY_RE = r"[0-9]+(\.[0-9]+)?|[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

#: cross-column checks named in the schema: (sql condition for an error, kind, column, detail)
CHECKS: dict[str, tuple[str, str, str, str]] = {
    "fund_le_total": (
        '"fund_amount" > "total_amount"',
        "fund_gt_total",
        "fund_amount",
        """'fund_amount ' || "fund_amount" || ' is more than total_amount ' """
        """|| "total_amount\"""",
    ),
    "end_after_start": (
        '"end_time" < "start_time"',
        "end_before_start",
        "end_time",
        """'end_time ' || strftime("end_time", '%Y-%m-%d %H:%M:%S') || ' is before start_time '"""
        """ || strftime("start_time", '%Y-%m-%d %H:%M:%S')""",
    ),
    "paid_le_claimed": (
        '"amount_paid" > "amount_claimed"',
        "paid_gt_claimed",
        "amount_paid",
        """'amount_paid ' || "amount_paid" || ' is more than amount_claimed ' """
        """|| "amount_claimed\"""",
    ),
}

#: reason kinds (the keys of TableReport.reasons)
KINDS = (
    "missing_value",
    "bad_date",
    "bad_datetime",
    "bad_money",
    "negative_amount",
    "bad_number",
    "bad_enum",
    "bad_id_number",
    "fund_gt_total",
    "end_before_start",
    "paid_gt_claimed",
    "unknown_ref",
    "duplicate_key",
    "bad_row",
    "nul_byte",
)


def _shown(t: str) -> str:
    """The value quoted for a message (cut, separator removed)."""
    return f"'''' || replace(left({t}, {MAX_SHOWN}), chr(31), ' ') || ''''"


def _err(kind: str, column: str, detail_sql: str) -> str:
    return f"'{kind}' || {SEP} || '{column}' || {SEP} || {detail_sql}"


def _id_sum(digit: list[str]) -> str:
    return " + ".join(f"{w} * (ascii({d}) - 48)" for w, d in zip(ID_WEIGHTS, digit, strict=True))


ID_NORM = "_u_id_number"  # the normalised ID number, computed once per row


def id_number_sql(u: str) -> tuple[str, str]:
    """(typed 18-char ID number or NULL, SQL of the error detail) for normalised ``u``.

    ``u`` is the ID number as :func:`normalise_sql` gives it (folded to half-width
    upper case, no spaces). 18 characters with a valid ISO 7064 MOD 11-2 check digit
    are kept (upper-case ``X``); 15-digit legacy numbers are upgraded to 18 (``19``
    inserted before the birth year, check digit computed) so both forms of one
    person join.
    """
    d18 = [f"substr({u}, {i}, 1)" for i in range(1, 18)]
    d15 = [f"substr({u}, {i}, 1)" for i in range(1, 7)] + ["'1'", "'9'"]
    d15 += [f"substr({u}, {i}, 1)" for i in range(7, 16)]
    check18 = f"substr('{ID_CHECK}', (({_id_sum(d18)}) % 11) + 1, 1)"
    check15 = f"substr('{ID_CHECK}', (({_id_sum(d15)}) % 11) + 1, 1)"
    typed = (
        f"(CASE WHEN regexp_full_match({u}, '[0-9]{{17}}[0-9X]') "
        f"AND {check18} = substr({u}, 18, 1) THEN {u} "
        f"WHEN regexp_full_match({u}, '[0-9]{{15}}') THEN "
        f"substr({u}, 1, 6) || '19' || substr({u}, 7, 9) || {check15} END)"
    )
    detail = (
        f"CASE WHEN regexp_full_match({u}, '[0-9]{{17}}[0-9X]') "
        "THEN 'invalid id_number check digit' "
        "ELSE 'invalid id_number format (expected 18 characters, or 15 digits)' END"
    )
    return typed, detail


def typed_sql(col: Column, t: str) -> str:
    """SQL turning text ``t`` into the column's type (NULL when it does not parse)."""
    if col.name == "id_number":  # needs the column ID_NORM beside it
        return id_number_sql(qident(ID_NORM))[0]
    if col.enum:
        whens = " ".join(f"WHEN {qlit(v.lower())} THEN {qlit(v)}" for v in col.enum)
        return f"(CASE lower({t}) {whens} END)"
    if col.type is ColType.STR:
        return t
    if col.type is ColType.DATE:
        return (
            f"(CASE WHEN regexp_full_match({t}, '{DATE_RE}') "
            f"THEN try_strptime({t}, '%Y-%m-%d')::DATE END)"
        )
    if col.type is ColType.DATETIME:
        # fast path for the canonical form; then the other accepted forms
        return (
            f"(CASE WHEN length({t}) = 19 AND substr({t}, 11, 1) = ' ' "
            f"THEN try_strptime({t}, '%Y-%m-%d %H:%M:%S') "
            f"WHEN regexp_full_match({t}, '{DATETIME_RE}') "
            f"THEN try_strptime(replace({t}, 'T', ' '), {DATETIME_FORMATS}) END)"
        )
    if col.type is ColType.MONEY:
        # fast path: digits with up to 2 decimals; then thousands separators and
        # trailing zeros (12.500)
        return (
            f"(CASE WHEN regexp_full_match({t}, '[0-9]+(\\.[0-9]{{1,2}})?') "
            f"THEN try_cast({t} AS DECIMAL(18,2)) "
            f"WHEN regexp_full_match({t}, '{MONEY_RE}') "
            f"AND NOT regexp_matches({t}, '\\.[0-9]{{2}}[0-9]*[1-9]') "
            f"THEN try_cast(replace({t}, ',', '') AS DECIMAL(18,2)) END)"
        )
    if col.type is ColType.INT:
        return f"(CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN try_cast({t} AS BIGINT) END)"
    if col.type is ColType.FLOAT:
        return f"(CASE WHEN isfinite(try_cast({t} AS DOUBLE)) THEN try_cast({t} AS DOUBLE) END)"
    raise AssertionError(col.type)


def _bad_detail(col: Column, t: str) -> tuple[str, str]:
    """(kind, detail SQL) for a value that did not parse."""
    shown = "" if col.pii else f" || ' ' || {_shown(t)}"
    if col.name == "id_number":
        return "bad_id_number", id_number_sql(qident(ID_NORM))[1]
    if col.enum:
        expected = qlit(f" (expected {', '.join(col.enum)})")
        return "bad_enum", f"'bad value'{shown} || {expected}"
    if col.type is ColType.DATE:
        return "bad_date", f"'bad date'{shown} || ' (expected YYYY-MM-DD)'"
    if col.type is ColType.DATETIME:
        return "bad_datetime", f"'bad datetime'{shown} || ' (expected YYYY-MM-DD HH:MM[:SS])'"
    if col.type is ColType.MONEY:
        return "bad_money", (
            f"CASE WHEN regexp_full_match({t}, '-[0-9.,]+') THEN 'negative amount'{shown} "
            f"WHEN regexp_matches({t}, '\\.[0-9]{{2}}[0-9]*[1-9]') "
            f"THEN 'more than 2 decimal places'{shown} "
            f"ELSE 'bad amount'{shown} || ' (expected a decimal number like 1234.50)' END"
        )
    return "bad_number", f"'bad number'{shown}"


NUL_DETAIL = "'a NUL byte (\\0) in the value: a binary or fixed-width export?'"


def row_error_sql(table: Table, nul: bool = False) -> str:
    """The CASE of per-row errors over columns ``_t_<c>`` (text) and ``<c>`` (typed).

    ``nul``: also reject values holding a NUL byte (the reader saw one in the file).
    """
    whens: list[str] = []
    if nul:
        for col in table.columns:
            t = qident(f"_t_{col.name}")
            whens.append(
                f"WHEN contains({t}, chr(0)) THEN {_err('nul_byte', col.name, NUL_DETAIL)}"
            )
    for col in table.columns:
        t, v = qident(f"_t_{col.name}"), qident(col.name)
        if col.required:
            whens.append(
                f"WHEN {t} IS NULL THEN {_err('missing_value', col.name, qlit('missing value'))}"
            )
        if col.type is not ColType.STR or col.enum or col.name == "id_number":
            kind, detail = _bad_detail(col, t)
            if col.type is ColType.MONEY:
                detail_kind = (
                    f"CASE WHEN regexp_full_match({t}, '-[0-9.,]+') THEN 'negative_amount' "
                    "ELSE 'bad_money' END"
                )
                whens.append(
                    f"WHEN {t} IS NOT NULL AND {v} IS NULL THEN {detail_kind} || {SEP} || "
                    f"'{col.name}' || {SEP} || ({detail})"
                )
            else:
                whens.append(
                    f"WHEN {t} IS NOT NULL AND {v} IS NULL THEN {_err(kind, col.name, detail)}"
                )
    for check in table.checks:
        cond, kind, column, detail = CHECKS[check]
        whens.append(f"WHEN {cond} THEN {_err(kind, column, detail)}")
    if not whens:
        return "CAST(NULL AS VARCHAR)"
    return "(CASE " + " ".join(whens) + " END)"


def row_hash_sql(table: Table) -> str:
    """A hash of a row's canonical values (claim_items' key part ``_row_hash``)."""
    parts = ", ".join(f"coalesce(CAST({qident(c)} AS VARCHAR), '')" for c in table.column_names)
    return f"left(sha256(concat_ws(chr(31), {parts})), 32)"


def check_table_sql(table_name: str, txt: str, out: str, nul: bool = False) -> str:
    """CREATE the checked table ``out`` from the text relation ``txt``.

    References are checked against the canonical tables: the workspace's rows and the
    tables this load has written before (in its transaction). ``nul``: a source file
    holds a NUL byte (rows with one in a value are rejected).
    """
    table = TABLES[table_name]
    w_cols = ", ".join(f"{qident(c)} AS {qident('_t_' + c)}" for c in table.column_names)
    if "id_number" in table.column_names:
        w_cols += f", {normalise_sql(qident('id_number'), 'id')} AS {qident(ID_NORM)}"
    x_cols = ", ".join(
        f"{typed_sql(c, qident('_t_' + c.name))} AS {qident(c.name)}" for c in table.columns
    )
    whens: list[str] = ["WHEN e._rf_err0 IS NOT NULL THEN e._rf_err0"]
    for col in (c for c in table.columns if c.ref and not c.ref.external_ok):
        assert col.ref is not None
        # a semi (mark) join: no DISTINCT over the key set, no row fan-out; a key set
        # holding NULL gives NULL for a value not in it: coalesce says unknown
        keyset = " UNION ALL ".join(
            f"SELECT {qident(TABLES[rt].key[0])} AS k FROM main.{qident(rt)}"
            for rt in col.ref.tables
        )
        name = qident(col.name)
        where = " or ".join(col.ref.tables)
        detail = f"'unknown {col.name} ' || {_shown('e.' + name)} || ' (not in {where})'"
        whens.append(
            f"WHEN e.{name} IS NOT NULL AND NOT coalesce(e.{name} IN ({keyset}), false) "
            f"THEN {_err('unknown_ref', col.name, detail)}"
        )
    extra = f", {row_hash_sql(table)} AS _row_hash" if "_row_hash" in table.key else ""
    return f"""
CREATE OR REPLACE TEMP TABLE {out} AS
WITH w AS (
    SELECT _rf_src, _rf_line, {w_cols} FROM {txt}
), x AS (
    SELECT *, {x_cols} FROM w
), e AS (
    SELECT *, {row_error_sql(table, nul)} AS _rf_err0 FROM x
)
SELECT e._rf_src, e._rf_line, {", ".join("e." + qident(c) for c in table.column_names)}{extra},
       CASE {" ".join(whens)} END AS _rf_err
FROM e
"""


def _repeated(chk: str, key: list[str]) -> str:
    """A condition keeping the good rows whose key may occur twice (a superset).

    Grouping 30 M rows by a 64-bit hash of the key is several times cheaper than by the
    text key itself; the exact grouping then only sees the few candidates.
    """
    h = f"hash({', '.join(key)})"
    return f"{h} IN (SELECT {h} FROM {chk} WHERE _rf_err IS NULL GROUP BY 1 HAVING count(*) > 1)"


def occurrences_sql(chk: str) -> str:
    """UPDATE numbering identical good rows (claim_items): the n-th copy's hash differs.

    A claim may bill the same item twice on separate lines; without a line id in the
    contract, identical rows are told apart by their order in the file (the first
    keeps the plain hash), so loading the same file again gives the same hashes.
    """
    return f"""
UPDATE {chk} AS c SET _row_hash = left(sha256(c._row_hash || '#' || d.occ), 32)
FROM (
    SELECT _rf_src, _rf_line,
           row_number() OVER (PARTITION BY _row_hash ORDER BY _rf_src, _rf_line) - 1 AS occ
    FROM {chk}
    WHERE _rf_err IS NULL AND {_repeated(chk, ["_row_hash"])}
) AS d
WHERE c._rf_src = d._rf_src AND c._rf_line = d._rf_line AND d.occ > 0
"""


def duplicates_sql(table_name: str, chk: str) -> str:
    """UPDATE marking later rows with a key already seen (earliest good row wins)."""
    table = TABLES[table_name]
    key = [qident(k) for k in table.key]
    on = " AND ".join(f"c.{k} = d.{k}" for k in key)
    first_pos = "(_rf_src * 1099511627776 + _rf_line)"
    if "_row_hash" in table.key:
        what = "'duplicate row (same values as '"
        col = "_row_hash"
    else:
        what = f"'duplicate {table.key[0]} ' || {_shown('c.' + key[0])} || ' (first at '"
        col = table.key[0]
    where_first = (
        "CASE WHEN d.first_src = c._rf_src THEN "
        "(CASE WHEN f.unit = 'row' THEN 'row ' ELSE 'line ' END) || d.first_line "
        "ELSE f.name || CASE WHEN f.unit = 'row' THEN ' row ' ELSE ':' END || d.first_line END"
    )
    return f"""
UPDATE {chk} AS c SET _rf_err = '{"duplicate_key"}' || {SEP} || '{col}' || {SEP} ||
    {what} || ({where_first}) || ')'
FROM (
    SELECT {", ".join(key)}, min({first_pos}) AS first_pos,
           min({first_pos}) // 1099511627776 AS first_src,
           min({first_pos}) % 1099511627776 AS first_line
    FROM {chk} WHERE _rf_err IS NULL AND {_repeated(chk, key)}
    GROUP BY {", ".join(key)} HAVING count(*) > 1
) AS d, _rf_files AS f
WHERE {on} AND c._rf_err IS NULL AND f.src = d.first_src
  AND (c._rf_src * 1099511627776 + c._rf_line) <> d.first_pos
"""
