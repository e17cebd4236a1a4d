"""A tiny hand-made city for the triage, export and report tests.

``make_source(folder)`` writes canonical CSV tables with known names, ID numbers and
phones (the raw PII the tests look for); ``make_workspace(ws, source)`` loads them
into a workspace (with the real loader when it exists, else a stand-in that
pseudonymises the same columns with a keyed hash), builds two leads from hand-made
findings and records the run in the lead store.

Ring A: six persons admitted together to 阳光医院 on three days (one after her
death, one on another person's lost card). Ring B: four claimants whose window
reimbursements were brought by one agent (another person's phone and bank account),
with consecutively numbered invoices from an out-of-area issuer and no referral.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ringfinder import i18n
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason
from ringfinder.leads import Lead, build_leads
from ringfinder.schema import TABLES

i18n.register(
    {
        "test.co_admission": {
            "zh": "{persons}人在{days}个不同日期同日入住同一医院",
            "en": "{persons} persons admitted together on {days} separate days",
        },
        "test.fake_invoice": {
            "zh": "同一代办人为{households}户报销{n}笔",
            "en": "one agent handled {n} reimbursements for {households} households",
        },
    }
)

NAMES = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄勇",
    "周杰",
    "吴霞",
    "徐强",
    "孙丽",
]
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(region: str, born: date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def person_rows() -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(NAMES, 1):
        born = date(1950 + i, i, 10 + i)
        rows.append(
            {
                "person_id": f"P{i:04d}",
                "name": name,
                "id_number": id_number("330102", born, 100 + i),
                "gender": "M" if i % 2 else "F",
                "birth_date": born.isoformat(),
                "phone": f"1380571{i:04d}",
                "address": f"杭州市上城区清河坊{i}号",
                "region_code": "330102",
                "insurance_type": "resident",
                "employer_id": "",
                "bank_account": f"6222020200{i:08d}",
                "death_date": "2024-03-01" if i == 5 else "",
            }
        )
    return rows


RAW_PII = (
    [p["name"] for p in person_rows()]
    + [p["phone"] for p in person_rows()]
    + [p["id_number"] for p in person_rows()]
    + ["王大夫", "13900001111", "李医生"]
)


def _write(folder: Path, table: str, rows: list[dict[str, Any]]) -> None:
    cols = TABLES[table].column_names
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})


def make_source(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    persons = person_rows()
    _write(folder, "persons", persons)
    cards = [
        {
            "card_id": f"K{i:04d}",
            "person_id": f"P{i:04d}",
            "issued_date": "2020-01-01",
            "status": "lost" if i == 3 else "active",
            "status_date": "2024-02-01" if i == 3 else "",
        }
        for i in range(1, 13)
    ]
    _write(folder, "cards", cards)
    _write(
        folder,
        "institutions",
        [
            {
                "institution_id": "H33010200001",
                "name": "阳光医院",
                "level": "secondary",
                "ownership": "private",
                "region_code": "330102",
            },
            {
                "institution_id": "H33010200002",
                "name": '=HYPERLINK("http://x","仁和诊所")',
                "level": "clinic",
                "ownership": "private",
                "region_code": "330102",
            },
            {
                "institution_id": "H33010200003",
                "name": "市第一人民医院",
                "level": "tertiary",
                "ownership": "public",
                "region_code": "330102",
            },
        ],
    )
    _write(
        folder,
        "pharmacies",
        [{"pharmacy_id": "P33010200001", "name": "百姓大药房", "region_code": "330102"}],
    )
    _write(
        folder,
        "doctors",
        [
            {
                "doctor_id": "D0001",
                "name": "王大夫",
                "institution_id": "H33010200001",
                "department": "内科",
                "title": "主治医师",
                "phone": "13900001111",
            },
            {
                "doctor_id": "D0002",
                "name": "李医生",
                "institution_id": "H33010200003",
                "department": "外科",
                "title": "主任医师",
                "phone": "13900002222",
            },
        ],
    )
    claims = []
    n = 0
    for day in (date(2024, 1, 10), date(2024, 2, 14), date(2024, 3, 20)):
        for i in range(1, 7):
            n += 1
            start = datetime(day.year, day.month, day.day, 9, i)
            card = f"K{i:04d}"
            if i == 2 and day.month == 3:
                card = "K0003"  # another person's (lost) card
            claims.append(
                {
                    "claim_id": f"C{n:05d}",
                    "person_id": f"P{i:04d}",
                    "card_id": card,
                    "provider_id": "H33010200001",
                    "doctor_id": "D0001",
                    "visit_type": "inpatient",
                    "start_time": start.strftime("%Y-%m-%d %H:%M:%S"),
                    "end_time": (start + timedelta(days=5)).strftime("%Y-%m-%d %H:%M:%S"),
                    "diagnosis_code": "+J18.9" if n == 1 else "J18.9",
                    "total_amount": f"{3000 + 10 * n}.50",
                    "fund_amount": f"{2400 + 8 * n}.00",
                    "terminal_id": "T1",
                }
            )
    # readmission of P0001 within 15 days of the first discharge
    claims.append(
        {
            "claim_id": "C09001",
            "person_id": "P0001",
            "card_id": "K0001",
            "provider_id": "H33010200001",
            "doctor_id": "D0001",
            "visit_type": "inpatient",
            "start_time": "2024-01-20 10:00:00",
            "end_time": "2024-01-24 10:00:00",
            "diagnosis_code": "J18.9",
            "total_amount": "2500.00",
            "fund_amount": "2000.00",
            "terminal_id": "T1",
        }
    )
    # an honest outpatient visit (not evidence)
    claims.append(
        {
            "claim_id": "C09100",
            "person_id": "P0012",
            "card_id": "K0012",
            "provider_id": "H33010200003",
            "doctor_id": "D0002",
            "visit_type": "outpatient",
            "start_time": "2024-02-02 08:00:00",
            "end_time": "",
            "diagnosis_code": "I10",
            "total_amount": "120.00",
            "fund_amount": "60.00",
            "terminal_id": "T9",
        }
    )
    _write(folder, "claims", claims)
    _write(
        folder,
        "claim_items",
        [
            {
                "claim_id": c["claim_id"],
                "item_code": "X001",
                "item_name": "床位费",
                "item_kind": "bed",
                "quantity": "5",
                "amount": "500.00",
            }
            for c in claims[:6]
        ],
    )
    agent_phone = persons[10]["phone"]  # P0011's own phone and account
    agent_account = persons[10]["bank_account"]
    reimbursements, invoices = [], []
    for j, i in enumerate(range(7, 11)):
        rid = f"R{j + 1:04d}"
        reimbursements.append(
            {
                "reimbursement_id": rid,
                "person_id": f"P{i:04d}",
                "submitted_date": f"2024-0{j + 4}-15",
                "amount_claimed": f"{12000 + j}.00",
                "amount_paid": f"{9000 + j}.00",
                "handler_id": "HD01",
                "submitter_phone": agent_phone,
                "payee_account": agent_account,
            }
        )
        invoices.append(
            {
                "invoice_id": f"INV{101 + j:06d}",
                "reimbursement_id": rid,
                "issuer_id": "H99000000009",
                "issue_date": f"2024-0{j + 3}-20",
                "amount": f"{12000 + j}.00",
                "visit_type": "inpatient",
                "diagnosis_code": "C34",
            }
        )
    _write(folder, "reimbursements", reimbursements)
    _write(folder, "invoices", invoices)
    _write(
        folder,
        "referrals",
        [
            {
                "referral_id": "F0001",
                "person_id": "P0001",
                "from_provider_id": "H33010200001",
                "to_provider_id": "H33010200002",
                "referral_date": "2024-01-25",
                "doctor_id": "D0002",
                "diagnosis_code": "J18.9",
            },
        ],
    )
    return folder


def _key() -> bytes:
    return os.environ["RINGFINDER_KEY"].encode()


def pseudonym(column: str, value: str) -> str | None:
    """The loader's pseudonym of a raw value (its own function, with the test key)."""
    from ringfinder.load.pseudonym import kind_of
    from ringfinder.load.pseudonym import pseudonym as make

    return make(value, kind_of(column), _key())


def stand_in_loader(con: Any, folder: Path, options: Any) -> None:
    """What the real loader does, as far as these tests need: CSV in, PII pseudonymised."""
    for name in (
        "persons",
        "cards",
        "institutions",
        "pharmacies",
        "doctors",
        "claims",
        "claim_items",
        "reimbursements",
        "invoices",
        "referrals",
    ):
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        table = TABLES[name]
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        cols = table.column_names
        for r in rows:
            vals = []
            for c in cols:
                v = r.get(c) or None
                if v is not None and table.column(c).pii and getattr(options, "pseudonymise", True):
                    v = pseudonym(c, v)
                vals.append(v)
            ph = ", ".join("?" for _ in cols)  # noqa: S608
            extra = ", ''" if "_row_hash" in table.key else ""
            con.execute(f'INSERT INTO "{name}" VALUES ({ph}{extra})', vals)
    raw = not getattr(options, "pseudonymise", True)
    con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT OR REPLACE INTO _meta VALUES ('pii_mode', ?)", ["raw" if raw else "pseudonymised"]
    )


def real_loader_available() -> bool:
    from ringfinder.load import load_folder

    con = EmbeddedEngine(None)
    try:
        load_folder(con.con, Path("/nonexistent-ringfinder-probe"))
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - any other error means the loader is real
        return True
    finally:
        con.close()
    return True


def loader() -> Any:
    if real_loader_available():
        from ringfinder.load import load_folder

        return load_folder
    return stand_in_loader


def findings(engine: EmbeddedEngine) -> list[Finding]:
    ring_a = Finding(
        "co_admission",
        0.92,
        persons={f"P{i:04d}" for i in range(1, 7)},
        institutions={"H33010200001"},
        doctors={"D0001"},
        claims={f"C{n:05d}" for n in range(1, 19)} | {"C09001"},
        reasons=[Reason("test.co_admission", {"persons": 6, "days": 3})],
    )
    ring_b = Finding(
        "fake_invoice",
        0.81,
        persons={f"P{i:04d}" for i in range(7, 12)},
        institutions={"H99000000009"},
        claims={f"R{j:04d}" for j in range(1, 5)},
        reasons=[Reason("test.fake_invoice", {"households": 4, "n": 4})],
    )
    small = Finding(
        "shared_card",
        0.3,
        persons={"P0012"},
        claims={"C09100"},
        reasons=[Reason("test.co_admission", {"persons": 1, "days": 1})],
    )
    return [ring_a, ring_b, small]


def make_workspace(ws: Path, source: Path) -> list[Lead]:
    from ringfinder import triage
    from ringfinder.load import LoadOptions

    with EmbeddedEngine(ws) as engine:
        loader()(engine.con, source, LoadOptions(quarantine_dir=ws / "quarantine"))
        leads = build_leads(findings(engine), engine)
        triage.record_run(engine.con, leads)
    return leads


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, list[Lead]]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        root = tmp_path_factory.mktemp("tiny")
        source = make_source(root / "source")
        ws = root / "out" / "workspace"
        leads = make_workspace(ws, source)
    yield source, ws, leads


def test_the_tiny_city_gives_three_leads(city: tuple[Path, Path, list[Lead]]) -> None:
    _, ws, leads = city
    assert [lead.pattern for lead in leads] == ["co_admission", "fake_invoice", "shared_card"]
    a, b, _ = leads
    expected_a = sum(Decimal(f"{3000 + 10 * n}.50") for n in range(1, 19)) + Decimal("2500.00")
    assert Decimal(a.amount_total) == expected_a
    assert Decimal(b.amount_total) == sum(Decimal(f"{12000 + j}.00") for j in range(4))
    with EmbeddedEngine(ws) as engine:
        names = [r[0] for r in engine.con.execute("SELECT name FROM persons").fetchall()]
    assert not set(names) & set(NAMES), "the workspace holds pseudonyms only"


def make_raw_workspace(ws: Path, source: Path) -> list[Lead]:
    """The same city loaded WITHOUT pseudonymisation (``--no-pseudonymise``)."""
    from ringfinder import triage
    from ringfinder.load import LoadOptions

    with EmbeddedEngine(ws) as engine:
        loader()(
            engine.con,
            source,
            LoadOptions(pseudonymise=False, quarantine_dir=ws / "quarantine"),
        )
        leads = build_leads(findings(engine), engine)
        triage.record_run(engine.con, leads)
    return leads
