"""Shared fixtures: a small synthetic city, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.neo4j_fixture import neo4j_driver, neo4j_server  # noqa: F401

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4,000-person planted city in the canonical CSV format (with truth.json)."""
    from ringfinder.synth import synthesize

    out = tmp_path_factory.mktemp("city") / "city"
    synthesize(out, persons=4000, seed=5)
    return out


@pytest.fixture(autouse=True)
def _test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pseudonymisation key for every test; never the user's own key file."""
    monkeypatch.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
