"""``ringfinder eval``: synth + run + scoring against truth.json, over seeds and sizes."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ringfinder.cli.console import err, out
from ringfinder.errors import ConfigError


def _ints(text: str) -> list[int]:
    try:
        return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, got {text!r}") from None


def evaluate_city(persons: int, seed: int, work: Path) -> dict[str, Any]:
    """Generate one city, run the whole job on it, and score the leads."""
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.evaluate import evaluate
    from ringfinder.pipeline import run_job
    from ringfinder.synth import synthesize

    city = work / f"city-{persons}-{seed}"
    t0 = time.perf_counter()
    synthesize(city, persons=persons, seed=seed)
    t_synth = time.perf_counter() - t0
    t0 = time.perf_counter()
    with EmbeddedEngine(work / f"ws-{persons}-{seed}") as engine:
        result = run_job(city, work / f"out-{persons}-{seed}", engine=engine, lang="en")
    t_run = time.perf_counter() - t0
    leads = [lead.to_json("en") for lead in result.leads]
    truth = json.loads((city / "truth.json").read_text(encoding="utf-8"))
    ev = evaluate(leads, truth)
    cover = result.rule_coverage
    return {
        "persons": persons,
        "seed": seed,
        **ev.to_json(),
        "rules_caught_leads": cover.caught if cover else None,
        "synth_seconds": round(t_synth, 2),
        "run_seconds": round(t_run, 2),
    }


_SHORT = {
    "co_admission": "co_adm",
    "fake_invoice": "invoice",
    "pharmacy_resale": "resale",
    "referral_loop": "referral",
    "shared_card": "card",
}
_LEGEND = "found/planted per kind; LA: honest look-alike groups in the top K; rules: leads the "
_LEGEND += "rule baseline alone catches"


def eval_(
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "101,202,303",
    persons: Annotated[str, typer.Option(help="Comma-separated city sizes.")] = "20000",
    work: Annotated[
        Path | None, typer.Option(help="Keep the cities and outputs here (default: a temp dir).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the evaluation table as JSON.")
    ] = None,
) -> None:
    """Measure recall, precision at K and look-alikes hit on planted cities."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ringfinder-eval-") as tmp:
        base = work or Path(tmp)
        for n in _ints(persons):
            for seed in _ints(seeds):
                err.print(f"city of {n:,} persons, seed {seed} ...")
                rows.append(evaluate_city(n, seed, base))
    kinds = sorted({k for r in rows for k in r["per_kind"]})
    table = Table(title="Evaluation against planted truth", caption=_LEGEND)
    short = [_SHORT.get(k, k) for k in kinds]
    for col in ["persons", "seed", "recall", *short, "P@K", "K", "LA", "rules", "run s"]:
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            f"{r['persons']:,}",
            str(r["seed"]),
            f"{r['recall']:.2f}",
            *(
                f"{r['per_kind'][k]['found']}/{r['per_kind'][k]['planted']}"
                if k in r["per_kind"]
                else "-"
                for k in kinds
            ),
            f"{r['precision_at_k']:.2f}",
            str(r["k"]),
            str(len(r["lookalikes_in_top_k"])),
            str(r["rules_caught_leads"]),
            f"{r['run_seconds']:.1f}",
        )
    out.print(table)
    if rows:
        found = sum(v["found"] for r in rows for v in r["per_kind"].values())
        planted = sum(v["planted"] for r in rows for v in r["per_kind"].values())
        per_kind = {
            k: sum(r["per_kind"][k]["found"] for r in rows if k in r["per_kind"])
            / max(1, sum(r["per_kind"][k]["planted"] for r in rows if k in r["per_kind"]))
            for k in kinds
        }
        out.print(
            f"overall recall {found / max(planted, 1):.3f} ({found}/{planted}); "
            f"lowest per kind {min(per_kind.values(), default=0):.2f}; "
            f"lowest P@K {min(r['precision_at_k'] for r in rows):.2f}; "
            f"look-alikes in top K {sum(len(r['lookalikes_in_top_k']) for r in rows)}"
        )
    for r in rows:
        if r["missed"] or r["lookalikes_in_top_k"]:
            err.print(
                f"persons={r['persons']} seed={r['seed']}: missed {r['missed']}; "
                f"look-alikes in top K {r['lookalikes_in_top_k']}"
            )
    if json_out:
        from ringfinder.leads import atomic_write_text

        atomic_write_text(json_out, json.dumps(rows, indent=2))
