"""Honest look-alikes: groups that resemble a scheme on one feature and are innocent.

Each is recorded in ``truth.json`` (``lookalikes``) so an evaluation can count how often
a detector mistakes them for fraud.
"""

from __future__ import annotations

import numpy as np

from ringfinder.synth import behaviour, lexicon
from ringfinder.synth.frames import Activity, Frame
from ringfinder.synth.ids import phone_sampler
from ringfinder.synth.market import ITEM_DAYS, VISIT, cents, diag_ix, drug_lines, fund_of
from ringfinder.synth.plan import Ctx, Planted, cards_used
from ringfinder.synth.population import card_at
from ringfinder.synth.schemes import spaced_days, visits
from ringfinder.synth.timeline import DAY, HOUR, MINUTE

_NONE = np.empty(0, np.int64)


def _near(ctx: Ctx, org: int, km: float) -> np.ndarray:
    """Weight of each person by closeness of their village to ``org``."""
    c = ctx.city
    d = c.km(c.v_lat, c.v_lon, c.orgs.at[org, "lat"], c.orgs.at[org, "lon"])
    return np.exp(-d / km)[ctx.pop.village]


def dialysis_cohort(ctx: Ctx, centre: int) -> Planted:
    """The same patients at the same centre three times a week, all year: honest lockstep."""
    rng, pop, cal, m = ctx.rng, ctx.pop, ctx.cal, ctx.m
    ctx.used_orgs.add(centre)
    size = int(rng.integers(20, 61)) if pop.n >= 50_000 else int(rng.integers(20, 31))
    ok = (
        (pop.age >= 35)
        & (pop.age <= 85)
        & ((pop.death < 0) | (pop.death > 60))
        & (pop.switch_day == 0)
    )
    patients = ctx.pick(ok, size, _near(ctx, centre, 20.0))
    n = patients.size
    group = rng.integers(0, 2, n)  # Mon/Wed/Fri or Tue/Thu/Sat
    shift = rng.integers(0, 2, n)  # morning or afternoon session
    first = np.where(rng.random(n) < 0.85, 0, rng.integers(0, 300, n))
    last = np.where(pop.death[patients] >= 0, pop.death[patients], cal.n_days - 1)
    wd = cal.weekday[None, :]
    days = np.arange(cal.n_days)[None, :]
    on = (wd % 2 == group[:, None]) & (wd < 6) & (days >= first[:, None]) & (days <= last[:, None])
    on &= rng.random(on.shape) > 0.03
    row, day = np.nonzero(on)
    k = row.size
    sec = np.where(shift[row] == 0, 11 * HOUR, 16 * HOUR) + rng.normal(0, 8 * MINUTE, k).astype(
        np.int64
    )
    epo = rng.random(k) < 0.3
    claim = np.concatenate([np.arange(k), np.flatnonzero(epo)])
    item = np.concatenate(
        [
            np.full(k, lexicon.ITEM["血液透析"]),
            np.full(int(epo.sum()), lexicon.ITEM["重组人促红素注射液"]),
        ]
    )
    items, amount = drug_lines(claim, item.astype(np.int16), np.ones(claim.size))
    total = np.bincount(claim, weights=amount, minlength=k).round().astype(np.int64)
    docs = ctx.doctors_of(centre, 3)
    person = patients[row]
    claims = visits(
        ctx,
        person=person,
        card=card_at(pop, person, day),
        org=centre,
        doctor=docs[rng.integers(0, docs.size, k)],
        visit=VISIT["chronic_outpatient"],
        start=day * DAY + sec,
        diag=np.full(k, lexicon.DIAG["N18.500"]),
        total=total,
        fund=fund_of(rng, total, 0.85, 0.9),
        terminal=1 + shift[row] % m.terminals[centre],
        scheme=-1,
    )
    return Planted(
        "dialysis_cohort",
        persons=patients,
        cards=cards_used(Activity(claims=claims)),
        doctors=docs,
        orgs=np.array([centre]),
        activity=Activity(claims=claims, items=items),
        notes=f"{n} haemodialysis patients, three sessions a week in fixed shifts",
    )


def nursing_home_van(ctx: Ctx) -> Planted:
    """Residents of one care home (shared address, some a shared phone), taken together
    for outpatient check-ups a few times a year."""
    rng, city, pop, cal = ctx.rng, ctx.city, ctx.pop, ctx.cal
    hospitals = ctx.free_orgs(("township",))
    hosp = ctx.take_org(hospitals)
    town = int(city.orgs.at[hosp, "town"])
    district = int(city.t_district[town])
    home = f"{city.address_prefix(district, town)}{city.t_name[town][:2]}敬老院"
    w = np.where(city.v_town[pop.village] == town, 4.0, 1.0)
    residents = ctx.pick(
        ctx.alive() & (pop.age >= 70) & (pop.district == district) & (pop.switch_day == 0),
        int(rng.integers(15, 41)),
        w,
    )
    pop.special[residents] = len(pop.special_address)
    pop.special_address.append(home)
    desk = ctx.phones.draw(rng, 1, phone_sampler)[0]
    pop.phone[residents[rng.random(residents.size) < 0.4]] = desk
    days = spaced_days(rng, int(rng.integers(3, 5)), 20, cal.n_days - 10, 60)
    days = np.where(cal.is_weekend(days), days + 2, days)
    rows, starts = [], []
    for day in days:
        sel = rng.permutation(np.flatnonzero(rng.random(residents.size) < rng.uniform(0.7, 1.0)))
        t0 = rng.uniform(8.5, 9.5) * HOUR
        rows.append(sel)
        starts.append(
            day * DAY + (t0 + np.cumsum(60 + rng.exponential(150, sel.size))).astype(np.int64)
        )
    row = np.concatenate(rows)
    k = row.size
    claim = np.concatenate([np.arange(k), np.arange(k)])
    item = np.concatenate(
        [np.full(k, lexicon.ITEM["血常规检查"]), np.full(k, lexicon.ITEM["彩色多普勒超声检查"])]
    )
    items, amount = drug_lines(claim, item.astype(np.int16), np.ones(2 * k))
    total = np.bincount(claim, weights=amount, minlength=k).round().astype(np.int64)
    docs = ctx.doctors_of(hosp, 2)
    person = residents[row]
    diag = np.where(rng.random(k) < 0.7, lexicon.DIAG["Z00.000"], lexicon.DIAG["I10.x00"])
    claims = visits(
        ctx,
        person=person,
        card=pop.active_card[person],
        org=hosp,
        doctor=docs[rng.integers(0, docs.size, k)],
        visit=VISIT["outpatient"],
        start=np.concatenate(starts),
        diag=diag,
        total=total,
        fund=fund_of(rng, total, 0.5, 0.7),
        terminal=1,
        scheme=-1,
    )
    return Planted(
        "nursing_home_van",
        persons=np.unique(person),
        cards=np.unique(pop.active_card[person]),
        doctors=docs,
        orgs=np.array([hosp]),
        activity=Activity(claims=claims, items=items),
        notes=f"{residents.size} residents of {home} checked up together on {days.size} days",
    )


def family_shared(ctx: Ctx) -> Planted:
    """A relative buys a parent's chronic drugs with the parent's card, monthly, near home;
    the family shares a phone, and the card is sometimes used while the parent is in hospital."""
    rng, city, pop, cal, m = ctx.rng, ctx.city, ctx.pop, ctx.cal, ctx.m
    order, start, count = pop.households
    free = ~ctx.used & ctx.alive() & (pop.switch_day == 0)
    elder = free & (pop.age >= 65)
    adult = free & (pop.age >= 25) & (pop.age <= 60)
    n_hh = start.size
    both = (np.bincount(pop.household[elder], minlength=n_hh) > 0) & (
        np.bincount(pop.household[adult], minlength=n_hh) > 0
    )
    hh = int(rng.choice(np.flatnonzero(both)))
    members = order[start[hh] : start[hh] + count[hh]]
    parent = int(rng.choice(members[elder[members]]))
    child = int(rng.choice(members[adult[members]]))
    ctx.used[[parent, child]] = True
    pop.phone[parent] = pop.phone[child]
    ph_all = ctx.free_orgs(("pharmacy",))
    lat, lon = city.orgs["lat"].to_numpy(), city.orgs["lon"].to_numpy()
    v = pop.village[parent]
    ph = int(ph_all[np.argmin(city.km(lat[ph_all], lon[ph_all], city.v_lat[v], city.v_lon[v]))])
    ctx.used_orgs.add(ph)
    code = "I10.x00" if rng.random() < 0.6 else "E11.900"
    options = lexicon.CHRONIC_DRUGS[code]
    names = [
        options[i][0] for i in rng.choice(len(options), int(rng.integers(1, 3)), replace=False)
    ]
    drugs = np.array([lexicon.ITEM[x] for x in names], np.int16)
    interval = rng.uniform(27, 33)
    day = np.arange(rng.uniform(0, interval), cal.n_days, interval).astype(np.int64)
    k = day.size
    evening = cal.seconds(rng, k, "evening")
    sec = np.where(cal.is_weekend(day), cal.seconds(rng, k, "pharmacy"), evening)
    claim = np.repeat(np.arange(k), drugs.size)
    drug = np.tile(drugs, k)
    items, amount = drug_lines(claim, drug, np.ceil(interval / ITEM_DAYS[drug]))
    total = np.bincount(claim, weights=amount, minlength=k).round().astype(np.int64)
    docs = ctx.doctors_of(ph, 2)
    person = np.full(k, parent)
    claims = visits(
        ctx,
        person=person,
        card=pop.active_card[person],
        org=ph,
        doctor=docs[rng.integers(0, docs.size, k)],
        visit=VISIT["pharmacy"],
        start=day * DAY + sec,
        diag=np.full(k, lexicon.DIAG[code]),
        total=total,
        fund=fund_of(rng, total, 0.4, 0.7, 0.3),
        terminal=m.terminal(rng, np.full(k, ph)),
        scheme=-1,
    )
    act = Activity(claims=claims, items=items)
    note = ""
    if rng.random() < 0.5 and k > 3:  # a stay in hospital while the relative keeps buying
        d = int(day[k // 2])
        hosp = int(m.nearest["secondary"][v])
        diag = diag_ix([code])
        stay = behaviour.stays(
            rng,
            m,
            pop,
            cal,
            np.array([parent]),
            np.array([hosp]),
            np.array([d - 2]),
            diag,
            np.array([6]),
        )
        act = Activity.concat([act, stay])
        note = "; one purchase while the parent was in hospital"
    return Planted(
        "family_shared",
        persons=np.array([parent, child]),
        cards=np.unique(pop.active_card[[parent]]),
        doctors=docs,
        orgs=np.array([ph]),
        activity=act,
        notes=f"a relative buys {'、'.join(names)} monthly with the parent's card{note}",
    )


def honest_referral_chain(ctx: Ctx) -> Planted:
    """Township → county → tertiary (→ provincial) and back to the county for rehabilitation."""
    rng, city, pop, cal, m = ctx.rng, ctx.city, ctx.pop, ctx.cal, ctx.m
    n = int(min(30, 10 + pop.n // 100_000))
    patients = ctx.pick(
        ctx.alive() & (pop.age >= 45) & (pop.age <= 85) & ~city.v_urban[pop.village], n
    )
    n = patients.size
    v = pop.village[patients]
    codes = diag_ix(("I63.900", "S72.000", "I21.900", "C34.900"))
    diag = codes[rng.integers(0, codes.size, n)]
    town_org, county, tert = (
        m.nearest["primary"][v],
        m.nearest["secondary"][v],
        m.nearest["tertiary"][v],
    )
    d0 = rng.integers(10, cal.n_days - 100, n)
    los1, los2, los3 = rng.integers(3, 8, n), rng.integers(8, 16, n), rng.integers(10, 21, n)
    a1 = d0 + rng.integers(0, 2, n)
    a2 = a1 + los1 + rng.integers(0, 2, n)
    a3 = a2 + los2 + rng.integers(0, 3, n)
    fee = cents(np.full(n, 60.0))
    first = visits(
        ctx,
        person=patients,
        card=card_at(pop, patients, d0),
        org=town_org,
        doctor=m.doctor(rng, town_org, diag),
        visit=VISIT["outpatient"],
        start=d0 * DAY + cal.seconds(rng, n, "outpatient"),
        diag=diag,
        total=fee,
        fund=fund_of(rng, fee, 0.5, 0.6),
        terminal=m.terminal(rng, town_org),
        scheme=-1,
    )
    rehab = np.full(n, lexicon.DIAG["Z50.900"], np.int16)
    parts = [
        Activity(claims=first),
        behaviour.stays(rng, m, pop, cal, patients, county, a1, diag, los1),
        behaviour.stays(rng, m, pop, cal, patients, tert, a2, diag, los2),
        behaviour.stays(rng, m, pop, cal, patients, county, a3, rehab, los3),
    ]
    ref = behaviour.referral_frame
    refs = [
        ref(rng, m, patients, town_org, county, d0, diag),
        ref(rng, m, patients, county, tert, a1 + los1, diag),
        ref(rng, m, patients, tert, county, a2 + los2, diag),
    ]
    away = np.flatnonzero(rng.random(n) < 0.3)
    ext = behaviour.external_for(rng, m, diag[away])
    refs.append(ref(rng, m, patients[away], tert[away], ext, a2[away] + los2[away], diag[away]))
    parts.append(Activity(referrals=Frame.concat("referrals", refs)))
    parts.append(
        behaviour.treated_elsewhere(
            rng, m, pop, cal, patients[away], ext, a2[away] + los2[away], diag[away], visits=(1, 2)
        )
    )
    act = Activity.concat(parts)
    orgs = np.unique(np.concatenate([town_org, county, tert, ext]))
    return Planted(
        "honest_referral_chain",
        persons=patients,
        cards=cards_used(act),
        doctors=_NONE,
        orgs=orgs,
        activity=act,
        notes=f"{n} patients referred up township → county → tertiary and back for rehabilitation",
    )


def cancer_reimbursement(ctx: Ctx) -> Planted:
    """Cancer patients treated in a provincial cancer hospital: many large window claims,
    own account, matching referral, month after month."""
    rng, pop, cal, m = ctx.rng, ctx.pop, ctx.cal, ctx.m
    n = int(min(15, 5 + pop.n // 200_000))
    patients = ctx.pick(ctx.alive() & (pop.age >= 40) & (pop.age <= 80), n)
    n = patients.size
    codes = diag_ix(("C34.900", "C16.900", "C18.900", "C50.900", "C22.000"))
    diag = codes[rng.integers(0, codes.size, n)]
    tert = m.nearest["tertiary"][pop.village[patients]]
    d0 = rng.integers(5, 60, n)
    los = rng.integers(10, 17, n)
    ext = behaviour.external_for(rng, m, diag)
    stay = behaviour.stays(rng, m, pop, cal, patients, tert, d0, diag, los)
    ref = Activity(referrals=behaviour.referral_frame(rng, m, patients, tert, ext, d0 + los, diag))
    window = behaviour.treated_elsewhere(
        rng, m, pop, cal, patients, ext, d0 + los, diag, visits=(4, 10), median=25_000.0
    )
    act = Activity.concat([stay, ref, window])
    return Planted(
        "cancer_reimbursement",
        persons=patients,
        cards=cards_used(act),
        doctors=_NONE,
        orgs=np.unique(np.concatenate([tert, ext])),
        activity=act,
        notes=f"{n} cancer patients with {len(window.reimbursements)} honest window reimbursements",
    )


def outbreak_admission(ctx: Ctx) -> Planted:
    """Food poisoning after a village banquet: many admitted to one hospital on one evening."""
    rng, city, pop, cal, m = ctx.rng, ctx.city, ctx.pop, ctx.cal, ctx.m
    free = ctx.alive() & ~ctx.used & (pop.switch_day == 0)
    per_village = np.bincount(pop.village[free], minlength=city.v_town.size)
    rural = np.flatnonzero(~city.v_urban & (per_village >= 20))
    v = int(rng.choice(rural if rural.size else np.argsort(per_village)[-1:]))
    people = ctx.pick(free & (pop.village == v), int(rng.integers(15, 41)))
    n = people.size
    hosp = int(m.nearest["secondary"][v])
    day = int(rng.integers(20, cal.n_days - 20))
    sec = (18 * HOUR + rng.uniform(0, 6 * HOUR, n)).astype(np.int64)
    diag = np.full(n, lexicon.DIAG["A05.900"], np.int16)
    act = behaviour.stays(
        rng,
        m,
        pop,
        cal,
        people,
        np.full(n, hosp),
        np.full(n, day),
        diag,
        rng.integers(2, 6, n),
        admit_sec=sec,
    )
    return Planted(
        "outbreak_admission",
        persons=people,
        cards=cards_used(act),
        doctors=_NONE,
        orgs=np.array([hosp]),
        activity=act,
        notes=f"{n} villagers of {city.v_name[v]} admitted on one evening with food poisoning",
    )


def institution_only(ctx: Ctx, kind: str, org: int, notes: str) -> Planted:
    return Planted(
        kind, persons=_NONE, cards=_NONE, doctors=_NONE, orgs=np.array([org]), notes=notes
    )


def plant_lookalikes(ctx: Ctx) -> list[Planted]:
    m, pop = ctx.m, ctx.pop
    out = [dialysis_cohort(ctx, int(c)) for c in ctx.city.org_ids(("dialysis",))]
    out += [nursing_home_van(ctx) for _ in range(1 + pop.n // 500_000)]
    out += [
        family_shared(ctx)
        for _ in range(int(min(12, 3 + pop.n // 200_000 + ctx.rng.integers(0, 3))))
    ]
    out.append(honest_referral_chain(ctx))
    out.append(cancer_reimbursement(ctx))
    tert = ctx.city.org_ids(("tertiary",))
    crowded = int(tert[np.argmax(m.capacity[tert])])
    out.append(institution_only(ctx, "crowded_hospital", crowded, "the busiest tertiary hospital"))
    busy = int(np.flatnonzero(m.specialty == "busy")[0])
    out.append(
        institution_only(ctx, "busy_pharmacy", busy, "the busiest pharmacy: steady chronic refills")
    )
    out += [outbreak_admission(ctx) for _ in range(1 + pop.n // 1_000_000)]
    return out
