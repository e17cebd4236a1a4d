"""The local Neo4j server for dev/CI (ringfinder.neo4j.server) and its pytest fixtures."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from ringfinder.errors import EngineError
from ringfinder.neo4j import server as srv
from tests import neo4j_fixture
from tests.neo4j_fixture import IN_CI, start_or_skip

# The fixtures, for running this file before (or without) conftest.py importing them;
# neo4j_fixture starts one server per session however many places they are imported in.
neo4j_server = neo4j_fixture.neo4j_server
neo4j_driver = neo4j_fixture.neo4j_driver

# --------------------------------------------------------------------- no server needed


def test_pom_pins_the_version_server_py_names() -> None:
    pom = srv.POM.read_text(encoding="utf-8")
    assert re.search(r"<neo4j.version>([^<]+)</neo4j.version>", pom)[1] == srv.NEO4J_VERSION
    assert srv.NEO4J_VERSION.startswith("5.26.")  # the LTS line that runs on Java 17
    assert srv.LAUNCHER.is_file()
    assert srv.LAUNCHER.parent == Path(srv.__file__).resolve().parent / "launcher"


def test_parse_size() -> None:
    assert srv.parse_size("512m") == 512 * 1024**2
    assert srv.parse_size("2g") == 2 * 1024**3
    assert srv.parse_size("64k") == 64 * 1024
    assert srv.parse_size("100") == 100
    with pytest.raises(EngineError):
        srv.parse_size("lots")


def test_fetch_without_maven_is_a_clear_runtime_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(srv.MVN_ENV, raising=False)
    with pytest.raises(srv.RuntimeUnavailable, match="Maven"):
        srv.fetch_runtime(tmp_path / "rt")
    assert not (tmp_path / "rt" / "lib").exists()


def test_failed_download_reports_maven_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mvn"
    fake.write_text("#!/bin/sh\necho '[ERROR] Could not resolve org.neo4j:neo4j'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(srv.MVN_ENV, str(fake))
    with pytest.raises(srv.RuntimeUnavailable, match="Could not resolve org.neo4j:neo4j"):
        srv.fetch_runtime(tmp_path / "rt")
    assert not (tmp_path / "rt" / "lib").exists()  # nothing half-fetched left behind


def test_missing_java_is_a_clear_runtime_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv(srv.JAVA_ENV, raising=False)
    with pytest.raises(srv.RuntimeUnavailable, match="no java"):
        srv.find_java()


# --------------------------------------------------------------------- a real server


@pytest.mark.neo4j
def test_server_answers_bolt(neo4j_server: srv.Neo4jServer, neo4j_driver) -> None:
    assert neo4j_server.uri.startswith("bolt://127.0.0.1:")
    assert neo4j_server.running
    records, _, _ = neo4j_driver.execute_query("RETURN 1 AS one", database_="neo4j")
    assert records[0]["one"] == 1
    records, _, _ = neo4j_driver.execute_query(
        "CALL dbms.components() YIELD name, versions, edition RETURN *", database_="neo4j"
    )
    assert records[0]["versions"] == [srv.NEO4J_VERSION]
    assert records[0]["edition"] == "community"


def _server_config(driver, *names: str) -> dict[str, str]:
    """The running server's values of these settings (``dbms.listConfig()``)."""
    records, _, _ = driver.execute_query(
        "CALL dbms.listConfig() YIELD name, value WHERE name IN $names RETURN name, value",
        names=list(names),
        database_="neo4j",
    )
    return {r["name"]: r["value"] for r in records}


@pytest.mark.neo4j
def test_only_loopback_and_no_http(neo4j_server: srv.Neo4jServer, neo4j_driver) -> None:
    config = _server_config(
        neo4j_driver,
        "server.bolt.listen_address",
        "server.http.enabled",
        "dbms.security.auth_enabled",
        "dbms.usage_report.enabled",
    )
    assert config["server.bolt.listen_address"].startswith("127.0.0.1:")
    assert config["server.http.enabled"] == "false"
    assert config["dbms.security.auth_enabled"] == "false"
    assert config["dbms.usage_report.enabled"] == "false"


@pytest.mark.neo4j
def test_transaction_logs_are_bounded(neo4j_driver) -> None:
    # Neo4j keeps 2 days of transaction logs by default, pruned every 15 minutes: a
    # Bolt load of a 300k-person city left 8 GB of them after 12 minutes
    config = _server_config(
        neo4j_driver, "db.tx_log.rotation.retention_policy", "db.checkpoint.interval.time"
    )
    assert config["db.tx_log.rotation.retention_policy"] == "1G size"
    assert config["db.checkpoint.interval.time"] == "1m"


@pytest.mark.neo4j
def test_write_read_round_trip(neo4j_driver) -> None:
    rows = [{"id": f"p{i}", "age": 30 + i} for i in range(100)]
    neo4j_driver.execute_query(
        "UNWIND $rows AS row CREATE (:Person {id: row.id, age: row.age})",
        rows=rows,
        database_="neo4j",
    )
    neo4j_driver.execute_query(
        "MATCH (a:Person {id: 'p0'}), (b:Person {id: 'p1'}) CREATE (a)-[:KNOWS]->(b)",
        database_="neo4j",
    )
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (p:Person) RETURN count(p) AS n, sum(p.age) AS ages", database_="neo4j"
    )
    assert (records[0]["n"], records[0]["ages"]) == (100, sum(r["age"] for r in rows))
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (:Person {id: 'p0'})-[:KNOWS]->(b) RETURN b.id AS id", database_="neo4j"
    )
    assert [r["id"] for r in records] == ["p1"]


@pytest.mark.neo4j
def test_each_test_starts_on_an_empty_database(neo4j_driver) -> None:
    records, _, _ = neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS n")
    assert records[0]["n"] == 0
    records, _, _ = neo4j_driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN name")
    assert records == []


@pytest.mark.neo4j
def test_uniqueness_constraint(neo4j_driver) -> None:
    from neo4j.exceptions import ConstraintError

    for _ in range(2):  # IF NOT EXISTS: idempotent
        neo4j_driver.execute_query(
            "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE",
            database_="neo4j",
        )
    records, _, _ = neo4j_driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type RETURN name, type", database_="neo4j"
    )
    assert [(r["name"], r["type"]) for r in records] == [("person_id", "UNIQUENESS")]
    neo4j_driver.execute_query("CREATE (:Person {id: 'x'})", database_="neo4j")
    with pytest.raises(ConstraintError):
        neo4j_driver.execute_query("CREATE (:Person {id: 'x'})", database_="neo4j")


@pytest.mark.neo4j
@pytest.mark.slow
def test_clean_stop_and_restart_keeps_the_data(tmp_path: Path) -> None:
    home = tmp_path / "db"
    with start_or_skip(home, heap="256m", pagecache="64m") as first:
        first.driver().execute_query(
            "CREATE (:Marker {name: $name})", name="survives", database_="neo4j"
        )
        pid = first.pid
    assert first.process.returncode == 0, first.log_tail()
    assert not first.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped
    assert "NEO4J_STOPPED" in first.log_path.read_text(encoding="utf-8")
    assert not (home / srv.PID_FILE).exists()

    second = start_or_skip(home, heap="256m", pagecache="64m")
    try:
        records, _, _ = second.driver().execute_query(
            "MATCH (m:Marker) RETURN m.name AS name", database_="neo4j"
        )
        assert [r["name"] for r in records] == ["survives"]
    finally:
        assert second.stop() == 0, second.log_tail()


@pytest.mark.neo4j
@pytest.mark.slow
def test_optional_password(tmp_path: Path) -> None:
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    with start_or_skip(tmp_path / "db", heap="256m", pagecache="64m", password="s3cret-pass") as s:
        assert s.auth == ("neo4j", "s3cret-pass")
        assert s.driver().execute_query("RETURN 1 AS one").records[0]["one"] == 1
        for auth in (("neo4j", "wrong-pass"), None):
            with GraphDatabase.driver(s.uri, auth=auth) as other, pytest.raises(AuthError):
                other.verify_connectivity()
    with pytest.raises(EngineError, match="8 characters"):
        srv.start_server(home=tmp_path / "db", password="short")


@pytest.mark.neo4j
@pytest.mark.slow
def test_start_failure_raises_with_the_log_tail(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            server = srv.start_server(home=tmp_path / "db", port=port, heap="256m", timeout=120)
        except srv.RuntimeUnavailable as exc:
            if IN_CI:
                pytest.fail(f"CI=true and Neo4j is unavailable: {exc}", pytrace=False)
            pytest.skip(f"Neo4j unavailable: {exc}".splitlines()[0])
        except EngineError as exc:
            message = str(exc)
        else:
            server.stop()
            pytest.fail(f"Neo4j started on a busy port {port}")
    assert "did not start" in message
    assert "--- log tail ---" in message
    assert re.search(r"(?i)address already in use|port .* in use|bind", message), message


@pytest.mark.neo4j
def test_schema_repairs_an_index_left_by_an_interrupted_constraint(neo4j_driver) -> None:
    """A server killed while a constraint builds its index can leave the index alone under
    the constraint's name; ``CREATE CONSTRAINT ... IF NOT EXISTS`` then fails (seen in CI's
    kill-and-rerun rounds). apply_schema drops that index and creates the constraint."""
    from ringfinder.neo4j.writer import apply_schema

    neo4j_driver.execute_query(
        "CREATE INDEX person_id FOR (n:Person) ON (n.person_id)", database_="neo4j"
    )
    apply_schema(neo4j_driver, "neo4j")
    records, _, _ = neo4j_driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, type WHERE name = 'person_id' RETURN type",
        database_="neo4j",
    )
    assert [r["type"] for r in records] == ["UNIQUENESS"]
    apply_schema(neo4j_driver, "neo4j")  # and stays idempotent
    # an index named like a constraint but owned by one is never dropped
    records, _, _ = neo4j_driver.execute_query(
        "SHOW INDEXES YIELD name, owningConstraint WHERE name = 'person_id' "
        "RETURN owningConstraint",
        database_="neo4j",
    )
    assert [r["owningConstraint"] for r in records] == ["person_id"]


@pytest.mark.neo4j
def test_a_query_over_the_transaction_memory_cap_is_a_clear_error(tmp_path: Path) -> None:
    """The server's cap on transaction memory is hit: an EngineError that says what to do."""
    from ringfinder.neo4j.queries import run_query

    with start_or_skip(tmp_path / "db", heap="256m", pagecache="64m", tx_memory="10m") as s:
        driver = s.driver()
        for first in range(0, 60_000, 400):  # one provider, many cards: in small batches
            driver.execute_query(
                "MERGE (h:Institution {institution_id: 'H1'}) WITH h "
                "UNWIND range($first, $first + 399) AS i "
                "CREATE (h)<-[:AT]-(:Claim {claim_id: toString(i), "
                "start_time: localdatetime('2025-01-01T08:00') + duration({seconds: 700 * i})})"
                "-[:WITH_CARD]->(:Card {card_id: toString(i)})",
                first=first,
            )
        with pytest.raises(
            EngineError,
            match=r"ran out of transaction memory in query "
            r"shared_card_pairs: .*--heap 4g",
        ):
            run_query(driver, "neo4j", "shared_card_pairs", window=600, min_days=1)
