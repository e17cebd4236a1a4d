"""The detectors' Cypher, loaded by name from ``cypher/detectors/*.cypher`` (shipped in the wheel).

Each file is one parameterised query; its leading ``//`` lines say what it answers.
Values always travel as ``$parameters``; :func:`run_query` refuses a call that does not
supply every parameter a query uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from ringfinder.errors import EngineError, RingfinderError
from ringfinder.resources import resource_dir

FOLDER = "detectors"
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def query_names() -> list[str]:
    """Every query shipped in ``cypher/detectors``, by name (file stem), sorted."""
    return sorted(p.stem for p in resource_dir("cypher").joinpath(FOLDER).glob("*.cypher"))


@cache
def load_query(name: str) -> str:
    """The text of ``cypher/detectors/<name>.cypher`` without its comment lines."""
    path = resource_dir("cypher").joinpath(FOLDER, f"{name}.cypher")
    if not path.is_file():
        raise RingfinderError(f"packaged resource cypher/{FOLDER}/{name}.cypher not found")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("//")).strip()


def describe(name: str) -> str:
    """The query's leading comment (what it answers), as one paragraph."""
    path = resource_dir("cypher").joinpath(FOLDER, f"{name}.cypher")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("//"):
            break
        out.append(line.lstrip()[2:].strip())
    return " ".join(out)


def parameters(name: str) -> set[str]:
    """The ``$parameters`` a query uses."""
    return set(_PARAM.findall(load_query(name)))


#: the server's caps on transaction memory (all transactions', or one's) were hit
MEMORY_FULL = (
    "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
    "Neo.TransientError.General.TransactionMemoryLimit",
)


#: records per PULL from the server when a query is streamed (the driver's default: 1,000)
STREAM_FETCH = 10_000


@contextmanager
def _memory_errors(name: str) -> Iterator[None]:
    """Turn the server's out-of-transaction-memory errors into an :class:`EngineError`."""
    from neo4j.exceptions import TransientError

    try:
        yield
    except TransientError as exc:
        if exc.code not in MEMORY_FULL:
            raise
        raise EngineError(
            f"Neo4j ran out of transaction memory in query {name}: "
            f"{str(exc.message).rstrip('.')}. Give the "
            "server more: `scripts/neo4j-start --heap 4g` (the cap is half the heap, or "
            "--tx-memory), or dbms.memory.transaction.total.max on your own server."
        ) from None


def _checked(name: str, params: dict[str, Any]) -> str:
    missing = parameters(name) - set(params)
    if missing:
        raise EngineError(f"query {name} needs parameters: {', '.join(sorted(missing))}")
    return load_query(name)


def run_query(driver: Any, database: str, name: str, **params: Any) -> tuple[list[str], list[list]]:
    """Run a named query (read access) and return its column names and rows."""
    text = _checked(name, params)
    from neo4j import READ_ACCESS

    with _memory_errors(name):
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            result = session.run(text, params)
            keys = list(result.keys())
            rows = [list(record.values()) for record in result]
    return keys, rows


def stream_query(
    driver: Any, database: str, name: str, *, batch_rows: int = 500_000, **params: Any
) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
    """Run a named query (read access) and yield its column names with each batch of rows.

    At most ``batch_rows`` rows are held at a time, so a table of any size (29.7 M claims
    of a 3 M-person city) streams through in bounded memory; rows are the driver's
    records (tuples). A query without rows yields nothing.
    """
    text = _checked(name, params)
    from neo4j import READ_ACCESS

    with _memory_errors(name):
        with driver.session(
            database=database, default_access_mode=READ_ACCESS, fetch_size=STREAM_FETCH
        ) as session:
            result = session.run(text, params)
            keys = list(result.keys())
            while batch := result.fetch(batch_rows):
                yield keys, batch
