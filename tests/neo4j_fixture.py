"""Pytest fixtures for a real Neo4j: one server per test session, started without Docker.

Wire them into ``tests/conftest.py`` with::

    from tests.neo4j_fixture import neo4j_driver, neo4j_server  # noqa: F401

* ``neo4j_server`` (session): a :class:`ringfinder.neo4j.server.Neo4jServer` on
  ``127.0.0.1`` (auth disabled) with its database home in the session's tmp folder. The
  first run fetches the jars from Maven Central (about 120 MB, once per machine).
* ``neo4j_driver`` (per test): the server's shared driver, after :func:`clear_database`.

Without Java, Maven or the jars the Neo4j tests are **skipped** with the reason, except
when ``CI=true``: then they **fail** and the message carries the log tail. A server that
has its jars but fails to start always fails the tests (that is a bug, not a missing tool).
Only one server is started even if these fixtures are imported in several places.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfinder.errors import EngineError
from ringfinder.neo4j.server import Neo4jServer, RuntimeUnavailable, start_server

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

_state: dict[str, Any] = {"server": None, "users": 0, "skip": None, "fail": None}


def server_env(env: dict[str, str], uri: str) -> dict[str, str]:
    """``env`` pointed at the server ``uri`` only: no config file, no NEO4J_* credentials."""
    out = {**env, "NEO4J_URI": uri, "RINGFINDER_NEO4J_CONFIG": "/nonexistent/neo4j.toml"}
    for var in ("NEO4J_USER", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        out.pop(var, None)
    return out


def start_or_skip(home: Path, **kwargs: Any) -> Neo4jServer:
    """``start_server(home=home, ...)``, skipping (or failing under ``CI=true``) if unavailable."""
    try:
        return start_server(home=home, **kwargs)
    except RuntimeUnavailable as exc:
        if IN_CI:
            pytest.fail(f"CI=true and Neo4j is unavailable: {exc}", pytrace=False)
        pytest.skip(f"Neo4j unavailable (Java/Maven/jars): {exc}".splitlines()[0])
    except EngineError as exc:
        pytest.fail(str(exc), pytrace=False)


def clear_database(driver: Any, *, database: str = "neo4j", schema: bool = True) -> None:
    """Delete every node and relationship; with ``schema``, drop constraints and indexes too.

    Deletes in batches (``CALL { ... } IN TRANSACTIONS``), so it copes with big test graphs
    without hitting the transaction memory cap. Keeps Neo4j's built-in token lookup indexes.
    """
    with driver.session(database=database) as session:
        # relationships first: a hub's DETACH DELETE (an institution with 100k claims)
        # would otherwise drop all its relationships in one transaction
        session.run(
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS").consume()
        if not schema:
            return
        for rec in session.run("SHOW CONSTRAINTS YIELD name RETURN name").data():
            session.run(f"DROP CONSTRAINT {_quote(rec['name'])} IF EXISTS").consume()
        query = "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"
        for rec in session.run(query).data():
            session.run(f"DROP INDEX {_quote(rec['name'])} IF EXISTS").consume()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _acquire(tmp_path_factory: pytest.TempPathFactory) -> Neo4jServer:
    if _state["skip"]:
        pytest.skip(_state["skip"])
    if _state["fail"]:
        pytest.fail(_state["fail"], pytrace=False)
    if _state["server"] is None:
        home = tmp_path_factory.mktemp("neo4j")
        try:
            _state["server"] = start_or_skip(home)
        except pytest.skip.Exception as exc:
            _state["skip"] = str(exc.msg)
            raise
        except pytest.fail.Exception as exc:
            _state["fail"] = str(exc.msg)
            raise
    _state["users"] += 1
    return _state["server"]


def _release() -> None:
    _state["users"] -= 1
    server = _state["server"]
    if _state["users"] == 0 and server is not None:
        _state["server"] = None
        code = server.stop()
        if code != 0:
            pytest.fail(
                f"Neo4j did not shut down cleanly (exit {code})\n{server.log_tail()}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """One Neo4j server for the whole test session (see the module docstring)."""
    server = _acquire(tmp_path_factory)
    try:
        yield server
    finally:
        _release()


@pytest.fixture
def neo4j_driver(neo4j_server: Neo4jServer) -> Iterator[Any]:
    """The session server's driver, on an empty database (data and schema cleared)."""
    driver = neo4j_server.driver()
    clear_database(driver)
    yield driver
