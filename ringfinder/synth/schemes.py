"""Planted fraud: the five schemes of ``shared/domain/schemes.md``, in varied sizes.

Members are drawn from the ordinary population and keep their honest activity; planted
rows are priced, itemised and numbered by the same code as honest ones and get their ids
from the same sequences. Nothing about a member's ids tells it apart.
"""

from __future__ import annotations

import numpy as np

from ringfinder.synth import behaviour, lexicon
from ringfinder.synth.frames import Activity, Frame
from ringfinder.synth.ids import account_sampler, phone_sampler
from ringfinder.synth.market import VISIT, cents, diag_ix, drug_lines, fund_of, items_frame
from ringfinder.synth.plan import Ctx, Planted, cards_used
from ringfinder.synth.population import ACTIVE
from ringfinder.synth.timeline import DAY, HOUR
from ringfinder.synth.window import split_amounts, window_activity

_GENERAL_RING_CODES = ("I10.x00", "K29.700", "E11.900", "J44.900", "I69.300", "M51.200")


def spaced_days(rng: np.random.Generator, n: int, lo: int, hi: int, gap: int) -> np.ndarray:
    """n days in [lo, hi), at least ``gap`` apart, spread irregularly over the range."""
    n = max(1, min(n, (hi - lo) // gap))
    seg = (hi - lo) / n
    return (lo + np.arange(n) * seg + rng.uniform(0, max(seg - gap, 1), n)).astype(np.int64)


def visits(
    ctx: Ctx,
    *,
    person: np.ndarray,
    card: np.ndarray,
    org: int | np.ndarray,
    doctor: np.ndarray,
    visit: int,
    start: np.ndarray,
    diag: np.ndarray,
    total: np.ndarray,
    fund: np.ndarray,
    terminal: int | np.ndarray,
    scheme: int,
) -> Frame:
    """Non-inpatient claims with every field given."""
    return Frame(
        "claims",
        person=person,
        card=card,
        org=org,
        doctor=doctor,
        visit=visit,
        start=start,
        diag=diag,
        total=total,
        fund=fund,
        terminal=terminal,
        scheme=scheme,
    )


def _ids(ctx: Ctx, orgs: list[int] | np.ndarray) -> str:
    return ", ".join(
        str(ctx.city.orgs.at[int(o), "name"]) or str(ctx.city.orgs.at[int(o), "id"]) for o in orgs
    )


# --- 1. co_admission (诱导住院) ---------------------------------------------------------


def co_admission(ctx: Ctx, size: int, scheme: int) -> Planted:
    rng, m, city, pop, cal = ctx.rng, ctx.m, ctx.city, ctx.pop, ctx.cal
    hosp = ctx.take_org(ctx.free_orgs(("private_hosp",)))
    spec = m.specialty[hosp]
    options = lexicon.SPECIALTIES[spec][2] or _GENERAL_RING_CODES
    ring_codes = diag_ix(
        list(rng.choice(options, min(len(options), rng.integers(2, 4)), replace=False))
    )
    docs = ctx.doctors_of(hosp, int(rng.integers(1, 4)))
    # villages beyond nearer hospitals, not too far for a bus
    h_lat, h_lon = city.orgs.at[hosp, "lat"], city.orgs.at[hosp, "lon"]
    d = city.km(city.v_lat, city.v_lon, h_lat, h_lon)
    sec = m.nearest["secondary"]
    d_sec = city.km(
        city.v_lat, city.v_lon, city.orgs["lat"].to_numpy()[sec], city.orgs["lon"].to_numpy()[sec]
    )
    eligible = ctx.alive() & (pop.age >= 45) & ~ctx.used
    elderly = np.bincount(pop.village[eligible & (pop.age >= 60)], minlength=d.size)
    rural = ~city.v_urban
    ok = rural & (d >= 8) & (d <= 60) & (d_sec < d) & (elderly >= 5)
    if ok.sum() < 3:
        ok = rural & (elderly >= 3)
    order = rng.permutation(np.flatnonzero(ok))
    villages: list[int] = []
    for v in order:
        villages.append(int(v))
        if len(villages) == 3 or elderly[villages].sum() >= 1.4 * size:
            break
    in_v = np.isin(pop.village, villages) & eligible
    weight = np.where(pop.age >= 60, 1.0, 0.12)
    members = ctx.pick(in_v, size, weight)
    # batches: 3-12 admission days, 50-90 % of the ring each time
    days = spaced_days(rng, int(rng.integers(3, 13)), 5, cal.n_days - 12, 10)
    stay_len = int(rng.integers(3, 8))
    own_code = ring_codes[rng.integers(0, ring_codes.size, members.size)]
    rows, rdays, secs = [], [], []
    for day in days:
        share = rng.uniform(0.5, 0.9)
        sel = np.flatnonzero(rng.random(members.size) < share)
        if sel.size < 2:
            sel = rng.choice(members.size, min(2, members.size), replace=False)
        rows.append(sel)
        rdays.append(np.full(sel.size, day))
        base = rng.uniform(7.5, 10.0) * HOUR
        secs.append((base + rng.uniform(0, 3 * HOUR, sel.size)).astype(np.int64))
    row = np.concatenate(rows)
    k = row.size
    los = np.clip(stay_len + (rng.random(k) < 0.15) * rng.choice([-1, 1], k), 3, 7)
    diag = np.where(
        rng.random(k) < 0.8, own_code[row], ring_codes[rng.integers(0, ring_codes.size, k)]
    )
    act = behaviour.stays(
        rng,
        m,
        pop,
        cal,
        members[row],
        np.full(k, hosp),
        np.concatenate(rdays),
        diag.astype(np.int16),
        los,
        admit_sec=np.concatenate(secs),
        fund_share=(0.86, 0.95),
        daily=np.full(k, rng.uniform(500, 850)),
        doctor=docs[rng.integers(0, docs.size, k)],
        scheme=scheme,
    )
    # camouflage: the hospital admits a few honest patients on the same days
    near = np.flatnonzero(
        ctx.alive() & (pop.district == m.district[hosp]) & ~ctx.used & (pop.age >= 30)
    )
    extra = rng.integers(0, 4, days.size)
    if near.size and extra.sum():
        who = rng.choice(near, int(extra.sum()), replace=False)
        hd = np.repeat(days, extra)
        hdiag = diag_ix(list(rng.choice(options, who.size)))
        honest = behaviour.stays(
            rng,
            m,
            pop,
            cal,
            who,
            np.full(who.size, hosp),
            hd,
            hdiag,
            behaviour.length_of_stay(rng, hdiag),
        )
        act = Activity.concat([act, honest])
    in_claims = np.unique(members[row])
    return Planted(
        "co_admission",
        persons=in_claims,
        cards=cards_used(_only(act, scheme)),
        doctors=np.unique(act.claims["doctor"][act.claims["scheme"] == scheme]),
        orgs=np.array([hosp]),
        activity=act,
        notes=(
            f"{in_claims.size} persons from {len(villages)} village(s) "
            f"({'、'.join(city.v_name[v] for v in villages)}) admitted to {_ids(ctx, [hosp])} "
            f"together on {days.size} days; stays of about {stay_len} days; fund share 86-95 %"
        ),
    )


def _only(act: Activity, scheme: int) -> Activity:
    keep = act.claims["scheme"] == scheme
    return Activity(claims=act.claims.take(np.flatnonzero(keep)))


# --- 2. shared_card (留存医保卡 / 冒名就医 / 盗刷) ---------------------------------------


def shared_card(ctx: Ctx, size: int, scheme: int, nth: int) -> Planted:
    rng, m, pop, cal = ctx.rng, ctx.m, ctx.pop, ctx.cal
    at_pharmacy = nth % 2 == 1
    org = ctx.take_org(
        ctx.free_orgs(("pharmacy",) if at_pharmacy else ("private_clinic", "village_clinic"))
    )
    docs = ctx.doctors_of(org, int(rng.integers(1, 3)))
    terminal = int(rng.integers(1, m.terminals[org] + 1))
    elsewhere = (
        (pop.district != m.district[org])
        & (pop.age >= 18)
        & (pop.age <= 85)
        & (pop.switch_day == 0)
    )
    notes = []
    n_dead = int(rng.integers(1, 5)) if nth % 3 != 2 else 0
    n_lost = int(rng.integers(1, 4)) if nth % 2 == 0 else 0
    dead_ok = (
        (pop.death >= 20)
        & (pop.death <= cal.n_days - 90)
        & (pop.card_status[pop.active_card] == ACTIVE)
    )
    dead = ctx.pick(elsewhere & dead_ok, n_dead)
    lost = ctx.pick(elsewhere & ctx.alive() & (pop.old_card >= 0), n_lost)
    holders = ctx.pick(elsewhere & ctx.alive(), max(3, size - dead.size - lost.size))
    person = np.concatenate([holders, dead, lost])
    card = np.concatenate([pop.active_card[holders], pop.active_card[dead], pop.old_card[lost]])
    if dead.size:
        notes.append(f"{dead.size} card(s) of deceased holders")
    if lost.size:
        notes.append(f"{lost.size} lost/cancelled card(s)")
    if nth % 4 in (0, 3):  # a collector's phone on many of the holders
        collector = ctx.phones.draw(rng, 1, phone_sampler)[0]
        sel = holders[rng.random(holders.size) < rng.uniform(0.5, 0.8)]
        pop.phone[sel] = collector
        notes.append(f"collector phone on {sel.size} holders")
    # bursts: evenings, weekends, and year-end (突击消费)
    n_bursts = int(rng.integers(4, 13))
    n_year_end = int(rng.integers(1, 4))
    year_end = np.sort(
        rng.choice(np.arange(cal.n_days - 21, cal.n_days - 1), n_year_end, replace=False)
    )
    other = spaced_days(rng, n_bursts - n_year_end, 10, cal.n_days - 25, 7)
    weekend_pref = rng.random(other.size) < 0.4
    other = np.where(weekend_pref, other + (5 - cal.weekday[other]) % 7, other)
    days = np.concatenate([other, year_end])
    rows, starts = [], []
    for b, day in enumerate(days):
        share = rng.uniform(0.4, 0.9)
        sel = np.flatnonzero(rng.random(person.size) < share)
        if b == days.size - 1:  # the last burst: every dead or lost card at least once
            sel = np.union1d(sel, np.arange(holders.size, person.size))
        sel = rng.permutation(sel)
        if cal.is_weekend(np.array([day]))[0] and rng.random() < 0.6:
            t0 = rng.uniform(9, 16) * HOUR
        else:
            t0 = rng.uniform(18.5, 21.0) * HOUR
        gaps = 45 + rng.exponential(120, sel.size)
        rows.append(sel)
        starts.append(day * DAY + (t0 + np.cumsum(gaps)).astype(np.int64))
    row = np.concatenate(rows)
    start = np.concatenate(starts)
    k = row.size
    doctor = docs[rng.integers(0, docs.size, k)]
    if at_pharmacy:
        per = rng.choice(3, k, p=[0.5, 0.35, 0.15]) + 1
        claim = np.repeat(np.arange(k), per)
        names = (
            "阿托伐他汀钙片",
            "复方丹参滴丸",
            "硝苯地平控释片",
            "云南白药气雾剂",
            "脑心通胶囊",
            "银杏叶片",
            "甲钴胺片",
        )
        drug = np.array([lexicon.ITEM[x] for x in names], np.int16)[
            rng.integers(0, len(names), claim.size)
        ]
        items, amount = drug_lines(claim, drug, rng.integers(1, 4, claim.size))
        total = np.bincount(claim, weights=amount, minlength=k).round().astype(np.int64)
        fund = fund_of(rng, total, 0.3, 0.6, 0.4)
        visit, diag = VISIT["pharmacy"], np.full(k, -1, np.int16)
    else:
        yuan = rng.uniform(120, 380, k)
        total = cents(np.where(rng.random(k) < 0.5, np.round(yuan), yuan))
        fund = fund_of(rng, total, 0.5, 0.7, 0.1)
        codes = diag_ix(("I10.x00", "J06.900", "K29.700", "M54.500", "E11.900"))
        visit, diag = VISIT["outpatient"], codes[rng.integers(0, codes.size, k)]
        fee = cents(np.full(k, 12.0))
        items = items_frame(np.arange(k), np.full(k, lexicon.ITEM["诊查费"]), np.ones(k), fee)
        items = Frame.concat(
            "items",
            [
                items,
                items_frame(
                    np.arange(k), np.full(k, lexicon.ITEM["血常规检查"]), np.ones(k), total - fee
                ),
            ],
        )
    claims = visits(
        ctx,
        person=person[row],
        card=card[row],
        org=org,
        doctor=doctor,
        visit=visit,
        start=start,
        diag=diag,
        total=total,
        fund=fund,
        terminal=terminal,
        scheme=scheme,
    )
    used = np.unique(row)
    return Planted(
        "shared_card",
        persons=np.unique(person[used]),
        cards=np.unique(card[used]),
        doctors=np.unique(doctor),
        orgs=np.array([org]),
        activity=Activity(claims=claims, items=items),
        notes=(
            f"{used.size} cards settled in {days.size} bursts on terminal T{terminal:02d} of "
            f"{_ids(ctx, [org])}; holders live in other districts"
            + ("; " + "; ".join(notes) if notes else "")
        ),
    )


# --- 3. fake_invoice (虚假发票"一条龙") -------------------------------------------------


def fake_invoice(ctx: Ctx, size: int, scheme: int) -> Planted:
    rng, m, pop, cal = ctx.rng, ctx.m, ctx.pop, ctx.cal
    adults = ctx.alive() & (pop.age >= 25) & (pop.age <= 75)
    claimants = ctx.pick(adults, size)
    # unrelated: one per household
    _, first = np.unique(pop.household[claimants], return_index=True)
    claimants = np.sort(claimants[first])
    agent_phone = ctx.phones.draw(rng, 1, phone_sampler)[0]
    agent_accounts = ctx.accounts.draw(rng, int(rng.integers(1, 3)), account_sampler)
    general = m.external[m.specialty[m.external] == "general"]
    issuers = rng.choice(general, min(general.size, int(rng.integers(1, 4))), replace=False)
    handler = int(rng.integers(0, m.handlers))
    # reimbursements, brought in on a few visits of the agent to the window
    k = rng.choice(4, claimants.size, p=[0.35, 0.3, 0.2, 0.15]) + 1
    row = np.repeat(np.arange(claimants.size), k)
    n = row.size
    trips = np.sort(
        rng.choice(np.arange(60, cal.n_days - 5), int(rng.integers(3, 9)), replace=False)
    )
    submit = cal.workday(trips[rng.integers(0, trips.size, n)] + rng.integers(0, 2, n))
    submit = np.minimum(submit, cal.n_days - 1)
    under = rng.random(n) < 0.6
    total = cents(np.where(under, rng.uniform(9000, 9990, n), rng.uniform(10_000, 12_500, n)))
    per = rng.choice(3, n, p=[0.45, 0.35, 0.2]) + 1
    inv_row, amount = split_amounts(rng, total, per)
    m_inv = inv_row.size
    inv_day = submit[inv_row] - rng.integers(10, 60, m_inv)
    # one printed block: sequential numbers in the order the papers were made
    order = np.lexsort((inv_row, submit[inv_row]))
    block = np.sort(rng.choice(np.arange(3 * m_inv + 5), m_inv, replace=False))
    serial = np.empty(m_inv, np.int64)
    serial[order] = int(rng.integers(10**8, 9 * 10**9)) + block
    own = rng.random(n) < rng.uniform(0.1, 0.25)
    account = np.where(
        own & (pop.account[claimants[row]] > 0),
        pop.account[claimants[row]],
        agent_accounts[rng.integers(0, agent_accounts.size, n)],
    )
    handlers = np.where(rng.random(n) < 0.8, handler, rng.integers(0, m.handlers, n))
    codes = diag_ix(("J18.900", "I63.900", "K80.200", "M51.200", "I25.100", "C34.900"))
    act = window_activity(
        rng,
        m,
        cal.year,
        person=claimants[row],
        submit_day=submit,
        handler=handlers,
        phone=np.full(n, agent_phone),
        account=account,
        paid_share=rng.uniform(0.6, 0.8, n),
        inv_reimb=inv_row,
        inv_issuer=issuers[rng.integers(0, issuers.size, m_inv)],
        inv_day=np.maximum(inv_day, 0),
        inv_amount=amount,
        inv_visit=np.where(rng.random(m_inv) < 0.85, VISIT["inpatient"], VISIT["outpatient"]),
        inv_diag=codes[rng.integers(0, codes.size, m_inv)],
        scheme=scheme,
        serial=serial,
    )
    return Planted(
        "fake_invoice",
        persons=claimants,
        cards=np.empty(0, np.int64),
        doctors=np.empty(0, np.int64),
        orgs=np.sort(issuers),
        activity=act,
        notes=(
            f"agent phone {agent_phone} and {agent_accounts.size} payee account(s) "
            f"({', '.join(str(a) for a in agent_accounts)}) for {claimants.size} claimants; "
            f"{n} reimbursements, {m_inv} invoices in one sequential block; "
            f"handler J{handler + 1:03d}; no matching referrals"
        ),
    )


# --- 4. pharmacy_resale (倒卖医保药品) -------------------------------------------------


def pharmacy_resale(ctx: Ctx, size: int, scheme: int) -> Planted:
    rng, m, city, pop, cal = ctx.rng, ctx.m, ctx.city, ctx.pop, ctx.cal
    ph = ctx.take_org(ctx.free_orgs(("pharmacy",)))
    district = m.district[ph]
    docs = ctx.doctors_of(ph, int(rng.integers(1, 3)))
    local = (pop.district == district) & ctx.alive() & (pop.switch_day == 0)
    staff = ctx.pick(local & (pop.age >= 25) & (pop.age <= 55) & (pop.phone > 0), 1)
    buyers = [np.empty(0, np.int64)]
    notes = []
    if staff.size:
        s = int(staff[0])
        phone = pop.phone[s]
        city.doctors.at[int(docs[0]), "phone"] = phone
        pop.doctor_person[docs[0]] = s
        order, start, count = pop.households
        hh = pop.household[s]
        family = order[start[hh] : start[hh] + count[hh]]
        family = family[(family != s) & (pop.age[family] >= 18) & local[family] & ~ctx.used[family]]
        ctx.used[family] = True
        buyers += [family, staff if rng.random() < 0.5 else np.empty(0, np.int64)]
        linked = ctx.pick(
            ctx.alive() & (pop.age >= 20) & (pop.age <= 75) & (pop.switch_day == 0),
            int(rng.integers(1, 4)),
        )
        pop.phone[linked] = phone
        buyers.append(linked)
        notes.append(
            f"{family.size + linked.size} buyer(s) share the pharmacist's phone or address"
        )
    n_rest = max(2, size - sum(b.size for b in buyers))
    near = np.where(pop.district == district, 3.0, 1.0)
    buyers.append(
        ctx.pick(
            ctx.alive() & (pop.age >= 20) & (pop.age <= 78) & (pop.switch_day == 0), n_rest, near
        )
    )
    person = np.unique(np.concatenate(buyers))
    choice = rng.choice(len(lexicon.RESALE_DRUGS), int(rng.integers(1, 4)), replace=False)
    drugs = np.array([lexicon.ITEM[lexicon.RESALE_DRUGS[i][0]] for i in choice], np.int16)
    drug_diag = diag_ix([lexicon.RESALE_DRUGS[i][1] for i in choice])
    windows = spaced_days(rng, int(rng.integers(3, 7)), 5, cal.n_days - 5, 20)
    k = rng.integers(4, 16, person.size)
    row = np.repeat(np.arange(person.size), k)
    n = row.size
    day = np.minimum(
        windows[rng.integers(0, windows.size, n)] + rng.integers(0, 3, n), cal.n_days - 1
    )
    start = day * DAY + cal.seconds(rng, n, "pharmacy")
    two = (drugs.size > 1) & (rng.random(n) < 0.4)
    first = rng.integers(0, drugs.size, n)
    second = (first + 1) % drugs.size
    claim = np.concatenate([np.arange(n), np.flatnonzero(two)])
    pick = np.concatenate([first, second[two]])
    items, amount = drug_lines(claim, drugs[pick], rng.integers(8, 31, claim.size))
    total = np.bincount(claim, weights=amount, minlength=n).round().astype(np.int64)
    fund = fund_of(rng, total, 0.5, 0.7, 0.1)
    doctor = docs[rng.integers(0, docs.size, n)]
    card = pop.active_card[person]
    claims = visits(
        ctx,
        person=person[row],
        card=card[row],
        org=ph,
        doctor=doctor,
        visit=VISIT["pharmacy"],
        start=start,
        diag=drug_diag[first],
        total=total,
        fund=fund,
        terminal=m.terminal(rng, np.full(n, ph)),
        scheme=scheme,
    )
    names = "、".join(lexicon.ITEMS[d].name for d in drugs)
    return Planted(
        "pharmacy_resale",
        persons=person,
        cards=np.unique(card),
        doctors=np.unique(doctor),
        orgs=np.array([ph]),
        activity=Activity(claims=claims, items=items),
        notes=(
            f"{person.size} cards buying {names} at {_ids(ctx, [ph])} in {windows.size} waves, "
            f"8-30 units a time" + ("; " + "; ".join(notes) if notes else "")
        ),
    )


# --- 5. referral_loop (转诊/分解住院) ----------------------------------------------------


def referral_loop(ctx: Ctx, size: int, scheme: int) -> Planted:
    rng, m, city, pop, cal = ctx.rng, ctx.m, ctx.city, ctx.pop, ctx.cal
    length = int(rng.integers(3, 5))
    free = ctx.free_orgs(("private_hosp",))
    free = free[m.specialty[free] != "eye"]
    a = ctx.take_org(free)
    lat, lon = city.orgs["lat"].to_numpy(), city.orgs["lon"].to_numpy()
    rest = free[free != a]
    n_private = length - 1 if rng.random() < 0.35 else length
    rest = rest[np.argsort(city.km(lat[rest], lon[rest], lat[a], lon[a]), kind="stable")]
    cycle = [a, *[int(o) for o in rest[: n_private - 1]]]
    if len(cycle) < length:  # public primary or secondary hospitals close the loop
        pub = ctx.free_orgs(("township", "county"))
        pub = pub[np.argsort(city.km(lat[pub], lon[pub], lat[a], lon[a]), kind="stable")[:8]]
        pub = rng.permutation(pub)
        cycle += [int(o) for o in pub[: length - len(cycle)]]
    length = len(cycle)
    for o in cycle:
        ctx.used_orgs.add(o)
    cycle_a = np.array(cycle)
    docs = [ctx.doctors_of(o, int(rng.integers(1, 3))) for o in cycle]
    d = city.km(pop_lat(ctx), pop_lon(ctx), lat[a], lon[a])
    patients = ctx.pick(ctx.alive() & (pop.age >= 55) & (pop.age <= 88) & (d < 35), size)
    codes = diag_ix(("I69.300", "J44.900", "I25.100", "E11.900", "M17.900", "I10.x00"))
    p_code = codes[rng.integers(0, codes.size, patients.size)]
    persons, orgs, days, los, diag, doctors = [], [], [], [], [], []
    refs = []
    for i, p in enumerate(patients):  # at most 40 patients a loop
        rounds = int(rng.integers(2, 5))
        hops = rounds * length
        stay = rng.integers(5, 11, hops)
        gap = rng.integers(0, 4, hops)
        span = int((stay + gap).sum())
        if span > cal.n_days - 10:
            hops = length * 2
            stay, gap = stay[:hops], gap[:hops]
            span = int((stay + gap).sum())
        t0 = int(rng.integers(0, max(1, cal.n_days - span - 5)))
        pos = (int(rng.integers(0, length)) + np.arange(hops)) % length
        admit = t0 + np.concatenate([[0], np.cumsum(stay + gap)[:-1]])
        doc = np.array([docs[j][rng.integers(0, docs[j].size)] for j in pos])
        persons.append(np.full(hops, p))
        orgs.append(cycle_a[pos])
        days.append(admit)
        los.append(stay)
        diag.append(np.full(hops, p_code[i]))
        doctors.append(doc)
        discharge = admit + stay
        refs.append(
            Frame(
                "referrals",
                person=p,
                src=cycle_a[pos[:-1]],
                dst=cycle_a[pos[1:]],
                day=discharge[:-1],
                doctor=doc[:-1],
                diag=p_code[i],
                scheme=scheme,
            )
        )
    doctor = np.concatenate(doctors)
    act = behaviour.stays(
        rng,
        m,
        pop,
        cal,
        np.concatenate(persons),
        np.concatenate(orgs),
        np.concatenate(days),
        np.concatenate(diag).astype(np.int16),
        np.concatenate(los),
        fund_share=(0.8, 0.92),
        daily=rng.uniform(600, 900, doctor.size),
        doctor=doctor,
        scheme=scheme,
    )
    act.referrals = Frame.concat("referrals", refs)
    return Planted(
        "referral_loop",
        persons=patients,
        cards=cards_used(act),
        doctors=np.unique(doctor),
        orgs=np.sort(cycle_a),
        activity=act,
        notes=(
            f"{patients.size} patients passed round "
            f"{' → '.join(city.orgs.at[o, 'name'] for o in cycle)} → back, 2-4 times each, "
            "readmitted within 0-3 days with a referral for each hop"
        ),
    )


def pop_lat(ctx: Ctx) -> np.ndarray:
    return ctx.city.v_lat[ctx.pop.village]


def pop_lon(ctx: Ctx) -> np.ndarray:
    return ctx.city.v_lon[ctx.pop.village]


PLANTERS = {
    "co_admission": (co_admission, (8, 60)),
    "shared_card": (shared_card, (8, 60)),
    "fake_invoice": (fake_invoice, (6, 40)),
    "pharmacy_resale": (pharmacy_resale, (5, 30)),
    "referral_loop": (referral_loop, (10, 40)),
}
