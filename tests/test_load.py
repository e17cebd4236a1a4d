"""The loader: validation rules, line numbers, encodings, reconcile, upserts, privacy."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.errors import ConfigError, EncodingMismatch, InputError, StrictModeFailure
from ringfinder.load import LoadOptions, LoadReport, load_folder
from ringfinder.load.api import TableReport
from ringfinder.load.pseudonym import Pseudonymiser
from ringfinder.schema import LOAD_ORDER, TABLES

# A valid ID number (ISO 7064 MOD 11-2 check digit X) and one with a wrong check digit.
GOOD_ID = "11010519491231002X"
BAD_ID = "110105194912310021"

BASE: dict[str, str] = {
    "persons": (
        "person_id,name,id_number,gender,birth_date,phone,address,region_code,"
        "insurance_type,employer_id,bank_account,death_date\n"
        f"007,张三,{GOOD_ID},M,1949-12-31,+86 138 0013 8000,北京市朝阳区1号,110105,employee,E1,"
        "6222021234567890,\n"
        "P2,李四,,F,1950-01-01,13800138001,,110105,resident,,,\n"
    ),
    "cards": "card_id,person_id,status\nK1,007,active\nK2,P2,active\n",
    "institutions": "institution_id,name,level,ownership\nH11010500001,医院A,tertiary,public\n",
    "doctors": "doctor_id,name,institution_id\nD1,王医生,H11010500001\n",
    "claims": (
        "claim_id,person_id,card_id,provider_id,doctor_id,visit_type,start_time,end_time,"
        "diagnosis_code,total_amount,fund_amount,terminal_id\n"
        "C1,007,K1,H11010500001,D1,outpatient,2025-01-03 09:30:00,,J06,100.00,80.00,T1\n"
        "C2,P2,K2,H11010500001,D1,inpatient,2025-01-04 10:00,2025-01-09 10:00,I10,5000,4000,T1\n"
    ),
}
CLAIMS_HEADER = BASE["claims"].splitlines()[0]


def write_folder(folder: Path, tables: dict[str, str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_bytes(text.encode(encoding))
    return folder


def load(
    con: duckdb.DuckDBPyConnection, folder: Path, tmp_path: Path, **opts: object
) -> LoadReport:
    opts.setdefault("quarantine_dir", tmp_path / "quarantine")
    return load_folder(con, folder, LoadOptions(**opts))  # type: ignore[arg-type]


def with_claims(*rows: str) -> dict[str, str]:
    return {**BASE, "claims": CLAIMS_HEADER + "\n" + "\n".join(rows) + "\n"}


def quarantine(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def dump(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in LOAD_ORDER}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


# -- the happy path -----------------------------------------------------------------


def test_minimal_folder_loads_and_reconciles(con, tmp_path):
    report = load(con, write_folder(tmp_path / "d", BASE), tmp_path)
    assert [t.table for t in report.tables] == [
        "persons",
        "cards",
        "institutions",
        "doctors",
        "claims",
    ]
    assert all(t.reconciled and t.rejected == 0 for t in report.tables)
    assert report.missing_optional == [
        "pharmacies",
        "claim_items",
        "reimbursements",
        "invoices",
        "referrals",
    ]
    row = con.execute(
        "SELECT person_id, gender, birth_date::VARCHAR FROM persons WHERE person_id = '007'"
    ).fetchall()
    assert row == [("007", "M", "1949-12-31")]  # leading zeros survive
    c2 = con.execute(
        "SELECT start_time::VARCHAR, end_time::VARCHAR, total_amount::VARCHAR FROM claims "
        "WHERE claim_id = 'C2'"
    ).fetchall()
    assert c2 == [("2025-01-04 10:00:00", "2025-01-09 10:00:00", "5000.00")]
    assert report.load_id == 1
    (loads,) = con.execute("SELECT count(*) FROM _loads").fetchall()
    assert loads == (1,)


def test_progress_callback_reports_every_table(con, tmp_path):
    seen: dict[str, int] = {}
    load_folder(
        con,
        write_folder(tmp_path / "d", BASE),
        LoadOptions(quarantine_dir=tmp_path / "q"),
        progress=lambda t, n, total: seen.__setitem__(t, n),
    )
    assert seen == {"persons": 2, "cards": 2, "institutions": 1, "doctors": 1, "claims": 2}


# -- missing things ---------------------------------------------------------------------


def test_missing_required_table_is_an_input_error(con, tmp_path):
    tables = {k: v for k, v in BASE.items() if k != "doctors"}
    with pytest.raises(InputError, match=r"doctors \(no doctors.csv or doctors.parquet\)"):
        load(con, write_folder(tmp_path / "d", tables), tmp_path)


def test_missing_required_column_names_file_and_column(con, tmp_path):
    tables = {**BASE, "claims": BASE["claims"].replace("start_time,", "start,")}
    with pytest.raises(InputError) as exc:
        load(con, write_folder(tmp_path / "d", tables), tmp_path)
    assert (
        str(exc.value)
        == "claims.csv column 'start_time': required column is missing from the header"
    )


def test_duplicate_header_column_is_an_input_error(con, tmp_path):
    tables = {**BASE, "cards": "card_id,person_id,Card_ID\nK1,007,x\n"}
    with pytest.raises(InputError, match=r"cards.csv:1: duplicate column name 'Card_ID'"):
        load(con, write_folder(tmp_path / "d", tables), tmp_path)


def test_unknown_columns_are_ignored_with_one_warning(con, tmp_path):
    tables = {**BASE, "cards": "card_id,person_id,colour,size\nK1,007,red,1\nK2,P2,blue,2\n"}
    report = load(con, write_folder(tmp_path / "d", tables), tmp_path)
    assert report.warnings == ["cards.csv: ignoring unknown columns: colour, size"]


def test_empty_files(con, tmp_path):
    tables = {
        **BASE,
        "claim_items": "",
        "referrals": "referral_id,person_id,from_provider_id,to_provider_id,referral_date\n",
    }
    report = load(con, write_folder(tmp_path / "d", tables), tmp_path)
    items, refs = report.table("claim_items"), report.table("referrals")
    assert items is not None and (items.read, items.loaded) == (0, 0)
    assert refs is not None and (refs.read, refs.loaded) == (0, 0)
    assert "claim_items.csv: empty file (0 bytes): 0 rows" in report.warnings


def test_not_a_folder(con, tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        load(con, tmp_path / "nope", tmp_path)


# -- validation rules -------------------------------------------------------------------

C = "C9,007,K1,H11010500001,D1,{vt},{st},{et},J06,{tot},{fund},T1"


def claim(**kw: str) -> str:
    base = {"vt": "outpatient", "st": "2025-01-03 09:30", "et": "", "tot": "10", "fund": "5"}
    return C.format(**{**base, **kw})


RULE_CASES = [
    (
        claim(st="2025-02-30 10:00"),
        "bad_datetime",
        "claims.csv:4 column 'start_time': bad datetime '2025-02-30 10:00' "
        "(expected YYYY-MM-DD HH:MM[:SS])",
    ),
    (claim(st=""), "missing_value", "claims.csv:4 column 'start_time': missing value"),
    (claim(st="03/01/2025"), "bad_datetime", "bad datetime '03/01/2025'"),
    (claim(tot="-5"), "negative_amount", "column 'total_amount': negative amount '-5'"),
    (claim(tot="5.123"), "bad_money", "more than 2 decimal places '5.123'"),
    (claim(tot="ten"), "bad_money", "bad amount 'ten'"),
    (claim(vt="clinic"), "bad_enum", "column 'visit_type': bad value 'clinic' (expected"),
    (
        claim(tot="100", fund="120.5"),
        "fund_gt_total",
        "column 'fund_amount': fund_amount 120.50 is more than total_amount 100.00",
    ),
    (
        claim(vt="inpatient", st="2025-01-05", et="2025-01-01 08:00"),
        "end_before_start",
        "end_time 2025-01-01 08:00:00 is before start_time 2025-01-05 00:00:00",
    ),
    (
        "C9,X404,K1,H11010500001,D1,outpatient,2025-01-03,,J06,1,1,T1",
        "unknown_ref",
        "column 'person_id': unknown person_id 'X404' (not in persons)",
    ),
    (
        "C9,007,K9,H11010500001,D1,outpatient,2025-01-03,,J06,1,1,T1",
        "unknown_ref",
        "unknown card_id 'K9' (not in cards)",
    ),
    (
        "C9,007,K1,H99,D1,outpatient,2025-01-03,,J06,1,1,T1",
        "unknown_ref",
        "unknown provider_id 'H99' (not in institutions or pharmacies)",
    ),
    (
        "C9,007,K1,H11010500001,D1,outpatient",
        "bad_row",
        "claims.csv:4: wrong number of fields: 6, expected 12",
    ),
]


@pytest.fixture(scope="module")
def rules_load(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[LoadReport, dict[str, dict[str, str]]]:
    """One load holding a bad row per rule (line 4 + i), beside two good rows."""
    tmp = tmp_path_factory.mktemp("rules")
    rows = [r.replace("C9,", f"C9{i},", 1) for i, (r, _, _) in enumerate(RULE_CASES)]
    good = BASE["claims"].splitlines()[1:3]
    folder = write_folder(tmp / "d", with_claims(*good, *rows))
    con = duckdb.connect()
    try:
        with pytest.MonkeyPatch.context() as mp:  # module scope: before the autouse key
            mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
            report = load_folder(con, folder, LoadOptions(quarantine_dir=tmp / "quarantine"))
    finally:
        con.close()
    by_line = {q["line"]: q for q in quarantine(tmp / "quarantine" / "claims.csv")}
    return report, by_line


def test_rule_load_reconciles(rules_load):
    report, by_line = rules_load
    claims = report.table("claims")
    assert claims is not None and claims.reconciled
    assert (claims.read, claims.loaded, claims.rejected) == (
        2 + len(RULE_CASES),
        2,
        len(RULE_CASES),
    )
    assert sum(claims.reasons.values()) == len(RULE_CASES) == len(by_line)


@pytest.mark.parametrize(
    ("i", "kind", "reason"), [(i, k, r) for i, (_, k, r) in enumerate(RULE_CASES)]
)
def test_each_rule_rejects_with_a_reason(rules_load, i, kind, reason):
    _, by_line = rules_load
    q = by_line[str(4 + i)]
    assert q["kind"] == kind
    assert reason.replace("claims.csv:4", f"claims.csv:{4 + i}") in q["reason"]
    assert q["reason"].startswith(f"claims.csv:{4 + i}")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1,234.50", "1234.50"),
        ("12.500", "12.50"),
        ("0", "0.00"),
        (" 7.5 ", "7.50"),
    ],
)
def test_money_forms_accepted(con, tmp_path, value, ok):
    folder = write_folder(tmp_path / "d", with_claims(claim(tot=f'"{value}"', fund="0")))
    load(con, folder, tmp_path)
    assert con.execute("SELECT total_amount::VARCHAR FROM claims").fetchall() == [(ok,)]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2025-01-03T09:30", "2025-01-03 09:30:00"),
        ("2025-01-03", "2025-01-03 00:00:00"),
        ("2025-1-3 9:05:07", "2025-01-03 09:05:07"),
    ],
)
def test_datetime_forms_accepted(con, tmp_path, value, ok):
    load(con, write_folder(tmp_path / "d", with_claims(claim(st=value))), tmp_path)
    assert con.execute("SELECT start_time::VARCHAR FROM claims").fetchall() == [(ok,)]


def test_enum_case_is_normalised(con, tmp_path):
    tables = {
        **with_claims(claim(vt="OutPatient")),
        "cards": "card_id,person_id,status\nK1,007,ACTIVE\n",
    }
    load(con, write_folder(tmp_path / "d", tables), tmp_path)
    assert con.execute("SELECT visit_type FROM claims").fetchall() == [("outpatient",)]
    assert con.execute("SELECT status FROM cards").fetchall() == [("active",)]


def test_id_number_check_digit_without_the_value_in_the_reason(con, tmp_path):
    persons = BASE["persons"] + f"P3,王五,{BAD_ID},M,,,,,,,,\nP4,赵六,1101051949,M,,,,,,,,\n"
    report = load(con, write_folder(tmp_path / "d", {**BASE, "persons": persons}), tmp_path)
    p = report.table("persons")
    assert p is not None and p.reasons == {"bad_id_number": 2}
    assert p.examples == [
        "persons.csv:4 column 'id_number': invalid id_number check digit",
        "persons.csv:5 column 'id_number': invalid id_number format (expected 18 characters, "
        "or 15 digits)",
    ]
    text = (tmp_path / "quarantine" / "persons.csv").read_text(encoding="utf-8-sig")
    assert BAD_ID not in text and "1101051949" not in text and "王五" not in text


def test_legacy_15_digit_id_number_is_upgraded_and_joins(con, tmp_path):
    # 110105491231002 is the 15-digit form of 11010519491231002X
    persons = BASE["persons"] + "P3,张三,110105491231002,M,,,,,,,,\n"
    load(con, write_folder(tmp_path / "d", {**BASE, "persons": persons}), tmp_path)
    ids = dict(con.execute("SELECT person_id, id_number FROM persons").fetchall())
    assert ids["P3"] == ids["007"] and ids["P3"].startswith("id_")


def test_duplicate_keys_reject_later_rows_naming_the_first(con, tmp_path):
    first = BASE["claims"].splitlines()[1]
    report = load(con, write_folder(tmp_path / "d", with_claims(first, claim(), first)), tmp_path)
    claims = report.table("claims")
    assert claims is not None and claims.reasons == {"duplicate_key": 1}
    assert claims.examples == [
        "claims.csv:4 column 'claim_id': duplicate claim_id 'C1' (first at line 2)"
    ]


def test_references_cascade_and_see_the_workspace(con, tmp_path):
    # P2's ID number is wrong: P2 is rejected, so are their card and claim
    persons = BASE["persons"].replace("P2,李四,,", f"P2,李四,{BAD_ID},")
    report = load(con, write_folder(tmp_path / "d", {**BASE, "persons": persons}), tmp_path)
    assert {t.table: t.rejected for t in report.tables}["claims"] == 1
    assert report.table("cards").reasons == {"unknown_ref": 1}  # type: ignore[union-attr]
    # a later load with only new claims: persons, cards, ... already in the workspace
    later = write_folder(tmp_path / "d2", {**BASE, "claims": CLAIMS_HEADER + "\n" + claim() + "\n"})
    report2 = load(con, later, tmp_path)
    assert report2.table("claims").loaded == 1  # type: ignore[union-attr]


def test_a_reference_known_twice_is_checked_once(con, tmp_path):
    # a second load of the same folder: every key is in the workspace and in the load
    # (the reference check must neither reject nor repeat rows)
    folder = write_folder(tmp_path / "d", BASE)
    load(con, folder, tmp_path)
    report = load(con, folder, tmp_path)
    claims = report.table("claims")
    assert claims is not None and (claims.read, claims.loaded, claims.rejected) == (2, 2, 0)
    assert con.execute("SELECT count(*) FROM claims").fetchall() == [(2,)]


def test_the_load_caps_duckdb_memory_and_restores_it(con, tmp_path, monkeypatch):
    from ringfinder.load import loader
    from ringfinder.load.loader import LOAD_MEMORY_BYTES, _bytes

    assert _bytes("18.7 GiB") == int(18.7 * (1 << 30))
    assert _bytes("512.0 MiB") == 512 << 20
    assert _bytes("1000 bytes") == 1000
    assert _bytes("unlimited") is None

    def limit() -> int | None:
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
        return _bytes(str(row[0])) if row else None

    seen: list[int | None] = []
    validate_all = loader._validate_all

    def spy(*args: object, **kwargs: object) -> None:
        seen.append(limit())
        validate_all(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "_validate_all", spy)
    folder = write_folder(tmp_path / "d", BASE)
    con.execute("SET memory_limit = '20GiB'")
    load(con, folder, tmp_path)
    assert seen == [LOAD_MEMORY_BYTES]
    assert limit() == 20 << 30
    con.execute("SET memory_limit = '1GiB'")  # a lower limit is kept
    load(con, folder, tmp_path, reload=True)
    assert seen[-1] == 1 << 30 and limit() == 1 << 30


def test_external_issuers_and_referral_targets_are_kept(con, tmp_path):
    tables = {
        **BASE,
        "reimbursements": "reimbursement_id,person_id,submitted_date,amount_claimed,amount_paid,"
        "handler_id,submitter_phone,payee_account\nR1,007,2025-02-01,300,200,H7,13800138000,6222\n"
        "R2,007,2025-02-01,300,400,H7,,\n",
        "invoices": "invoice_id,reimbursement_id,issuer_id,issue_date,amount\n"
        "I1,R1,H44030600077,2025-01-20,300\n",
        "referrals": "referral_id,person_id,from_provider_id,to_provider_id,referral_date\n"
        "F1,007,H11010500001,H31000000001,2025-01-10\nF2,007,H99,H11010500001,2025-01-10\n",
    }
    report = load(con, write_folder(tmp_path / "d", tables), tmp_path)
    assert report.table("invoices").loaded == 1  # type: ignore[union-attr]
    assert report.table("referrals").reasons == {"unknown_ref": 1}  # type: ignore[union-attr]
    r = report.table("reimbursements")
    assert r is not None and r.reasons == {"paid_gt_claimed": 1}
    assert "amount_paid 400.00 is more than amount_claimed 300.00" in r.examples[0]


# -- line numbers -----------------------------------------------------------------------


def _use_staging(monkeypatch: pytest.MonkeyPatch, staging: str) -> None:
    """Send every file down one path: ``arrow`` (in memory), or as a file too big to
    keep in memory: ``streamed`` (``streamed_join``: its line corrections as a join) or
    ``duckdb`` (a TEMP copy)."""
    if staging == "arrow":
        return
    monkeypatch.setattr("ringfinder.load.reader.ARROW_MAX_BYTES", 0)
    monkeypatch.setattr("ringfinder.load.loader.STREAM_CHECK", staging != "duckdb")
    if staging == "streamed_join":
        monkeypatch.setattr("ringfinder.load.reader.MAX_CASE_FIXES", 0)


def _load_persons(con, tmp_path: Path, persons: str) -> tuple[TableReport, list[dict[str, str]]]:
    """Load ``persons`` alone (no cards or claims): its report and its quarantine rows."""
    tables = {**BASE, "persons": persons, "cards": "card_id,person_id\n"}
    tables["claims"] = CLAIMS_HEADER + "\n"
    report = load(con, write_folder(tmp_path / "d", tables), tmp_path)
    p = report.table("persons")
    assert p is not None
    return p, quarantine(tmp_path / "quarantine" / "persons.csv")


@pytest.mark.parametrize("staging", ["arrow", "streamed", "duckdb"])
def test_line_numbers_count_quoted_newlines_blank_lines_and_bad_rows(
    con, tmp_path, monkeypatch, staging
):
    _use_staging(monkeypatch, staging)
    persons = (
        "person_id,name,address,gender\r\n"
        'P1,"A","line one\r\nline two",M\r\n'  # lines 2-3
        "\r\n"  # 4: blank, not a row
        "P2,B\r\n"  # 5: too few fields
        'P3,"C","x\ny\nz",Q\r\n'  # 6-8: bad gender
        "P4,D,,M,extra\r\n"  # 9: too many fields
        'P5,"E ""quoted""",,X\r\n'  # 10: bad gender
        "P6,F,,M"  # 11, no final newline
    )
    p, rows = _load_persons(con, tmp_path, persons)
    assert (p.read, p.loaded, p.rejected) == (6, 2, 4)
    assert [(r["line"], r["kind"]) for r in rows] == [
        ("5", "bad_row"),
        ("6", "bad_enum"),
        ("9", "bad_row"),
        ("10", "bad_enum"),
    ]
    assert rows[2]["reason"] == "persons.csv:9: wrong number of fields: 5, expected 4"


@pytest.mark.parametrize("staging", ["arrow", "streamed", "streamed_join", "duckdb"])
def test_the_quarantine_shows_rejected_rows_as_read_on_every_path(
    con, tmp_path, monkeypatch, staging
):
    """A streamed file keeps no raw text: a second pass finds the rejected rows' values."""
    _use_staging(monkeypatch, staging)
    persons = (
        "person_id,name,address,gender\n"
        "P1,A,,M\n"  # 2
        "P2,B\n"  # 3: too few fields (shifts nothing: one line)
        'P3,"C\nC",,F\n'  # 4-5
        "P1,D,,F\n"  # 6: duplicate of line 2
        "P4,E,, Q \n"  # 7: bad gender, kept as read (trimmed)
        'P5,F,"x\ny",M,extra\n'  # 8-9: too many fields (the rows after it shift)
        "P6,G,,X\n"  # 10: bad gender
        "P7,H,,F\n"  # 11
    )
    p, rows = _load_persons(con, tmp_path, persons)
    assert (p.read, p.loaded, p.rejected) == (8, 3, 5)
    assert [(r["line"], r["kind"], r["person_id"], r["gender"]) for r in rows] == [
        ("3", "bad_row", "", ""),
        ("6", "duplicate_key", "P1", "F"),
        ("7", "bad_enum", "P4", "Q"),
        ("8", "bad_row", "", ""),
        ("10", "bad_enum", "P6", "X"),
    ]
    assert rows[1]["reason"] == (
        "persons.csv:6 column 'person_id': duplicate person_id 'P1' (first at line 2)"
    )
    got = con.execute("SELECT person_id FROM persons ORDER BY 1").fetchall()
    assert got == [("P1",), ("P3",), ("P7",)]


# -- encodings --------------------------------------------------------------------------


def test_gb18030_is_detected_with_a_warning(con, tmp_path):
    report = load(con, write_folder(tmp_path / "d", BASE, encoding="gb18030"), tmp_path)
    assert report.table("persons").encoding == "gb18030"  # type: ignore[union-attr]
    assert any("read as GB18030" in w and "persons.csv (line 2)" in w for w in report.warnings)
    assert con.execute("SELECT name FROM institutions").fetchall() == [("医院A",)]


def test_gb18030_read_as_utf8_names_file_and_line(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE)
    (folder / "persons.csv").write_bytes(BASE["persons"].encode("gb18030"))
    with pytest.raises(EncodingMismatch) as exc:
        load(con, folder, tmp_path, encoding="utf-8")
    assert str(exc.value) == (
        "persons.csv:2: not valid UTF-8 (bytes look like GB18030); try --encoding gb18030"
    )


def test_utf8_read_as_gb18030_is_refused(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE)
    with pytest.raises(EncodingMismatch) as exc:
        load(con, folder, tmp_path, encoding="gb18030")
    assert str(exc.value).startswith("persons.csv:2: ")
    assert str(exc.value).endswith("try --encoding utf-8")
    # bytes valid in both (é is C3 A9, also a GB18030 character): refused too
    (folder / "persons.csv").write_text("person_id,name\nP1,José\n", encoding="utf-8")
    with pytest.raises(EncodingMismatch) as exc:
        load(con, folder, tmp_path, encoding="gb18030")
    assert str(exc.value).startswith("persons.csv:2: bytes are valid UTF-8 with non-ASCII text")


def test_short_gb18030_that_is_also_valid_utf8_is_not_loaded_as_mojibake(con, tmp_path):
    # 医院A in GB18030 is D2 BD D4 BA 41: valid UTF-8 for "ҽԺA"
    folder = write_folder(tmp_path / "d", BASE)
    (folder / "institutions.csv").write_bytes(BASE["institutions"].encode("gb18030"))
    report = load(con, folder, tmp_path)
    assert con.execute("SELECT name FROM institutions").fetchall() == [("医院A",)]
    assert any("institutions.csv (line 2)" in w for w in report.warnings)
    report = load(con, folder, tmp_path, encoding="utf-8")  # as asked, with a warning
    assert any(w.startswith("institutions.csv:2: read as UTF-8 as asked") for w in report.warnings)


def test_explicit_gbk_and_gb18030(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE, encoding="gbk")
    report = load(con, folder, tmp_path, encoding="gbk")
    assert not report.rejected and not report.warnings


def test_bytes_that_are_neither(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE)
    (folder / "doctors.csv").write_bytes(b"doctor_id,name\nD1,\xff\xfe\xff\n")
    with pytest.raises(EncodingMismatch, match=r"doctors.csv:2: neither UTF-8 nor GB18030"):
        load(con, folder, tmp_path)


def test_utf8_bom_is_stripped(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE)
    (folder / "cards.csv").write_bytes(b"\xef\xbb\xbf" + BASE["cards"].encode())
    report = load(con, folder, tmp_path, encoding="utf-8")
    assert report.table("cards").loaded == 2  # type: ignore[union-attr]


def test_a_load_deletes_what_a_killed_load_left_in_the_workspace_tmp(tmp_path):
    """Staged copies (a GB18030 file transcoded, say) hold raw values: they live in the
    workspace's .tmp only while their load runs, and the next load deletes what a
    killed one left there."""
    from ringfinder.engine.embedded import EmbeddedEngine

    ws = tmp_path / "ws"
    stale = ws / ".tmp" / "load-killed"
    stale.mkdir(parents=True)
    (stale / "0000-persons.utf8.csv").write_bytes(b"raw values of a killed load")
    engine = EmbeddedEngine(ws)
    try:
        report = engine.load(write_folder(tmp_path / "d", BASE, encoding="gb18030"))
        assert report.table("persons").encoding == "gb18030"  # type: ignore[union-attr]
    finally:
        engine.close()
    assert list((ws / ".tmp").iterdir()) == []


# -- Parquet ----------------------------------------------------------------------------


@pytest.mark.parametrize("staging", ["arrow", "duckdb"])
def test_parquet_input_is_validated_like_csv(con, tmp_path, monkeypatch, staging):
    if staging == "duckdb":
        monkeypatch.setattr("ringfinder.load.reader.ARROW_MAX_BYTES", 0)
    folder = write_folder(tmp_path / "d", {k: v for k, v in BASE.items() if k != "claims"})
    pq.write_table(
        pa.table(
            {
                "claim_id": ["C1", "C2", "C3"],
                "person_id": ["007", "P2", "P2"],
                "provider_id": ["H11010500001"] * 3,
                "visit_type": ["outpatient", "inpatient", "pharmacy"],
                "start_time": pa.array([1735896600, 1735983000, 1735983000], pa.timestamp("s")),
                "total_amount": pa.array([100.5, 20, 10], pa.float64()),
                "fund_amount": pa.array([50, 30, 5], pa.int64()),
            }
        ),
        folder / "claims.parquet",
    )
    report = load(con, folder, tmp_path)
    claims = report.table("claims")
    assert claims is not None and (claims.loaded, claims.rejected) == (2, 1)
    assert claims.examples == [
        "claims.parquet row 2 column 'fund_amount': fund_amount 30.00 is more than "
        "total_amount 20.00"
    ]
    assert con.execute(
        "SELECT start_time::VARCHAR FROM claims WHERE claim_id = 'C1'"
    ).fetchall() == [("2025-01-03 09:30:00",)]


def test_parquet_with_a_list_column_is_an_input_error(con, tmp_path):
    folder = write_folder(tmp_path / "d", {k: v for k, v in BASE.items() if k != "cards"})
    pq.write_table(pa.table({"card_id": ["K1"], "person_id": [["007"]]}), folder / "cards.parquet")
    with pytest.raises(InputError, match=r"cards.parquet column 'person_id': type list"):
        load(con, folder, tmp_path)


@pytest.mark.parametrize("staging", ["arrow", "duckdb"])
def test_parquet_binary_that_is_not_text_is_an_input_error(con, tmp_path, monkeypatch, staging):
    if staging == "duckdb":  # raised while DuckDB reads the rows: not its account of it
        monkeypatch.setattr("ringfinder.load.reader.ARROW_MAX_BYTES", 0)
    folder = write_folder(tmp_path / "d", {k: v for k, v in BASE.items() if k != "cards"})
    person = pa.array([b"\xff\xfe"], pa.binary())
    pq.write_table(pa.table({"card_id": ["K1"], "person_id": person}), folder / "cards.parquet")
    with pytest.raises(InputError) as exc:
        load(con, folder, tmp_path)
    assert str(exc.value) == (
        "cards.parquet column 'person_id': binary values that are not UTF-8 text"
    )


def test_csv_and_parquet_of_one_table_is_ambiguous(con, tmp_path):
    folder = write_folder(tmp_path / "d", BASE)
    pq.write_table(pa.table({"card_id": ["K1"], "person_id": ["007"]}), folder / "cards.parquet")
    with pytest.raises(InputError, match="both cards.csv and cards.parquet"):
        load(con, folder, tmp_path)


# -- idempotence and upserts ------------------------------------------------------------


def test_loading_twice_changes_nothing(tmp_path):
    folder = write_folder(
        tmp_path / "d", with_claims(*BASE["claims"].splitlines()[1:], claim(tot="-1"))
    )
    with EmbeddedEngine(tmp_path / "ws") as eng:
        first = load_folder(eng.con, folder)
        before = dump(eng.con)
        second = load_folder(eng.con, folder, LoadOptions(reload=True))  # read it again
        assert second.reused_load is None
        assert dump(eng.con) == before
    assert [t.inserted for t in second.tables] == [0] * 5
    assert [t.updated for t in second.tables] == [0] * 5
    assert [t.unchanged for t in second.tables] == [t.loaded for t in first.tables]
    assert (tmp_path / "ws" / "quarantine" / "claims.csv").is_file()


def test_newer_folder_adds_and_updates_by_key(con, tmp_path):
    load(con, write_folder(tmp_path / "d1", BASE), tmp_path)
    c1, c2 = BASE["claims"].splitlines()[1:]
    newer = with_claims(c1.replace("100.00,80.00", "120.00,90.00"), c2, claim())
    report = load(con, write_folder(tmp_path / "d2", newer), tmp_path)
    claims = report.table("claims")
    assert claims is not None and (claims.inserted, claims.updated, claims.unchanged) == (1, 1, 1)
    got = con.execute("SELECT claim_id, total_amount::VARCHAR FROM claims ORDER BY 1").fetchall()
    assert got == [("C1", "120.00"), ("C2", "5000.00"), ("C9", "10.00")]
    assert con.execute("SELECT count(*) FROM _loads").fetchall() == [(2,)]


def test_claim_items_are_replaced_per_claim(con, tmp_path):
    items = "claim_id,item_code,item_name,item_kind,quantity,amount\n"
    v1 = (
        items
        + "C1,A,药A,drug,1,10\nC1,B,检查B,exam,1,20\nC1,B,检查B,exam,1,20\nC2,A,药A,drug,2,20\n"
        + "C2,B,检查B,exam,1,20\nC2,B,检查B,exam,1,20\nC2,B,检查B,exam,1,20\n"
    )
    report = load(con, write_folder(tmp_path / "d1", {**BASE, "claim_items": v1}), tmp_path)
    ci = report.table("claim_items")
    # the same item billed twice (or three times) on separate lines is that many items,
    # not a duplicate
    assert ci is not None and (ci.loaded, ci.rejected) == (7, 0)
    hashes = con.execute("SELECT _row_hash FROM claim_items WHERE item_code = 'B'").fetchall()
    assert len(set(hashes)) == 5
    again = load(con, write_folder(tmp_path / "d1", {**BASE, "claim_items": v1}), tmp_path)
    assert again.table("claim_items").unchanged == 7  # type: ignore[union-attr]
    v2 = items + "C1,A,药A,drug,1,10\nC1,C,治疗C,treatment,1,5\n"
    report = load(con, write_folder(tmp_path / "d2", {**BASE, "claim_items": v2}), tmp_path)
    ci = report.table("claim_items")
    assert ci is not None and (ci.inserted, ci.removed, ci.unchanged) == (1, 2, 1)
    got = con.execute("SELECT claim_id, item_code FROM claim_items ORDER BY 1, 2").fetchall()
    assert got == [("C1", "A"), ("C1", "C"), ("C2", "A"), ("C2", "B"), ("C2", "B"), ("C2", "B")]


# -- strict mode ------------------------------------------------------------------------


def test_strict_mode_validates_everything_and_writes_nothing(con, tmp_path):
    folder = write_folder(tmp_path / "d", with_claims(claim(tot="-1")))
    with pytest.raises(StrictModeFailure) as exc:
        load(con, folder, tmp_path, strict=True)
    assert "1 rows rejected (claims 1)" in str(exc.value)
    assert exc.value.exit_code == 3
    assert exc.value.report.table("claims").rejected == 1  # type: ignore[attr-defined]
    assert all(n == [] for n in dump(con).values())
    assert (tmp_path / "quarantine" / "claims.csv").is_file()
    load(con, write_folder(tmp_path / "ok", BASE), tmp_path, strict=True)  # clean: loads
    assert con.execute("SELECT count(*) FROM claims").fetchall() == [(2,)]


def test_a_failure_after_some_tables_were_written_rolls_the_whole_load_back(
    con, tmp_path, monkeypatch
):
    """Tables are written one by one inside the load's transaction: a failure writing
    claims leaves the persons and cards of the same load unwritten, and the workspace
    as the previous load left it."""
    from ringfinder.load import loader

    load(con, write_folder(tmp_path / "first", BASE), tmp_path)
    before = dump(con)
    loads = con.execute("SELECT count(*) FROM _loads").fetchall()
    grown = {
        **BASE,
        "persons": BASE["persons"] + "P3,王五,,M,1960-02-02,,,110105,resident,,,\n",
        "cards": BASE["cards"] + "K3,P3,active\n",
    }
    written: list[str] = []
    write_table = loader._write_table

    def fail_on_claims(con_, tr, pseud):  # type: ignore[no-untyped-def]
        if tr.table == "claims":
            raise OSError(28, "No space left on device")
        write_table(con_, tr, pseud)
        written.append(tr.table)

    monkeypatch.setattr(loader, "_write_table", fail_on_claims)
    with pytest.raises(OSError):
        load(con, write_folder(tmp_path / "second", grown), tmp_path, reload=True)
    assert written[:2] == ["persons", "cards"]  # written before the failure ...
    assert dump(con) == before  # ... and rolled back with it
    assert con.execute("SELECT count(*) FROM _loads").fetchall() == loads
    monkeypatch.setattr(loader, "_write_table", write_table)
    load(con, write_folder(tmp_path / "second", grown), tmp_path)  # the same folder loads
    assert con.execute("SELECT count(*) FROM persons").fetchall() == [(3,)]


# -- privacy ----------------------------------------------------------------------------

RAW_PII = [
    "张三",
    "李四",
    "13800138000",
    "0013 8000",
    "北京市朝阳区1号",
    "6222021234567890",
    GOOD_ID,
]


def test_no_raw_pii_in_the_workspace_or_the_quarantine(tmp_path):
    persons = BASE["persons"] + "P3,李四,,X,,13800138000,北京市朝阳区1号,,,,6222021234567890,\n"
    folder = write_folder(tmp_path / "d", {**BASE, "persons": persons})
    with EmbeddedEngine(tmp_path / "ws") as eng:
        report = load_folder(eng.con, folder)
        assert report.table("persons").rejected == 1  # type: ignore[union-attr]
        texts = []
        for (t,) in eng.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall():
            texts.append(repr(eng.con.execute(f'SELECT * FROM "{t}"').fetchall()))
        assert not eng.con.execute("SELECT * FROM duckdb_tables() WHERE temporary").fetchall(), (
            "temp tables left behind"
        )
    blob = "\n".join(texts)
    blob += (tmp_path / "ws" / "quarantine" / "persons.csv").read_text(encoding="utf-8-sig")
    db_bytes = (tmp_path / "ws" / "ringfinder.duckdb").read_bytes()
    for raw in RAW_PII:
        assert raw not in blob, raw
        assert raw.encode() not in db_bytes, raw
    assert "nm_" in blob and "ph_" in blob and "ac_" in blob and "ad_" in blob and "id_" in blob
    assert not any((tmp_path / "ws" / ".tmp").iterdir())


def test_equal_values_get_equal_pseudonyms_across_tables(con, tmp_path):
    tables = {
        **BASE,
        "doctors": "doctor_id,name,institution_id,phone\n"
        "D1,王医生,H11010500001,0086-138-0013-8000\n",
        "reimbursements": "reimbursement_id,person_id,submitted_date,amount_claimed,"
        "submitter_phone,payee_account\nR1,P2,2025-02-01,300,138 0013 8000,6222-0212-3456-7890\n",
    }
    load(con, write_folder(tmp_path / "d", tables), tmp_path)
    (row,) = con.execute(
        "SELECT p.phone, d.phone, r.submitter_phone, p.bank_account, r.payee_account "
        "FROM persons p, doctors d, reimbursements r WHERE p.person_id = '007'"
    ).fetchall()
    assert row[0] == row[1] == row[2] and row[0].startswith("ph_")
    assert row[3] == row[4] and row[3].startswith("ac_")
    key = os.environ["RINGFINDER_KEY"].encode()
    assert row[0] == Pseudonymiser(key).pseudonym("13800138000", "ph")


def test_no_pseudonymise_stores_raw_values_and_is_recorded(con, tmp_path):
    report = load(con, write_folder(tmp_path / "d", BASE), tmp_path, pseudonymise=False)
    assert any("pseudonymisation is off" in w for w in report.warnings)
    assert ("张三",) in con.execute("SELECT name FROM persons").fetchall()
    with pytest.raises(ConfigError, match="raw"):
        load(con, write_folder(tmp_path / "d", BASE), tmp_path)


def test_another_key_is_refused(con, tmp_path, monkeypatch):
    load(con, write_folder(tmp_path / "d", BASE), tmp_path)
    monkeypatch.setenv("RINGFINDER_KEY", "another-key-0123456789")
    with pytest.raises(ConfigError, match="another pseudonymisation key"):
        load(con, write_folder(tmp_path / "d", BASE), tmp_path)


# -- the command ------------------------------------------------------------------------


def _cli():  # type: ignore[no-untyped-def]
    import typer

    from ringfinder.cli import load_cmd

    app = typer.Typer()
    app.command("load")(load_cmd.load)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_cli_load_prints_the_table_and_exits_0(tmp_path):
    from typer.testing import CliRunner

    folder = write_folder(tmp_path / "d", with_claims(claim(tot="-1")))
    res = CliRunner().invoke(
        _cli(), ["load", str(folder), "--workspace", str(tmp_path / "ws")], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    assert "claims" in res.stdout and "negative_amount 1" in res.stdout
    assert "claims.csv:2 column 'total_amount': negative amount '-1'" in res.stdout
    res = CliRunner().invoke(
        _cli(), ["load", str(folder), "--workspace", str(tmp_path / "ws"), "--json"]
    )
    assert res.exit_code == 0
    assert '"rejected": 1' in res.stdout


def test_cli_strict_raises_strict_mode_failure(tmp_path):
    from typer.testing import CliRunner

    folder = write_folder(tmp_path / "d", with_claims(claim(tot="-1")))
    res = CliRunner().invoke(
        _cli(), ["load", str(folder), "--workspace", str(tmp_path / "ws"), "--strict"]
    )
    assert isinstance(res.exception, StrictModeFailure)


def test_schema_pii_columns_all_have_a_kind():
    from ringfinder.load.pseudonym import PII_KINDS

    for t in TABLES.values():
        for c in t.pii_columns:
            assert c in PII_KINDS, (t.name, c)


def test_trim_skips_only_values_with_nothing_to_trim():
    import random

    import pyarrow.compute as pc

    from ringfinder.load import reader

    def reference(a: pa.Array) -> pa.Array:
        if pc.all(pc.string_is_ascii(a)).as_py() is not False:
            return pc.ascii_trim_whitespace(a)
        return pc.utf8_trim(a, characters=reader.WS_CHARS)

    alphabet = [" ", "\t", "\r", "\n", "\v", "\f", "\u3000", "\u00a0", "\u2000", "\u3001"]
    alphabet += ["a", "1", "医", "院", "é", ""]
    rng = random.Random(1)
    for _ in range(2000):
        n = rng.randint(0, 6)
        values = ["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(n)]
        a = pa.array(values, pa.string())
        for arr in (a, a.slice(min(1, len(a)))):
            assert reader.trim(arr).to_pylist() == reference(arr).to_pylist()


def test_near_unique_ids_of_big_tables_are_stored_uncompressed(tmp_path):
    """The DDL's per-column storage choice reaches the file (the others stay compressed)."""
    from ringfinder.engine.embedded import UNCOMPRESSED

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load(con, write_folder(tmp_path / "d", BASE), tmp_path)
    con.execute("CHECKPOINT")
    stored = dict(
        con.execute(
            "SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info('claims') "
            "WHERE segment_type = 'VARCHAR' GROUP BY 1"
        ).fetchall()
    )
    for column in UNCOMPRESSED["claims"]:
        assert stored[column] == ["Uncompressed"], (column, stored)
    assert "Uncompressed" not in stored["visit_type"], stored
    con.close()
