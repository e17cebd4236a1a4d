"""A load whose inputs are unchanged since the workspace's last load reads nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from ringfinder.errors import StrictModeFailure
from ringfinder.load import LoadReport
from tests.test_cli import RF
from tests.test_load import BASE, CLAIMS_HEADER, load, write_folder


def _loads(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM _loads").fetchall()[0][0]


def _figures(report: LoadReport) -> list[tuple[str, int, int, int, int]]:
    return [(t.table, t.read, t.loaded, t.rejected, t.inserted) for t in report.tables]


def _rewrite_keeping_stamp(path: Path, text: str) -> None:
    """Write other bytes of the same length in place, with the old modification time."""
    st = path.stat()
    data = text.encode()
    assert len(data) == st.st_size
    with path.open("r+b") as fh:  # in place: the same inode
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_unchanged_inputs_are_not_read_again(tmp_path: Path) -> None:
    con = duckdb.connect()
    folder = write_folder(tmp_path / "d", BASE)
    first = load(con, folder, tmp_path)
    assert first.reused_load is None and first.load_id == 1
    again = load(con, folder, tmp_path)
    assert again.reused_load == 1 and again.reused_at
    assert _figures(again) == _figures(first) and again.load_id == 1
    assert _loads(con) == 1  # nothing written
    # nothing read either: bytes changed behind the quick check (same size, time and
    # inode) are not seen until --reload reads the files
    claims = folder / "claims.csv"
    _rewrite_keeping_stamp(claims, claims.read_text().replace("100.00", "10x.00"))
    assert load(con, folder, tmp_path).reused_load == 1
    forced = load(con, folder, tmp_path, reload=True)
    assert forced.reused_load is None and forced.load_id == 2
    claims_report = forced.table("claims")
    assert claims_report is not None and claims_report.rejected == 1
    assert load(con, folder, tmp_path).reused_load == 2  # and now that load stands


def _change_file(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    claims = folder / "claims.csv"
    claims.write_text(
        claims.read_text()
        + "C3,007,K1,H11010500001,D1,outpatient,2025-02-03 09:30:00,,J06,50.00,40.00,T1\n"
    )


def _new_file(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (folder / "pharmacies.csv").write_text(
        "pharmacy_id,name,region_code\nY11010500001,药店,110105\n"
    )


def _other_load(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    other = write_folder(tmp_path / "other", BASE)
    (other / "claims.csv").write_text(CLAIMS_HEADER + "\n")
    load(con, other, tmp_path)


def _workspace_edited(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    con.execute("DELETE FROM claims WHERE claim_id = 'C2'")


def _quarantine_gone(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "quarantine" / "claims.csv").unlink()


def _failed_strict_load(folder: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # a strict load of the same files fails (a row is rejected) and rewrites the quarantine
    with pytest.raises(StrictModeFailure):
        load(con, folder, tmp_path, strict=True)


@pytest.mark.parametrize(
    "change",
    [
        _change_file,
        _new_file,
        _other_load,
        _workspace_edited,
        _quarantine_gone,
        _failed_strict_load,
    ],
)
def test_a_change_makes_the_load_read_the_files(tmp_path: Path, change: object) -> None:
    con = duckdb.connect()
    tables = dict(BASE)
    tables["claims"] += (  # one rejected row, so that there is a quarantine file
        "C9,007,K1,H11010500001,D1,outpatient,not a time,,J06,1.00,1.00,T1\n"
    )
    folder = write_folder(tmp_path / "d", tables)
    load(con, folder, tmp_path)
    assert (tmp_path / "quarantine" / "claims.csv").is_file()
    change(folder, con, tmp_path)  # type: ignore[operator]
    report = load(con, folder, tmp_path)
    assert report.reused_load is None, change


def test_other_options_read_the_files(tmp_path: Path) -> None:
    con = duckdb.connect()
    folder = write_folder(tmp_path / "d", BASE)
    load(con, folder, tmp_path)
    assert load(con, folder, tmp_path, encoding="utf-8").reused_load is None
    assert load(con, folder, tmp_path, encoding="utf-8").reused_load is not None
    assert load(con, folder, tmp_path, strict=True).reused_load is None
    assert load(con, folder, tmp_path, quarantine_dir=tmp_path / "q2").reused_load is None


def test_a_rerun_reuses_the_load_and_gives_the_same_leads(small_city: Path, tmp_path: Path) -> None:
    """Through the console entry: the second ``run`` says it read nothing, same leads."""
    ws = tmp_path / "ws"

    def run(out: str, *extra: str) -> dict[str, object]:
        cmd = [RF, "run", str(small_city), "--out", str(tmp_path / out)]
        cmd += ["--workspace", str(ws), "--lang", "en", *extra]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert res.returncode == 0, res.stderr
        record = json.loads((tmp_path / out / "run.json").read_text())
        record["stderr"] = res.stderr
        return record

    first = run("a")
    second = run("b")
    third = run("c", "--reload")
    assert first["load_reused"] is None and third["load_reused"] is None
    assert isinstance(second["load_reused"], dict) and second["load_reused"]["load_id"] == 1
    assert "unchanged since load 1" in str(second["stderr"])
    assert "unchanged since load 1" in (tmp_path / "b" / "summary.md").read_text()
    assert second["load"] == first["load"] == third["load"]
    leads = [(tmp_path / d / "leads.jsonl").read_text() for d in "abc"]
    assert leads[0] == leads[1] == leads[2] and leads[0]
