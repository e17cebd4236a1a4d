"""Case packets: every format, totals, hashes, CJK text, injection, identities, audit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ringfinder.cli import export_cmd
from ringfinder.errors import ConfigError
from ringfinder.export import ExportOptions, export_leads, verify_packet
from ringfinder.export.audit import read_entries, verify_chain
from ringfinder.export.manifest import sha256_file
from ringfinder.export.xlsx import safe_text
from ringfinder.leads import Lead
from tests.test_export_data import NAMES, RAW_PII, city, loader, make_raw_workspace  # noqa: F401 - fixture

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if CI:
            pytest.fail(f"{tool} missing in CI: scripts/setup-system installs it")
        pytest.skip(f"{tool} not installed (scripts/setup-system installs it)")
    return path


@pytest.fixture(scope="module")
def packets(city, tmp_path_factory):  # noqa: ANN001, ANN201, F811
    _, ws, leads = city
    out = tmp_path_factory.mktemp("packets")
    made = export_leads(
        ws,
        [lead.lead_id for lead in leads],
        out,
        ExportOptions(formats=("xlsx", "pdf", "html", "json", "csv"), lang="zh"),
    )
    return out, made, leads


def test_every_format_and_a_manifest_that_verifies(packets) -> None:  # noqa: ANN001
    out, made, leads = packets
    assert [p.lead_id for p in made] == [lead.lead_id for lead in leads]
    for p in made:
        names = {x.name for x in p.folder.iterdir()}
        stem = p.lead_id
        assert {
            f"{stem}.xlsx",
            f"{stem}.pdf",
            f"{stem}.html",
            f"{stem}.json",
            "network.png",
            "timeline.png",
            "manifest.json",
            "SHA256SUMS",
            "csv",
        } <= names
        res = verify_packet(p.folder)
        assert res.ok and res.checked == len(p.files) > 10
    assert not [x for x in out.iterdir() if x.name.startswith(".")], "no partial folders left"
    sums = made[0].folder / "SHA256SUMS"
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", "--quiet", sums.name],
            cwd=sums.parent,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_verify_finds_changed_missing_and_extra_files(packets, tmp_path: Path) -> None:  # noqa: ANN001
    _, made, _ = packets
    copy = tmp_path / made[1].lead_id
    shutil.copytree(made[1].folder, copy)
    (copy / "timeline.png").write_bytes(b"not the picture")
    (copy / f"{made[1].lead_id}.json").unlink()
    (copy / "note.txt").write_text("added later")
    res = verify_packet(copy)
    assert not res.ok
    assert (res.changed, res.missing, res.extra) == (
        ["timeline.png"],
        [f"{made[1].lead_id}.json"],
        ["note.txt"],
    )
    app = typer.Typer()
    app.command("verify")(export_cmd.verify)
    app.command("other")(lambda: None)
    runner = CliRunner()
    bad = runner.invoke(app, ["verify", str(tmp_path)])
    assert isinstance(bad.exception, export_cmd.PacketCheckFailed)
    good = runner.invoke(app, ["verify", str(made[0].folder.parent), "--json"])
    assert good.exit_code == 0 and all(r["ok"] for r in json.loads(good.stdout))


def test_xlsx_opens_and_its_totals_equal_the_leads_money(packets) -> None:  # noqa: ANN001
    from openpyxl import load_workbook

    _, made, leads = packets
    for p, lead in zip(made, leads, strict=True):
        wb = load_workbook(p.folder / f"{p.lead_id}.xlsx")
        assert wb.sheetnames[:4] == ["概要", "理由", "证据性质", "成员"]
        named = {}
        for name in ("amount_total", "fund_amount"):
            ((sheet, ref),) = list(wb.defined_names[name].destinations)
            named[name] = Decimal(str(wb[sheet][ref.replace("$", "")].value))
        assert named == {
            "amount_total": Decimal(lead.amount_total),
            "fund_amount": Decimal(lead.fund_amount),
        }

        def total(sheet: str, col: int, wb=wb) -> Decimal:  # noqa: ANN001
            rows = list(wb[sheet].iter_rows(values_only=True))
            assert rows[-1][0] == "合计" or len(rows) == 1
            body = sum((Decimal(str(r[col])) for r in rows[1:-1] if r[col] is not None), Decimal(0))
            if len(rows) > 1:
                assert Decimal(str(rows[-1][col])).quantize(Decimal("0.01")) == body
            return body

        claims_total = total("结算记录", 11)
        claims_fund = total("结算记录", 12)
        claimed = total("手工报销", 3)
        paid = total("手工报销", 4)
        assert claims_total + claimed == Decimal(lead.amount_total)
        assert claims_fund + paid == Decimal(lead.fund_amount)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_formula_injection_is_escaped_in_xlsx_and_csv(packets) -> None:  # noqa: ANN001
    from openpyxl import load_workbook

    _, made, _ = packets
    folder = made[0].folder
    wb = load_workbook(folder / f"{made[0].lead_id}.xlsx")
    texts = [
        c.value
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]
    assert "'+J18.9" in texts  # a diagnosis code starting with +
    assert any(x.startswith("'=HYPERLINK(") for x in texts)  # an institution name
    csv_text = (folder / "csv" / "members.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" in csv_text and ",=HYPERLINK" not in csv_text
    assert "'+J18.9" in (folder / "csv" / "claims.csv").read_text(encoding="utf-8-sig")
    assert safe_text("-2+3") == "'-2+3" and safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("\tx") == "'\tx" and safe_text("正常") == "正常"


def test_pdf_chinese_text_is_extractable_and_the_font_embedded(packets) -> None:  # noqa: ANN001
    from pypdf import PdfReader

    _, made, leads = packets
    reader = PdfReader(made[0].folder / f"{made[0].lead_id}.pdf")
    text = "".join(page.extract_text() for page in reader.pages)
    for needle in ("线索概要", "涉案金额", "移送公安", leads[0].lead_id, "批量入院", "阳光医院"):
        assert needle in text, needle
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            desc = font.get_object().get("/FontDescriptor")
            if desc is not None:
                fonts.add(("/FontFile2" in desc.get_object(), str(font.get_object()["/BaseFont"])))
    assert fonts and all(embedded for embedded, _ in fonts), fonts


def test_pdf_renders_to_png(packets, tmp_path: Path) -> None:  # noqa: ANN001
    pdftoppm = need("pdftoppm")
    _, made, _ = packets
    pdf = made[0].folder / f"{made[0].lead_id}.pdf"
    subprocess.run(
        [pdftoppm, "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("page*.png")
    assert png.stat().st_size > 10_000
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        res = subprocess.run(
            [pdftotext, "-l", "1", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert "线索概要" in res.stdout


def _all_text(folder: Path) -> str:
    """Every byte of a packet as text, with xlsx parts unzipped and PDF text extracted."""
    from pypdf import PdfReader

    parts = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                parts += [zf.read(n).decode("utf-8", "replace") for n in zf.namelist()]
        elif path.suffix == ".pdf":
            parts.append("".join(p.extract_text() for p in PdfReader(path).pages))
            parts.append(path.read_bytes().decode("latin-1"))
        else:
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_no_raw_personal_data_without_reveal(packets) -> None:  # noqa: ANN001
    out, _, _ = packets
    text = _all_text(out)
    assert "阳光医院" in text and "P0001" in text  # the scan does see the content
    leaked = [v for v in RAW_PII if v in text]
    assert not leaked, leaked


def test_reveal_identities_needs_the_key_and_is_audited(city, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001, F811, E501
    source, ws, leads = city
    work = tmp_path / "ws"
    shutil.copytree(ws, work)
    opts = ExportOptions(
        formats=("xlsx", "pdf", "json"), reveal=True, source=source, loader=loader()
    )
    before = read_entries(work)
    # no key: refused, nothing written, nothing logged
    monkeypatch.delenv("RINGFINDER_KEY", raising=False)
    monkeypatch.setenv("RINGFINDER_KEY_FILE", str(tmp_path / "no-key-file"))
    with pytest.raises(ConfigError, match="key"):
        export_leads(work, [leads[1].lead_id], tmp_path / "nokey", opts)
    assert not (tmp_path / "nokey" / leads[1].lead_id).exists()
    assert not (tmp_path / "no-key-file").exists(), "revealing never creates a key"
    # another key: the real values do not give the workspace's pseudonyms
    monkeypatch.setenv("RINGFINDER_KEY", "another-key-fedcba9876543210")
    with pytest.raises(ConfigError, match="does not match|not the one this workspace"):
        export_leads(work, [leads[1].lead_id], tmp_path / "otherkey", opts)
    monkeypatch.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
    # without --source
    with pytest.raises(ConfigError, match="--source"):
        export_leads(work, [leads[1].lead_id], tmp_path / "x", ExportOptions(reveal=True))
    # a source folder that is not the workspace's data
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for f in source.iterdir():
        shutil.copy(f, wrong / f.name)
    lines = (wrong / "persons.csv").read_text(encoding="utf-8").splitlines()
    (wrong / "persons.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        export_leads(
            work,
            [leads[1].lead_id],
            tmp_path / "w",
            ExportOptions(reveal=True, source=wrong, loader=loader()),
        )
    assert read_entries(work) == before
    # the real thing
    made = export_leads(work, [leads[0].lead_id, leads[1].lead_id], tmp_path / "police", opts)
    entries = read_entries(work)
    assert len(entries) == len(before) + 1
    entry = entries[-1]
    assert entry["event"] == "export_reveal_identities"
    assert entry["leads"] == [leads[0].lead_id, leads[1].lead_id]
    assert entry["who"] and entry["when"] and entry["key_fingerprint"]
    assert entry["values_checked"] > 20  # real values re-pseudonymised, equal to the workspace
    for f in entry["files"]:
        assert sha256_file(tmp_path / "police" / f["path"]) == f["sha256"]
    assert verify_chain(work) == []
    text = _all_text(tmp_path / "police")
    for name in NAMES[:6] + NAMES[6:11]:
        assert name in text, name
    assert "13805710011" in text  # the agent's real phone
    assert all(verify_packet(p.folder).ok for p in made)
    doc = json.loads((made[1].folder / f"{made[1].lead_id}.json").read_text(encoding="utf-8"))
    assert doc["identities_revealed"] is True
    # a second export adds a second entry, chained to the first
    export_leads(work, [leads[2].lead_id], tmp_path / "police2", opts)
    assert len(read_entries(work)) == len(before) + 2 and verify_chain(work) == []
    # tampering with the log breaks the chain
    log = work / "audit.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    assert verify_chain(work)


def test_english_packet_and_re_export_replaces_atomically(city, tmp_path: Path) -> None:  # noqa: ANN001, F811, E501
    _, ws, leads = city
    out = tmp_path / "p"
    (first,) = export_leads(
        ws, [leads[1].lead_id], out, ExportOptions(formats=("json",), lang="en")
    )
    old = first.folder / f"{first.lead_id}.json"
    doc = json.loads(old.read_text(encoding="utf-8"))
    assert doc["lang"] == "en" and doc["money"]["transfer_to_police"] is True
    codes = {i["code"]: i["kind"] for i in doc["indicators"]}
    assert codes["invoice_run"] == "fabrication" and codes["agent"] == "fabrication"
    assert codes["no_referral"] == "fabrication" and codes["big_reimbursement"] == "breach"
    (first.folder / "stale.txt").write_text("from before")
    (again,) = export_leads(ws, [leads[1].lead_id[:8]], out, ExportOptions(formats=("xlsx",)))
    names = {x.name for x in again.folder.iterdir()}
    assert "stale.txt" not in names and f"{again.lead_id}.xlsx" in names
    assert f"{again.lead_id}.json" not in names
    assert [x.name for x in out.iterdir()] == [again.lead_id]


def test_export_command(city, tmp_path: Path) -> None:  # noqa: ANN001, F811
    _, ws, leads = city
    app = typer.Typer()
    app.command("export")(export_cmd.export)
    app.command("verify")(export_cmd.verify)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "export",
            leads[0].lead_id,
            "--out",
            str(tmp_path / "o"),
            "--format",
            "json,xlsx",
            "--from",
            str(ws.parent),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    (item,) = json.loads(res.stdout)
    assert item["lead_id"] == leads[0].lead_id and item["above_threshold"] is True
    res = runner.invoke(
        app,
        [
            "export",
            leads[0].lead_id,
            "--out",
            str(tmp_path / "o"),
            "--format",
            "docx",
            "-w",
            str(ws),
        ],
    )
    assert isinstance(res.exception, ConfigError)
    res = runner.invoke(
        app,
        [
            "export",
            leads[0].lead_id,
            "--out",
            str(tmp_path / "o"),
            "--reveal-identities",
            "-w",
            str(ws),
        ],
    )
    assert isinstance(res.exception, ConfigError) and "--source" in str(res.exception)
    res = runner.invoke(app, ["export", "LNOSUCH", "--out", str(tmp_path / "o"), "-w", str(ws)])
    assert res.exception is not None and "LNOSUCH" in str(res.exception)


def test_indicators_set_fabrication_apart_from_breaches(city) -> None:  # noqa: ANN001, F811
    from ringfinder import triage
    from ringfinder.export.case import gather

    _, ws, leads = city
    with triage.open_workspace(ws) as con:
        ring_a = gather(con, triage.get_lead(con, leads[0].lead_id))
        honest = gather(con, triage.get_lead(con, leads[2].lead_id))
    kinds = {i.code: (i.kind, i.figures["n"]) for i in ring_a.indicators}
    assert kinds["after_death"] == ("fabrication", 1)  # P0005's stay on 2024-03-20
    assert kinds["card_other"] == ("fabrication", 1)  # P0002 on P0003's card
    assert kinds["card_void"] == ("fabrication", 3)  # K0003 after it was reported lost
    assert kinds["batch_admission"] == ("fabrication", 18)
    assert kinds["readmission"] == ("breach", 1)  # P0001 back after 5 days
    assert ring_a.consistent and ring_a.evidence_total == Decimal(leads[0].amount_total)
    assert honest.indicators == []
    assert isinstance(leads[0], Lead)


def test_a_raw_workspace_is_redacted_unless_revealed(city, tmp_path: Path) -> None:  # noqa: ANN001, F811, E501
    from ringfinder.export.report import build_report
    from ringfinder.triage import open_workspace

    source, _, _ = city
    ws = tmp_path / "raw" / "workspace"
    leads = make_raw_workspace(ws, source)
    ids = [lead.lead_id for lead in leads]
    export_leads(ws, ids[:2], tmp_path / "plain", ExportOptions(formats=("xlsx", "pdf", "json")))
    text = _all_text(tmp_path / "plain")
    assert "[redacted]" in text and "P0001" in text
    assert not [v for v in RAW_PII if v in text]
    with open_workspace(ws) as con:
        html, _ = build_report(con)
    assert not [v for v in RAW_PII if v in html]
    assert read_entries(ws) == []
    export_leads(ws, ids[:2], tmp_path / "police", ExportOptions(formats=("json",), reveal=True))
    (entry,) = read_entries(ws)
    assert entry["leads"] == ids[:2] and "without pseudonymisation" in entry["source"]
    text = _all_text(tmp_path / "police")
    assert NAMES[0] in text and "13805710011" in text
