"""Pseudonyms: HMAC in DuckDB equals Python's, normalisation, keys and key files."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfinder.errors import ConfigError
from ringfinder.load.pseudonym import (
    KEY_ENV,
    KEY_FILE_ENV,
    PII_KINDS,
    Pseudonymiser,
    load_key,
    normalise,
)

KEY = b"test-key-0123456789abcdef"
KINDS = sorted(set(PII_KINDS.values()) | {"pi"})


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def sql_pseudonyms(con, p: Pseudonymiser, values: list[str | None], kind: str) -> list[str | None]:
    rows = con.execute(
        f"SELECT {p.sql('v', kind)} FROM (SELECT unnest($vals) AS v, "
        "generate_subscripts($vals, 1) AS i) ORDER BY i",
        {**p.sql_params(), "vals": values},
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("key", [KEY, b"k" * 64, b"a-very-long-key-" * 10])
def test_hmac_in_duckdb_equals_python_hmac(con, key):
    p = Pseudonymiser(key)
    msgs = ["ph:13800138000", "nm:张三", "", "ad:北京市海淀区学院路37号"]
    got = con.execute(
        "SELECT sha256($rf_opad || unhex(sha256($rf_ipad || encode(m)))) "
        "FROM (SELECT unnest($m) AS m, generate_subscripts($m, 1) AS i) ORDER BY i",
        {**p.sql_params(), "m": msgs},
    ).fetchall()
    assert [g[0] for g in got] == [
        hmac.new(key, m.encode(), hashlib.sha256).hexdigest() for m in msgs
    ]


TRICKY = [
    "+86 138-0013-8000",
    "0086 13800138000",
    "86-13800138000",
    "８６１３８００１３８０００",
    "010-12345678",
    "",
    "   ",
    None,
    "张 三",
    "张\u3000三",
    "ａｂｃ'd",
    "Zhang San",
    "6222 0212-3456",
    "it's",
    "Straße",
    "line\nbreak\ttab",
]


@pytest.mark.parametrize("kind", KINDS)
def test_sql_and_python_agree_on_tricky_values(con, kind):
    p = Pseudonymiser(KEY)
    assert sql_pseudonyms(con, p, TRICKY, kind) == [p.pseudonym(v, kind) for v in TRICKY]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8), st.sampled_from(KINDS))
def test_sql_and_python_agree_on_any_text(con, values, kind):
    p = Pseudonymiser(KEY)
    assert sql_pseudonyms(con, p, values, kind) == [p.pseudonym(v, kind) for v in values]


def test_format_and_normalisation():
    p = Pseudonymiser(KEY)
    phone = p.pseudonym("13800138000", "ph")
    assert phone is not None and phone.startswith("ph_") and len(phone) == 3 + 20
    for same in ("+86 138 0013 8000", "0086-13800138000", "８６１３８００１３８０００"):
        assert p.pseudonym(same, "ph") == phone
    assert (
        p.pseudonym("张 三", "nm") == p.pseudonym("张三", "nm") == p.pseudonym("张\u3000三", "nm")
    )
    assert p.pseudonym("6222-0212 3456", "ac") == p.pseudonym("622202123456", "ac")
    assert p.pseudonym("13800138000", "nm") != phone  # kinds do not collide
    assert p.pseudonym("  ", "nm") is None and normalise("+86", "ph") == "86"
    assert Pseudonymiser(b"another-key-0123456").pseudonym("13800138000", "ph") != phone


def test_fingerprint_identifies_the_key_without_revealing_it():
    a, b = Pseudonymiser(KEY), Pseudonymiser(b"another-key-0123456")
    assert a.fingerprint == Pseudonymiser(KEY).fingerprint != b.fingerprint
    assert len(a.fingerprint) == 16 and KEY.hex()[:16] != a.fingerprint


def test_key_from_the_environment(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "  a-long-enough-key-123  ")
    assert load_key() == b"a-long-enough-key-123"
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ConfigError, match="at least 16"):
        load_key()


def test_key_file_is_created_0600_on_first_use(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv(KEY_ENV)
    path = tmp_path / "cfg" / "ringfinder" / "key"
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    key = load_key()
    assert len(key) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key() == key  # stable
    assert "created a new pseudonymisation key file" in caplog.text
    assert key.decode() not in caplog.text


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_key_file_readable_by_others_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv(KEY_ENV)
    path = tmp_path / "key"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    path.chmod(0o644)
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key()
    path.chmod(0o600)
    assert load_key() == b"0123456789abcdef0123456789abcdef"
    Path(path).write_text("short\n")
    with pytest.raises(ConfigError, match="fewer than 16"):
        load_key()
