"""``ringfinder neo4j import``: the offline bulk import gives the graph ``neo4j load`` gives.

A real Neo4j on both sides, no mocks: the session server (``tests/neo4j_fixture.py``) is
loaded over Bolt, and a second server is started on the home the bulk import built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.neo4j.model import KEYS, NODES, RELS
from ringfinder.neo4j.server import Neo4jServer
from ringfinder.neo4j.writer import GraphWriter, actual_counts, expected_counts
from tests.neo4j_fixture import server_env, start_or_skip

RF = shutil.which("ringfinder") or str(Path(sys.executable).with_name("ringfinder"))
DB = "neo4j"
KEY = "test-key-0123456789abcdef"


def rf(*args: str, uri: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RINGFINDER_KEY": KEY, "COLUMNS": "200", "LC_ALL": "en_US.UTF-8"}
    if uri:  # this server only, by environment
        env = server_env(env, uri)
    return subprocess.run(
        [RF, *args], capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ringfinder.synth import synthesize

    out = tmp_path_factory.mktemp("import_city") / "city"
    synthesize(out, persons=3000, seed=11)  # planted schemes of every kind
    return out


@pytest.fixture(scope="module")
def imported(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``neo4j import CITY`` into a fresh home, then a server started on that home."""
    root = tmp_path_factory.mktemp("import")
    ws, home = root / "ws", root / "home"
    done = rf(
        "neo4j",
        "import",
        str(city),
        "--workspace",
        str(ws),
        "--home",
        str(home),
        "--heap",
        "512m",
        "--off-heap",
        "512m",
        "--pagecache",
        "256m",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    server = start_or_skip(home)
    try:
        yield {"ws": ws, "home": home, "server": server, "stderr": done.stderr}
    finally:
        server.stop()


def _sample_nodes(driver: Any, label: str) -> list[dict[str, Any]]:
    key = KEYS[label]
    records, _, _ = driver.execute_query(
        f"MATCH (n:`{label}`) RETURN properties(n) AS p ORDER BY n.`{key}` LIMIT 25",
        database_=DB,
    )
    return [r["p"] for r in records]


def _sample_rels(driver: Any, rel_type: str) -> list[tuple[Any, ...]]:
    records, _, _ = driver.execute_query(
        f"MATCH (a)-[r:`{rel_type}`]->(b) "
        "WITH head(labels(a)) AS la, a[$keys[head(labels(a))]] AS ak, "
        "head(labels(b)) AS lb, b[$keys[head(labels(b))]] AS bk, properties(r) AS p "
        "RETURN la, ak, lb, bk, p ORDER BY ak, bk, p.referral_id, p.row_hash LIMIT 25",
        {"keys": KEYS},
        database_=DB,
    )
    return [(r["la"], r["ak"], r["lb"], r["bk"], r["p"]) for r in records]


@pytest.mark.neo4j
def test_bulk_import_equals_bolt_load(neo4j_driver: Any, imported: dict[str, Any]) -> None:
    bulk = imported["server"].driver()
    with EmbeddedEngine(imported["ws"]) as engine:
        want = expected_counts(engine.con)
        GraphWriter(neo4j_driver, engine.con, database=DB, target="import-test").write_all(
            resume=False
        )
    loaded = actual_counts(neo4j_driver, DB)
    have = actual_counts(bulk, DB)
    assert loaded == want
    assert have == loaded
    assert have[0]["Claim"] > 30_000 and have[1]["INCLUDES"] > 30_000  # a real city, not empty

    # same properties with the same types (dates, local datetimes, floats, booleans)
    for label in sorted({s.label for s in NODES}):
        assert _sample_nodes(bulk, label) == _sample_nodes(neo4j_driver, label), label
    for rel_type in sorted({r.type for r in RELS}):
        assert _sample_rels(bulk, rel_type) == _sample_rels(neo4j_driver, rel_type), rel_type

    # the schema is there and online
    constraints, _, _ = bulk.execute_query(
        "SHOW CONSTRAINTS YIELD labelsOrTypes, properties RETURN labelsOrTypes[0] AS l, "
        "properties[0] AS p",
        database_=DB,
    )
    assert {r["l"]: r["p"] for r in constraints} == KEYS
    states, _, _ = bulk.execute_query("SHOW INDEXES YIELD state RETURN state", database_=DB)
    assert {r["state"] for r in states} == {"ONLINE"}

    # the summary gives neo4j-admin's own stages, read from its output
    for stage in ("node import", "relationship import", "relationship linking", "server start"):
        assert f"{stage} " in imported["stderr"], stage


@pytest.mark.neo4j
def test_import_refuses_a_running_server_and_an_existing_database(
    imported: dict[str, Any], tmp_path: Path
) -> None:
    server: Neo4jServer = imported["server"]
    home = str(imported["home"])
    running = rf("neo4j", "import", "--workspace", str(imported["ws"]), "--home", home)
    assert running.returncode != 0
    assert f"(pid {server.pid}) is running on" in running.stderr
    assert "Traceback" not in running.stderr
    assert len(running.stderr.strip().splitlines()) == 1, running.stderr

    # a stopped home that already has the database: refused unless --overwrite
    other = tmp_path / "home"
    (other / "data" / "databases" / DB).mkdir(parents=True)
    (other / "data" / "databases" / DB / "neostore").write_bytes(b"x")
    exists = rf("neo4j", "import", "--workspace", str(imported["ws"]), "--home", str(other))
    assert exists.returncode != 0
    assert "already holds database 'neo4j'" in exists.stderr and "--overwrite" in exists.stderr
    assert len(exists.stderr.strip().splitlines()) == 1, exists.stderr
    assert server.running  # the refused imports left the running server alone


# The two --reuse-graph tests come last: the second writes leads back into the imported graph.


@pytest.mark.neo4j
def test_reuse_graph_refuses_a_graph_that_is_not_the_workspaces(
    imported: dict[str, Any], tmp_path: Path
) -> None:
    from ringfinder.synth import synthesize

    other = tmp_path / "other"
    synthesize(other, persons=1000, seed=2)
    uri = imported["server"].uri
    done = rf(
        "run", str(other), "--out", str(tmp_path / "out"), "--engine", "neo4j",
        "--reuse-graph", uri=uri,
    )  # fmt: skip
    assert done.returncode != 0
    assert "--reuse-graph: the graph in Neo4j" in done.stderr
    # the store's count against the workspace's, per label or type that differs
    assert re.search(r"Claim [\d,]+ \(workspace 1\d,\d{3}\)", done.stderr), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "leads.jsonl").exists()

    embedded = rf("run", str(other), "--out", str(tmp_path / "emb"), "--reuse-graph")
    assert embedded.returncode != 0 and "--reuse-graph needs --engine neo4j" in embedded.stderr


@pytest.mark.neo4j
def test_run_reuses_the_imported_graph_with_the_embedded_leads(
    imported: dict[str, Any], city: Path, tmp_path: Path
) -> None:
    emb = rf("run", str(city), "--out", str(tmp_path / "emb"), "--lang", "en")
    assert emb.returncode == 0, emb.stderr[-2000:]
    neo = rf(
        "run", str(city), "--out", str(tmp_path / "neo"), "--workspace", str(imported["ws"]),
        "--engine", "neo4j", "--reuse-graph", "--lang", "en", uri=imported["server"].uri,
    )  # fmt: skip
    assert neo.returncode == 0, neo.stderr[-2000:]

    run = json.loads((tmp_path / "neo" / "run.json").read_text(encoding="utf-8"))
    # the files are those `neo4j import CITY` loaded into this workspace: not read again
    assert run["load_reused"] is not None and run["load_reused"]["load_id"] == 1
    write = run["engine_info"]["write"]
    assert write["reused"] is True and write["rows"] == 0  # nothing written over Bolt

    def leads(out: Path) -> list[tuple[str, str, float]]:
        lines = (out / "leads.jsonl").read_text(encoding="utf-8").splitlines()
        return [(d["lead_id"], d["pattern"], d["score"]) for d in map(json.loads, lines)]

    assert leads(tmp_path / "neo") == leads(tmp_path / "emb")
    assert len(leads(tmp_path / "emb")) >= 5  # planted schemes of every kind were found
