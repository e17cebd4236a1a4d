"""One stage of ``ringfinder run`` in a process of its own (measured by :mod:`benchmarks.run`).

    python -m benchmarks.stage STAGE --city DIR --workspace DIR --state DIR --result FILE

The stages do what :func:`ringfinder.pipeline.run_job` does, one piece at a time, on a
workspace on disk; what one stage hands the next (findings, leads, the load report)
is pickled into ``--state``:

- ``startup``: import ringfinder (the pipeline, every detector) and open the
  workspace, nothing else: the fixed cost every other stage also pays (subtract it
  to compare the sum of the stages with the end-to-end run);
- ``load``: validate the city's tables into a fresh workspace;
- ``graph``: the weighted person graph of the community stage
  (:func:`ringfinder.community.person_edges`, canonical order), saved as Parquet for
  the Leiden/Louvain comparison;
- ``detector`` (with ``--detector NAME``): one registered detector;
- ``communities``: Leiden communities and community findings (rebuilds the person
  graph, as the run does), partition stored in the workspace;
- ``score``: :func:`ringfinder.leads.build_leads` over every finding;
- ``rules``: the regulators' screening rules and their coverage of the leads;
- ``write``: triage record, leads.jsonl, summary.md and run.json.

The in-process seconds of the stage's own work (without the imports and opening the
workspace) go into the result file as ``inner_s``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

STAGES = ("startup", "load", "graph", "detector", "communities", "score", "rules", "write")


def _dump(obj: object, path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _read(path: Path) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _detector_findings(state: Path) -> list[Any]:
    """Findings of every detector stage, in registry order (as run_job collects them)."""
    from ringfinder.detectors import all_detectors

    findings: list[Any] = []
    for det in all_detectors():
        path = state / f"findings-{det.name}.pkl"
        if path.exists():
            findings.extend(_read(path))
    return findings


def _run_files(state: Path) -> list[Path]:
    from ringfinder.detectors import all_detectors

    names = [d.name for d in all_detectors()]
    return [state / f"run-{n}.pkl" for n in names if (state / f"run-{n}.pkl").exists()]


def _scored(state: Path) -> list[Any]:
    return _read(state / "leads.pkl")  # type: ignore[no-any-return]


def run_stage(args: argparse.Namespace) -> dict[str, Any]:
    from ringfinder.engine.embedded import EmbeddedEngine

    state: Path = args.state
    state.mkdir(parents=True, exist_ok=True)
    engine = EmbeddedEngine(args.workspace)
    out: dict[str, Any] = {"stage": args.stage}
    t0 = time.perf_counter()
    try:
        if args.stage == "startup":
            # what every stage (and `ringfinder run`) imports before doing any work
            import ringfinder.community  # noqa: F401
            import ringfinder.leads  # noqa: F401
            import ringfinder.pipeline  # noqa: F401
            from ringfinder.detectors import all_detectors

            out["detectors"] = [d.name for d in all_detectors()]
            out["tables"] = engine.tables()
        elif args.stage == "load":
            report = engine.load(args.city)
            _dump(report, state / "load.pkl")
            out["rows"] = {t.table: t.loaded for t in report.tables}
            out["rejected"] = report.rejected
        elif args.stage == "graph":
            from ringfinder.community import CommunityParams, canonical_edges, person_edges

            edges = canonical_edges(person_edges(engine, CommunityParams()))
            edges.to_parquet(state / "person_edges.parquet", index=False)
            out["edges"] = len(edges)
            out["persons"] = int(len(set(edges["a"]).union(edges["b"])) if len(edges) else 0)
            out["edges_by_kind"] = {str(k): int(v) for k, v in edges["kind"].value_counts().items()}
        elif args.stage == "detector":
            from ringfinder.detectors import all_detectors
            from ringfinder.pipeline import DetectorRun, runnable

            det = next((d for d in all_detectors() if d.name == args.detector), None)
            if det is None:
                raise SystemExit(f"no registered detector {args.detector!r}")
            out["detector"] = det.name
            missing = runnable(det, list(engine.tables()))
            if missing:
                out["skipped"] = f"missing tables: {', '.join(missing)}"
                found: list[Any] = []
                run = DetectorRun(det.name, False, missing=missing)
            else:
                t1 = time.perf_counter()
                found = engine.run_detector(det, det.default_params())
                out["detector_s"] = round(time.perf_counter() - t1, 3)
                run = DetectorRun(det.name, True, out["detector_s"], len(found))
            _dump(found, state / f"findings-{det.name}.pkl")
            _dump(run, state / f"run-{det.name}.pkl")
            out["findings"] = len(found)
        elif args.stage == "communities":
            from ringfinder.pipeline import store_partition

            prior = _detector_findings(state)
            result = engine.communities(prior=prior)
            store_partition(engine, result.partition)
            _dump(result.findings, state / "findings-community.pkl")
            out["findings"] = len(result.findings)
            out["partition_persons"] = len(result.partition)
        elif args.stage == "score":
            from ringfinder.leads import build_leads

            findings = _detector_findings(state) + _read(state / "findings-community.pkl")
            scored = build_leads(findings, engine)
            _dump(scored, state / "leads.pkl")
            out["findings"] = len(findings)
            out["scored"] = len(scored)
        elif args.stage == "rules":
            from ringfinder.pipeline import MIN_SCORE
            from ringfinder.rules import coverage, screen

            leads = [lead for lead in _scored(state) if lead.score >= MIN_SCORE]
            hits = screen(engine.relational())
            cover = coverage([lead.members["persons"] for lead in leads], hits)
            _dump((hits, cover), state / "rules.pkl")
            out["persons_flagged"] = hits.counts()
        elif args.stage == "write":
            out.update(_write(engine, state, args.out))
        else:
            raise SystemExit(f"unknown stage {args.stage!r}")
    finally:
        out["inner_s"] = round(time.perf_counter() - t0, 3)
        engine.close()
    return out


def _write(engine: Any, state: Path, out_dir: Path) -> dict[str, Any]:
    """What run_job does after scoring: triage, leads.jsonl, summary.md, run.json."""
    from ringfinder.leads import write_leads
    from ringfinder.pipeline import (
        MIN_SCORE,
        DetectorRun,
        RunResult,
        output_paths,
        select_leads,
        write_summary_and_record,
    )

    leads, below, run_id, held = select_leads(engine.con, _scored(state), MIN_SCORE)
    hits, cover = _read(state / "rules.pkl")
    findings = _detector_findings(state) + _read(state / "findings-community.pkl")
    runs = [_read(p) for p in _run_files(state)]
    community = _read(state / "findings-community.pkl")
    runs.append(DetectorRun("community", True, 0.0, len(community)))
    outputs = output_paths(out_dir)
    write_leads(leads, outputs["leads"], "en")
    result = RunResult(
        _read(state / "load.pkl"),
        runs,
        findings,
        leads,
        {},
        outputs,
        hits,
        cover,
        run_id,
        held,
        below,
        MIN_SCORE,
        engine.name,
        engine.describe(),
    )
    write_summary_and_record(result, "en")
    return {"leads": len(leads), "below_min_score": below, "held_back": held}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.stage", description=__doc__)
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--city", type=Path, required=True)
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--out", type=Path, help="output folder of the write stage")
    ap.add_argument("--detector")
    ap.add_argument("--result", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.stage == "write" and args.out is None:
        ap.error("write needs --out")
    out = run_stage(args)
    args.result.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
