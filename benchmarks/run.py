"""The benchmark (issue 6): synthetic cities at several sizes, every stage measured apart.

    .venv/bin/python -m benchmarks.run --sizes 30000,300000,3000000 --seed 7 \\
        --out benchmarks/results/report.json [--work DIR] [--keep]

For each size (persons in the synthetic city; claims are about ten per person):

1. ``ringfinder synth`` the city (timed like everything else);
2. ``ringfinder run`` end to end, one process: the headline figure;
3. each stage of the run in a process of its own (:mod:`benchmarks.stage`): load into a
   fresh workspace, the startup cost, the person graph, every registered detector,
   communities, scoring, the screening rules, writing; findings and leads pass between
   stages as pickles in the work folder;
4. side by side on the same data (:mod:`benchmarks.compare`): igraph Leiden against
   networkx Louvain on the person graph; FRAUDAR's greedy (``rgmining-fraudar``, when
   installed) against our co_admission and shared_card detectors on the lockstep
   matrices, time and F1 against the planted truth; the load against DuckDB's own
   ``read_csv`` of the same files (the floor of parsing and storing them);
5. (``--neo4j``) the Neo4j engine end to end against the embedded one, the Bolt loader's
   rows/s and the neo4j-admin bulk import (``ringfinder neo4j import``).

Each child is measured with ``os.wait4``: wall seconds, CPU seconds (user + sys) and
peak resident memory (``ru_maxrss``). The report (JSON, and a Markdown table beside
it) holds the machine, every figure, rows per second, the growth exponent between
consecutive sizes, the side-by-side ratios and the issue's targets with pass or fail.
The report is rewritten after every size, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import GB, loadavg, machine_info, run_measured, tail

REPO = Path(__file__).resolve().parents[1]
#: Pseudonymisation key of every child (so no key file is created or read).
BENCH_KEY = "ringfinder-benchmark-key-not-secret"

# the targets at 3 M persons / ~30 M claims
TARGET_E2E_SECONDS = 180.0
TARGET_E2E_RSS_GB = 8.0
TARGET_GROWTH = 11.0  # time(30 M claims) <= 11 x time(3 M claims): 1.1 x the claims ratio
TARGET_PERSONS = 3_000_000


# -- helpers ---------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RINGFINDER_KEY"] = BENCH_KEY  # never the user's key file
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("COLUMNS", "160")
    env["NO_COLOR"] = "1"
    return env


def ringfinder_cmd() -> list[str]:
    script = Path(sys.executable).with_name("ringfinder")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ringfinder.cli.main"]


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rmtree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def detectors(env: dict[str, str]) -> list[str]:
    """Registered detectors, asked of a child: this process never imports ringfinder."""
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ringfinder.detectors import all_detectors\n"
            "print('\\n'.join(d.name for d in all_detectors()))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return res.stdout.split()


def quality(leads: Path, truth: Path) -> dict[str, Any] | None:
    """The run's leads scored against the planted schemes of the city's ``truth.json``.

    Recall, precision at K (twice the planted) and look-alikes in the top K, as
    ``ringfinder eval`` scores them: a speed-up is only one if these hold, at sizes the
    detectors were not tuned on.
    """
    planted = read_json(truth)
    if not leads.is_file() or not planted:
        return None
    from ringfinder.evaluate import evaluate, read_leads

    out = evaluate(read_leads(leads), planted).to_json()
    out["lookalikes_planted"] = len(planted.get("lookalikes", []))
    return out


def exponent(t1: float | None, t2: float | None, n1: int, n2: int) -> float | None:
    if not t1 or not t2 or t1 <= 0 or t2 <= 0 or n1 <= 0 or n2 <= 0 or n1 == n2:
        return None
    return round(math.log(t2 / t1) / math.log(n2 / n1), 3)


def fail_info(m: dict[str, Any]) -> dict[str, Any]:
    """Add the end of the child's stderr to a failed measurement."""
    if not m["ok"]:
        m["error_tail"] = tail(Path(m["log"] + ".err"))
    return m


# -- one size --------------------------------------------------------------------------
class SizeRun:
    def __init__(self, args: argparse.Namespace, work: Path, persons: int, env: dict[str, str]):
        self.args = args
        self.persons = persons
        self.env = env
        self.dir = work / f"p{persons}"
        self.city = self.dir / "city"
        self.logs = self.dir / "logs"
        self.state = self.dir / "state"
        self.ws = self.dir / "workspace"
        self.out: dict[str, Any] = {"persons": persons}

    def say(self, msg: str) -> None:
        if not self.args.quiet:
            stamp = dt.datetime.now().strftime("%H:%M:%S")
            print(f"[{stamp}] {self.persons:,} persons: {msg}", flush=True)

    def measure(self, name: str, cmd: list[str], **kw: Any) -> dict[str, Any]:
        # write back what earlier steps left dirty (a fresh city's CSVs, the workspace)
        # so that its I/O does not land in this child's figures
        t0 = time.perf_counter()
        os.sync()
        synced = time.perf_counter() - t0
        m = run_measured(cmd, log_prefix=self.logs / name, env=self.env, cwd=REPO, **kw)
        m["sync_before_s"] = round(synced, 3)
        fail_info(m)
        status = "ok" if m["ok"] else f"FAILED ({m['killed'] or 'exit ' + str(m['returncode'])})"
        self.say(
            f"{name}: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
            f"{m['peak_rss_gb']:.2f} GB peak, {status}"
        )
        return m

    # 1. synth
    def synth(self) -> None:
        truth = read_json(self.city / "truth.json")
        saved = read_json(self.dir / "synth.json")
        same = (
            truth is not None
            and truth.get("persons") == self.persons
            and truth.get("seed") == self.args.seed
        )
        if self.args.reuse_city and same and saved:
            self.out["synth"] = {**saved, "reused": True}
            self.say("synth: reusing the city in the work folder (figures of its own run)")
            return
        rmtree(self.city)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.say("synth ...")
        m = self.measure(
            "synth",
            [
                *ringfinder_cmd(),
                "synth",
                str(self.city),
                "--persons",
                str(self.persons),
                "--seed",
                str(self.args.seed),
                "--format",
                self.args.format,
            ],
            timeout=self.args.stage_timeout,
        )
        (self.dir / "synth.json").write_text(json.dumps(m, indent=1), encoding="utf-8")
        self.out["synth"] = m
        if not m["ok"]:
            raise RuntimeError(f"synth failed at {self.persons:,} persons: {m.get('error_tail')}")

    def planted(self) -> dict[str, int]:
        truth = read_json(self.city / "truth.json") or {}
        counts: dict[str, int] = {}
        for s in truth.get("schemes", []):
            counts[s["kind"]] = counts.get(s["kind"], 0) + 1
        return counts

    # 2. end to end
    def run_cmd(self, out_dir: Path, workspace: Path) -> list[str]:
        """``ringfinder run`` of this size's city into ``out_dir`` with ``workspace``."""
        return [
            *ringfinder_cmd(),
            "run",
            str(self.city),
            "--out",
            str(out_dir),
            "--workspace",
            str(workspace),
            "--lang",
            "en",
        ]

    def end_to_end(self) -> None:
        """``ringfinder run`` end to end, ``--repeat`` times: the fastest is the headline
        (the machine is shared; every run is kept under ``repeats``)."""
        out_dir = self.dir / "e2e"
        runs = []
        for i in range(max(self.args.repeat, 1)):
            rmtree(out_dir)
            self.say("ringfinder run (end to end) ...")
            m = self.measure(
                "end_to_end" + (f"-{i + 1}" if i else ""),
                self.run_cmd(out_dir, out_dir / "workspace"),
                timeout=self.args.stage_timeout,
            )
            record = read_json(out_dir / "run.json") or {}
            m["run_json"] = {
                "timings": record.get("timings"),
                "detectors": {
                    d["name"]: {"seconds": d["seconds"], "findings": d["findings"]}
                    for d in record.get("detectors", [])
                },
                "leads": record.get("leads"),
            }
            rows = {t["table"]: t["loaded"] for t in record.get("load", [])}
            if rows:
                self.out["rows"] = rows
                self.out["claims"] = rows.get("claims")
            runs.append(m)
        for m in runs:
            self.rates(m)
        ok = [m for m in runs if m["ok"]]
        best = min(ok, key=lambda m: m["wall_s"]) if ok else runs[-1]
        self.out["end_to_end"] = {
            **best,
            "repeats": [
                {k: m[k] for k in ("wall_s", "cpu_s", "peak_rss_gb", "ok", "loadavg_before")}
                for m in runs
            ],
            "headline": "fastest of the repeats" if len(runs) > 1 else "single run",
        }
        if runs[-1]["ok"]:  # the leads of the last run are on disk (each run gives the same)
            self.out["quality"] = quality(out_dir / "leads.jsonl", self.city / "truth.json")
            self.rerun(out_dir)
        if not self.args.keep and not (self.args.neo4j and self.args.neo4j_load == "import"):
            rmtree(out_dir / "workspace")  # else imported into Neo4j, removed in cleanup

    def rerun(self, first: Path) -> None:
        """``ringfinder run`` again on the same files and workspace, as an investigator
        exploring does: the load is not read again; the leads must be the same."""
        out_dir = self.dir / "rerun"
        rmtree(out_dir)
        self.say("ringfinder run again (files unchanged) ...")
        m = self.measure(
            "rerun_unchanged",
            self.run_cmd(out_dir, first / "workspace"),
            timeout=self.args.stage_timeout,
        )
        record = read_json(out_dir / "run.json") or {}
        m["load_reused"] = record.get("load_reused") is not None
        m["timings"] = record.get("timings")
        leads, before = out_dir / "leads.jsonl", first / "leads.jsonl"
        m["same_leads"] = leads.is_file() and leads.read_bytes() == before.read_bytes()
        self.out["rerun_unchanged"] = m
        rmtree(out_dir)

    def rates(self, m: dict[str, Any]) -> None:
        claims = self.out.get("claims")
        if claims and m.get("ok") and m["wall_s"] > 0:
            m["claims_per_s"] = round(claims / m["wall_s"])
            total = sum(self.out.get("rows", {}).values())
            m["all_rows_per_s"] = round(total / m["wall_s"])

    # 3. stages
    def stage(self, name: str, stage: str, **extra: str) -> dict[str, Any]:
        result = self.state / f"result-{name}.json"
        result.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.stage",
            stage,
            "--city",
            str(self.city),
            "--workspace",
            str(self.ws),
            "--state",
            str(self.state),
            "--result",
            str(result),
        ]
        for k, v in extra.items():
            cmd += [f"--{k}", v]
        m = self.measure(name.replace(":", "-"), cmd, timeout=self.args.stage_timeout)
        m["result"] = read_json(result)
        return m

    def stages(self, names: list[str]) -> None:
        rmtree(self.ws)
        rmtree(self.state)
        self.state.mkdir(parents=True)
        st: dict[str, Any] = {}
        self.out["stages"] = st
        st["load"] = self.stage("load", "load")
        if not st["load"]["ok"]:
            raise RuntimeError(f"load failed: {st['load'].get('error_tail')}")
        if self.out.get("claims") is None and st["load"]["result"]:
            self.out["rows"] = st["load"]["result"]["rows"]
            self.out["claims"] = self.out["rows"].get("claims")
        self.rates(st["load"])
        st["startup"] = self.stage("startup", "startup")
        st["graph"] = self.stage("graph", "graph")
        for det in names:
            st[f"detector:{det}"] = self.stage(f"detector:{det}", "detector", detector=det)
        st["communities"] = self.stage("communities", "communities")
        st["score"] = self.stage("score", "score")
        st["rules"] = self.stage("rules", "rules")
        st["write"] = self.stage("write", "write", out=str(self.dir / "stages-out"))
        pipeline = [k for k in st if k not in ("startup", "graph")]  # what `run` does
        wall = sum(st[k]["wall_s"] for k in pipeline)
        cpu = sum(st[k]["cpu_s"] for k in pipeline)
        startup = st["startup"]["wall_s"]
        self.out["stage_sum"] = {
            "stages": pipeline,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "peak_rss_gb_max": max(st[k]["peak_rss_gb"] for k in pipeline),
            # every stage process pays the imports and opening the workspace once
            "wall_s_less_startup": round(wall - startup * (len(pipeline) - 1), 3),
        }

    # 4. side by side
    def compare(self) -> None:
        cmp: dict[str, Any] = {}
        self.out["comparisons"] = cmp
        truth = self.city / "truth.json"
        base = [sys.executable, "-m", "benchmarks.compare"]
        limit = {
            "timeout": self.args.compare_timeout,
            "rss_limit": int(self.args.compare_rss_gb * GB),
        }

        f1 = self.state / "cmp-f1.json"
        m = self.measure(
            "cmp-f1",
            [*base, "f1", "--state", str(self.state), "--truth", str(truth), "--result", str(f1)],
        )
        ours = read_json(f1) or {}

        floor = self.state / "cmp-read-csv.json"
        floor.unlink(missing_ok=True)
        m = self.measure(
            "cmp-read-csv",
            [
                *base,
                "read_csv",
                "--city",
                str(self.city),
                "--tmp",
                str(self.dir),
                "--result",
                str(floor),
            ],
            **limit,
        )
        rc: dict[str, Any] = {"process": m, **(read_json(floor) or {"status": "no result"})}
        load = (self.out["stages"].get("load", {}).get("result") or {}).get("inner_s")
        if load and rc.get("total_s"):
            rc["ours_load_s"] = load
            rc["ratio_load_over_read_csv_s"] = round(load / rc["total_s"], 2)
        cmp["load_vs_duckdb_read_csv"] = rc

        edges = self.state / "person_edges.parquet"
        lv: dict[str, Any] = {}
        for algo in ("leiden", "louvain"):
            res = self.state / f"cmp-{algo}.json"
            res.unlink(missing_ok=True)
            if not edges.exists():
                lv[algo] = {"status": "skipped", "reason": "graph stage wrote no person graph"}
                continue
            m = self.measure(
                f"cmp-{algo}",
                [*base, algo, "--edges", str(edges), "--result", str(res)],
                **limit,
            )
            lv[algo] = {"process": m, **(read_json(res) or {"status": "no result"})}
        le, lo = lv.get("leiden", {}), lv.get("louvain", {})
        if le.get("algorithm_s") and lo.get("algorithm_s"):
            lv["ratio_louvain_over_leiden_s"] = round(lo["algorithm_s"] / le["algorithm_s"], 2)
            lv["modularity_leiden_minus_louvain"] = round(le["modularity"] - lo["modularity"], 6)
        elif lo.get("process", {}).get("killed"):
            lv["ratio_louvain_over_leiden_s"] = None
            lv["note"] = f"louvain did not finish: {lo['process']['killed']}"
        cmp["leiden_vs_louvain"] = lv

        fr: dict[str, Any] = {}
        planted = self.planted()
        for kind in ("shared_card", "co_admission"):
            res = self.state / f"cmp-fraudar-{kind}.json"
            res.unlink(missing_ok=True)
            entry: dict[str, Any] = {}
            if self.args.no_fraudar:
                entry["fraudar"] = {"status": "skipped", "reason": "--no-fraudar"}
            else:
                m = self.measure(
                    f"cmp-fraudar-{kind}",
                    [
                        *base,
                        "fraudar",
                        "--workspace",
                        str(self.ws),
                        "--kind",
                        kind,
                        "--truth",
                        str(truth),
                        "--blocks",
                        str(max(planted.get(kind, 1), 1)),
                        "--max-nnz",
                        str(self.args.fraudar_max_nnz),
                        "--result",
                        str(res),
                    ],
                    **limit,
                )
                got = read_json(res) or {"status": "no result"}
                if m["killed"]:
                    got["status"] = f"cut: {m['killed']} (blocks found before the cut kept)"
                elif not m["ok"]:
                    last = (m.get("error_tail") or "").strip().splitlines()
                    got["status"] = "failed"
                    got["reason"] = f"exit {m['returncode']}: {last[-1] if last else '?'}"
                    got["error_tail"] = m.get("error_tail")
                entry["fraudar"] = {"process": m, **got}
            det = self.out["stages"].get(f"detector:{kind}", {})
            entry["ours"] = {
                "detector": kind,
                "process_wall_s": det.get("wall_s"),
                "detector_s": (det.get("result") or {}).get("detector_s"),
                **ours.get(kind, {}),
            }
            fd = entry["fraudar"]
            if fd.get("greedy_s") and entry["ours"]["detector_s"]:
                entry["ratio_fraudar_over_ours_s"] = round(
                    (fd.get("matrix_s", 0) + fd["greedy_s"]) / entry["ours"]["detector_s"], 2
                )
            fr[kind] = entry
        cmp["fraudar_vs_detectors"] = fr

    # 5. Neo4j
    def neo4j(self) -> None:
        self.out["neo4j"] = neo4j_section(self, self.args)

    def cleanup(self) -> None:
        if self.args.keep:
            return
        for path in (
            self.ws,
            self.state,
            self.dir / "stages-out",
            self.dir / "e2e" / "workspace",
            self.dir / "neo4j" / "workspace",
            self.dir / "neo4j-home",
            self.dir / "neo4j-import-home",
        ):
            rmtree(path)
        if not self.args.reuse_city:
            rmtree(self.city)


# -- Neo4j ------------------------------------------------------------------------------
NEO4J_NOTE = (
    "Neo4j (issue 6 items 3 and 4): `ringfinder run --engine neo4j` (Cypher detectors, "
    "tables pulled back from the graph) against the embedded run of the same city: seconds "
    "per detector, cypher_over_embedded (how many times faster embedded is; target >= 20), "
    "same leads. --neo4j-load bolt (default): the run writes the graph over Bolt into a "
    "fresh local server (the loader's rows/s, target >= 50,000), then `ringfinder neo4j "
    "import` of the same workspace is timed into a second home. --neo4j-load import: "
    "`ringfinder neo4j import` of the embedded run's workspace first (target <= 10 min at 3M "
    "persons), a server on the imported home, then `run --engine neo4j --reuse-graph` "
    "(nothing written over Bolt; the way to measure a city-year). A local server is started "
    "unless NEO4J_URI is set."
)


def neo4j_section(size: SizeRun, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"note": NEO4J_NOTE, "load": args.neo4j_load}
    if not args.neo4j:
        return {**out, "status": "skipped", "reason": "--neo4j not given"}
    probe = subprocess.run(
        [sys.executable, "-c", "import ringfinder.engine.neo4j"],
        env=size.env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return {
            **out,
            "status": "skipped",
            "reason": "ringfinder.engine.neo4j does not import: "
            + (probe.stderr.strip().splitlines() or ["?"])[-1],
        }
    reuse = args.neo4j_load == "import"
    if reuse:
        if size.env.get("NEO4J_URI"):
            return {
                **out,
                "status": "skipped",
                "reason": "--neo4j-load import starts its own server on the imported home; "
                "unset NEO4J_URI",
            }
        home = size.dir / "neo4j-import-home"
        out["bulk_import"] = bulk_import(size, args, size.dir / "e2e" / "workspace", home)
        if not out["bulk_import"]["measured"]["ok"]:
            return {**out, "status": "import failed"}
    else:
        home = size.dir / "neo4j-home"
        rmtree(home)
    out_dir = size.dir / "neo4j"
    rmtree(out_dir)
    env = dict(size.env)
    server = None
    if not env.get("NEO4J_URI"):
        from ringfinder.errors import EngineError
        from ringfinder.neo4j.server import start_server

        mem = {
            "heap": args.neo4j_heap,
            "pagecache": args.neo4j_pagecache,
            "tx_memory": args.neo4j_tx_memory,
        }
        try:
            server = start_server(home=home, timeout=900, **mem)
        except EngineError as exc:
            return {**out, "status": "skipped", "reason": str(exc).splitlines()[0]}
        env.update(NEO4J_URI=server.uri, RINGFINDER_NEO4J_CONFIG="/nonexistent/neo4j.toml")
        for var in ("NEO4J_USER", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
            env.pop(var, None)
        out["server"] = {**mem, "startup_s": server.startup_seconds}
    saved_env, size.env = size.env, env
    try:
        m = size.measure(
            "neo4j-end_to_end",
            [
                *ringfinder_cmd(),
                "run",
                str(size.city),
                "--engine",
                "neo4j",
                *(["--reuse-graph"] if reuse else []),
                "--out",
                str(out_dir),
                "--workspace",
                str(out_dir / "workspace"),
                "--lang",
                "en",
            ],
            timeout=args.stage_timeout,
        )
    finally:
        size.env = saved_env
        if server is not None:
            server.stop()
    out["end_to_end"] = m
    if not m["ok"]:
        return {**out, "status": "failed"}
    neo = read_json(out_dir / "run.json") or {}
    emb = read_json(size.dir / "e2e" / "run.json") or {}
    emb_s = {d["name"]: d["seconds"] for d in emb.get("detectors", [])}
    info = neo.get("engine_info") or {}
    paid = info.get("detectors") or {}
    per = {}
    for d in neo.get("detectors", []):
        e = emb_s.get(d["name"])
        spent = paid.get(d["name"]) or {}
        per[d["name"]] = {
            "cypher_s": d["seconds"],
            "embedded_s": e,
            "cypher_over_embedded": round(d["seconds"] / e, 2) if e else None,
            # what the Neo4j engine ran for it: its Cypher stage's queries (none: the
            # detector's Python on tables pulled from the graph) and the tables it pulled
            "cypher_queries": spent.get("cypher"),
            "pulled": spent.get("pulled"),
        }
    out["detectors"] = per
    out["neo4j_timings"] = neo.get("timings")
    out["engine_info"] = info
    write = info.get("write") or {}
    if not reuse:
        out["bolt_load"] = {
            "rows": write.get("rows"),
            "seconds": write.get("seconds"),
            "rows_per_s": write.get("rows_per_second"),
            "target_rows_per_s": 50_000,
        }

    def lead_ids(path: Path) -> set[str]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return set()
        return {json.loads(line)["lead_id"] for line in lines if line.strip()}

    a, b = lead_ids(size.dir / "e2e" / "leads.jsonl"), lead_ids(out_dir / "leads.jsonl")
    out["same_leads"] = a == b
    out["leads"] = {"embedded": len(a), "neo4j": len(b), "common": len(a & b)}
    e2e = size.out.get("end_to_end", {})
    if e2e.get("wall_s"):
        out["ratio_end_to_end_neo4j_over_embedded"] = round(m["wall_s"] / e2e["wall_s"], 2)
    if not reuse:  # the offline bulk import of the same workspace into a fresh home
        imp_home = size.dir / "neo4j-import-home"
        out["bulk_import"] = bulk_import(size, args, out_dir / "workspace", imp_home)
    out["status"] = "ok" if out["bulk_import"]["measured"]["ok"] else "import failed"
    return out


def bulk_import(
    size: SizeRun, args: argparse.Namespace, workspace: Path, home: Path
) -> dict[str, Any]:
    """``ringfinder neo4j import`` of ``workspace`` into a fresh ``home``, measured."""
    rmtree(home)
    report = size.dir / "neo4j-import.json"
    report.unlink(missing_ok=True)
    m = size.measure(
        "neo4j-import",
        [
            *ringfinder_cmd(),
            "neo4j",
            "import",
            "--workspace",
            str(workspace),
            "--home",
            str(home),
            "--report",
            str(report),
        ],
        timeout=args.stage_timeout,
    )
    return {**(read_json(report) or {}), "measured": m, "target_s_at_3m": 600}


# -- growth, targets, profile ------------------------------------------------------------
def stage_keys(sizes: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for s in sizes:
        for k in s.get("stages", {}):
            if k not in keys:
                keys.append(k)
    return keys


def figure(size: dict[str, Any], key: str) -> dict[str, Any] | None:
    if key in ("end_to_end", "synth"):
        return size.get(key)
    return size.get("stages", {}).get(key)


def growth(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth exponents between consecutive sizes (on claims) and largest/middle ratios."""
    done = [s for s in sizes if s.get("claims")]
    out: dict[str, Any] = {"basis": "claims rows; exponent = log(t2/t1) / log(n2/n1)"}
    keys = ["end_to_end", "synth", *stage_keys(done)]
    per: dict[str, Any] = {}
    for key in keys:
        steps = []
        for s1, s2 in zip(done, done[1:], strict=False):
            f1, f2 = figure(s1, key), figure(s2, key)
            if not f1 or not f2 or not f1.get("ok") or not f2.get("ok"):
                continue
            steps.append(
                {
                    "from_persons": s1["persons"],
                    "to_persons": s2["persons"],
                    "claims_ratio": round(s2["claims"] / s1["claims"], 3),
                    "wall_ratio": round(f2["wall_s"] / f1["wall_s"], 3) if f1["wall_s"] else None,
                    "wall_exponent": exponent(
                        f1["wall_s"], f2["wall_s"], s1["claims"], s2["claims"]
                    ),
                    "cpu_exponent": exponent(f1["cpu_s"], f2["cpu_s"], s1["claims"], s2["claims"]),
                    "rss_ratio": round(f2["peak_rss_bytes"] / f1["peak_rss_bytes"], 3)
                    if f1["peak_rss_bytes"]
                    else None,
                }
            )
        per[key] = steps
    out["per_stage"] = per
    if len(done) >= 2:
        mid, big = done[-2], done[-1]
        ratios = {}
        for key in keys:
            f1, f2 = figure(mid, key), figure(big, key)
            if f1 and f2 and f1.get("ok") and f2.get("ok") and f1["wall_s"]:
                ratios[key] = round(f2["wall_s"] / f1["wall_s"], 3)
        out["largest_over_middle"] = {
            "persons": [mid["persons"], big["persons"]],
            "claims": [mid["claims"], big["claims"]],
            "claims_ratio": round(big["claims"] / mid["claims"], 3),
            "wall_ratio": ratios,
        }
    return out


def targets(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = [s for s in sizes if s.get("claims")]
    at = next(
        (s for s in done if 0.8 * TARGET_PERSONS <= s["persons"] <= 1.2 * TARGET_PERSONS), None
    )
    e2e = (at or {}).get("end_to_end") or {}
    where = f"{at['persons']:,} persons / {at['claims']:,} claims" if at else None
    ok = bool(e2e.get("ok"))
    out = [
        {
            "target": "ringfinder run end to end <= 180 s at 3M persons (~30M claims)",
            "limit": TARGET_E2E_SECONDS,
            "measured": e2e.get("wall_s") if ok else None,
            "at": where,
            "pass": (e2e["wall_s"] <= TARGET_E2E_SECONDS) if ok else None,
            "note": None if at else "no size near 3M persons in this run",
        },
        {
            "target": "ringfinder run peak RSS <= 8 GB at 3M persons",
            "limit_gb": TARGET_E2E_RSS_GB,
            "measured_gb": e2e.get("peak_rss_gb") if ok else None,
            "at": where,
            "pass": (e2e["peak_rss_gb"] <= TARGET_E2E_RSS_GB) if ok else None,
            "note": None if at else "no size near 3M persons in this run",
        },
    ]
    g: dict[str, Any] = {
        "target": "near-linear growth: time(30M claims) <= 11 x time(3M claims), i.e. "
        "end-to-end time ratio <= 1.1 x claims ratio between the two largest sizes",
        "limit_ratio": None,
        "measured_ratio": None,
        "pass": None,
    }
    if len(done) >= 2:
        mid, big = done[-2], done[-1]
        f1, f2 = mid.get("end_to_end") or {}, big.get("end_to_end") or {}
        claims_ratio = big["claims"] / mid["claims"]
        g["between"] = [f"{mid['claims']:,} claims", f"{big['claims']:,} claims"]
        g["claims_ratio"] = round(claims_ratio, 3)
        g["limit_ratio"] = round(TARGET_GROWTH / 10 * claims_ratio, 3)
        g["applies_as_stated"] = at is big and mid["persons"] * 10 == big["persons"]
        if f1.get("ok") and f2.get("ok"):
            ratio = f2["wall_s"] / f1["wall_s"]
            g["measured_ratio"] = round(ratio, 3)
            g["exponent"] = exponent(f1["wall_s"], f2["wall_s"], mid["claims"], big["claims"])
            g["pass"] = ratio <= g["limit_ratio"]
    out.append(g)
    neo = (at or {}).get("neo4j") or {}
    ratios = {k: d.get("cypher_over_embedded") for k, d in (neo.get("detectors") or {}).items()}
    measured = bool(ratios) and all(r is not None for r in ratios.values())
    out.append(
        {
            "target": "embedded >= 20x faster than Cypher on Neo4j, per detector, same leads, "
            "at 3M persons",
            "limit_ratio": 20.0,
            "measured": ratios or None,
            "same_leads": neo.get("same_leads"),
            "at": where,
            "pass": (
                all(r >= 20.0 for r in ratios.values()) and bool(neo.get("same_leads"))
                if measured
                else None
            ),
        }
    )
    imp = neo.get("bulk_import") or {}
    done_imp = (imp.get("measured") or {}).get("ok") and imp.get("seconds") is not None
    out.append(
        {
            "target": "ringfinder neo4j import of the 3M-person city <= 10 min",
            "limit": 600.0,
            "measured": imp.get("seconds") if done_imp else None,
            "at": where,
            "pass": imp["seconds"] <= 600.0 if done_imp else None,
        }
    )
    return out


def profile_e2e(size: SizeRun, args: argparse.Namespace) -> dict[str, Any]:
    """The end-to-end run once more under cProfile; the top functions in the report."""
    out_dir = size.dir / "e2e-profile"
    rmtree(out_dir)
    prof = size.logs / "end_to_end.prof"
    size.say("ringfinder run under cProfile ...")
    m = size.measure(
        "end_to_end-profile",
        [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(prof),
            "-m",
            "ringfinder.cli.main",
            "run",
            str(size.city),
            "--out",
            str(out_dir),
            "--workspace",
            str(out_dir / "workspace"),
            "--lang",
            "en",
        ],
        timeout=args.stage_timeout,
    )
    res = size.logs / "end_to_end.prof.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.pstats_summary", str(prof), str(res)],
        env=size.env,
        cwd=REPO,
        check=False,
    )
    rmtree(out_dir)
    return {
        "persons": size.persons,
        "process": m,
        "note": "cProfile sees the main thread: DuckDB work shows as time in the "
        "calls that run the SQL (execute/df/fetchall) under the function that issued it",
        "prof_file": str(prof) if args.keep or args.work else None,
        **(read_json(res) or {}),
    }


# -- report ----------------------------------------------------------------------------
def table_md(report: dict[str, Any]) -> str:
    """The figures as a Markdown table (written beside the JSON)."""
    sizes = [s for s in report["sizes"] if s.get("claims")]
    keys = ["synth", "end_to_end", *stage_keys(sizes)]
    head = "| stage | " + " | ".join(
        f"{s['persons']:,} p / {s['claims']:,} claims: wall s · CPU s · peak GB" for s in sizes
    )
    lines = [head + " | exponent (wall) |", "|---" * (len(sizes) + 2) + "|"]
    per = report.get("growth", {}).get("per_stage", {})
    for key in keys:
        cells = []
        for s in sizes:
            f = figure(s, key)
            if not f:
                cells.append("—")
            elif not f.get("ok"):
                cells.append(f"failed ({f.get('killed') or f.get('returncode')})")
            else:
                cells.append(f"{f['wall_s']:.1f} · {f['cpu_s']:.1f} · {f['peak_rss_gb']:.2f}")
        exps = ", ".join(str(x["wall_exponent"]) for x in per.get(key, []))
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {exps} |")
    lines.append("")
    for t in report.get("targets", []):
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[t["pass"]]
        measured = t.get("measured", t.get("measured_gb", t.get("measured_ratio")))
        note = "" if t.get("applies_as_stated", True) else " (sizes not the issue's 3M/300k)"
        lines.append(f"- {verdict}: {t['target']} — measured {measured}{note}")
    for s in sizes:
        q = s.get("quality")
        if q:
            lines.append(
                f"- leads at {s['persons']:,} persons: {q['found']} of {q['schemes']} planted "
                f"schemes found (recall {q['recall']:.2f}); {q['leads']} leads, precision at "
                f"{q['k']} {q['precision_at_k']:.2f}; {len(q['lookalikes_in_top_k'])} of "
                f"{q['lookalikes_planted']} honest look-alikes in the top {q['k']}"
            )
    for s in sizes:
        r = s.get("rerun_unchanged")
        if r and r.get("ok"):
            lines.append(
                f"- rerun at {s['persons']:,} persons, files unchanged: {r['wall_s']:.1f} s "
                f"wall, {r['peak_rss_gb']:.2f} GB peak; load "
                + ("reused" if r["load_reused"] else "READ AGAIN")
                + ("; the same leads" if r["same_leads"] else "; OTHER LEADS")
            )
    for s in sizes:
        ratios = side_by_side(s.get("comparisons") or {})
        if ratios:
            lines.append(f"- side by side at {s['persons']:,} persons: " + "; ".join(ratios))
    for s in sizes:
        lines.extend(neo4j_md(s))
    return "\n".join(lines) + "\n"


def neo4j_md(size: dict[str, Any]) -> list[str]:
    """The Neo4j section of one size: Cypher against embedded per detector, loads."""
    neo = size.get("neo4j") or {}
    if neo.get("status") in (None, "skipped"):
        return []
    how = {
        "bolt": "the run writes the graph over Bolt",
        "import": "`neo4j import`, then `run --reuse-graph`",
    }.get(neo.get("load", "bolt"), "")
    out = ["", f"Neo4j at {size['persons']:,} persons ({how}): {neo['status']}"]
    e2e = neo.get("end_to_end") or {}
    if e2e and not e2e.get("ok"):
        why = e2e.get("killed") or f"exit {e2e.get('returncode')}"
        out.append(f"- `run --engine neo4j` did not finish: {why} ({e2e.get('wall_s', 0):.1f} s)")
    if e2e.get("ok"):
        leads = neo.get("leads") or {}
        out.append(
            f"- `run --engine neo4j` {e2e['wall_s']:.1f} s "
            f"({neo.get('ratio_end_to_end_neo4j_over_embedded')}x the embedded run); "
            f"same leads: {neo.get('same_leads')} ({leads.get('common')} of "
            f"{leads.get('embedded')} embedded, {leads.get('neo4j')} Neo4j)"
        )
    if neo.get("detectors"):
        out += [
            "",
            "| detector | Neo4j engine s | embedded s | ratio | in Cypher | pulled |",
            "|---|---|---|---|---|---|",
        ]
        for name, d in neo["detectors"].items():
            queries = d.get("cypher_queries")
            cypher = ", ".join(queries) if queries else "— (Python on pulled tables)"
            out.append(
                f"| {name} | {d['cypher_s']:.2f} | {d['embedded_s'] or 0:.2f} | "
                f"{d['cypher_over_embedded']} | {cypher if queries is not None else '?'} | "
                f"{', '.join(d.get('pulled') or []) or '—'} |"
            )
        out.append("")
    bolt = neo.get("bolt_load") or {}
    if bolt.get("rows"):
        out.append(
            f"- Bolt load: {bolt['rows']:,} rows in {bolt['seconds']:.1f} s = "
            f"{bolt['rows_per_s']:,} rows/s"
        )
    imp = neo.get("bulk_import") or {}
    if imp.get("seconds") is not None:
        steps = ", ".join(f"{k} {v}" for k, v in (imp.get("steps") or {}).items())
        out.append(
            f"- bulk import: {imp['seconds']} s = CSV {imp['csv_seconds']} + neo4j-admin "
            f"{imp['import_seconds']} + schema {imp['schema_seconds']} ({steps}); "
            f"counts equal: {imp.get('counts_equal')}"
        )
    return out


def side_by_side(cmp: dict[str, Any]) -> list[str]:
    """The comparisons' headline ratios, as short phrases."""
    out = []
    lv = cmp.get("leiden_vs_louvain") or {}
    if lv.get("ratio_louvain_over_leiden_s"):
        out.append(f"Louvain/Leiden {lv['ratio_louvain_over_leiden_s']}x")
    for kind, e in (cmp.get("fraudar_vs_detectors") or {}).items():
        if e.get("ratio_fraudar_over_ours_s"):
            cut = str(e.get("fraudar", {}).get("status", "")).startswith("cut")
            at_least = " or more (FRAUDAR cut by the time limit)" if cut else ""
            out.append(f"FRAUDAR/{kind} {e['ratio_fraudar_over_ours_s']}x{at_least}")
    rc = cmp.get("load_vs_duckdb_read_csv") or {}
    if rc.get("ratio_load_over_read_csv_s"):
        out.append(
            f"load {rc['ours_load_s']:.1f} s / DuckDB read_csv {rc['total_s']:.1f} s "
            f"= {rc['ratio_load_over_read_csv_s']}x"
        )
    return out


def write_report(report: dict[str, Any], path: Path) -> None:
    report["growth"] = growth(report["sizes"])
    report["targets"] = targets(report["sizes"])
    report["benchmark"]["loadavg_now"] = loadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    path.with_suffix(".md").write_text(table_md(report), encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark ringfinder on synthetic cities (issue 6); see benchmarks/README.md",
    )
    ap.add_argument(
        "--sizes", default="30000,300000,3000000", help="persons per city, comma-separated"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/report.json"))
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep cities, workspaces and pickles")
    ap.add_argument(
        "--reuse-city",
        action="store_true",
        help="reuse a city already in --work (same persons and seed) instead of synthesising it",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="end-to-end runs per size (the fastest is the headline; all are reported)",
    )
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--stage-timeout", type=float, default=3600.0, help="seconds per stage")
    ap.add_argument("--compare-timeout", type=float, default=1200.0, help="seconds per comparison")
    ap.add_argument("--compare-rss-gb", type=float, default=12.0, help="memory cap per comparison")
    ap.add_argument("--fraudar-max-nnz", type=int, default=20_000_000)
    ap.add_argument("--no-compare", action="store_true", help="skip the side-by-side section")
    ap.add_argument("--no-fraudar", action="store_true", help="skip FRAUDAR")
    ap.add_argument("--neo4j", action="store_true", help="fill the Neo4j section (see README)")
    ap.add_argument(
        "--neo4j-load",
        choices=("bolt", "import"),
        default="bolt",
        help="how the Neo4j run gets its graph: written over Bolt by the run itself, or "
        "`neo4j import` of the embedded run's workspace and `run --reuse-graph`",
    )
    ap.add_argument("--neo4j-heap", default="1g", help="the local server's heap")
    ap.add_argument("--neo4j-pagecache", default="512m", help="the local server's page cache")
    ap.add_argument(
        "--neo4j-tx-memory", help="the server's transaction memory cap (default: half its heap)"
    )
    ap.add_argument(
        "--no-stages", action="store_true", help="skip the per-stage processes (section 3)"
    )
    ap.add_argument("--profile", action="store_true", help="cProfile the largest end-to-end run")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        args.size_list = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        ap.error("--sizes: comma-separated integers")
    if not args.size_list:
        ap.error("--sizes: at least one size")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = child_env()
    temp = args.work is None
    work = Path(tempfile.mkdtemp(prefix="ringfinder-bench-")) if temp else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    names = detectors(env)
    report: dict[str, Any] = {
        "benchmark": {
            "issue": 6,
            "command": " ".join(
                [Path(sys.executable).name, "-m", "benchmarks.run", *(argv or sys.argv[1:])]
            ),
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "seed": args.seed,
            "sizes_persons": args.size_list,
            "format": args.format,
            "work": str(work),
            "detectors": names,
            "orchestrator_peak_rss_mb": None,
            "notes": [
                "sizes are persons; claims are about ten per person",
                "every figure is one child process measured by os.wait4 (wall, user+sys CPU, "
                "ru_maxrss); stages read the workspace from disk, the end-to-end run keeps it "
                "in one process, so the sum of stages exceeds the end-to-end run",
                "the machine is shared: see loadavg_before/after of every figure",
            ],
        },
        "machine": machine_info(sys.executable),
        "sizes": [],
        "neo4j": {"note": NEO4J_NOTE, "status": "see sizes[].neo4j"},
    }
    try:
        for persons in args.size_list:
            size = SizeRun(args, work, persons, env)
            report["sizes"].append(size.out)
            try:
                size.synth()
                size.end_to_end()
                if not args.no_stages:
                    size.stages(names)
                if args.no_compare:
                    size.out["comparisons"] = {"status": "skipped", "reason": "--no-compare"}
                else:
                    size.compare()
                size.neo4j()
                if args.profile and persons == max(args.size_list):
                    report["profile"] = profile_e2e(size, args)
            except RuntimeError as exc:
                size.out["error"] = str(exc)
                size.say(f"stopped: {exc}")
            finally:
                size.cleanup()
                report["benchmark"]["finished"] = (
                    dt.datetime.now().astimezone().isoformat(timespec="seconds")
                )
                report["benchmark"]["orchestrator_peak_rss_mb"] = round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                )
                write_report(report, out)
    finally:
        if temp and not args.keep:
            rmtree(work)
    if not args.quiet:
        print(table_md(report))
        print(f"report: {out} (and {out.with_suffix('.md')})")
    return 0 if all(not s.get("error") for s in report["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
