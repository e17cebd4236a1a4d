"""The Neo4j engine: the graph in Neo4j is the store; graph stages run there in Cypher.

``ringfinder run DATA_DIR --engine neo4j`` validates DATA_DIR into the local workspace
(DuckDB: quarantine, pseudonyms, triage marks), MERGEs the graph into Neo4j
(:class:`ringfinder.neo4j.writer.GraphWriter`, as ``ringfinder neo4j load`` does) and
then reads everything the detectors need back **from Neo4j**. One definition of each
detector's scoring, two executions:

What runs in Cypher (``cypher/detectors/*.cypher``, parameterised, loaded by name):

* **referral_loop** — the candidate cycles (``referral_cycles``: institution referral
  cycles of 2–4 hops on routes carrying ``min_patients`` patients, weighted by the
  patients who travelled every route; none means no ring, and the detector stops
  there) and the loop instances (``referral_loop_legs``: per patient, the referrals
  from a departure to the return within ``loop_days`` that form a simple cycle). The
  statistics (cycling patients against the city's share, split stays, Bonferroni)
  run in Python on those rows.
* **co_admission** — the same-day co-occurrence (``co_admission_pairs``: persons
  admitted to one hospital on the same day on ``min_pair_days`` distinct days, over
  repeat patients, crowded days left out). The chance model, Leiden grouping, peeling
  and scoring run in Python on those pairs.
* **shared_card** — the same-terminal co-occurrence (``shared_card_pairs``: cards
  settled within ``burst_minutes`` on one terminal on ``min_pair_bursts`` days) and the
  dead/lost-card settlements (``shared_card_misuse``). They are the candidate gate:
  when both are empty the detector has nothing to find and stops. Otherwise the
  detector's own burst stream, pairing and scoring run in Python (its module is not
  split into stages yet, so it re-derives its pairs from the pulled claims).
* **Evidence money and dates** of every lead (``evidence_summary``), summed in cents.
* **The tables themselves**: ``cypher/detectors/<table>.cypher`` rebuilds each
  canonical table from the graph (``table_counts`` says which are present).

What runs in Python, on a DuckDB holding the rows pulled from Neo4j with the canonical
schema (streamed in batches into ``WORKSPACE/neo4j-pull``, removed after the run):
``fake_invoice`` and ``pharmacy_resale`` entirely; the statistics of the three detectors
above; the regulators' rule baseline; the person graph of the community detection.
Communities: GDS Leiden when the server has GDS (modularity objective only), else the
person graph is projected out to python-igraph, as the embedded engine does.

Lead nodes, ``INVOLVES``, risk scores and communities are written back after the run
(:meth:`Neo4jEngine.write_back`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ringfinder.engine.base import Engine, EvidenceSummary
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.errors import EngineError
from ringfinder.neo4j.connect import Neo4jSettings, open_driver, resolve_settings
from ringfinder.neo4j.queries import run_query, stream_query
from ringfinder.neo4j.writer import (
    BATCH_ROWS,
    GraphWriter,
    Progress,
    WriteReport,
    actual_counts,
    apply_schema,
    expected_counts,
)
from ringfinder.schema import LOAD_ORDER, TABLES

if TYPE_CHECKING:
    from ringfinder.community import CommunityResult
    from ringfinder.detectors.base import Detector
    from ringfinder.findings import Finding
    from ringfinder.graph import LeidenSettings
    from ringfinder.leads import Lead
    from ringfinder.load import LoadOptions, LoadReport, ProgressCallback

#: rows of a pulled table held in Python at a time (bounded memory at any city size)
PULL_BATCH_ROWS = 500_000
#: the workspace subfolder holding the tables pulled from Neo4j during a run (removed after)
MIRROR_DIR = "neo4j-pull"


class Neo4jEngine(Engine):
    """Detectors against a Neo4j database that ringfinder loaded (see the module docstring).

    ``driver`` (a ``neo4j.Driver``) or ``settings`` (default: ``NEO4J_*`` environment,
    then the config file; see :mod:`ringfinder.neo4j.connect`) say which server;
    ``workspace`` is the local DuckDB workspace the data is validated into first.
    ``gds``: use GDS Leiden for communities (None: when the server has it).
    """

    name = "neo4j"

    def __init__(
        self,
        workspace: Path | str | None = None,
        *,
        driver: Any = None,
        settings: Neo4jSettings | None = None,
        database: str | None = None,
        batch_rows: int = BATCH_ROWS,
        pull_batch_rows: int = PULL_BATCH_ROWS,
        threads: int | None = None,
        memory_limit: str | None = None,
        gds: bool | None = None,
        reuse_graph: bool = False,
    ) -> None:
        self.local = EmbeddedEngine(workspace, threads=threads, memory_limit=memory_limit)
        self.con = self.local.con
        self._own_driver = driver is None
        if driver is None:
            settings = settings or resolve_settings(database=database)
            try:
                driver = open_driver(settings)
            except BaseException:
                self.local.close()
                raise
        self.driver = driver
        self.database = database or (settings.database if settings else "neo4j")
        self.uri = settings.uri if settings else ""
        self.batch_rows = batch_rows
        self.pull_batch_rows = pull_batch_rows
        self._threads, self._memory_limit = threads, memory_limit
        self._gds = gds
        self.reuse_graph = reuse_graph
        self._mirror: EmbeddedEngine | None = None
        self._present: dict[str, int] | None = None
        self.stats: dict[str, Any] = {"pull": {}, "cypher": {}, "write": {}}

    # -- loading -------------------------------------------------------------------------
    def load(
        self,
        data_dir: Path,
        options: LoadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> LoadReport:
        """Validate ``data_dir`` into the workspace, then MERGE the graph into Neo4j.

        With ``reuse_graph`` the graph already in Neo4j (``ringfinder neo4j import`` of
        this workspace, or an earlier load) is analysed as it is, if its node and
        relationship counts equal the workspace's; otherwise :class:`EngineError`.
        """
        report = self.local.load(data_dir, options, progress)
        if self.reuse_graph:
            # a graph imported by an older version may lack an index a query now relies on
            apply_schema(self.driver, self.database)
            self.driver.execute_query("CALL db.awaitIndexes(600)", database_=self.database)
            self._check_reusable()
            return report

        def graph_progress(spec: str, done: int, total: int) -> None:
            if progress:
                progress(f"neo4j {spec}", done, total)

        self.push(graph_progress)
        return report

    def push(self, progress: Progress | None = None, *, resume: bool = True) -> WriteReport:
        """Write the workspace graph to Neo4j (idempotent, resumable)."""
        writer = GraphWriter(
            self.driver,
            self.con,
            database=self.database,
            batch_rows=self.batch_rows,
            target=self.uri,
        )
        report = writer.write_all(progress, resume=resume)
        self.stats["write"] = {
            "rows": report.rows,
            "seconds": round(report.seconds, 3),
            "rows_per_second": round(report.rows / report.seconds) if report.seconds else None,
        }
        self._reset_mirror()
        return report

    def _check_reusable(self) -> None:
        """Refuse to analyse a graph whose counts differ from the workspace's."""
        t0 = time.perf_counter()
        want, have = expected_counts(self.con), actual_counts(self.driver, self.database)
        differ = [
            f"{name} {have[i].get(name, 0):,} (workspace {n:,})"
            for i in (0, 1)
            for name, n in sorted(want[i].items())
            if have[i].get(name, 0) != n
        ]
        if differ:
            shown = "; ".join(differ[:4]) + (f"; {len(differ) - 4} more" if len(differ) > 4 else "")
            raise EngineError(
                f"--reuse-graph: the graph in Neo4j ({self.uri or self.database}) is not this "
                f"workspace's: {shown}. Load it (run without --reuse-graph, or `ringfinder "
                "neo4j import` into a stopped home)"
            )
        self.stats["write"] = {
            "rows": 0,
            "seconds": 0.0,
            "rows_per_second": None,
            "reused": True,
            "check_seconds": round(time.perf_counter() - t0, 3),
        }
        self._reset_mirror()

    def _open_mirror(self) -> EmbeddedEngine:
        """A fresh DuckDB for the pulled tables: a folder beside the workspace's database
        (DuckDB pages it to disk, so a city-year fits any memory limit), or in memory when
        the workspace is."""
        folder = self._mirror_dir()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return EmbeddedEngine(folder, threads=self._threads, memory_limit=self._memory_limit)

    def _mirror_dir(self) -> Path | None:
        ws = self.local.workspace
        return ws / MIRROR_DIR if ws is not None else None

    def _reset_mirror(self) -> None:
        self._drop_mirror()
        self._present = None
        self.stats["pull"] = {}

    def _drop_mirror(self) -> None:
        if self._mirror is not None:
            self._mirror.close()
            folder = self._mirror_dir()
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self._mirror = None

    # -- reading the graph back ----------------------------------------------------------
    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Run ``cypher/detectors/<name>.cypher`` and return its rows (timed in ``stats``)."""
        t0 = time.perf_counter()
        keys, rows = run_query(self.driver, self.database, name, **params)
        frame = pd.DataFrame(rows, columns=keys)
        self.stats["cypher"][name] = {
            "rows": len(frame),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        return frame

    def tables(self) -> dict[str, int]:
        if self._present is None:
            keys, rows = run_query(self.driver, self.database, "table_counts")
            counts = dict(zip(keys, rows[0], strict=True)) if rows else {}
            self._present = {t: int(counts[t]) for t in LOAD_ORDER if counts.get(t)}
        return dict(self._present)

    def _pull(self, names: Iterable[str]) -> EmbeddedEngine:
        """The relational copy (the mirror), holding at least the named tables (if present)."""
        if self._mirror is None:
            self._mirror = self._open_mirror()
        present = self.tables()
        for table in LOAD_ORDER:
            if table in names and table in present and table not in self.stats["pull"]:
                self._pull_table(table)
        return self._mirror

    def _pull_table(self, table: str) -> None:
        """Rebuild one canonical table from the graph, streamed in batches into the mirror.

        Each batch lands in a staging table with the canonical types; the table is then
        filled from it sorted by its key. The sort happens here, not in the query: a Cypher
        ORDER BY holds every row in the server's transaction memory (3 M claims overran a
        1 GB heap's 512 MiB).
        """
        assert self._mirror is not None
        con = self._mirror.con
        t0 = time.perf_counter()
        spec = TABLES[table]
        cols = [(c.name, c.type.duckdb) for c in spec.columns]
        if "_row_hash" in spec.key:
            cols.append(("_row_hash", "VARCHAR"))
        select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in cols)
        view, staging = f"_rf_pull_{table}", f"_rf_staging_{table}"
        con.execute(f'DROP TABLE IF EXISTS "{staging}"')
        rows = 0
        for keys, batch in stream_query(
            self.driver, self.database, table, batch_rows=self.pull_batch_rows
        ):
            if not rows:
                missing = {c for c, _ in cols} - set(keys)
                if missing:
                    raise EngineError(f"cypher/detectors/{table}.cypher lacks {sorted(missing)}")
            columns = zip(*batch, strict=True)
            data = pa.table({k: pa.array(col) for k, col in zip(keys, columns, strict=True)})
            con.register(view, data)
            try:
                head = f'CREATE TABLE "{staging}" AS' if not rows else f'INSERT INTO "{staging}"'
                con.execute(f"{head} SELECT {select} FROM {view}")
            finally:
                con.unregister(view)
            rows += len(batch)
        if rows:
            order = ", ".join(f'"{c}"' for c in spec.key)
            con.execute(f'INSERT INTO "{table}" SELECT * FROM "{staging}" ORDER BY {order}')
            con.execute(f'DROP TABLE "{staging}"')
        self.stats["pull"][table] = {
            "rows": rows,
            "seconds": round(time.perf_counter() - t0, 3),
        }

    def relational(self) -> EmbeddedEngine:
        """Every present table, pulled from Neo4j into an in-memory DuckDB."""
        return self._pull(LOAD_ORDER)

    # -- detectors -------------------------------------------------------------------------
    def run_detector(self, detector: Detector, params: Any) -> list[Finding]:
        """The detector's Cypher stage when it has one, else its Python on pulled tables;
        ``stats["detectors"]`` records which queries and pulls each detector paid for."""
        queries, pulled = set(self.stats["cypher"]), set(self.stats["pull"])
        stage = _STAGES.get(detector.name)
        try:
            if stage is not None:
                return stage(self, detector, params)
            mirror = self._pull((*detector.requires, *detector.uses))
            return detector.run_embedded(mirror, params)
        finally:
            self.stats.setdefault("detectors", {})[detector.name] = {
                "cypher": sorted(set(self.stats["cypher"]) - queries),
                "pulled": sorted(set(self.stats["pull"]) - pulled),
            }

    def evidence_summary(self, ids: Iterable[str]) -> EvidenceSummary:
        keys, rows = run_query(self.driver, self.database, "evidence_summary", ids=sorted(set(ids)))
        row = dict(zip(keys, rows[0], strict=True))
        return EvidenceSummary(
            Decimal(int(row["total_cents"] or 0)).scaleb(-2),
            Decimal(int(row["fund_cents"] or 0)).scaleb(-2),
            date.fromisoformat(row["first_seen"]) if row["first_seen"] else None,
            date.fromisoformat(row["last_seen"]) if row["last_seen"] else None,
            int(row["found"]),
        )

    # -- communities ---------------------------------------------------------------------
    def has_gds(self) -> bool:
        """Whether the server has GDS Leiden (and it is not turned off)."""
        if self._gds is not None:
            return self._gds
        records, _, _ = self.driver.execute_query(
            "SHOW PROCEDURES YIELD name WHERE name = 'gds.leiden.stream' RETURN count(*) AS n",
            database_=self.database,
        )
        self._gds = bool(records and records[0]["n"])
        return self._gds

    def communities(self, prior: Sequence[Finding] = ()) -> CommunityResult:
        """Person-graph communities: GDS Leiden when installed, else igraph's."""
        from ringfinder.community import CommunityParams, detect_communities

        params = CommunityParams()
        use_gds = params.leiden.objective == "modularity" and self.has_gds()
        self.stats["communities"] = "gds" if use_gds else "igraph"
        return detect_communities(
            self.relational(),
            params,
            prior=prior,
            partitioner=self._gds_leiden if use_gds else None,
        )

    def _gds_leiden(
        self,
        persons: Sequence[str],
        src: np.ndarray,
        dst: np.ndarray,
        weights: np.ndarray,
        settings: LeidenSettings,
    ) -> np.ndarray:
        """Leiden (modularity) of the person graph in GDS: projected from the Person nodes."""
        name = f"ringfinder-persons-{time.time_ns()}"
        edges = [
            {"a": persons[s], "b": persons[d], "w": float(w)}
            for s, d, w in zip(src.tolist(), dst.tolist(), weights.tolist(), strict=True)
        ]
        self.driver.execute_query(
            "UNWIND $edges AS e MATCH (a:Person {person_id: e.a}) "
            "MATCH (b:Person {person_id: e.b}) "
            "WITH gds.graph.project($name, a, b, {relationshipProperties: {weight: e.w}}, "
            "{undirectedRelationshipTypes: ['*']}) AS g RETURN g.graphName AS graph",
            edges=edges,
            name=name,
            database_=self.database,
        )
        try:
            records, _, _ = self.driver.execute_query(
                "CALL gds.leiden.stream($name, {relationshipWeightProperty: 'weight', "
                "randomSeed: $seed, gamma: $gamma, concurrency: 1}) YIELD nodeId, communityId "
                "RETURN gds.util.asNode(nodeId).person_id AS person_id, communityId",
                name=name,
                seed=settings.seed,
                gamma=settings.resolution,
                database_=self.database,
            )
        finally:
            self.driver.execute_query(
                "CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName",
                name=name,
                database_=self.database,
            )
        index = {p: i for i, p in enumerate(persons)}
        membership = np.zeros(len(persons), dtype=np.int64)
        codes: dict[int, int] = {}
        for r in records:
            membership[index[r["person_id"]]] = codes.setdefault(r["communityId"], len(codes))
        return membership

    # -- write-back ------------------------------------------------------------------------
    def write_back(self, leads: Sequence[Lead], lang: str) -> dict[str, Any]:
        """Lead nodes, INVOLVES, risk scores and the workspace's communities, in Neo4j."""
        from ringfinder.neo4j.writeback import write_communities, write_leads

        t0 = time.perf_counter()
        write_leads(self.driver, self.database, leads, lang)
        n = write_communities(self.driver, self.database, self.con)
        out = {"leads": len(leads), "community_memberships": n}
        self.stats["write_back"] = {**out, "seconds": round(time.perf_counter() - t0, 3)}
        return out

    def describe(self) -> dict[str, Any]:
        return {"database": self.database, **self.stats}

    def close(self) -> None:
        self._drop_mirror()
        if self._own_driver:
            self.driver.close()
        self.local.close()


# -- detectors with a Cypher stage ----------------------------------------------------------
def _referral_loop(engine: Neo4jEngine, detector: Detector, p: Any) -> list[Finding]:
    from ringfinder.detectors import referral_loop

    if p.max_cycle <= 4:  # the candidate query enumerates cycles of up to four hops
        cycles = engine.query("referral_cycles", min_patients=p.min_patients)
        if cycles.empty:
            return []  # no cycle carries min_patients of the same patients: no ring
    legs = engine.query(
        "referral_loop_legs", loop_days=p.loop_days, max_cycle=p.max_cycle, us="\x1f", rs="\x1e"
    )
    mirror = engine._pull((*detector.requires, *detector.uses))
    return referral_loop.run_on_legs(mirror, p, legs)


def _co_admission(engine: Neo4jEngine, detector: Detector, p: Any) -> list[Finding]:
    from ringfinder.detectors import co_admission

    pairs = engine.query("co_admission_pairs", k=p.min_pair_days, cap=p.max_day_crowd)
    if pairs.empty:
        return []
    mirror = engine._pull((*detector.requires, *detector.uses))
    return co_admission.run_on_pairs(mirror, p, pairs)


def _shared_card(engine: Neo4jEngine, detector: Detector, p: Any) -> list[Finding]:
    pairs = engine.query(
        "shared_card_pairs", window=60 * p.burst_minutes, min_days=p.min_pair_bursts
    )
    misuse = engine.query("shared_card_misuse")
    if pairs.empty and misuse.empty:
        return []  # no card pair recurs on a terminal, no card outlived its holder
    return detector.run_embedded(engine._pull((*detector.requires, *detector.uses)), p)


def _fake_invoice(engine: Neo4jEngine, detector: Detector, p: Any) -> list[Finding]:
    from ringfinder.detectors import fake_invoice

    reim = engine.query("fake_invoice_reimbursements")
    if reim.empty:
        return []  # no window reimbursement: nothing to find
    with_referrals = "referrals" in engine.tables()
    inv = engine.query(
        "fake_invoice_invoices", with_referrals=with_referrals, valid=p.referral_valid_days
    )
    return fake_invoice.run_on_frames(
        p, *fake_invoice.frames_from_rows(reim, inv, p), with_referrals
    )


_STAGES: dict[str, Callable[[Neo4jEngine, Any, Any], list[Any]]] = {
    "fake_invoice": _fake_invoice,
    "referral_loop": _referral_loop,
    "co_admission": _co_admission,
    "shared_card": _shared_card,
}
