"""co_admission: recruited batches are found; outbreaks, dialysis, vans and crowds are not."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ringfinder import i18n
from ringfinder.detectors.co_admission import DETECTOR, Params, run
from ringfinder.engine.embedded import EmbeddedEngine

T0 = datetime(2025, 1, 1)
REGIONS = [f"3301{i:02d}" for i in range(1, 9)]


class City:
    """A small city built row by row: honest crowds, look-alikes and planted rings."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.persons: list[dict] = []
        self.claims: list[dict] = []
        self.institutions: list[dict] = []

    def person(self, pid: str, region: str, address: str | None = None) -> str:
        self.persons.append(
            {"person_id": pid, "region_code": region, "address": address or f"ad-{pid}"}
        )
        return pid

    def institution(self, iid: str, region: str, level: str, ownership: str) -> str:
        self.institutions.append(
            {
                "institution_id": iid,
                "name": iid,
                "region_code": region,
                "level": level,
                "ownership": ownership,
            }
        )
        return iid

    def claim(
        self,
        pid: str,
        inst: str,
        day: int,
        *,
        visit: str = "inpatient",
        stay: int = 0,
        dx: str = "I10",
        total: float = 6000.0,
        fund_share: float = 0.7,
        hour: int = 9,
        doctor: str | None = None,
    ) -> str:
        cid = f"K{len(self.claims):07d}"
        start = T0 + timedelta(days=day, hours=hour, minutes=int(self.rng.integers(0, 50)))
        self.claims.append(
            {
                "claim_id": cid,
                "person_id": pid,
                "provider_id": inst,
                "doctor_id": doctor or f"D-{inst}-{int(self.rng.integers(0, 5))}",
                "visit_type": visit,
                "start_time": start,
                "end_time": start + timedelta(days=stay) if visit == "inpatient" else None,
                "diagnosis_code": dx,
                "total_amount": total,
                "fund_amount": round(total * fund_share, 2),
            }
        )
        return cid

    def engine(self) -> EmbeddedEngine:
        eng = EmbeddedEngine(None)
        for table, rows in (
            ("persons", self.persons),
            ("institutions", self.institutions),
            ("claims", self.claims),
        ):
            df = pd.DataFrame(rows)
            eng.con.register("_rows", df)
            cols = ", ".join(f'"{c}"' for c in df.columns)
            eng.con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _rows')
            eng.con.unregister("_rows")
        return eng


DX = ["I10", "E11", "J18", "K80", "S72", "I63", "N18", "C34", "M17", "J44"]


def honest_city(seed: int = 1, n: int = 2500, per_day: int = 30) -> City:
    """A tertiary hospital with a random crowd of repeat patients from every region."""
    city = City(seed)
    city.institution("H_BIG", REGIONS[0], "tertiary", "public")
    city.institution("H_CTY", REGIONS[1], "secondary", "public")
    city.institution("DIAL", REGIONS[0], "clinic", "private")
    pids = [city.person(f"p{i:05d}", REGIONS[i % len(REGIONS)]) for i in range(n)]
    rng = city.rng
    heavy = rng.gamma(1.0, 1.0, size=n)  # some persons are admitted far more than others
    heavy /= heavy.sum()
    for day in range(365):
        crowd = per_day if day % 7 < 5 else per_day // 3  # quieter weekends
        for i in rng.choice(n, size=crowd, replace=False, p=heavy):
            city.claim(
                pids[i],
                "H_BIG",
                day,
                stay=int(rng.integers(1, 15)),
                dx=DX[int(rng.integers(0, len(DX)))],
                fund_share=float(rng.choice([0.6, 0.7, 0.8])),
            )
        for i in rng.choice(n, size=4, replace=False):
            city.claim(
                pids[i], "H_CTY", day, stay=int(rng.integers(2, 10)), dx=DX[int(i % len(DX))]
            )
    return city


def plant_ring(city: City, inst: str = "H_PRIV", size: int = 14, days: int = 6) -> set[str]:
    """Villagers of one region admitted in batches to a private hospital elsewhere."""
    if not any(i["institution_id"] == inst for i in city.institutions):
        city.institution(inst, REGIONS[2], "secondary", "private")
        for i in range(300):  # the hospital's own honest local patients
            pid = city.person(f"loc{inst}{i:04d}", REGIONS[2])
            for _ in range(int(city.rng.integers(1, 3))):
                city.claim(
                    pid,
                    inst,
                    int(city.rng.integers(0, 365)),
                    stay=int(city.rng.integers(2, 12)),
                    dx=DX[i % len(DX)],
                )
    ring = {city.person(f"v{inst}{i:03d}", REGIONS[5], f"village-{i}") for i in range(size)}
    members = sorted(ring)
    batch_days = sorted(city.rng.choice(np.arange(20, 340), size=days, replace=False))
    # about 70 % of the group on each batch day, every member in three batches or more
    attend = city.rng.random((size, days)) < 0.7
    for i in range(size):
        while attend[i].sum() < 3:
            attend[i, int(city.rng.integers(0, days))] = True
    for j, day in enumerate(batch_days):
        for i in np.flatnonzero(attend[:, j]):
            city.claim(members[i], inst, int(day), stay=5, dx="J44", fund_share=0.9, hour=8)
    return ring


def add_lookalikes(city: City) -> dict[str, set[str]]:
    """The honest look-alikes of the scheme."""
    rng = city.rng
    out: dict[str, set[str]] = {}
    # an outbreak: 40 villagers admitted on one day, a few come back once on their own
    outbreak = {city.person(f"ob{i:03d}", REGIONS[3]) for i in range(40)}
    for pid in sorted(outbreak):
        city.claim(pid, "H_BIG", 100, stay=4, dx="A09")
        if rng.random() < 0.3:
            city.claim(pid, "H_BIG", int(rng.integers(120, 360)), stay=3, dx="A09")
    out["outbreak"] = outbreak
    # a dialysis cohort: chronic outpatients, the same shift three times a week
    dial = {city.person(f"dl{i:03d}", REGIONS[0]) for i in range(12)}
    for day in range(365):
        if day % 7 in (0, 2, 4):
            for pid in sorted(dial):
                city.claim(pid, "DIAL", day, visit="chronic_outpatient", dx="N18", hour=7)
    out["dialysis"] = dial
    # nursing-home residents taken to the hospital by van every month (outpatients)
    home = {city.person(f"nh{i:03d}", REGIONS[0], "nursing-home-1") for i in range(15)}
    for month in range(12):
        for pid in sorted(home):
            city.claim(pid, "H_BIG", 30 * month + 3, visit="outpatient", dx="I10")
    out["nursing_home"] = home
    # an honest chemotherapy cohort: started together, admitted every 21 days
    chemo = {city.person(f"ch{i:03d}", REGIONS[i % len(REGIONS)]) for i in range(6)}
    for cycle in range(12):
        for pid in sorted(chemo):
            city.claim(pid, "H_BIG", 10 + 21 * cycle, stay=2, dx="C34")
    out["chemo"] = chemo
    return out


@pytest.fixture(scope="module")
def planted() -> tuple[list, set[str], set[str], dict[str, set[str]]]:
    city = honest_city()
    ring = plant_ring(city)
    ring_big = plant_ring(city, inst="H_BIG", size=10, days=5)
    looks = add_lookalikes(city)
    eng = city.engine()
    try:
        findings = run(eng, Params())
    finally:
        eng.close()
    return findings, ring, ring_big, looks


def test_detector_declaration() -> None:
    assert DETECTOR.name == "co_admission"
    assert "claims" in DETECTOR.requires
    assert isinstance(DETECTOR.default_params(), Params)


def test_ring_found_with_its_members(planted) -> None:
    findings, ring, _, _ = planted
    hits = [f for f in findings if f.persons & ring]
    assert len(hits) == 1
    f = hits[0]
    assert f.persons == ring
    assert f.institutions == {"H_PRIV"}
    assert f.strength >= 0.75
    assert f.figures["terms"]["residence"] >= 2
    assert len(f.figures["batch_days"]) == 6
    assert all(f.pattern == "co_admission" for f in findings)


def test_ring_inside_a_crowded_hospital_found(planted) -> None:
    findings, _, ring_big, _ = planted
    hits = [f for f in findings if f.persons & ring_big]
    assert len(hits) == 1
    assert hits[0].persons == ring_big
    assert hits[0].institutions == {"H_BIG"}
    assert hits[0].strength >= 0.5


def test_evidence_is_the_batch_stays_only(planted) -> None:
    findings, ring, _, _ = planted
    f = next(f for f in findings if f.persons & ring)
    assert len(f.claims) == sum(f.figures["batch_sizes"])  # one stay per member and batch
    assert f.doctors and all(d.startswith("D-H_PRIV") for d in f.doctors)


def test_lookalikes_and_crowds_stay_below_half(planted) -> None:
    findings, ring, ring_big, looks = planted
    strong = [f for f in findings if f.strength >= 0.5]
    assert {frozenset(f.persons) for f in strong} == {frozenset(ring), frozenset(ring_big)}
    for kind in ("outbreak", "dialysis", "nursing_home"):
        assert not any(f.persons & looks[kind] for f in findings), kind


def test_scheduled_cohort_is_capped(planted) -> None:
    findings, _, _, looks = planted
    chemo = [f for f in findings if f.persons & looks["chemo"]]
    assert chemo, "the cohort is lockstep and should be shown, weakly"
    assert all(f.strength < 0.5 for f in chemo)
    assert any(r.code == "co_admission.cohort" for f in chemo for r in f.reasons)


def test_reasons_render_with_measured_figures(planted) -> None:
    findings, ring, _, _ = planted
    f = next(f for f in findings if f.persons & ring)
    for lang in ("zh", "en"):
        texts = [i18n.render(r, lang) for r in f.reasons]
        assert all("{" not in t for t in texts)
    first = i18n.render(f.reasons[0], "en")
    assert f"{len(ring)} persons admitted together to H_PRIV on 6 separate days" in first


def test_pure_crowd_gives_no_strong_finding() -> None:
    eng = honest_city(seed=3, n=1500, per_day=40).engine()
    try:
        findings = run(eng, Params())
    finally:
        eng.close()
    assert all(f.strength < 0.5 for f in findings)


def test_deterministic() -> None:
    city = honest_city(seed=4, n=800, per_day=15)
    plant_ring(city)
    a = run(city.engine(), Params())
    b = run(city.engine(), Params())
    assert [(sorted(f.persons), f.strength) for f in a] == [
        (sorted(f.persons), f.strength) for f in b
    ]


def test_empty_store() -> None:
    eng = EmbeddedEngine(None)
    try:
        assert run(eng, Params()) == []
    finally:
        eng.close()


def test_tail_helpers_agree() -> None:
    from ringfinder.detectors._common import (
        binom_sf_array,
        log10_binom_sf,
        log10_poisson_sf,
        log10_poisson_sf_array,
        poisson_sf_array,
        strength,
    )

    k = np.array([1, 2, 3, 5, 10, 40])
    lam = np.array([0.5, 0.012, 0.04, 8.0, 1.5, 39.0])
    exact = [
        10 ** log10_poisson_sf(int(a), float(b)) if a > b else None
        for a, b in zip(k, lam, strict=True)
    ]
    for got, want in zip(poisson_sf_array(k, lam), exact, strict=True):
        if want is not None:
            assert got == pytest.approx(want, rel=1e-6, abs=1e-15)
    logs = log10_poisson_sf_array(k, lam)
    for got, a, b in zip(logs, k, lam, strict=True):
        if a > b:
            assert got == pytest.approx(log10_poisson_sf(int(a), float(b)), abs=1e-9)
    assert binom_sf_array(np.array([3]), np.array([10]), np.array([0.1]))[0] == pytest.approx(
        10 ** log10_binom_sf(3, 10, 0.1)
    )
    assert strength(2.0, 1) == 0.5 and strength(10.0, 10**8) == 0.5


def test_fdr_select() -> None:
    from ringfinder.detectors._common import fdr_select

    g = np.array([0, 0, 0, 0, 1, 1])
    pv = np.array([0.001, 0.004, 0.03, 0.2, 0.001, 0.009])
    # group 0: 4 of 10 hypotheses given; group 1: 2 of 2
    got = fdr_select(g, pv, np.array([10, 10, 10, 10, 2, 2]), 0.01)
    assert got.tolist() == [True, False, False, False, True, True]
    assert fdr_select(g, pv, np.array([4, 4, 4, 4, 2, 2]), 0.01).tolist()[:2] == [True, True]
