"""shared_card: retained-card bursts and dead/lost cards are found; honest crowds are not."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ringfinder import i18n
from ringfinder.detectors.shared_card import DETECTOR, Params, run
from ringfinder.engine.embedded import EmbeddedEngine

T0 = datetime(2025, 1, 1)
REGIONS = [f"3302{i:02d}" for i in range(1, 9)]


class Town:
    """Persons, cards, providers and settlements, honest crowds built in bulk."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.persons: list[dict] = []
        self.cards: list[dict] = []
        self.institutions: list[dict] = []
        self.pharmacies: list[dict] = []
        self.claims: list[pd.DataFrame] = []
        self.n_claims = 0

    def person(
        self,
        pid: str,
        region: str,
        *,
        address: str | None = None,
        phone: str | None = None,
        account: str | None = None,
        death: date | None = None,
        status: str = "active",
        status_date: date | None = None,
    ) -> str:
        self.persons.append(
            {
                "person_id": pid,
                "region_code": region,
                "address": address or f"ad-{pid}",
                "phone": phone or f"ph-{pid}",
                "bank_account": account or f"ac-{pid}",
                "death_date": death,
            }
        )
        self.cards.append(
            {"card_id": f"C{pid}", "person_id": pid, "status": status, "status_date": status_date}
        )
        return f"C{pid}"

    def provider(self, pid: str, region: str, pharmacy: bool) -> str:
        row = {"name": pid, "region_code": region}
        if pharmacy:
            self.pharmacies.append({"pharmacy_id": pid, **row})
        else:
            self.institutions.append({"institution_id": pid, "level": "clinic", **row})
        return pid

    def settle(
        self,
        cards: list[str] | np.ndarray,
        provider: str,
        times: list[datetime] | pd.DatetimeIndex | np.ndarray,
        *,
        terminal: str | None = None,
        visit: str = "pharmacy",
    ) -> list[str]:
        n = len(cards)
        ids = [f"K{self.n_claims + i:07d}" for i in range(n)]
        self.n_claims += n
        cards = np.asarray(cards, dtype=object)
        self.claims.append(
            pd.DataFrame(
                {
                    "claim_id": ids,
                    "person_id": [str(c)[1:] for c in cards],
                    "card_id": cards,
                    "provider_id": provider,
                    "doctor_id": f"D-{provider}",
                    "visit_type": visit,
                    "start_time": pd.to_datetime(np.asarray(times)),
                    "total_amount": 150.0,
                    "fund_amount": 90.0,
                    "terminal_id": terminal,
                }
            )
        )
        return ids

    def crowd(self, provider: str, region: str, customers: int, visits: int, tag: str) -> None:
        """Regular customers of a provider, each at random days and daytime hours."""
        cards = [
            self.person(f"{tag}{i:05d}", REGIONS[0] if i % 3 else region) for i in range(customers)
        ]
        card = np.repeat(cards, visits)
        days = self.rng.integers(0, 365, size=len(card))
        secs = self.rng.integers(8 * 3600, 21 * 3600, size=len(card))
        times = np.datetime64(T0) + (days * 86400 + secs).astype("timedelta64[s]")
        self.settle(card, provider, times, terminal=f"T-{provider}")

    def burst(
        self,
        cards: list[str],
        provider: str,
        day: int,
        hour: float,
        *,
        share: float = 0.8,
        terminal: str | None = None,
        visit: str = "pharmacy",
        gap: tuple[int, int] = (60, 180),
    ) -> list[str]:
        """Some of ``cards`` swiped one after another, ``gap`` seconds apart (one to three
        minutes by default)."""
        chosen = [c for c in cards if self.rng.random() < share]
        self.rng.shuffle(chosen)
        t = T0 + timedelta(days=day, hours=hour)
        times = []
        for _ in chosen:
            times.append(t)
            t += timedelta(seconds=int(self.rng.integers(*gap)))
        return self.settle(
            chosen, provider, times, terminal=terminal or f"T-{provider}", visit=visit
        )

    def engine(self) -> EmbeddedEngine:
        eng = EmbeddedEngine(None)
        tables = {
            "persons": pd.DataFrame(self.persons),
            "cards": pd.DataFrame(self.cards),
            "institutions": pd.DataFrame(self.institutions),
            "pharmacies": pd.DataFrame(self.pharmacies),
            "claims": pd.concat(self.claims, ignore_index=True),
        }
        for table, df in tables.items():
            if df.empty:
                continue
            eng.con.register("_rows", df)
            cols = ", ".join(f'"{c}"' for c in df.columns)
            eng.con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _rows')
            eng.con.unregister("_rows")
        return eng


def town_with_everything(seed: int = 1) -> tuple[Town, dict[str, set[str]]]:
    town = Town(seed)
    out: dict[str, set[str]] = {}
    busy = town.provider("P_BUSY", REGIONS[0], pharmacy=True)
    clinic = town.provider("H_CLIN", REGIONS[1], pharmacy=False)
    dial = town.provider("H_DIAL", REGIONS[0], pharmacy=False)
    for name in ("P_TWO", "P_THREE", "P_FOUR", "P_FIVE"):
        town.provider(name, REGIONS[2], pharmacy=True)
    town.crowd(busy, REGIONS[0], customers=3000, visits=12, tag="b")  # ~100 a day
    town.crowd(clinic, REGIONS[1], customers=400, visits=4, tag="c")

    # a clinic swiping the cards of absent villagers at night, monthly
    ring = [
        town.person(
            f"r{i:03d}",
            REGIONS[5],
            address=f"village-{i}",
            phone=f"collector-{i % 2}" if i % 3 == 0 else None,
        )
        for i in range(20)
    ]
    for month in range(12):
        town.burst(ring, clinic, 30 * month + 5, 22.5, visit="outpatient")
    out["ring"] = set(ring)

    # a quieter ring inside the busy pharmacy's daytime crowd, holders from elsewhere
    ring2 = [town.person(f"s{i:03d}", REGIONS[6]) for i in range(10)]
    for k in range(8):
        town.burst(ring2, busy, 40 * k + 11, 14.2, share=0.9)
    out["ring_busy"] = set(ring2)

    # a dialysis shift settled at reception: same patients, minutes apart, 3 times a week
    dial_cards = [town.person(f"d{i:03d}", REGIONS[0]) for i in range(12)]
    for day in range(365):
        if day % 7 in (0, 2, 4):
            town.burst(dial_cards, dial, day, 7.5, share=0.95, visit="chronic_outpatient")
    out["dialysis"] = set(dial_cards)

    # a family of three shopping together every week at the busy pharmacy
    fam = [town.person(f"f{i}", REGIONS[0], address="home-f") for i in range(3)]
    for week in range(52):
        town.burst(fam, busy, 7 * week + 2, 18.0, share=1.0)
    out["family"] = set(fam)

    # a daughter buying her living mother's chronic drugs with the mother's card
    mother = town.person("m0", REGIONS[0], address="home-m")
    town.settle([mother] * 12, busy, [T0 + timedelta(days=30 * i, hours=10) for i in range(12)])
    out["parent_card"] = {mother}

    # a nursing home's staff fetching residents' drugs with their cards, monthly
    home = [town.person(f"n{i:02d}", REGIONS[0], address="nursing-home") for i in range(10)]
    for month in range(12):
        town.burst(home, busy, 30 * month + 20, 9.5, share=1.0)
    out["nursing_home"] = set(home)

    # a dead holder's card used monthly after the death; one more used once
    dead = town.person("x0", REGIONS[2], death=date(2025, 3, 1))
    town.settle(
        [dead] * 10, "P_TWO", [T0 + timedelta(days=65 + 30 * i, hours=11) for i in range(10)]
    )
    once = town.person("x1", REGIONS[2], death=date(2025, 5, 1))
    town.settle([once], "P_THREE", [T0 + timedelta(days=150, hours=11)])
    out["dead"], out["dead_once"] = {dead}, {once}
    # a card reported lost, then used on four days
    lost = town.person("y0", REGIONS[2], status="lost", status_date=date(2025, 6, 1))
    town.settle(
        [lost] * 4, "P_FOUR", [T0 + timedelta(days=160 + 9 * i, hours=15) for i in range(4)]
    )
    out["lost"] = {lost}
    # two dead holders' cards used at one pharmacy: one finding for the provider
    pair = [town.person(f"z{i}", REGIONS[2], death=date(2025, 2, 1)) for i in range(2)]
    for i, c in enumerate(pair):
        town.settle([c] * 3, "P_FIVE", [T0 + timedelta(days=100 + 20 * j + i) for j in range(3)])
    out["dead_pair"] = set(pair)
    return town, out


@pytest.fixture(scope="module")
def found() -> tuple[list, dict[str, set[str]]]:
    town, planted = town_with_everything()
    eng = town.engine()
    try:
        return run(eng, Params()), planted
    finally:
        eng.close()


def test_detector_declaration() -> None:
    assert DETECTOR.name == "shared_card"
    assert {"claims", "cards"} <= set(DETECTOR.requires)
    assert isinstance(DETECTOR.default_params(), Params)


def test_night_ring_found_with_its_cards(found) -> None:
    findings, planted = found
    hits = [f for f in findings if f.cards & planted["ring"]]
    assert len(hits) == 1
    f = hits[0]
    assert f.cards == planted["ring"]
    assert f.institutions == {"H_CLIN"} and not f.pharmacies
    assert f.persons == {c[1:] for c in planted["ring"]}
    assert f.doctors == {"D-H_CLIN"}
    assert f.strength >= 0.75
    assert {"odd_hours", "away", "identifiers"} <= set(f.figures["terms"])
    assert all(f.pattern == "shared_card" for f in findings)


def test_ring_in_a_busy_pharmacy_found(found) -> None:
    findings, planted = found
    hits = [f for f in findings if f.cards & planted["ring_busy"]]
    assert len(hits) == 1
    assert hits[0].cards == planted["ring_busy"]
    assert hits[0].pharmacies == {"P_BUSY"}
    assert hits[0].strength >= 0.5


def test_evidence_is_the_burst_settlements(found) -> None:
    findings, planted = found
    f = next(f for f in findings if f.cards & planted["ring"])
    # every evidence claim is a night settlement of a ring card at the clinic
    assert len(f.claims) == sum(f.figures["burst_cards"])
    assert f.figures["bursts"] == 12


def test_honest_lookalikes_stay_below_half(found) -> None:
    findings, planted = found
    strong = [f for f in findings if f.strength >= 0.5]
    for kind in ("dialysis", "family", "parent_card", "nursing_home"):
        assert not any(f.cards & planted[kind] for f in strong), kind
    for kind in ("family", "parent_card", "nursing_home"):
        assert not any(f.cards & planted[kind] for f in findings), kind
    dial = [f for f in findings if f.cards & planted["dialysis"]]
    assert all(any(r.code == "shared_card.cohort" for r in f.reasons) for f in dial)
    # nothing else in the busy pharmacy's crowd
    crowd = [f for f in strong if any(c.startswith("Cb") for c in f.cards)]
    assert crowd == []


def test_dead_and_lost_cards(found) -> None:
    findings, planted = found
    dead = next(f for f in findings if f.cards == planted["dead"])
    assert dead.pharmacies == {"P_TWO"}
    assert dead.persons == {"x0"}
    assert len(dead.claims) == 10 and dead.strength >= 0.9
    assert [r.code for r in dead.reasons] == ["shared_card.dead"]
    assert dead.reasons[0].figures["days"] == 10
    once = next(f for f in findings if f.cards == planted["dead_once"])
    assert 0 < once.strength < 0.5
    lost = next(f for f in findings if f.cards == planted["lost"])
    assert [r.code for r in lost.reasons] == ["shared_card.status"]
    assert lost.reasons[0].figures["days"] == 4
    assert lost.strength >= 0.5
    pair = [f for f in findings if f.cards & planted["dead_pair"]]
    assert len(pair) == 1 and pair[0].cards == planted["dead_pair"]
    assert pair[0].pharmacies == {"P_FIVE"}


def test_reasons_render(found) -> None:
    findings, planted = found
    f = next(f for f in findings if f.cards & planted["ring"])
    for lang in ("zh", "en"):
        assert all("{" not in i18n.render(r, lang) for r in f.reasons)
    text = i18n.render(f.reasons[0], "en")
    assert "20 cards" in text and "12 bursts" in text


def test_pure_busy_pharmacy_gives_nothing_strong() -> None:
    town = Town(9)
    town.provider("P_X", REGIONS[0], pharmacy=True)
    town.crowd("P_X", REGIONS[0], customers=2000, visits=24, tag="q")
    eng = town.engine()
    try:
        findings = run(eng, Params())
    finally:
        eng.close()
    assert all(f.strength < 0.5 for f in findings)


def test_empty_store() -> None:
    eng = EmbeddedEngine(None)
    try:
        assert run(eng, Params()) == []
    finally:
        eng.close()


def test_dead_person_without_card_and_determinism() -> None:
    town = Town(4)
    town.provider("H_A", REGIONS[0], pharmacy=False)
    town.crowd("H_A", REGIONS[0], customers=200, visits=6, tag="a")
    ghost = town.person("g0", REGIONS[0], death=date(2025, 2, 1))
    ids = town.settle([ghost] * 3, "H_A", [T0 + timedelta(days=60 + 7 * i) for i in range(3)])
    claims = town.claims[-1]
    claims["card_id"] = None  # settled on the person, no card recorded
    ring = [town.person(f"r{i}", REGIONS[4], phone="collector") for i in range(6)]
    for month in range(6):
        town.burst(ring, "H_A", 30 * month + 3, 23.0, share=1.0, visit="outpatient")
    runs = []
    for _ in range(2):
        eng = town.engine()
        try:
            runs.append(run(eng, Params()))
        finally:
            eng.close()
    a, b = runs
    assert [(sorted(f.cards), sorted(f.persons), f.strength) for f in a] == [
        (sorted(f.cards), sorted(f.persons), f.strength) for f in b
    ]
    ghost_f = next(f for f in a if "g0" in f.persons)
    assert ghost_f.claims == set(ids) and not ghost_f.cards
    assert ghost_f.institutions == {"H_A"}
    ring_f = next(f for f in a if f.cards & set(ring))
    assert ring_f.cards == set(ring) and ring_f.strength >= 0.75
    assert "identifiers" in ring_f.figures["terms"]


def _close_twice(claims: pd.DataFrame, cards: set[str], minutes: float) -> tuple[int, int]:
    """Pairs of ``cards`` settled within ``minutes`` of each other on two or more days,
    and pairs settled on the same day on two or more days (any distance)."""
    c = claims[claims["card_id"].isin(cards)][["card_id", "start_time"]]
    c = c.assign(d=c["start_time"].dt.normalize())
    x = c.merge(c, on="d")
    x = x[x["card_id_x"] < x["card_id_y"]]
    near = x[(x["start_time_x"] - x["start_time_y"]).abs() <= pd.Timedelta(minutes=minutes)]
    days_near = near.groupby(["card_id_x", "card_id_y"])["d"].nunique()
    days_same = x.groupby(["card_id_x", "card_id_y"])["d"].nunique()
    return int((days_near >= 2).sum()), int((days_same >= 2).sum())


def test_long_shuffled_bursts_found() -> None:
    """A village clinic swipes ~55 retained cards in four long evening bursts, one card
    every two to three minutes in a new order each time: a burst lasts well over an hour,
    so two given cards are rarely within 10 minutes of each other on two days. The
    session (the run of settlements with gaps of 10 minutes or less) is the unit. (In
    the town with everything else: alone in a graph, modularity would cut any ring.)"""
    town, planted = town_with_everything(seed=2)
    clinic = town.provider("H_VIL", REGIONS[3], pharmacy=False)
    town.crowd(clinic, REGIONS[3], customers=250, visits=2, tag="v")
    ring = [town.person(f"L{i:03d}", REGIONS[6]) for i in range(56)]
    for day in (40, 131, 222, 350):
        town.burst(
            ring,
            clinic,
            day,
            18.0,
            share=0.65,
            gap=(120, 181),
            terminal="T-H_VIL",
            visit="outpatient",
        )
    claims = pd.concat(town.claims, ignore_index=True)
    near, same = _close_twice(claims, set(ring), 10)
    assert same >= 400 and near < same / 10  # the premise: 10-minute ties are rare
    repeat = (
        claims[claims["card_id"].isin(ring)]
        .groupby("card_id")["start_time"]
        .apply(lambda s: s.dt.normalize().nunique())
    )
    again = set(repeat.index[repeat >= 2])
    eng = town.engine()
    try:
        findings = run(eng, Params())
    finally:
        eng.close()
    hits = [f for f in findings if f.cards & set(ring)]
    assert len(hits) == 1
    f = hits[0]
    assert f.cards <= set(ring) and len(f.cards & again) >= 0.8 * len(again)
    assert f.institutions == {clinic}
    assert len(f.figures["burst_days"]) == 4 and f.strength >= 0.5
    assert "away" in f.figures["terms"]
    # the rest of the town as before: the other ring found, the look-alikes below 0.5
    assert any(g.cards == planted["ring"] and g.strength >= 0.75 for g in findings)
    strong = [g for g in findings if g.strength >= 0.5]
    for kind in ("dialysis", "family", "parent_card", "nursing_home"):
        assert not any(g.cards & planted[kind] for g in strong), kind


def test_busy_terminal_pairing_is_bounded() -> None:
    """A pharmacy busy all day is one long session: pairing every card of it with every
    other would grow with the square of its day. Sessions longer than ``max_session``
    fall back to the 10-minute window, so each settlement adds fewer than
    ``max_session`` candidate pair rows, and nothing is found."""
    from ringfinder.detectors import shared_card as sc
    from ringfinder.detectors._common import temp_tables

    town = Town(5)
    shop = town.provider("P_ALL", REGIONS[0], pharmacy=True)
    cards = [town.person(f"u{i:05d}", REGIONS[0]) for i in range(1500)]
    days, per_day = 90, 400  # one settlement every 1.8 minutes, 8:00 to 20:00
    card = town.rng.choice(np.asarray(cards, dtype=object), size=days * per_day)
    day = np.repeat(np.arange(days), per_day)
    secs = town.rng.integers(8 * 3600, 20 * 3600, size=day.size)
    times = np.datetime64(T0) + (day * 86400 + secs).astype("timedelta64[s]")
    town.settle(card, shop, times, terminal="T-P_ALL")
    eng = town.engine()
    cost = {}
    try:
        for top in (Params().max_session, 10**9):
            with temp_tables(eng, sc._S0, sc._C, sc._SS, sc._S, sc._P):
                sc._pairs(eng, Params(max_session=top))
                # candidate pair rows of the session join, per paired settlement
                (per,) = eng.sql(
                    f"""
                    SELECT sum(s * (s - 1) / 2) / (SELECT count(*) FROM {sc._S})
                    FROM (SELECT count(*) AS s FROM {sc._S} WHERE short GROUP BY tk, sid)
                    """
                ).fetchone()
            cost[top] = float(per or 0.0)
        findings = run(eng, Params())
    finally:
        eng.close()
    assert cost[Params().max_session] < Params().max_session / 2
    assert cost[10**9] > 100  # a whole day paired at once: the blow-up the bound prevents
    assert findings == []


def test_dialysis_shift_from_elsewhere_stays_capped() -> None:
    """A dialysis centre draws patients from neighbouring districts: 11 of its 28 live
    elsewhere, and by chance one shift is all of them. Against the centre's other
    patients that shift looks "away" (a tail near 1e-4); against all its patients, and
    charged for the traces and groups looked at, it is the chance it is: the cohort
    stays capped below 0.5."""
    town = Town(77)
    centre = town.provider("H_DC", REGIONS[0], pharmacy=False)
    away = [town.person(f"a{i:02d}", REGIONS[2 + i % 3]) for i in range(11)]
    local = [town.person(f"l{i:02d}", REGIONS[0]) for i in range(17)]
    shifts = [away[:6], away[6:] + local[:2], local[2:10], local[10:]]
    for s, cards in enumerate(shifts):
        for day in range(365):
            if day % 7 in ((0, 2, 4) if s % 2 == 0 else (1, 3, 5)):
                hour = 7.5 if s < 2 else 13.5
                town.burst(cards, centre, day, hour, share=0.95, visit="chronic_outpatient")
    # the rest of the city: a busy pharmacy's local crowd
    town.provider("P_C", REGIONS[0], pharmacy=True)
    town.crowd("P_C", REGIONS[0], customers=1000, visits=6, tag="c")
    eng = town.engine()
    try:
        findings = run(eng, Params())
    finally:
        eng.close()
    cohort = [f for f in findings if f.institutions == {centre}]
    assert cohort  # found as lockstep ...
    assert all(f.strength <= Params().cohort_cap for f in cohort)  # ... and capped
    assert all(any(r.code == "shared_card.cohort" for r in f.reasons) for f in cohort)
