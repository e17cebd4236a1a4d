"""Parity: ``--engine neo4j`` and the embedded engine give the same leads on planted cities.

The Neo4j engine loads the city into the fixture's real Neo4j, finds loop instances,
same-day and same-terminal co-occurrence in Cypher and scores with the detectors' own
Python on rows read back from Neo4j; every lead (id, members, pattern, score, money,
reasons) must equal the embedded engine's. ``min_score=0`` compares every group found,
not only the raised ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import MEMBER_KINDS
from ringfinder.pipeline import run_job
from tests.neo4j_fixture import clear_database


def leads_of(out: Path) -> list[dict[str, Any]]:
    text = (out / "leads.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_neo4j_engine_gives_the_embedded_leads(
    seed: int, neo4j_driver: Any, tmp_path: Path
) -> None:
    from ringfinder.engine.neo4j import Neo4jEngine
    from ringfinder.synth import synthesize

    city = tmp_path / "city"
    synthesize(city, persons=3000, seed=seed)
    with EmbeddedEngine(tmp_path / "ws-embedded") as engine:
        embedded = run_job(city, tmp_path / "embedded", engine=engine, min_score=0)
    clear_database(neo4j_driver)
    with Neo4jEngine(tmp_path / "ws-neo4j", driver=neo4j_driver) as engine:
        graph = run_job(city, tmp_path / "neo4j", engine=engine, min_score=0)

    want, have = leads_of(tmp_path / "embedded"), leads_of(tmp_path / "neo4j")
    patterns = {p for lead in want for p in lead["pattern"].split("+")}
    assert {"shared_card", "co_admission", "referral_loop", "fake_invoice"} <= patterns
    key = ("lead_id", "pattern", *MEMBER_KINDS)
    assert [{k: x[k] for k in key} for x in have] == [{k: x[k] for k in key} for x in want]
    assert have == want  # scores, money, dates, evidence and reasons too
    assert [(d.name, d.ran, d.findings) for d in graph.detectors] == [
        (d.name, d.ran, d.findings) for d in embedded.detectors
    ]
    assert graph.engine == "neo4j" and embedded.engine == "embedded"

    # the partition written back is the embedded engine's
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (p:Person)-[:MEMBER_OF]->(c:Community) RETURN p.person_id AS p, c.community_id AS c"
    )
    with EmbeddedEngine(tmp_path / "ws-embedded") as engine:
        partition = engine.con.execute(
            "SELECT person_id, community_id FROM person_communities"
        ).fetchall()
    assert sorted((r["p"], r["c"]) for r in records) == sorted(partition)
