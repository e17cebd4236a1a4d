"""Side-by-side measurements, each in a process of its own (run by :mod:`benchmarks.run`).

    python -m benchmarks.compare leiden  --edges person_edges.parquet --result FILE
    python -m benchmarks.compare louvain --edges person_edges.parquet --result FILE
    python -m benchmarks.compare fraudar --workspace WS --kind shared_card --truth truth.json
                                         --blocks K --result FILE
    python -m benchmarks.compare f1      --state STATE --truth truth.json --result FILE
    python -m benchmarks.compare read_csv --city CITY [--memory LIMIT] --result FILE

- **leiden / louvain**: the person graph of the community stage (saved by the ``graph``
  stage), parallel edges summed, partitioned by ringfinder's igraph Leiden
  (:func:`ringfinder.graph.leiden`) and by ``networkx.community.louvain_communities``
  (same resolution, fixed seed). Both partitions are scored with the same weighted
  modularity (igraph's, on the same summed graph).
- **fraudar**: the reference greedy of FRAUDAR (Hooi et al., KDD 2016; the
  ``rgmining-fraudar`` package: ``logWeightedAveDegree``, the column-weighted variant
  the paper recommends against camouflage) on the lockstep matrix of one planted kind:
  cards × (provider/terminal, day) for ``shared_card``, persons × (hospital, admission
  day) for ``co_admission``. As in our detectors, only rows with two days or more at
  the column's provider/terminal are kept (the others cannot be in lockstep). ``K``
  dense blocks are peeled one after the other (each block's entries removed, as the
  package's ``detectMultiple`` does, vectorised); ``K`` is the number of planted
  schemes of the kind — an oracle in FRAUDAR's favour. The result file is rewritten
  after every block, so a run cut by the time limit still reports its blocks.
- **f1**: member-level precision, recall and F1 of our ``shared_card`` (cards) and
  ``co_admission`` (persons) findings against ``truth.json``.
- **read_csv**: the floor under ``ringfinder load``: DuckDB's own parallel ``read_csv``
  (types sniffed; all text for a table whose sniffed types fail) copies every canonical
  CSV of the city into a fresh database file, under the load's memory limit. No
  validation, no line numbers, no quarantine, no pseudonyms, no upsert: what parsing
  and storing the same bytes costs on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

#: planted kind -> (member type that defines it, our detector)
KINDS = {"shared_card": "cards", "co_admission": "persons"}
LEIDEN_SEED = 20251123  # ringfinder's LeidenSettings seed; Louvain gets the same
STRONG = 0.5  # detectors' calibration: beyond honest behaviour from 0.5 on


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


# -- truth and scores --------------------------------------------------------------
def planted(truth_path: Path, kind: str) -> list[set[str]]:
    """Defining members of each planted scheme of ``kind``."""
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    member = KINDS[kind]
    return [set(s.get(member, [])) for s in truth["schemes"] if s["kind"] == kind]


def other_planted(truth_path: Path, kind: str) -> set[str]:
    """Members (of the same type) of planted schemes of other kinds."""
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    member = KINDS[kind]
    return {m for s in truth["schemes"] if s["kind"] != kind for m in s.get(member, [])}


def member_scores(predicted: set[str], groups: list[set[str]]) -> dict[str, Any]:
    """Member-level precision/recall/F1 and how many schemes are half covered."""
    truth = set().union(*groups) if groups else set()
    hit = len(predicted & truth)
    p = hit / len(predicted) if predicted else 0.0
    r = hit / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "predicted": len(predicted),
        "planted_members": len(truth),
        "true_positive": hit,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "schemes_half_covered": sum(1 for g in groups if g and len(g & predicted) >= len(g) / 2),
        "schemes": len(groups),
    }


# -- Leiden vs Louvain ----------------------------------------------------------------
def _summed(edges_path: Path) -> tuple[int, Any, Any, Any, Any]:
    """(n, src, dst, weight) of the person graph as the community stage hands it to Leiden,
    and the same graph with parallel edges summed (for networkx and modularity)."""
    import numpy as np
    import pandas as pd

    edges = pd.read_parquet(edges_path)
    codes, persons = pd.factorize(pd.concat([edges["a"], edges["b"]], ignore_index=True))
    n_e = len(edges)
    src, dst = codes[:n_e], codes[n_e:]
    w = edges["weight"].to_numpy(dtype=float)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    summed = (
        pd.DataFrame({"u": lo, "v": hi, "w": w}).groupby(["u", "v"], sort=True)["w"].sum()
    ).reset_index()
    return len(persons), src, dst, w, summed


def _modularity(n: int, summed: Any, membership: Any) -> float:
    import igraph as ig
    import numpy as np

    g = ig.Graph(n=n, edges=np.column_stack([summed["u"], summed["v"]]).tolist())
    return float(g.modularity(list(map(int, membership)), weights=summed["w"].tolist()))


def _partition_figures(membership: Any) -> dict[str, Any]:
    import numpy as np

    sizes = np.bincount(np.asarray(membership, dtype=np.int64))
    sizes = sizes[sizes > 0]
    return {
        "communities": int(len(sizes)),
        "communities_4_plus": int((sizes >= 4).sum()),
        "largest": int(sizes.max()) if len(sizes) else 0,
    }


def cmd_leiden(args: argparse.Namespace) -> dict[str, Any]:
    from ringfinder.graph import LeidenSettings, leiden

    t0 = time.perf_counter()
    n, src, dst, w, summed = _summed(args.edges)
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    membership = leiden(n, src, dst, w, settings=LeidenSettings())
    algo_s = time.perf_counter() - t1
    return {
        "algorithm": "igraph Leiden via ringfinder.graph.leiden (modularity, resolution 1)",
        "vertices": n,
        "edges_summed": len(summed),
        "read_s": round(read_s, 3),
        # ringfinder.graph.leiden builds its igraph graph itself: build + algorithm
        "algorithm_s": round(algo_s, 3),
        "modularity": round(_modularity(n, summed, membership), 6),
        **_partition_figures(membership),
    }


def cmd_louvain(args: argparse.Namespace) -> dict[str, Any]:
    import networkx as nx
    import numpy as np

    t0 = time.perf_counter()
    n, _src, _dst, _w, summed = _summed(args.edges)
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(
        zip(summed["u"].tolist(), summed["v"].tolist(), summed["w"].tolist(), strict=True)
    )
    build_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    comms = nx.community.louvain_communities(g, weight="weight", resolution=1.0, seed=args.seed)
    louvain_s = time.perf_counter() - t2
    membership = np.empty(n, dtype=np.int64)
    for i, c in enumerate(comms):
        membership[list(c)] = i
    return {
        "algorithm": f"networkx {nx.__version__} louvain_communities (resolution 1, "
        f"seed {args.seed})",
        "vertices": n,
        "edges_summed": len(summed),
        "read_s": round(read_s, 3),
        "build_s": round(build_s, 3),
        "louvain_s": round(louvain_s, 3),
        # comparable with Leiden's algorithm_s, which includes building its graph
        "algorithm_s": round(build_s + louvain_s, 3),
        "modularity": round(_modularity(n, summed, membership), 6),
        **_partition_figures(membership),
    }


# -- FRAUDAR --------------------------------------------------------------------------
_MATRIX_SQL = {
    # cards x (provider|terminal, day): a card's settlements on a terminal on a day
    "shared_card": """
        WITH s AS (
            SELECT DISTINCT card_id AS r, provider_id || '|' || coalesce(terminal_id, '') AS t,
                   CAST(start_time AS DATE) AS d
            FROM claims WHERE card_id IS NOT NULL
        ), rep AS (SELECT r, t FROM s GROUP BY ALL HAVING count(*) >= 2)
        SELECT r, t || '|' || CAST(d AS VARCHAR) AS c FROM s SEMI JOIN rep USING (r, t)
    """,
    # persons x (hospital, admission day): inpatient admissions
    "co_admission": """
        WITH s AS (
            SELECT DISTINCT person_id AS r, provider_id AS t, CAST(start_time AS DATE) AS d
            FROM claims WHERE visit_type = 'inpatient'
        ), rep AS (SELECT r, t FROM s GROUP BY ALL HAVING count(*) >= 2)
        SELECT r, t || '|' || CAST(d AS VARCHAR) AS c FROM s SEMI JOIN rep USING (r, t)
    """,
}


def cmd_fraudar(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": args.kind, "blocks_asked": args.blocks}
    try:
        from fraudar.export import greedy
    except ImportError as exc:
        return {**out, "status": "skipped", "reason": f"rgmining-fraudar not importable: {exc}"}
    import duckdb
    import numpy as np
    import pandas as pd
    from scipy import sparse

    out["algorithm"] = "rgmining-fraudar logWeightedAveDegree (reference greedy)"
    out["package"] = _version("rgmining-fraudar")
    t0 = time.perf_counter()
    con = duckdb.connect(str(args.workspace / "ringfinder.duckdb"), read_only=True)
    try:
        pairs = con.execute(_MATRIX_SQL[args.kind]).df()
    finally:
        con.close()
    rows, row_ids = pd.factorize(pairs["r"])
    cols, _ = pd.factorize(pairs["c"])
    m = sparse.coo_matrix(
        (np.ones(len(rows), dtype=np.int64), (rows, cols)),
        shape=(len(row_ids), int(cols.max()) + 1),
    )
    m = (m.tocsr() > 0).astype(int)
    out["matrix_s"] = round(time.perf_counter() - t0, 3)
    out["matrix"] = {"rows": int(m.shape[0]), "columns": int(m.shape[1]), "nnz": int(m.nnz)}
    groups = planted(args.truth, args.kind)
    truth_all = set().union(*groups) if groups else set()
    out["recall_ceiling"] = (
        round(len(truth_all & set(row_ids)) / len(truth_all), 4) if truth_all else None
    )
    if m.nnz > args.max_nnz:
        return {
            **out,
            "status": "skipped",
            "reason": f"matrix has {m.nnz:,} entries, above --fraudar-max-nnz {args.max_nnz:,} "
            "(the reference greedy is pure Python: lil matrices and a heap per entry)",
        }
    others = other_planted(args.truth, args.kind)
    predicted: set[str] = set()
    blocks: list[dict[str, Any]] = []
    out.update(status="running", blocks=blocks, greedy_s=0.0)
    for _ in range(args.blocks):
        t1 = time.perf_counter()
        (row_set, col_set), score = greedy.logWeightedAveDegree(m)
        dt = time.perf_counter() - t1
        members = {str(row_ids[i]) for i in row_set}
        predicted |= members
        blocks.append(
            {
                "rows": len(row_set),
                "columns": len(col_set),
                "score": round(float(score), 4),
                "seconds": round(dt, 3),
                "planted_rows": len(members & truth_all),
            }
        )
        out["greedy_s"] = round(out["greedy_s"] + dt, 3)
        # peel the block's entries off (detectMultiple, without its per-entry loop)
        coo = m.tocoo()
        keep = ~(
            np.isin(coo.row, np.fromiter(row_set, dtype=np.int64, count=len(row_set)))
            & np.isin(coo.col, np.fromiter(col_set, dtype=np.int64, count=len(col_set)))
        )
        m = sparse.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
        out["scores"] = member_scores(predicted, groups)
        out["predicted_in_other_planted_kinds"] = len(predicted & others)
        _write(args.result, out)
        if m.nnz == 0:
            break
    out["status"] = "ok"
    return out


def cmd_f1(args: argparse.Namespace) -> dict[str, Any]:
    import pickle

    out: dict[str, Any] = {}
    for kind, member in KINDS.items():
        path = args.state / f"findings-{kind}.pkl"
        if not path.exists():
            out[kind] = {"status": "skipped", "reason": "detector stage did not run"}
            continue
        with open(path, "rb") as fh:
            findings = pickle.load(fh)
        groups = planted(args.truth, kind)
        every = {m for f in findings for m in f.members(member)}
        strong = {m for f in findings if f.strength >= STRONG for m in f.members(member)}
        out[kind] = {
            "member": member,
            "findings": len(findings),
            "all_findings": member_scores(every, groups),
            f"strength_{STRONG}_plus": member_scores(strong, groups),
        }
    return out


def cmd_read_csv(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    import duckdb

    from ringfinder.load.loader import LOAD_MEMORY_BYTES
    from ringfinder.schema import LOAD_ORDER

    memory = args.memory or f"{LOAD_MEMORY_BYTES >> 20}MiB"  # the load's cap
    out: dict[str, Any] = {"duckdb": _version("duckdb"), "memory_limit": memory, "tables": {}}
    with tempfile.TemporaryDirectory(prefix="read-csv-", dir=args.tmp) as tmp:
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        con.execute("SET memory_limit = ?", [memory])
        t0 = time.perf_counter()
        for table in LOAD_ORDER:
            path = args.city / f"{table}.csv"
            if not path.exists():
                continue
            t = time.perf_counter()
            entry: dict[str, Any] = {}
            try:
                con.execute(
                    f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = true)",
                    [str(path)],
                )
            except duckdb.Error as exc:  # a value beyond the sniffed sample's types
                entry["sniffed_types_failed"] = str(exc).splitlines()[0][:200]
                con.execute(
                    f"CREATE OR REPLACE TABLE {table} AS "
                    "SELECT * FROM read_csv(?, header = true, all_varchar = true)",
                    [str(path)],
                )
            (rows,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
            entry |= {"rows": rows, "s": round(time.perf_counter() - t, 3)}
            out["tables"][table] = entry
        con.execute("CHECKPOINT")
        out["total_s"] = round(time.perf_counter() - t0, 3)
        out["rows"] = sum(v["rows"] for v in out["tables"].values())
        con.close()
    out["status"] = "ok"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("leiden", "louvain"):
        p = sub.add_parser(name)
        p.add_argument("--edges", type=Path, required=True)
        p.add_argument("--seed", type=int, default=LEIDEN_SEED)
        p.add_argument("--result", type=Path, required=True)
    p = sub.add_parser("fraudar")
    p.add_argument("--workspace", type=Path, required=True)
    p.add_argument("--kind", choices=sorted(KINDS), required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--max-nnz", type=int, default=20_000_000)
    p.add_argument("--result", type=Path, required=True)
    p = sub.add_parser("f1")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--result", type=Path, required=True)
    p = sub.add_parser("read_csv")
    p.add_argument("--city", type=Path, required=True)
    p.add_argument("--memory", help="DuckDB memory limit (default: the load's cap)")
    p.add_argument("--tmp", type=Path, help="folder for the scratch database")
    p.add_argument("--result", type=Path, required=True)
    args = ap.parse_args(argv)
    handler = {
        "leiden": cmd_leiden,
        "louvain": cmd_louvain,
        "fraudar": cmd_fraudar,
        "f1": cmd_f1,
        "read_csv": cmd_read_csv,
    }
    out = handler[args.cmd](args)
    _write(args.result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
