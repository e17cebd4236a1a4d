"""Engines: one job, several places to run it (embedded DuckDB + igraph, Neo4j, Spark)."""

from __future__ import annotations

from ringfinder.engine.base import Engine, EvidenceSummary, get_engine

__all__ = ["Engine", "EvidenceSummary", "get_engine"]
