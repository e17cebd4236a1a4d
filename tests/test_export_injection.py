"""Injection (issue 7, part 4): hostile ids and names are stored and exported inert.

The tiny hand-made city of ``tests/test_export_data.py`` with its ids and names
replaced by Cypher fragments, quotes, backticks, spreadsheet formulas, HTML and
terminal markup. Loaded by the real loader, its leads are exported in every format
and shown on the terminal through the console-script entry. Then:

- the workspace holds every value exactly as read;
- xlsx: no cell is a formula (openpyxl ``data_type`` is never ``"f"``); a text that
  starts with ``=``, ``+``, ``-`` or ``@`` is written with a leading apostrophe;
- csv: the same escaping, cell by cell;
- JSON: every value unchanged;
- HTML (packet and report): no raw tag from the data;
- terminal: markup in the data is printed as text (no crash, no styling);
- Neo4j: the writers send values as parameters only; no value is ever part of the
  query text (checked with a recording stand-in for the driver).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfinder.export.xlsx import safe_text
from ringfinder.findings import Finding
from tests.test_bad_input import cli
from tests.test_export_data import findings, make_source

# canonical id or name in the tiny city -> hostile value
HOSTILE = {
    "P0001": "P1'}) DETACH DELETE n //",
    "P0002": 'P2"}) MATCH (m) DETACH DELETE m RETURN "',
    "P0003": "P3`) DETACH DELETE n //`",
    "K0001": "=cmd|' /C calc'!A0",
    "K0002": "+1",
    "C00001": "-1",
    "C00002": "@SUM(1+1)",
    "C00003": "=1+1",
    "D0001": "[/]D1[bold red]",
    "H33010200001": "H1`; DROP TABLE claims; --",
    "阳光医院": "<script>alert(1)</script>[red]阳光医院 ${x} {{x}}",
    "床位费": "@SUM(A1:A9)",
    "T1": "-2+3",
    "INV000101": '=HYPERLINK("http://evil.example","x")',
}
FORMULA_START = ("=", "+", "-", "@")


def rewrite(folder: Path) -> None:
    """Replace whole cell values of every table (never parts of other values)."""
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([[HOSTILE.get(v, v) for v in row] for row in rows])


def _m(values: set[str]) -> set[str]:
    return {HOSTILE.get(v, v) for v in values}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, list[Any]]]:
    from ringfinder import triage
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.leads import build_leads
    from ringfinder.load import LoadOptions, load_folder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        root = tmp_path_factory.mktemp("hostile")
        source = make_source(root / "source")
        rewrite(source)
        ws = root / "workspace"
        with EmbeddedEngine(ws) as engine:
            report = load_folder(engine.con, source, LoadOptions())
            assert report.rejected == 0, [t.examples for t in report.tables]
            found = [
                Finding(
                    f.pattern,
                    f.strength,
                    **{
                        k: _m(getattr(f, k))
                        for k in ("persons", "cards", "doctors", "institutions", "claims")
                    },
                    reasons=f.reasons,
                )
                for f in findings(engine)
            ]
            leads = build_leads(found, engine)
            triage.record_run(engine.con, leads)
        yield source, ws, leads


@pytest.fixture(scope="module")
def packets(hostile, tmp_path_factory) -> Path:  # noqa: ANN001
    _, ws, leads = hostile
    out = tmp_path_factory.mktemp("hostile-packets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        code, _, err = cli(
            "export",
            *[lead.lead_id for lead in leads],
            "--workspace",
            str(ws),
            "--out",
            str(out),
            "--format",
            "all",
        )
    assert code == 0, err
    return out


def test_hostile_values_are_stored_exactly(hostile) -> None:  # noqa: ANN001
    import duckdb

    _, ws, leads = hostile
    with duckdb.connect(str(ws / "ringfinder.duckdb"), read_only=True) as con:
        for table, col, value in (
            ("persons", "person_id", HOSTILE["P0001"]),
            ("persons", "person_id", HOSTILE["P0002"]),
            ("cards", "card_id", HOSTILE["K0001"]),
            ("claims", "claim_id", HOSTILE["C00002"]),
            ("doctors", "doctor_id", HOSTILE["D0001"]),
            ("institutions", "name", HOSTILE["阳光医院"]),
            ("claim_items", "item_name", HOSTILE["床位费"]),
            ("invoices", "invoice_id", HOSTILE["INV000101"]),
        ):
            n = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{col}" = ?', [value])
            assert n.fetchone() == (1,) or table == "claim_items", (table, value)
        assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 20  # type: ignore[index]
    assert HOSTILE["P0001"] in leads[0].members["persons"]


def _cells(folder: Path) -> list[Any]:
    from openpyxl import load_workbook

    cells = []
    for path in folder.rglob("*.xlsx"):
        wb = load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                cells += row
    return cells


def test_xlsx_has_no_formula_and_hostile_text_is_escaped(packets: Path) -> None:
    cells = _cells(packets)
    assert cells
    bad = [c.coordinate for c in cells if c.data_type == "f"]
    assert not bad, bad
    texts = {c.value for c in cells if isinstance(c.value, str)}
    for value in HOSTILE.values():
        if value.startswith(FORMULA_START):
            assert value not in texts
    seen = {v for v in HOSTILE.values() if safe_text(v) in texts}
    # the hostile ids of the members and evidence are in the workbooks, escaped
    for key in ("P0001", "P0002", "K0001", "C00001", "C00002", "C00003", "D0001"):
        assert HOSTILE[key] in seen, key
    assert not [t for t in texts if t.startswith(FORMULA_START)]


def test_csv_cells_are_escaped(packets: Path) -> None:
    cells = []
    for path in packets.rglob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        cells += [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    assert cells
    assert not [c for c in cells if c.startswith(FORMULA_START)], "a formula in a csv cell"
    for key in ("P0001", "K0001", "K0002", "C00001", "C00002", "C00003", "T1"):
        assert safe_text(HOSTILE[key]) in cells, key


def test_json_keeps_values_unchanged(packets: Path) -> None:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in packets.glob("*/*.json")]
    docs = [d for d in docs if d.get("format") == "ringfinder-case-packet"]
    assert docs
    strings: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                strings.add(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str):
            strings.add(x)

    for d in docs:
        walk(d)
    for key in ("P0001", "P0002", "P0003", "K0001", "C00001", "C00002", "C00003", "D0001"):
        assert HOSTILE[key] in strings, key
    assert not {safe_text(v) for v in HOSTILE.values() if v.startswith("=")} & strings


def test_html_has_no_raw_tag_from_the_data(hostile, packets: Path, tmp_path: Path) -> None:  # noqa: ANN001
    _, ws, _ = hostile
    report = tmp_path / "report.html"
    code, _, err = cli("report", "--workspace", str(ws), "--out", str(report))
    assert code == 0, err
    shown = 0
    for path in [report, *packets.glob("*/*.html")]:
        html = path.read_text(encoding="utf-8")
        assert "<script>alert(1)" not in html, path
        shown += "&lt;script&gt;alert(1)" in html or "\\u003cscript\\u003ealert(1)" in html
    assert shown >= 2  # the report and the packet of the lead at that hospital


def test_terminal_prints_markup_from_the_data_as_text(hostile) -> None:  # noqa: ANN001
    _, ws, leads = hostile
    code, out, err = cli("leads", "list", "--workspace", str(ws))
    assert code == 0, err
    code, out, err = cli("leads", "show", leads[0].lead_id, "--workspace", str(ws))
    assert code == 0, err
    assert HOSTILE["D0001"] in out  # printed, not read as markup
    assert "[red]阳光医院" in out or "阳光医院" not in out


# -- Neo4j: parameters only -------------------------------------------------------------


class _Recorder:
    """A stand-in Neo4j driver that records every statement and its parameters."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute_query(self, stmt: str, **params: Any) -> tuple[list[Any], None, None]:
        self.calls.append((stmt, params))
        return [{"n": 0}], None, None

    def run(self, stmt: str, **params: Any) -> _Recorder:
        self.calls.append((stmt, params))
        return self

    def consume(self) -> None:
        return None

    def session(self, **_: Any) -> _Recorder:
        return self

    def execute_write(self, work: Any) -> None:
        work(self)

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_neo4j_writers_send_values_only_as_parameters(hostile) -> None:  # noqa: ANN001
    import duckdb

    from ringfinder.neo4j.writeback import write_leads
    from ringfinder.neo4j.writer import GraphWriter

    _, ws, leads = hostile
    rec = _Recorder()
    with duckdb.connect(str(ws / "ringfinder.duckdb")) as con:
        GraphWriter(rec, con, batch_rows=7).write_all()
    write_leads(rec, "neo4j", leads)
    statements = [s for s, _ in rec.calls]
    params = json.dumps([p for _, p in rec.calls], ensure_ascii=False, default=str)
    assert statements and len(rec.calls) > 10
    for value in HOSTILE.values():
        assert not [s for s in statements if value in s], value
    for key in ("P0001", "P0002", "P0003", "K0001", "D0001", "H33010200001"):
        assert json.dumps(HOSTILE[key], ensure_ascii=False)[1:-1] in params, key
