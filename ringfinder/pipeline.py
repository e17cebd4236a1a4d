"""The whole job as library calls: load, detect, score, write.

The CLI adds progress bars and tables on top; everything here reports through
callbacks and logging only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringfinder import __version__, triage
from ringfinder.detectors import Detector, all_detectors
from ringfinder.engine.base import Engine
from ringfinder.findings import Finding
from ringfinder.leads import Lead, atomic_write_text, build_leads, write_leads
from ringfinder.load import LoadOptions, LoadReport, ProgressCallback
from ringfinder.rules import Coverage, RuleHits, coverage, screen
from ringfinder.summary import render_summary

log = logging.getLogger(__name__)

#: Leads scoring below this are held back from leads.jsonl (counted in the summary).
#: Detectors cap evidence that honest groups also produce (lockstep of a dialysis
#: shift, a family tied only by an address) below 0.5, so 50 means "more likely a
#: scheme than an honest cohort"; ``--min-score 0`` lists everything.
MIN_SCORE = 50.0


@dataclass
class DetectorRun:
    name: str
    ran: bool
    seconds: float = 0.0
    findings: int = 0
    missing: tuple[str, ...] = ()


@dataclass
class RunResult:
    load: LoadReport | None
    detectors: list[DetectorRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    rule_hits: RuleHits | None = None
    rule_coverage: Coverage | None = None
    triage_run: str | None = None  # the run id kept in the workspace's triage store
    held_back: int = 0  # dismissed leads that did not grow, not raised again
    below_min_score: int = 0  # groups scored under min_score, not raised
    min_score: float = MIN_SCORE
    engine: str = "embedded"
    engine_info: dict[str, Any] = field(default_factory=dict)  # e.g. Neo4j stage timings


@dataclass
class RunCallbacks:
    """Hooks the CLI uses to show progress; all optional."""

    load_progress: ProgressCallback | None = None
    stage: Callable[[str], None] | None = None
    detector_done: Callable[[DetectorRun], None] | None = None


def runnable(detector: Detector, present: Sequence[str]) -> tuple[str, ...]:
    """The tables a detector needs that are missing (empty when it can run)."""
    return tuple(t for t in detector.requires if t not in present)


def detect(
    engine: Engine,
    detectors: Sequence[Detector] | None = None,
    callbacks: RunCallbacks | None = None,
) -> tuple[list[Finding], list[DetectorRun]]:
    """Run every detector whose tables are present; say which were skipped."""
    cb = callbacks or RunCallbacks()
    present = list(engine.tables())
    findings: list[Finding] = []
    runs = []
    for det in detectors if detectors is not None else all_detectors():
        missing = runnable(det, present)
        if missing:
            run = DetectorRun(det.name, ran=False, missing=missing)
            log.info("detector %s skipped: missing %s", det.name, ", ".join(missing))
        else:
            if cb.stage:
                cb.stage(f"detect:{det.name}")
            t0 = time.perf_counter()
            found = engine.run_detector(det, det.default_params())
            run = DetectorRun(det.name, True, time.perf_counter() - t0, len(found))
            findings.extend(found)
        runs.append(run)
        if cb.detector_done:
            cb.detector_done(run)
    return findings, runs


def store_partition(engine: Engine, partition: object) -> None:
    """Keep the latest community partition in the workspace (for Neo4j and exports)."""
    engine.con.register("_partition", partition)
    try:
        engine.con.execute(
            "CREATE OR REPLACE TABLE person_communities AS "
            "SELECT CAST(person_id AS VARCHAR) AS person_id, "
            "CAST(community_id AS VARCHAR) AS community_id, CAST(size AS BIGINT) AS size "
            "FROM _partition"
        )
    finally:
        engine.con.unregister("_partition")


def run_job(
    data_dir: Path | None,
    out_dir: Path,
    *,
    engine: Engine,
    load_options: LoadOptions | None = None,
    lang: str = "en",
    min_score: float = MIN_SCORE,
    callbacks: RunCallbacks | None = None,
) -> RunResult:
    """Load ``data_dir`` (if given), run the detectors, write leads and a summary.

    ``engine`` is any :class:`ringfinder.engine.base.Engine`: it loads (the Neo4j engine
    validates into the workspace and then MERGEs the graph into Neo4j), runs the
    detectors and the communities, and publishes the leads where it keeps a graph
    (``Engine.write_back``). Triage marks and the partition live in the workspace
    (``engine.con``) whichever engine ran.
    """
    cb = callbacks or RunCallbacks()
    timings: dict[str, float] = {}
    report = None
    if data_dir is not None:
        if cb.stage:
            cb.stage("load")
        t0 = time.perf_counter()
        report = engine.load(data_dir, load_options, cb.load_progress)
        timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings, runs = detect(engine, callbacks=cb)
    timings["detect"] = time.perf_counter() - t0
    if cb.stage:
        cb.stage("communities")
    t0 = time.perf_counter()
    communities = engine.communities(prior=findings)
    store_partition(engine, communities.partition)
    findings.extend(communities.findings)
    timings["communities"] = time.perf_counter() - t0
    runs.append(DetectorRun("community", True, timings["communities"], len(communities.findings)))
    if cb.stage:
        cb.stage("score")
    t0 = time.perf_counter()
    scored = build_leads(findings, engine)
    timings["score"] = time.perf_counter() - t0
    leads, below, triage_run, held_back = select_leads(engine.con, scored, min_score)
    t0 = time.perf_counter()
    hits = screen(engine.relational())
    cover = coverage([lead.members["persons"] for lead in leads], hits)
    timings["rules"] = time.perf_counter() - t0
    outputs = output_paths(out_dir)
    write_leads(leads, outputs["leads"], lang)
    if cb.stage and engine.name != "embedded":
        cb.stage("write-back")
    t0 = time.perf_counter()
    if engine.write_back(leads, lang) is not None:
        timings["write_back"] = time.perf_counter() - t0
    result = RunResult(
        report,
        runs,
        findings,
        leads,
        timings,
        outputs,
        hits,
        cover,
        triage_run,
        held_back,
        below,
        min_score,
        engine.name,
        engine.describe(),
    )
    write_summary_and_record(result, lang)
    return result


def select_leads(
    con: Any, scored: list[Lead], min_score: float
) -> tuple[list[Lead], int, str, int]:
    """The leads at or above ``min_score``, recorded as a triage run, less those a mark
    holds back: ``(leads, below min_score, triage run id, held back)``."""
    leads = [lead for lead in scored if lead.score >= min_score]
    below = len(scored) - len(leads)
    triage_run = triage.record_run(con, leads)
    held_back = len(leads)
    leads = triage.apply_marks(con, leads)
    return leads, below, triage_run, held_back - len(leads)


def output_paths(out_dir: Path) -> dict[str, Path]:
    """The run's output files in ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "leads": out_dir / "leads.jsonl",
        "summary": out_dir / "summary.md",
        "run": out_dir / "run.json",
    }


def write_summary_and_record(result: RunResult, lang: str) -> None:
    """``summary.md`` and ``run.json`` of a finished run (each written atomically)."""
    atomic_write_text(result.outputs["summary"], render_summary(result, lang))
    record = json.dumps(run_record(result), ensure_ascii=False, indent=2)
    atomic_write_text(result.outputs["run"], record)


def run_record(result: RunResult) -> dict[str, object]:
    """Machine-readable record of the run: versions, counts, timings (no personal data)."""
    return {
        "ringfinder": __version__,
        "engine": result.engine,
        **({"engine_info": result.engine_info} if result.engine_info else {}),
        "load": [
            {"table": t.table, "read": t.read, "loaded": t.loaded, "rejected": t.rejected}
            for t in (result.load.tables if result.load else [])
        ],
        "missing_optional": result.load.missing_optional if result.load else [],
        "load_reused": (
            {"load_id": result.load.reused_load, "finished_at": result.load.reused_at}
            if result.load and result.load.reused_load is not None
            else None
        ),
        "detectors": [
            {
                "name": d.name,
                "ran": d.ran,
                "seconds": round(d.seconds, 3),
                "findings": d.findings,
                "missing": list(d.missing),
            }
            for d in result.detectors
        ],
        "triage_run": result.triage_run,
        "leads": len(result.leads),
        "leads_held_back": result.held_back,
        "min_score": result.min_score,
        "groups_below_min_score": result.below_min_score,
        "rules": {
            "persons_flagged": result.rule_hits.counts() if result.rule_hits else {},
            "leads_caught_by_rules": result.rule_coverage.caught if result.rule_coverage else 0,
            "leads_touched_by_rules": result.rule_coverage.touched if result.rule_coverage else 0,
        },
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
