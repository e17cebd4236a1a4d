"""Honest behaviour: claims, items, referrals and window reimbursements of ordinary people.

Generated in chunks of persons (each with its own random stream, so the result does not
depend on anything but the seed and the city size), fully vectorised within a chunk.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ringfinder.synth import lexicon
from ringfinder.synth.frames import Activity, Frame, keep_claims
from ringfinder.synth.market import (
    DIAG_LOS,
    DIAG_SEVERITY,
    GROUP,
    ITEM_DAYS,
    ITEM_PRICE,
    VISIT,
    Market,
    cents,
    diag_ix,
    drug_lines,
    fund_of,
    items_frame,
    stay_lines,
)
from ringfinder.synth.population import Population, card_at
from ringfinder.synth.timeline import DAY, Calendar
from ringfinder.synth.window import split_amounts, window_activity

CHUNK = 200_000  # persons per chunk (fixed: the output must not depend on memory)

_BAND_EDGES = np.array([7, 18, 45, 60, 75])  # age bands 0-6, 7-17, 18-44, 45-59, 60-74, 75+
RATE_OUT = np.array([8.5, 3.8, 3.6, 5.0, 7.2, 8.0])
RATE_PHARMACY = np.array([0.8, 0.7, 2.6, 3.2, 3.4, 3.4])
RATE_INPATIENT = np.array([0.15, 0.05, 0.09, 0.14, 0.31, 0.52])
P_CHRONIC = np.array([0.0, 0.002, 0.02, 0.14, 0.32, 0.40])
CHRONIC_MIX = np.array([0.45, 0.25, 0.10, 0.08, 0.08, 0.04])  # over lexicon.CHRONIC_CODES
OUT_GROUPS = ("clinic", "primary", "secondary", "tertiary", "private")
OUT_P = np.array([0.33, 0.25, 0.22, 0.13, 0.07])
IN_GROUPS = ("primary", "secondary", "tertiary", "private")
IN_P = np.array(  # by severity 1..3
    [[0.35, 0.40, 0.10, 0.15], [0.10, 0.50, 0.30, 0.10], [0.0, 0.30, 0.68, 0.02]]
)
OUT_MEDIAN = np.array([35.0, 60.0, 180.0, 320.0, 220.0, 60.0, 150.0])  # by group, -1 other
OUT_ZERO_FUND = np.array([0.35, 0.3, 0.4, 0.45, 0.45, 0.5, 0.4])
_CHRONIC_IX = diag_ix(lexicon.CHRONIC_CODES)
_OBSTETRIC = diag_ix(("O80.000", "O82.000", "N76.000"))
_REHAB_AFTER = diag_ix(("I63.900", "S72.000", "I21.900"))
_EMERGENCY = diag_ix(("J18.900", "K35.800", "S82.800", "A09.900", "I21.900", "K80.200"))


def _band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(_BAND_EDGES, age, side="right")


def _diag_table(table: dict[str, tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    codes = diag_ix(tuple(table))
    w = np.array(list(table.values()), dtype=np.float64)  # codes × 5 bands
    return codes, w


_OUT_DIAG = _diag_table(lexicon.OUTPATIENT_DIAG)
_IN_DIAG = _diag_table(lexicon.INPATIENT_DIAG)


def sample_diag(
    rng: np.random.Generator,
    table: tuple[np.ndarray, np.ndarray],
    age: np.ndarray,
    male: np.ndarray,
) -> np.ndarray:
    """Diagnoses by age band (0-6, 7-17, 18-44, 45-59, 60+), never obstetric for men."""
    codes, w = table
    band = np.minimum(_band(age), 4)
    out = np.empty(age.size, np.int16)
    for sex in (False, True):
        ww = w.copy()
        if sex:
            ww[np.isin(codes, _OBSTETRIC)] = 0
        for b in range(5):
            sel = np.flatnonzero((band == b) & (male == sex))
            if sel.size:
                p = ww[:, b] / ww[:, b].sum()
                out[sel] = codes[rng.choice(codes.size, sel.size, p=p)]
    return out


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = [lexicon.ITEM[name] for name, _ in options]
    w = np.array([x for _, x in options], dtype=np.float64)
    return np.array(names, dtype=np.int16)[rng.choice(len(names), n, p=w / w.sum())]


class Traits:
    """Per-person traits of a chunk: frailty, chronic conditions, usual providers."""

    def __init__(
        self, rng: np.random.Generator, m: Market, pop: Population, idx: np.ndarray
    ) -> None:
        n = idx.size
        self.idx = idx
        self.age = pop.age[idx].astype(np.int64)
        self.band = _band(self.age)
        self.male = pop.male[idx]
        self.village = pop.village[idx].astype(np.int64)
        self.employee = pop.employee[idx]
        self.frailty = rng.gamma(1.5, 1 / 1.5, n)
        sick = rng.random(n) < P_CHRONIC[self.band]
        c1 = np.where(sick, rng.choice(_CHRONIC_IX.size, n, p=CHRONIC_MIX), -1)
        self.c1 = np.where(c1 >= 0, _CHRONIC_IX[np.maximum(c1, 0)], -1).astype(np.int16)
        second = sick & (rng.random(n) < 0.25)
        htn, dm = lexicon.DIAG["I10.x00"], lexicon.DIAG["E11.900"]
        self.c2 = np.where(second, np.where(self.c1 == htn, dm, htn), -1).astype(np.int16)
        self.frailty[sick] *= 1.3
        self.registered = sick & (rng.random(n) < 0.6)  # 门诊慢特病 registration
        self.d1 = np.full(n, -1, np.int16)
        self.d2 = np.full(n, -1, np.int16)
        for code, options in lexicon.CHRONIC_DRUGS.items():
            if code not in lexicon.DIAG or code == "N18.500":
                continue
            c = lexicon.DIAG[code]
            for col, mask in ((self.d1, self.c1 == c), (self.d2, self.c2 == c)):
                sel = np.flatnonzero(mask)
                col[sel] = _pick(rng, options, sel.size)
        self.chronic_org = m.choose_mixed(
            rng, self.village, ("primary", "secondary", "tertiary"), np.array([0.45, 0.35, 0.2])
        )
        self.usual_org = m.choose_mixed(rng, self.village, OUT_GROUPS, OUT_P)
        self.usual_pharmacy = m.choose(rng, "pharmacy", self.village)


def honest_activity(
    seeds: list[np.random.SeedSequence],
    m: Market,
    pop: Population,
    cal: Calendar,
    progress: Callable[[str], None] | None = None,
) -> list[Activity]:
    """One Activity per chunk of persons (joined once, later, with the planted ones)."""
    parts = []
    n_chunks = len(seeds)
    for c, ss in enumerate(seeds):
        if progress:
            progress(f"honest claims: persons chunk {c + 1}/{n_chunks}")
        idx = np.arange(c * CHUNK, min(pop.n, (c + 1) * CHUNK))
        parts.append(_chunk(np.random.default_rng(ss), m, pop, cal, idx))
    return parts


def n_chunks(persons: int) -> int:
    return (persons + CHUNK - 1) // CHUNK


def _chunk(
    rng: np.random.Generator, m: Market, pop: Population, cal: Calendar, idx: np.ndarray
) -> Activity:
    t = Traits(rng, m, pop, idx)
    parts = [
        _outpatient(rng, m, pop, cal, t),
        _pharmacy(rng, m, pop, cal, t),
        _chronic(rng, m, pop, cal, t),
        _inpatient(rng, m, pop, cal, t),
    ]
    act = _drop_impossible(rng, Activity.concat(parts), pop)
    act = Activity.concat([act, *_after_stays(rng, m, pop, cal, act)])
    return Activity.concat([act, _emergencies_elsewhere(rng, m, pop, cal, t)])


def _claims(
    rng: np.random.Generator,
    m: Market,
    pop: Population,
    person: np.ndarray,
    org: np.ndarray,
    visit: int,
    day: np.ndarray,
    sec: np.ndarray,
    diag: np.ndarray,
    total: np.ndarray,
    fund: np.ndarray,
    *,
    end: np.ndarray | None = None,
    no_card: float = 0.015,
) -> Frame:
    card = card_at(pop, person, day)
    card[rng.random(person.size) < no_card] = -1
    return Frame(
        "claims",
        person=person,
        card=card,
        org=org,
        doctor=m.doctor(rng, org, diag),
        visit=visit,
        start=day * DAY + sec,
        end=-1 if end is None else end,
        diag=diag,
        total=total,
        fund=fund,
        terminal=m.terminal(rng, org),
    )


def _outpatient(rng, m: Market, pop: Population, cal: Calendar, t: Traits) -> Activity:
    rate = RATE_OUT[t.band] * t.frailty * np.where(t.employee, 1.15, 1.0)
    k = rng.poisson(rate)
    row = np.repeat(np.arange(t.idx.size), k)
    n = row.size
    person = t.idx[row]
    diag = sample_diag(rng, _OUT_DIAG, t.age[row], t.male[row])
    chronic = (t.c1[row] >= 0) & (rng.random(n) < 0.3)
    diag[chronic] = t.c1[row][chronic]
    org = np.where(
        rng.random(n) < 0.55,
        t.usual_org[row],
        m.choose_mixed(rng, t.village[row], OUT_GROUPS, OUT_P),
    ).astype(np.int32)
    to_maternal = ((t.age[row] < 7) | np.isin(diag, _OBSTETRIC)) & (rng.random(n) < 0.25)
    org[to_maternal] = m.maternal[0]
    diag = m.specialise(rng, org, diag, inpatient=False)
    day = cal.days(rng, n, "outpatient")
    sec = cal.seconds(rng, n, "outpatient")
    group = m.group_of[org]
    total = cents(OUT_MEDIAN[group] * rng.lognormal(0, 0.65, n))
    emp = pop.employee[person]
    fund = fund_of(
        rng, total, np.where(emp, 0.55, 0.5), np.where(emp, 0.75, 0.65), OUT_ZERO_FUND[group]
    )
    claims = _claims(rng, m, pop, person, org, VISIT["outpatient"], day, sec, diag, total, fund)
    # about 40 % itemised: the consultation fee and one drug for the rest
    itemised = np.flatnonzero((rng.random(n) < 0.4) & (total > 2000))
    fee = np.minimum(cents(np.full(itemised.size, 12.0)), total[itemised] // 2)
    drug = np.array([lexicon.ITEM[d] for d in lexicon.OTC_DRUGS], np.int16)[
        rng.integers(0, len(lexicon.OTC_DRUGS), itemised.size)
    ]
    rest = total[itemised] - fee
    items = items_frame(
        np.concatenate([itemised, itemised]),
        np.concatenate([np.full(itemised.size, lexicon.ITEM["诊查费"], np.int16), drug]),
        np.concatenate(
            [np.ones(itemised.size), np.maximum(1, np.round(rest / 100 / ITEM_PRICE[drug]))]
        ),
        np.concatenate([fee, rest]),
    )
    return Activity(claims=claims, items=items)


def _pharmacy(rng, m: Market, pop: Population, cal: Calendar, t: Traits) -> Activity:
    emp = np.where(t.employee, 1.3, 1.0)
    k_otc = rng.poisson(RATE_PHARMACY[t.band] * t.frailty * emp)
    k_refill = np.where(t.d1 >= 0, rng.poisson(np.where(t.registered, 3.0, 7.0)), 0)
    parts = []
    for refill, k in ((False, k_otc), (True, k_refill)):
        row = np.repeat(np.arange(t.idx.size), k)
        n = row.size
        person = t.idx[row]
        org = np.where(
            rng.random(n) < (0.8 if refill else 0.55),
            t.usual_pharmacy[row],
            m.choose(rng, "pharmacy", t.village[row]),
        ).astype(np.int32)
        if refill:
            months = np.where(rng.random(n) < 0.2, 60.0, 30.0)
            d1, d2 = t.d1[row], t.d2[row]
            has2 = np.flatnonzero(d2 >= 0)
            claim = np.concatenate([np.arange(n), has2])
            drug = np.concatenate([d1, d2[has2]])
            qty = np.ceil(np.concatenate([months, months[has2]]) / ITEM_DAYS[drug])
            diag = np.where(rng.random(n) < 0.7, t.c1[row], -1).astype(np.int16)
            zero, lo, hi = 0.35, 0.4, 0.7
        else:
            per = rng.choice(3, n, p=[0.55, 0.32, 0.13]) + 1
            claim = np.repeat(np.arange(n), per)
            otc = np.array([lexicon.ITEM[d] for d in lexicon.OTC_DRUGS], np.int16)
            drug = otc[rng.integers(0, otc.size, claim.size)]
            qty = rng.integers(1, 4, claim.size).astype(np.float64)
            symptom = diag_ix(("J06.900", "K29.700", "M54.500", "L30.900"))
            diag = np.where(
                rng.random(n) < 0.35, symptom[rng.integers(0, symptom.size, n)], -1
            ).astype(np.int16)
            zero, lo, hi = 0.6, 0.3, 0.55
        items, amount = drug_lines(claim, drug, qty)
        total = np.bincount(claim, weights=amount, minlength=n).round().astype(np.int64)
        fund = fund_of(rng, total, lo, hi, zero)
        day = cal.days(rng, n, "pharmacy")
        sec = cal.seconds(rng, n, "pharmacy")
        claims = _claims(rng, m, pop, person, org, VISIT["pharmacy"], day, sec, diag, total, fund)
        parts.append(Activity(claims=claims, items=items))
    return Activity.concat(parts)


def _chronic(rng, m: Market, pop: Population, cal: Calendar, t: Traits) -> Activity:
    """门诊慢特病: a visit every 4-5 weeks at the registered provider, dosage-consistent drugs."""
    who = np.flatnonzero(t.registered & (t.d1 >= 0))
    interval = rng.uniform(26, 38, who.size)
    offset = rng.uniform(0, interval)
    k = np.ceil((cal.n_days - offset) / interval).astype(np.int64)
    row = np.repeat(np.arange(who.size), k)
    nth = np.arange(row.size) - np.repeat(np.cumsum(k) - k, k)
    day = np.round(offset[row] + nth * interval[row] + rng.normal(0, 2, row.size)).astype(np.int64)
    day = cal.workday(day)
    keep = (day >= 0) & (day < cal.n_days) & (rng.random(row.size) < 0.85)
    row, day = row[keep], day[keep]
    n = row.size
    p = who[row]
    person = t.idx[p]
    d1, d2 = t.d1[p], t.d2[p]
    has2 = np.flatnonzero(d2 >= 0)
    days_supply = interval[row]
    claim = np.concatenate([np.arange(n), has2])
    drug = np.concatenate([d1, d2[has2]])
    qty = np.ceil(np.concatenate([days_supply, days_supply[has2]]) / ITEM_DAYS[drug])
    items, amount = drug_lines(claim, drug, qty)
    fee = cents(np.full(n, 12.0))
    items = Frame.concat(
        "items",
        [items, items_frame(np.arange(n), np.full(n, lexicon.ITEM["诊查费"]), np.ones(n), fee)],
    )
    total = np.bincount(claim, weights=amount, minlength=n).round().astype(np.int64) + fee
    fund = fund_of(rng, total, 0.6, 0.85)
    org = t.chronic_org[p]
    sec = cal.seconds(rng, n, "chronic")
    claims = _claims(
        rng, m, pop, person, org, VISIT["chronic_outpatient"], day, sec, t.c1[p], total, fund
    )
    return Activity(claims=claims, items=items)


def stays(
    rng: np.random.Generator,
    m: Market,
    pop: Population,
    cal: Calendar,
    person: np.ndarray,
    org: np.ndarray,
    day: np.ndarray,
    diag: np.ndarray,
    los: np.ndarray,
    *,
    admit_sec: np.ndarray | None = None,
    fund_share: tuple[np.ndarray | float, np.ndarray | float] | None = None,
    daily: np.ndarray | None = None,
    doctor: np.ndarray | None = None,
    scheme: int = -1,
) -> Activity:
    """Inpatient claims with their items (shared by honest care, schemes and look-alikes)."""
    n = person.size
    sec = cal.seconds(rng, n, "admit") if admit_sec is None else admit_sec
    end = (day + los) * DAY + cal.seconds(rng, n, "discharge")
    group = m.group_of[org]
    items, total = stay_lines(rng, np.arange(n), los.astype(np.float64), group, diag, daily)
    if fund_share is None:
        level = np.where(
            group == GROUP["primary"], 0.8, np.where(group == GROUP["tertiary"], 0.5, 0.62)
        )
        bonus = np.where(pop.employee[person], 0.08, 0.0)
        lo, hi = level + bonus, np.minimum(level + 0.14 + bonus, 0.95)
    else:
        lo, hi = fund_share
    fund = fund_of(rng, total, lo, hi)
    claims = _claims(
        rng,
        m,
        pop,
        person,
        org,
        VISIT["inpatient"],
        day,
        sec,
        diag,
        total,
        fund,
        end=end,
        no_card=0.03,
    )
    if doctor is not None:
        claims.cols["doctor"] = doctor.astype(np.int32)
    claims.cols["scheme"][:] = scheme
    return Activity(claims=claims, items=items)


def length_of_stay(rng: np.random.Generator, diag: np.ndarray) -> np.ndarray:
    mean = DIAG_LOS[diag]
    return np.maximum(1, np.round(rng.gamma(4.0, mean / 4.0))).astype(np.int64)


def _inpatient(rng, m: Market, pop: Population, cal: Calendar, t: Traits) -> Activity:
    rate = RATE_INPATIENT[t.band] * np.sqrt(t.frailty) * np.where(t.c1 >= 0, 1.5, 1.0)
    k = rng.poisson(rate)
    row = np.repeat(np.arange(t.idx.size), k)
    n = row.size
    person = t.idx[row]
    diag = sample_diag(rng, _IN_DIAG, t.age[row], t.male[row])
    p = IN_P[DIAG_SEVERITY[diag] - 1].copy()
    urban = m.city.v_urban[t.village[row]]
    p[urban, 0] *= 0.3
    p[t.age[row] < 18, 3] = 0.0
    org = m.choose_mixed(rng, t.village[row], IN_GROUPS, p)
    to_maternal = ((t.age[row] < 7) | np.isin(diag, _OBSTETRIC)) & (rng.random(n) < 0.3)
    org[to_maternal] = m.maternal[0]
    diag = m.specialise(rng, org, diag, inpatient=True)
    day = cal.days(rng, n, "inpatient")
    return stays(rng, m, pop, cal, person, org, day, diag, length_of_stay(rng, diag))


def _drop_impossible(rng: np.random.Generator, act: Activity, pop: Population) -> Activity:
    """No claims after death; no overlapping stays; no visits while in hospital."""
    c = act.claims
    start_day = c["start"] // DAY
    death = pop.death[c["person"]]
    alive = (death < 0) | (start_day <= death)
    # a stay that runs past the death ends that evening
    inp = c["visit"] == VISIT["inpatient"]
    died_in = inp & alive & (death >= 0) & (c["end"] // DAY > death)
    c.cols["end"][died_in] = death[died_in].astype(np.int64) * DAY + 20 * 3600
    keep = alive.copy()
    # overlapping stays of one person: keep the earlier
    stay = np.flatnonzero(inp & keep)
    for _ in range(10):
        order = stay[np.lexsort((c["start"][stay], c["person"][stay]))]
        same = c["person"][order][1:] == c["person"][order][:-1]
        clash = same & (c["start"][order][1:] <= c["end"][order][:-1])
        if not clash.any():
            break
        keep[order[1:][clash]] = False
        stay = np.flatnonzero(inp & keep)
    # visits inside a stay (most pharmacy purchases too, bar a relative's errand)
    order = stay[np.lexsort((c["start"][stay], c["person"][stay]))]
    skey = c["person"][order].astype(np.int64) << 26 | c["start"][order]
    other = np.flatnonzero(~inp & keep)
    ckey = c["person"][other].astype(np.int64) << 26 | c["start"][other]
    pos = np.searchsorted(skey, ckey, side="right") - 1
    hit = pos >= 0
    posc = np.maximum(pos, 0)
    inside = (
        hit
        & (c["person"][order][posc] == c["person"][other])
        & (c["start"][other] <= c["end"][order][posc])
    )
    errand = (c["visit"][other] == VISIT["pharmacy"]) & (rng.random(other.size) < 0.1)
    keep[other[inside & ~errand]] = False
    return keep_claims(act, keep)


def _after_stays(rng, m: Market, pop: Population, cal: Calendar, act: Activity) -> list[Activity]:
    """Referrals around honest stays: up from the township or county, back down for
    rehabilitation, and out of the area (then window reimbursements of the invoices)."""
    c = act.claims
    inp = np.flatnonzero(c["visit"] == VISIT["inpatient"])
    person, org, diag = c["person"][inp], c["org"][inp], c["diag"][inp]
    admit = (c["start"][inp] // DAY).astype(np.int64)
    out = (c["end"][inp] // DAY).astype(np.int64)
    village = pop.village[person]
    group = m.group_of[org]
    refs = []
    # up: township -> county hospital; county -> tertiary
    for g, src_group, p, back in (
        ("secondary", "primary", 0.25, 2),
        ("tertiary", "secondary", 0.35, 3),
    ):
        sel = np.flatnonzero((group == GROUP[g]) & (rng.random(inp.size) < p))
        src = m.nearest[src_group][village[sel]]
        day = np.maximum(0, admit[sel] - rng.integers(0, back + 1, sel.size))
        refs.append(referral_frame(rng, m, person[sel], src, org[sel], day, diag[sel]))
    # down: rehabilitation at the county hospital after a stroke, fracture or infarction
    sel = np.flatnonzero(
        (group == GROUP["tertiary"]) & np.isin(diag, _REHAB_AFTER) & (rng.random(inp.size) < 0.25)
    )
    dst = m.nearest["secondary"][village[sel]]
    refs.append(referral_frame(rng, m, person[sel], org[sel], dst, out[sel], diag[sel]))
    rehab_day = out[sel] + rng.integers(0, 4, sel.size)
    ok = rehab_day < cal.n_days - 1
    rehab = lexicon.DIAG["Z50.900"]
    rehab_stays = stays(
        rng,
        m,
        pop,
        cal,
        person[sel][ok],
        dst[ok],
        rehab_day[ok],
        np.full(int(ok.sum()), rehab, np.int16),
        rng.integers(10, 21, int(ok.sum())),
    )
    # out of the area: complex cases referred on to a provincial or national hospital
    sel = np.flatnonzero(
        (group == GROUP["tertiary"]) & (DIAG_SEVERITY[diag] == 3) & (rng.random(inp.size) < 0.25)
    )
    ext = external_for(rng, m, diag[sel])
    ref_day = np.minimum(out[sel] + rng.integers(0, 11, sel.size), cal.n_days - 1)
    refs.append(referral_frame(rng, m, person[sel], org[sel], ext, ref_day, diag[sel]))
    window = treated_elsewhere(rng, m, pop, cal, person[sel], ext, ref_day, diag[sel])
    return [Activity(referrals=Frame.concat("referrals", refs)), rehab_stays, window]


def external_for(rng: np.random.Generator, m: Market, diag: np.ndarray) -> np.ndarray:
    """An out-of-area hospital for each diagnosis: cancer hospitals for cancers."""
    spec = m.specialty[m.external]
    provincial = m.region[m.external] // 10_000 == int(m.city.province_code)
    cancer = np.array(
        [lexicon.DIAGNOSES[d].code.startswith("C") for d in range(len(lexicon.DIAGNOSES))]
    )
    is_cancer = cancer[diag]
    out = np.empty(diag.size, np.int32)
    for want, options in ((True, spec == "cancer"), (False, spec == "general")):
        sel = np.flatnonzero(is_cancer == want)
        w = np.where(options, np.where(provincial, 6.0, 1.0), 0.0)
        out[sel] = m.external[rng.choice(m.external.size, sel.size, p=w / w.sum())]
    return out


def referral_frame(rng, m: Market, person, src, dst, day, diag, scheme: int = -1) -> Frame:
    return Frame(
        "referrals",
        person=person,
        src=src,
        dst=dst,
        day=day,
        doctor=m.doctor(rng, src, diag),
        diag=diag,
        scheme=scheme,
    )


def treated_elsewhere(
    rng: np.random.Generator,
    m: Market,
    pop: Population,
    cal: Calendar,
    person: np.ndarray,
    issuer: np.ndarray,
    first_day: np.ndarray,
    diag: np.ndarray,
    *,
    visits: tuple[int, int] = (1, 3),
    median: float = 9000.0,
) -> Activity:
    """Honest window reimbursements of out-of-area invoices, from ``first_day`` on.

    Each person brings 1-3 (``visits``) reimbursements of 1-3 invoices; the papers come
    from their own phone or a relative's, and the money goes to their own (or family)
    account.
    """
    k = rng.integers(visits[0], visits[1] + 1, person.size)
    row = np.repeat(np.arange(person.size), k)
    nth = np.arange(row.size) - np.repeat(np.cumsum(k) - k, k)
    inv_day0 = first_day[row] + rng.integers(3, 30, row.size) + nth * rng.integers(20, 50, row.size)
    submit = inv_day0 + rng.integers(7, 45, row.size)
    ok = (submit < cal.n_days) & pop.alive_on(person[row], inv_day0)
    row, inv_day0, submit = row[ok], inv_day0[ok], submit[ok]
    n = row.size
    per = rng.choice(3, n, p=[0.6, 0.3, 0.1]) + 1
    total = cents(median * rng.lognormal(0, 0.6, n))
    inv_row, amount = split_amounts(rng, total, per)
    inv_day = np.maximum(0, inv_day0[inv_row] - rng.integers(0, 10, inv_row.size))
    inpatient = (amount > 300_000) | (rng.random(inv_row.size) < 0.15)
    p = person[row]
    phone = own_or_family(rng, pop, p, pop.phone, 0.2)
    account = own_or_family(rng, pop, p, pop.account, 0.05)
    return window_activity(
        rng,
        m,
        cal.year,
        person=p,
        submit_day=submit,
        handler=rng.integers(0, m.handlers, n),
        phone=phone,
        account=account,
        paid_share=rng.uniform(0.45, 0.75, n),
        inv_reimb=inv_row,
        inv_issuer=issuer[row][inv_row],
        inv_day=inv_day,
        inv_amount=amount,
        inv_visit=np.where(inpatient, VISIT["inpatient"], VISIT["outpatient"]),
        inv_diag=diag[row][inv_row],
    )


def own_or_family(
    rng: np.random.Generator, pop: Population, person: np.ndarray, col: np.ndarray, p_family: float
) -> np.ndarray:
    """The person's own phone/account, or (with p_family, or when missing) a relative's."""
    order, start, count = pop.households
    hh = pop.household[person]
    relative = order[start[hh] + (rng.random(person.size) * count[hh]).astype(np.int64)]
    mine = col[person]
    use_rel = (rng.random(person.size) < p_family) | (mine == 0)
    return np.where(use_rel & (col[relative] > 0), col[relative], mine)


def _emergencies_elsewhere(rng, m: Market, pop: Population, cal: Calendar, t: Traits) -> Activity:
    """People treated while away (migrant work, travel): window claims without referral."""
    who = np.flatnonzero((t.age >= 18) & (t.age <= 70) & (rng.random(t.idx.size) < 0.002))
    diag = _EMERGENCY[rng.integers(0, _EMERGENCY.size, who.size)]
    ext = external_for(rng, m, diag)
    first = rng.integers(0, cal.n_days - 40, who.size)
    return treated_elsewhere(
        rng, m, pop, cal, t.idx[who], ext, first, diag, visits=(1, 1), median=4000.0
    )
