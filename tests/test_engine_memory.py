"""DuckDB's memory limit: a quarter of the RAM by default, RINGFINDER_MEMORY, --memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfinder.engine import memory
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.errors import ConfigError
from tests.test_cli import rf


def setting(engine: EmbeddedEngine) -> str:
    row = engine.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def test_default_is_a_quarter_of_the_ram_and_at_least_1_gib(monkeypatch) -> None:
    monkeypatch.delenv(memory.ENV, raising=False)
    monkeypatch.setattr(memory, "physical_memory", lambda: 24 << 30)
    assert memory.default_memory_limit() == f"{6 << 10}MiB"
    monkeypatch.setattr(memory, "physical_memory", lambda: 2 << 30)
    assert memory.default_memory_limit() == "1024MiB"
    monkeypatch.setattr(memory, "physical_memory", lambda: None)
    assert memory.default_memory_limit() is None  # DuckDB's own default then
    monkeypatch.setenv(memory.ENV, "3GB")
    assert memory.default_memory_limit() == "3GB"


def test_physical_memory_is_the_machine_or_less() -> None:
    import os

    total = memory.physical_memory()
    assert total is not None and 0 < total <= os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES"
    )


def test_engine_applies_the_default_the_environment_and_the_argument(monkeypatch) -> None:
    monkeypatch.delenv(memory.ENV, raising=False)
    monkeypatch.setattr(memory, "physical_memory", lambda: 8 << 30)
    with EmbeddedEngine(None) as eng:
        assert setting(eng) == "2.0 GiB"
    monkeypatch.setenv(memory.ENV, "1536MiB")
    with EmbeddedEngine(None) as eng:
        assert setting(eng) == "1.5 GiB"
    with EmbeddedEngine(None, memory_limit="3GiB") as eng:
        assert setting(eng) == "3.0 GiB"


def test_a_bad_limit_is_a_config_error_naming_the_setting(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(memory.ENV, "lots")
    with pytest.raises(ConfigError, match="RINGFINDER_MEMORY"):
        EmbeddedEngine(tmp_path / "ws")
    # the workspace lock was released: a good limit opens the same workspace
    monkeypatch.setenv(memory.ENV, "1GiB")
    EmbeddedEngine(tmp_path / "ws").close()


def test_cli_memory_option_one_line_error(small_city: Path, tmp_path: Path) -> None:
    res = rf("load", str(small_city), "--workspace", str(tmp_path / "ws"), "--memory", "lots")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "--memory" in lines[0], res.stderr
    res = rf("load", str(small_city), "--workspace", str(tmp_path / "ws"), "--memory", "1GB")
    assert res.returncode == 0, res.stderr
