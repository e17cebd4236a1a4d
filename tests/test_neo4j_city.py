"""Issue 4's acceptance load: a 20,000-person city into the real Neo4j, twice.

Node and relationship counts equal the loaded rows, and loading again changes nothing:
same counts, same totals of the claim amounts, no duplicate keys.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.load import load_folder
from ringfinder.neo4j.writer import GraphWriter
from tests.test_neo4j_graph import DB, assert_graph_is_the_rows, count

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ringfinder.synth import synthesize

    base = tmp_path_factory.mktemp("city20k")
    synthesize(base / "city", persons=20_000, seed=7)
    with EmbeddedEngine(base / "ws") as engine:
        load_folder(engine.con, base / "city")
    return base / "ws"


def totals(driver: Any) -> tuple[int, float]:
    records, _, _ = driver.execute_query(
        "MATCH (c:Claim) RETURN count(c) AS n, sum(c.total_amount) AS amount", database_=DB
    )
    return int(records[0]["n"]), round(float(records[0]["amount"]), 2)


def test_a_20k_city_loads_exactly_and_a_second_load_changes_nothing(
    neo4j_driver: Any, workspace: Path
) -> None:
    with EmbeddedEngine(workspace) as engine:
        t0 = time.perf_counter()
        first = GraphWriter(neo4j_driver, engine.con, database=DB, target="t").write_all()
        seconds = time.perf_counter() - t0
        print(f"20k city: {first.rows:,} rows in {seconds:.1f} s ({first.rows / seconds:,.0f}/s)")
        assert_graph_is_the_rows(neo4j_driver, engine.con)
        (amount,) = engine.con.execute("SELECT sum(total_amount) FROM claims").fetchone()
        before = totals(neo4j_driver)
        assert before == (count(neo4j_driver, "MATCH (c:Claim) RETURN count(c)"), float(amount))

        again = GraphWriter(neo4j_driver, engine.con, database=DB, target="t").write_all()
        assert again.resumed == []
        assert_graph_is_the_rows(neo4j_driver, engine.con)
        assert totals(neo4j_driver) == before
