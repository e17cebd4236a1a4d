"""The installed console script: exit codes, outputs, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"

RF = shutil.which("ringfinder") or str(Path(sys.executable).with_name("ringfinder"))


def rf(*args: str, env_lang: str = "en_US.UTF-8") -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "LANG": env_lang, "LC_ALL": env_lang, "COLUMNS": "200"}
    return subprocess.run([RF, *args], capture_output=True, text=True, env=env, timeout=300)


def test_version_and_help() -> None:
    assert rf("--version").stdout.startswith("ringfinder ")
    res = rf("--help")
    assert res.returncode == 0
    for cmd in ("synth", "load", "run", "rules", "eval"):
        assert cmd in res.stdout


def test_run_writes_contract_valid_leads(small_city: Path, tmp_path: Path) -> None:
    res = rf("run", str(small_city), "--out", str(tmp_path / "out"), "--lang", "en")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    leads_path = tmp_path / "out" / "leads.jsonl"
    leads = [json.loads(x) for x in leads_path.read_text(encoding="utf-8").splitlines()]
    assert leads, "a planted city must give leads"
    assert "Top leads" in res.stdout
    validator = SHARED / "tools" / "validate_leads.py"
    if validator.exists():
        check = subprocess.run(
            [sys.executable, str(validator), str(leads_path)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "Leads (" in summary


def test_run_in_chinese_by_locale(small_city: Path, tmp_path: Path) -> None:
    res = rf("run", str(small_city), "--out", str(tmp_path / "o"), env_lang="zh_CN.UTF-8")
    assert res.returncode == 0, res.stderr
    summary = (tmp_path / "o" / "summary.md").read_text(encoding="utf-8")
    assert "线索" in summary


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "/nonexistent/folder", "--out", "x"], "not a folder"),
        (["run", ".", "--out", "x", "--lang", "fr"], "--lang"),
    ],
)
def test_errors_are_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    res = rf(*args)
    assert res.returncode == 1
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_missing_required_table_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    res = rf("run", str(tmp_path / "data"), "--out", str(tmp_path / "o"))
    assert res.returncode == 1
    assert "persons" in res.stderr and "Traceback" not in res.stderr
