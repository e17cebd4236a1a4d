"""The detectors' Cypher, loaded by name from ``cypher/detectors/*.cypher`` (shipped in the wheel).

Each file is one parameterised query; its leading ``//`` lines say what it answers.
Values always travel as ``$parameters``; :func:`run_query` refuses a call that does not
supply every parameter a query uses.
"""

from __future__ import annotations

import re
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


def run_query(driver: Any, database: str, name: str, **params: Any) -> tuple[list[str], list[list]]:
    """Run a named query (read access) and return its column names and rows."""
    missing = parameters(name) - set(params)
    if missing:
        raise EngineError(f"query {name} needs parameters: {', '.join(sorted(missing))}")
    from neo4j import READ_ACCESS
    from neo4j.exceptions import TransientError

    try:
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            result = session.run(load_query(name), params)
            keys = list(result.keys())
            rows = [list(record.values()) for record in result]
    except TransientError as exc:
        if exc.code not in MEMORY_FULL:
            raise
        raise EngineError(
            f"Neo4j ran out of transaction memory in query {name}: "
            f"{str(exc.message).rstrip('.')}. Give the "
            "server more: `scripts/neo4j-start --heap 4g` (the cap is half the heap, or "
            "--tx-memory), or dbms.memory.transaction.total.max on your own server."
        ) from None
    return keys, rows
