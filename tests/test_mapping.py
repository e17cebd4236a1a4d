"""Mapping files: format, column specs, derived tables, the shipped mappings and samples."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from ringfinder.errors import InputError, MappingError
from ringfinder.load import LoadOptions, LoadReport, load_folder
from ringfinder.load.mapping import load_mapping, parse_mapping
from ringfinder.resources import resource_dir

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "cn_export"
HPFD = Path(__file__).resolve().parents[2] / "shared" / "data" / "hpfd"
HPFD_FILE = HPFD / "Test_Inpatientdata-1542969243754.csv"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def run(con, folder: Path, mapping: str | Path, tmp_path: Path, **kw: object) -> LoadReport:
    return load_folder(
        con,
        folder,
        LoadOptions(mapping=mapping, quarantine_dir=tmp_path / "quarantine", **kw),  # type: ignore[arg-type]
    )


def quarantine(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


# -- the format -------------------------------------------------------------------------


def test_shipped_mappings_parse_and_resolve_by_name():
    names = sorted(p.stem for p in (resource_dir("etl") / "mappings").glob("*.yaml"))
    assert {"cn_fsi", "hpfd_inpatient"} <= set(names)
    for name in names:
        m = load_mapping(name)
        assert m.name == name and m.tables["claims"]
    with pytest.raises(MappingError, match=r"no shipped mapping named 'nope' \(shipped: cn_fsi"):
        load_mapping("nope")
    with pytest.raises(MappingError, match="not found"):
        load_mapping("/no/such/mapping.yaml")


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"claimz": {}}, "not a canonical table"),
        ({"cards": {"file": "a.csv", "columns": {"card_id": "a", "colour": "b"}}}, "not a column"),
        (
            {"cards": {"file": "a.csv", "columns": {"card_id": "a"}}},
            "required columns not mapped: person_id",
        ),
        (
            {"cards": {"columns": {"card_id": "a", "person_id": "b"}}},
            "exactly one of 'file' and 'derive_from'",
        ),
        (
            {"cards": {"file": "a", "where": "x", "columns": {"card_id": "a", "person_id": "b"}}},
            "only for derived",
        ),
        (
            {
                "cards": {
                    "file": "a",
                    "columns": {"card_id": {"pad": 0, "source": "a"}, "person_id": "b"},
                }
            },
            "'pad' must be",
        ),
        (
            {
                "cards": {
                    "file": "a",
                    "columns": {"card_id": {"source": "a", "value": 1}, "person_id": "b"},
                }
            },
            "exactly one of 'source'",
        ),
        (
            {
                "cards": {
                    "file": "a",
                    "columns": {"card_id": {"source": "a", "colour": 1}, "person_id": "b"},
                }
            },
            "unknown keys",
        ),
        (
            {"cards": {"derive_from": "claims", "columns": {"card_id": "a", "person_id": "b"}}},
            "derive_from 'claims'",
        ),
    ],
)
def test_bad_mappings_are_refused_with_the_place(tables, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping({"tables": tables}, Path("my.yaml"))


# -- column specs on a small export -----------------------------------------------------

MAPPING = {
    "name": "mini",
    "tables": {
        "persons": {
            "file": "人员*.csv",
            "columns": {
                "person_id": {"source": ["个人编号", "人员编号"], "pad": 6},
                "name": "姓名",
                "gender": {"source": "性别", "map": {"1": "M", "2": "F"}, "default": None},
                "birth_date": {"source": "出生日期", "format": ["%Y%m%d", "%Y/%m/%d"]},
                "insurance_type": {"value": "resident"},
                "phone": "联系电话",
            },
        },
        "claims": {
            "file": ["结算_*.csv"],
            "columns": {
                "claim_id": "结算ID",
                "person_id": {"source": "人员编号", "pad": 6},
                "provider_id": "机构编码",
                "visit_type": {
                    "source": "医疗类别",
                    "map": {"11": "outpatient", "21": "inpatient"},
                },
                "start_time": {
                    "expr": 'coalesce("入院时间", "结算时间")',
                    "format": "%Y%m%d%H%M%S",
                },
                "total_amount": {"expr": 'CAST(TRY_CAST("总费用分" AS BIGINT) / 100 AS VARCHAR)'},
                "fund_amount": "基金支付",
                "terminal_id": "终端",
            },
        },
        "cards": {
            "derive_from": "claims",
            "key": "card_id",
            "columns": {"card_id": "卡号", "person_id": {"source": "人员编号", "pad": 6}},
        },
        "institutions": {
            "derive_from": "claims",
            "key": "institution_id",
            "where": "\"机构编码\" LIKE 'H%'",
            "columns": {
                "institution_id": "机构编码",
                "name": "机构名称",
                "level": {"value": "unrated"},
            },
        },
        "pharmacies": {
            "derive_from": "claims",
            "key": "pharmacy_id",
            "where": "\"机构编码\" LIKE 'P%'",
            "columns": {"pharmacy_id": "机构编码", "name": "机构名称"},
        },
        "doctors": {
            "derive_from": "claims",
            "key": "doctor_id",
            "columns": {"doctor_id": "医师", "institution_id": "机构编码"},
        },
    },
}

PERSONS = (
    "个人编号,姓名,性别,出生日期,联系电话\n"
    "42,张三,1,19800102,13800138000\n43,李四,9,1981/2/3,\n44,王五,2,19811340,\n"
)
CLAIMS_1 = (
    "结算ID,人员编号,卡号,机构编码,机构名称,医师,医疗类别,入院时间,结算时间,总费用分,基金支付,终端\n"
    "S1,42,K42,H1,医院一,D1,11,,20250103093012,12345,100,T1\n"
    "S2,43,K43,P9,药店九,D2,21,20250104080000,20250110120000,5000,10,T2\n"
)
CLAIMS_2 = (
    "结算ID,人员编号,卡号,机构编码,机构名称,医师,医疗类别,入院时间,结算时间,总费用分,基金支付,终端\n"
    "S3,42,K42,H1,医院一,D1,99,,20250105093012,100,0,T1\n"
    "S4,42,K42,H1,医院一,D1,11,,2025/13/45,100,0,T1\n"
    "S5,45,K45,H1,医院一,D1,11,,20250105093012,100,0,T1\n"
)


def mini_export(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "人员信息.csv").write_bytes(PERSONS.encode("gb18030"))
    (folder / "结算_202501.csv").write_bytes(CLAIMS_1.encode("gb18030"))
    (folder / "结算_202502.csv").write_bytes(CLAIMS_2.encode("gb18030"))
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(MAPPING, allow_unicode=True), encoding="utf-8")
    return folder, path


def test_column_specs_and_derived_tables(con, tmp_path):
    folder, mapping = mini_export(tmp_path)
    report = run(con, folder, mapping, tmp_path, encoding="gb18030")
    persons = con.execute(
        "SELECT person_id, gender, birth_date::VARCHAR, insurance_type FROM persons ORDER BY 1"
    ).fetchall()
    assert persons == [
        ("000042", "M", "1980-01-02", "resident"),
        ("000043", None, "1981-02-03", "resident"),  # 9: not in the map, default null
    ]
    p = report.table("persons")
    assert p is not None and p.examples == [
        "人员信息.csv:4 column 'birth_date' (出生日期): bad date '19811340' (expected YYYY-MM-DD)"
    ]
    claims = con.execute(
        "SELECT claim_id, person_id, visit_type, start_time::VARCHAR, total_amount::VARCHAR "
        "FROM claims ORDER BY 1"
    ).fetchall()
    assert claims == [
        ("S1", "000042", "outpatient", "2025-01-03 09:30:12", "123.45"),
        ("S2", "000043", "inpatient", "2025-01-04 08:00:00", "50.00"),
    ]
    c = report.table("claims")
    assert c is not None and (c.read, c.loaded, c.rejected) == (5, 2, 3)
    assert c.source == "结算_202501.csv, 结算_202502.csv"
    rows = quarantine(tmp_path / "quarantine" / "claims.csv")
    assert [(r["file"], r["line"], r["kind"]) for r in rows] == [
        ("结算_202502.csv", "2", "bad_enum"),
        ("结算_202502.csv", "3", "bad_datetime"),
        ("结算_202502.csv", "4", "unknown_ref"),
    ]
    assert rows[0]["reason"].startswith(
        "结算_202502.csv:2 column 'visit_type' (医疗类别): bad value '99' (expected"
    )
    assert "bad datetime '2025/13/45'" in rows[1]["reason"]  # raw text kept, never NULL
    # derived tables: distinct keys, first row wins, where filters
    assert con.execute("SELECT institution_id FROM institutions").fetchall() == [("H1",)]
    assert con.execute("SELECT pharmacy_id, name FROM pharmacies").fetchall() == [("P9", "药店九")]
    cards = report.table("cards")
    assert cards is not None and (cards.read, cards.loaded) == (3, 2)  # K45: unknown person
    assert cards.derived_from == "claims" and cards.source.endswith("(distinct card_id)")
    assert report.table("doctors").read == 2  # type: ignore[union-attr]


def test_missing_source_columns(con, tmp_path):
    folder, mapping = mini_export(tmp_path)
    (folder / "人员信息.csv").write_bytes(PERSONS.replace("联系电话", "电话").encode("gb18030"))
    report = run(con, folder, mapping, tmp_path)
    assert any(
        "人员信息.csv: mapped columns not in the header, left empty: phone (联系电话)" in w
        for w in report.warnings
    )
    (folder / "结算_202502.csv").write_bytes(CLAIMS_2.replace("结算ID", "流水号").encode("gb18030"))
    with pytest.raises(InputError) as exc:
        run(con, folder, mapping, tmp_path)
    assert str(exc.value).startswith("结算_202502.csv column '结算ID': source column missing")


def test_expression_errors_are_mapping_errors(con, tmp_path):
    folder, _ = mini_export(tmp_path)
    bad = {**MAPPING, "tables": {**MAPPING["tables"]}}
    bad["tables"]["claims"] = {
        **MAPPING["tables"]["claims"],
        "columns": {
            **MAPPING["tables"]["claims"]["columns"],
            "terminal_id": {"expr": '"nope" || 1'},
        },
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MappingError, match="mapping mini: table claims"):
        run(con, folder, path, tmp_path)


def test_required_table_with_no_matching_file(con, tmp_path):
    folder, mapping = mini_export(tmp_path)
    for f in folder.glob("结算_*.csv"):
        f.unlink()
    with pytest.raises(
        InputError, match=r"claims \(no file matches 结算_\*.csv, and no claims.csv"
    ):
        run(con, folder, mapping, tmp_path)


# -- the shipped cn_fsi mapping on its GB18030 sample -----------------------------------


def test_cn_sample_is_reproducible(tmp_path):
    subprocess.run([sys.executable, str(SAMPLE / "make_sample.py"), str(tmp_path)], check=True)
    made = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert made == sorted(p.name for p in SAMPLE.glob("*.csv"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_cn_fsi_sample_loads_with_the_expected_quarantine(con, tmp_path):
    report = run(con, SAMPLE, "cn_fsi", tmp_path)
    got = {t.table: (t.read, t.loaded, t.rejected) for t in report.tables}
    assert got == {
        "persons": (13, 12, 1),
        "cards": (13, 12, 1),
        "institutions": (3, 3, 0),
        "pharmacies": (1, 1, 0),
        "doctors": (5, 5, 0),
        "claims": (86, 78, 8),
        "claim_items": (235, 219, 16),
    }
    assert all(t.encoding == "gb18030" for t in report.tables)
    claims = report.table("claims")
    assert claims is not None and claims.reasons == {
        "unknown_ref": 2,
        "bad_datetime": 1,
        "bad_enum": 1,
        "bad_row": 1,
        "duplicate_key": 1,
        "fund_gt_total": 1,
        "negative_amount": 1,
    }
    rows = quarantine(tmp_path / "quarantine" / "claims.csv")
    assert [(r["line"], r["kind"]) for r in rows] == [
        ("12", "bad_enum"),
        ("22", "bad_datetime"),
        ("32", "fund_gt_total"),
        ("42", "unknown_ref"),
        ("43", "negative_amount"),
        ("62", "bad_row"),
        ("86", "unknown_ref"),
        ("87", "duplicate_key"),
    ]
    persons = quarantine(tmp_path / "quarantine" / "persons.csv")
    assert persons[0]["line"] == "15"  # one address above spans two lines
    assert persons[0]["reason"] == (
        "参保人员信息.csv:15 column 'id_number' (证件号码): invalid id_number check digit"
    )
    assert persons[0]["name"].startswith("nm_") and persons[0]["phone"].startswith("ph_")
    # codes mapped, mixed time formats parsed, leading zeros kept
    kinds = dict(con.execute("SELECT visit_type, count(*) FROM claims GROUP BY 1").fetchall())
    assert set(kinds) == {"outpatient", "chronic_outpatient", "inpatient", "pharmacy"}
    levels = con.execute("SELECT level, ownership FROM institutions ORDER BY 1").fetchall()
    assert levels == [("clinic", "private"), ("primary", "public"), ("tertiary", "public")]
    assert con.execute(
        "SELECT count(*) FROM claims WHERE visit_type = 'inpatient' AND end_time IS NULL"
    ).fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM persons WHERE death_date IS NOT NULL").fetchall() == [
        (1,)
    ]


# -- the shipped hpfd_inpatient mapping on the real public sample -----------------------


@pytest.mark.skipif(not HPFD_FILE.is_file(), reason="HPFD sample not present in shared/")
def test_hpfd_inpatient_on_the_real_sample(con, tmp_path):
    report = run(con, HPFD, "hpfd_inpatient", tmp_path)
    got = {t.table: (t.read, t.loaded, t.rejected) for t in report.tables}
    assert all(t.reconciled for t in report.tables)
    assert got["claims"] == (9551, 9551, 0)  # every claim loads: nothing is rejected
    assert got["persons"] == (8351, 8351, 0)
    assert got["institutions"] == (520, 520, 0)
    assert got["cards"][1] == 8351 and got["doctors"][2] == 0
    (row,) = con.execute(
        "SELECT count(*) FILTER (WHERE end_time < start_time), "
        "count(*) FILTER (WHERE fund_amount > total_amount), "
        "count(*) FILTER (WHERE diagnosis_code = '042'), "
        "count(*) FILTER (WHERE regexp_full_match(diagnosis_code, '[0-9]{1,2}')) FROM claims"
    ).fetchall()
    assert row[0] == 0 and row[1] == 0 and row[2] > 0 and row[3] == 0  # 42 padded to 042
