"""``synthesize``: one synthetic prefecture-level city-year with planted schemes."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ringfinder.errors import RingfinderError
from ringfinder.schema import LOAD_ORDER
from ringfinder.synth import behaviour
from ringfinder.synth.city import CityNeeds, build_city
from ringfinder.synth.frames import Activity
from ringfinder.synth.ids import UniquePool
from ringfinder.synth.lookalikes import plant_lookalikes
from ringfinder.synth.market import Market
from ringfinder.synth.plan import SCHEME_KINDS, Ctx, Planted, schemes_per_kind
from ringfinder.synth.population import build_population, link_doctors_to_persons
from ringfinder.synth.schemes import PLANTERS
from ringfinder.synth.timeline import Calendar
from ringfinder.synth.writer import Writer, order_rows

FORMATS = ("csv", "parquet")
MIN_PERSONS = 1000
MAX_PERSONS = 20_000_000
GENERATOR = "ringfinder.synth"


class SynthError(RingfinderError):
    """The synthetic city cannot be made as asked (bad option or output folder)."""


@dataclass
class SynthSummary:
    out_dir: Path
    fmt: str
    persons: int
    seed: int
    year: int
    rows: dict[str, int] = field(default_factory=dict)
    schemes: dict[str, int] = field(default_factory=dict)
    lookalikes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def synthesize(
    out_dir: Path,
    *,
    persons: int,
    seed: int,
    fmt: str = "csv",
    year: int = 2025,
    progress: Callable[[str], None] | None = None,
) -> SynthSummary:
    """Write the ten canonical tables and ``truth.json`` for a planted city into ``out_dir``.

    The same arguments give the same bytes in every file.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    _check(persons, seed, fmt, year)
    _prepare(out_dir)
    say = progress or (lambda _msg: None)
    seeds = np.random.SeedSequence(seed).spawn(7)
    rng_city, rng_pop, rng_market, rng_plant, rng_order = (
        np.random.default_rng(s) for s in (seeds[0], seeds[1], seeds[2], seeds[4], seeds[5])
    )
    n_kind = schemes_per_kind(persons)
    needs = CityNeeds(
        private_hospitals=n_kind * 5 + 4,
        pharmacies=2 * n_kind + 20,
        private_clinics=n_kind // 2 + 4,
    )
    phones, accounts = UniquePool(), UniquePool()
    say("geography, institutions, pharmacies, doctors")
    city = build_city(rng_city, persons, year, needs, phones)
    say("persons, households and cards")
    pop = build_population(rng_pop, city, persons, year, phones, accounts)
    link_doctors_to_persons(rng_pop, city, pop)
    cal = Calendar(year)
    market = Market(
        rng_market, city, pop, handlers=int(np.clip(round(persons / 20_000 * 3), 4, 40))
    )
    honest = behaviour.honest_activity(
        seeds[3].spawn(behaviour.n_chunks(persons)), market, pop, cal, progress=say
    )
    say("planting schemes and look-alikes")
    ctx = Ctx(rng_plant, city, pop, market, cal, phones, accounts, used=np.zeros(persons, bool))
    schemes = plant_schemes(ctx, n_kind)
    lookalikes = plant_lookalikes(ctx)
    act = Activity.concat(
        [*honest, *(p.activity for p in schemes), *(p.activity for p in lookalikes)]
    )
    del honest
    say("ordering rows and giving ids")
    order = order_rows(rng_order, act)
    w = Writer(out_dir, fmt, city, pop, year)
    rows: dict[str, int] = {}
    say("writing persons and cards")
    rows["persons"] = w.persons()
    rows["cards"] = w.cards()
    rows["institutions"], rows["pharmacies"] = w.providers()
    rows["doctors"] = w.doctors()
    say(f"writing {len(act.claims):,} claims")
    rows["claims"] = w.claims(act, order)
    say(f"writing {len(act.items):,} claim items")
    rows["claim_items"] = w.claim_items(act, order)
    rows["reimbursements"] = w.reimbursements(act, order)
    rows["invoices"] = w.invoices(act, order)
    rows["referrals"] = w.referrals(act, order)
    w.truth({"seed": seed, "persons": persons, "year": year}, schemes, lookalikes)
    return SynthSummary(
        out_dir=out_dir,
        fmt=fmt,
        persons=persons,
        seed=seed,
        year=year,
        rows={t: rows[t] for t in LOAD_ORDER},
        schemes=dict(sorted(Counter(p.kind for p in schemes).items())),
        lookalikes=dict(sorted(Counter(p.kind for p in lookalikes).items())),
        seconds=time.perf_counter() - t0,
    )


def plant_schemes(ctx: Ctx, n_kind: int) -> list[Planted]:
    """n_kind schemes of each kind, sizes spread over each kind's range, kinds interleaved."""
    sizes = {kind: ctx.sizes(*PLANTERS[kind][1], n_kind) for kind in SCHEME_KINDS}
    planted: list[Planted] = []
    for i in range(n_kind):
        for kind in SCHEME_KINDS:
            planter = PLANTERS[kind][0]
            scheme = len(planted)
            if kind == "shared_card":
                p = planter(ctx, int(sizes[kind][i]), scheme, i)
            else:
                p = planter(ctx, int(sizes[kind][i]), scheme)
            planted.append(p)
    # truth lists kinds together, in the order they were planted within each kind
    order = sorted(range(len(planted)), key=lambda j: (SCHEME_KINDS.index(planted[j].kind), j))
    return [planted[j] for j in order]


def _check(persons: int, seed: int, fmt: str, year: int) -> None:
    if not MIN_PERSONS <= persons <= MAX_PERSONS:
        raise SynthError(
            f"--persons must be between {MIN_PERSONS:,} and {MAX_PERSONS:,}, got {persons:,}"
        )
    if seed < 0:
        raise SynthError(f"--seed must be a non-negative integer, got {seed}")
    if fmt not in FORMATS:
        raise SynthError(f"--format must be csv or parquet, got {fmt!r}")
    if not 2000 <= year <= 2100:
        raise SynthError(f"--year must be between 2000 and 2100, got {year}")


def _ours(path: Path) -> bool:
    names = {f"{t}.{ext}" for t in LOAD_ORDER for ext in FORMATS} | {"truth.json"}
    return path.name in names


def _prepare(out_dir: Path) -> None:
    """Make ``out_dir``, or clear a previous synth output in it; refuse anything else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthError(f"{out_dir} exists and is not a folder")
    if out_dir.exists():
        entries = sorted(out_dir.iterdir())
        truth = out_dir / "truth.json"
        made_by_us = False
        if truth.is_file():
            try:
                made_by_us = (
                    json.loads(truth.read_text(encoding="utf-8")).get("generator") == GENERATOR
                )
            except (OSError, ValueError, AttributeError):
                made_by_us = False
        if entries and not (made_by_us or all(_ours(e) and e.is_file() for e in entries)):
            raise SynthError(
                f"{out_dir} is not empty and was not written by ringfinder synth; "
                "choose a new or empty folder"
            )
        for e in entries:
            if _ours(e) and e.is_file():
                e.unlink()
    else:
        try:
            out_dir.mkdir(parents=True)
        except OSError as exc:
            raise SynthError(f"cannot create {out_dir}: {exc.strerror}") from None
