"""Insured persons in households, and their cards.

Households are built by type (young single, old couple, nuclear family, three generations,
...) so that ages, surnames, shared addresses, phones and accounts look like families.
Person order (and so the person ids, which sort the same way) is random with respect to
households and to everything the schemes later use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ringfinder.synth import naming
from ringfinder.synth.city import City
from ringfinder.synth.ids import (
    UniquePool,
    account_sampler,
    digits,
    id_check_digits,
    phone_sampler,
    uniform_sampler,
)

_EPOCH = dt.date(1970, 1, 1)
#: Household types: probability, elders (lo, hi), adults (lo, hi), kids (lo, hi),
#: adult age range, preference for city districts.
_HOUSEHOLDS = (
    ("single_young", 0.09, (0, 0), (1, 1), (0, 0), (18, 40), 2.0),
    ("single_old", 0.07, (1, 1), (0, 0), (0, 0), (0, 0), 0.7),
    ("couple_young", 0.09, (0, 0), (2, 2), (0, 0), (22, 45), 1.5),
    ("couple_mid", 0.11, (0, 0), (2, 2), (0, 0), (45, 64), 1.0),
    ("couple_old", 0.13, (2, 2), (0, 0), (0, 0), (0, 0), 0.7),
    ("nuclear", 0.27, (0, 0), (2, 2), (1, 2), (26, 52), 1.3),
    ("single_parent", 0.04, (0, 0), (1, 1), (1, 1), (25, 50), 1.2),
    ("three_gen", 0.20, (1, 2), (2, 2), (0, 1), (28, 58), 0.8),
)
CARD_LETTERS = "ABCDEFGHJK"
ACTIVE, LOST, CANCELLED = 0, 1, 2


def epoch_day(year: int, month: int = 1, day: int = 1) -> int:
    return (dt.date(year, month, day) - _EPOCH).days


@dataclass
class Population:
    n: int
    pid: np.ndarray  # 14-digit serial; the id is the district code + this
    district: np.ndarray
    village: np.ndarray
    group: np.ndarray  # 组 (rural) or 栋 (urban)
    house: np.ndarray  # 号 (rural) or room (urban)
    household: np.ndarray
    surname: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # epoch days
    age: np.ndarray  # completed years on 1 January
    id_region: np.ndarray  # 6-digit birthplace code of the ID number
    id_seq: np.ndarray  # 3-digit sequence (odd for men)
    id_missing: np.ndarray
    phone: np.ndarray  # 0 = none
    account: np.ndarray  # 0 = none
    employee: np.ndarray
    employer: np.ndarray  # index into employer_code, -1 = none
    death: np.ndarray  # day of year, -1 = alive all year
    employer_code: np.ndarray  # 12-digit codes
    # cards
    card_person: np.ndarray
    card_no: np.ndarray  # letter index * 10**8 + 8 digits
    card_issued: np.ndarray  # epoch days
    card_status: np.ndarray
    card_status_date: np.ndarray  # epoch days, -1 = none
    active_card: np.ndarray  # per person
    old_card: np.ndarray  # per person, -1 = none
    switch_day: np.ndarray  # day of year from which the active card replaces the old one
    special_address: list[str] = field(default_factory=list)  # e.g. nursing homes
    special: np.ndarray | None = None  # per person index into special_address, -1 = none
    doctor_person: np.ndarray | None = None  # per doctor: the person they are, -1 = none

    @cached_property
    def households(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(persons ordered by household, start offsets, counts) per household id."""
        order = np.argsort(self.household, kind="stable")
        hh = self.household[order]
        n_hh = int(self.household.max()) + 1
        start = np.searchsorted(hh, np.arange(n_hh))
        count = np.searchsorted(hh, np.arange(n_hh), side="right") - start
        return order, start, count

    def alive_on(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        d = self.death[person]
        return (d < 0) | (d > day)


def build_population(
    rng: np.random.Generator,
    city: City,
    n: int,
    year: int,
    phones: UniquePool,
    accounts: UniquePool,
) -> Population:
    year0 = epoch_day(year)
    # --- households -----------------------------------------------------------------
    probs = np.array([h[1] for h in _HOUSEHOLDS])
    n_hh = int(n / 2.2) + 10  # more than enough; the surplus is cut
    htype = rng.choice(len(_HOUSEHOLDS), n_hh, p=probs / probs.sum())
    n_e = np.empty(n_hh, np.int64)
    n_a = np.empty(n_hh, np.int64)
    n_k = np.empty(n_hh, np.int64)
    a_base = np.empty(n_hh, np.int64)
    village = np.empty(n_hh, np.int64)
    urban = city.v_urban
    for t, (_name, _p, e, a, k, ages, urban_pref) in enumerate(_HOUSEHOLDS):
        sel = np.flatnonzero(htype == t)
        n_e[sel] = rng.integers(e[0], e[1] + 1, sel.size)
        n_a[sel] = rng.integers(a[0], a[1] + 1, sel.size)
        n_k[sel] = rng.integers(k[0], k[1] + 1, sel.size)
        a_base[sel] = rng.integers(ages[0], ages[1] + 1, sel.size) if ages[1] else 0
        w = city.v_weight * np.where(urban, urban_pref, 1.0)
        village[sel] = rng.choice(w.size, sel.size, p=w / w.sum())
    # elders: older than their adult children when living with them
    elder_min = np.where(n_a > 0, np.maximum(58, a_base + 22), 60)
    e_base = elder_min + np.minimum(rng.exponential(9.0, n_hh), 100 - elder_min).astype(np.int64)
    size = n_e + n_a + n_k
    cut = int(np.searchsorted(np.cumsum(size), n))  # households fully or partly used
    hh = np.repeat(np.arange(cut + 1), size[: cut + 1])[:n]
    pos = (
        np.arange(n) - np.repeat(np.cumsum(size[: cut + 1]) - size[: cut + 1], size[: cut + 1])[:n]
    )
    role = np.where(pos < n_e[hh], 0, np.where(pos < n_e[hh] + n_a[hh], 1, 2))  # elder/adult/kid
    slot = np.where(role == 0, pos, np.where(role == 1, pos - n_e[hh], pos - n_e[hh] - n_a[hh]))
    # ages
    kid_max = np.clip(a_base[hh] - 20, 0, 17)
    age = np.where(
        role == 0,
        e_base[hh] + np.where(slot > 0, rng.normal(-2, 3, n).round(), 0),
        np.where(
            role == 1,
            a_base[hh] + np.where(slot > 0, rng.normal(-2, 3, n).round(), 0),
            np.floor(rng.random(n) * (kid_max + 1)),
        ),
    )
    age = np.clip(age, 0, 104).astype(np.int64)
    age[(role == 1) & (age < 18)] = 18
    # gender: pairs are one man and one woman; widowed elders are more often women
    flip = rng.random(n_hh) < 0.15
    pair = np.where(role == 0, n_e[hh] == 2, np.where(role == 1, n_a[hh] == 2, False))
    male = np.where(
        pair,
        (slot == 0) ^ flip[hh],
        rng.random(n) < np.where(role == 0, 0.42, 0.51),
    )
    birth = year0 - 1 - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    birth_year = 1970 + (birth / 365.25).astype(np.int64)
    # names: the household surname for the head line and the kids
    hh_surname = naming.surnames(rng, n_hh)
    surname = np.where((slot == 0) | (role == 2), hh_surname[hh], naming.surnames(rng, n)).astype(
        np.int16
    )
    g1, g2 = naming.given_names(rng, male, birth_year)
    # address: the household's village, 组/栋 and 号/室
    vil = village[hh].astype(np.int32)
    is_urban = urban[vil]
    grp_h = np.where(urban[village], rng.integers(1, 31, n_hh), rng.integers(1, 13, n_hh))
    house_h = np.where(
        urban[village],
        rng.integers(1, 19, n_hh) * 100 + rng.integers(1, 7, n_hh),
        rng.integers(1, 61, n_hh),
    )
    district = city.v_district[vil].astype(np.int16)
    # ID numbers: birthplace code + birth date + sequence + check digit, unique
    d_codes = np.array([int(c) for c in city.d_code], dtype=np.int64)
    r = rng.random(n)
    prov = int(city.province_code)
    elsewhere = prov * 10_000 + rng.integers(1, 14, n) * 100 + rng.integers(2, 29, n)
    id_region = np.where(
        r < 0.85,
        d_codes[district],
        np.where(r < 0.95, d_codes[rng.integers(0, d_codes.size, n)], elsewhere),
    )
    id_seq = rng.integers(0, 100, n) * 10 + 2 * rng.integers(0, 5, n) + male
    for _ in range(20):
        key = id_region * 10**9 + (birth + 30_000) * 1000 + id_seq
        order = np.argsort(key, kind="stable")
        dup = np.zeros(n, bool)
        dup[order[1:]] = key[order][1:] == key[order][:-1]
        if not dup.any():
            break
        id_seq[dup] = (
            rng.integers(0, 100, int(dup.sum())) * 10
            + 2 * rng.integers(0, 5, int(dup.sum()))
            + male[dup]
        )
    id_missing = rng.random(n) < 0.0015
    # phones and accounts: the head's are shared by some of the family
    head_pos = np.where(n_a > 0, n_e, 0)
    first = np.repeat(np.cumsum(size[: cut + 1]) - size[: cut + 1], size[: cut + 1])[:n]
    head = np.minimum(first + head_pos[hh], n - 1)
    head = np.where(hh[head] == hh, head, first)  # a truncated last household
    p_own = np.where(role == 2, np.where(age >= 16, 0.5, 0.0), np.where(role == 0, 0.75, 0.97))
    own = (rng.random(n) < p_own) | (np.arange(n) == head)
    own_phone = np.zeros(n, np.int64)
    own_phone[own] = phones.draw(rng, int(own.sum()), phone_sampler)
    phone = np.where(own, own_phone, own_phone[head])
    phone[rng.random(n) < 0.01] = 0
    p_acct = np.where(role == 2, 0.0, np.where(role == 0, 0.7, 0.95))
    own_a = (rng.random(n) < p_acct) | (np.arange(n) == head)
    own_account = np.zeros(n, np.int64)
    own_account[own_a] = accounts.draw(rng, int(own_a.sum()), account_sampler)
    account = np.where(own_a, own_account, np.where(rng.random(n) < 0.6, own_account[head], 0))
    # insurance: employees (职工医保) in work or retired from it, residents otherwise
    p_emp = np.where(
        role == 2,
        0.0,
        np.where(age >= 60, np.where(is_urban, 0.4, 0.08), np.where(is_urban, 0.55, 0.2)),
    )
    employee = rng.random(n) < p_emp
    n_emp = max(5, int(employee.sum() / 25))
    emp_district = rng.integers(0, len(city.d_code), n_emp)
    emp_size = rng.pareto(1.2, n_emp) + 1
    employer = np.full(n, -1, np.int32)
    for d in range(len(city.d_code)):
        mine = np.flatnonzero(employee & (district == d))
        local = np.flatnonzero(emp_district == d)
        pool = local if local.size else np.arange(n_emp)
        pick = rng.choice(pool, mine.size, p=emp_size[pool] / emp_size[pool].sum())
        far = rng.random(mine.size) < 0.2
        pick[far] = rng.choice(n_emp, int(far.sum()), p=emp_size / emp_size.sum())
        employer[mine] = pick
    emp_serial = UniquePool().draw(rng, n_emp, uniform_sampler(0, 1_000_000))
    employer_code = d_codes[emp_district] * 1_000_000 + emp_serial
    # deaths in the year: Gompertz-shaped, about 0.7 % overall
    q = 0.0004 + 5e-5 * np.exp(0.085 * age)
    q = np.minimum(q * 0.007 / q.mean(), 0.5)
    dies = rng.random(n) < q
    death = np.where(dies, rng.integers(0, city_days(year), n), -1).astype(np.int32)

    # --- one person order, random with respect to households: by (district, serial) ---
    pid = UniquePool().draw(rng, n, uniform_sampler(10**12, 10**14))
    order = np.lexsort((pid, d_codes[district]))
    take = lambda a: a[order]  # noqa: E731
    pop = Population(
        n=n,
        pid=take(pid),
        district=take(district),
        village=take(vil),
        group=take(grp_h[hh]).astype(np.int16),
        house=take(house_h[hh]).astype(np.int16),
        household=take(hh).astype(np.int32),
        surname=take(surname),
        g1=take(g1),
        g2=take(g2),
        male=take(male),
        birth=take(birth).astype(np.int32),
        age=take(age).astype(np.int16),
        id_region=take(id_region),
        id_seq=take(id_seq).astype(np.int16),
        id_missing=take(id_missing),
        phone=take(phone),
        account=take(account),
        employee=take(employee),
        employer=take(employer),
        death=take(death),
        employer_code=employer_code,
        card_person=np.empty(0, np.int32),
        card_no=np.empty(0, np.int64),
        card_issued=np.empty(0, np.int32),
        card_status=np.empty(0, np.int8),
        card_status_date=np.empty(0, np.int32),
        active_card=np.empty(0, np.int32),
        old_card=np.empty(0, np.int32),
        switch_day=np.empty(0, np.int32),
        special=np.full(n, -1, np.int16),
    )
    _cards(rng, pop, year)
    return pop


def city_days(year: int) -> int:
    return epoch_day(year + 1) - epoch_day(year)


def _cards(rng: np.random.Generator, pop: Population, year: int) -> None:
    """One active card each; ~3 % also hold an older lost or cancelled card."""
    n = pop.n
    year0, n_days = epoch_day(year), city_days(year)
    earliest = np.maximum(epoch_day(2012), pop.birth + 30)
    issued = earliest + (rng.random(n) * np.maximum(1, year0 - 30 - earliest)).astype(np.int64)
    has_old = rng.random(n) < 0.03
    in_year = has_old & (rng.random(n) < 0.3)
    issued[in_year] = year0 + rng.integers(15, n_days - 15, int(in_year.sum()))
    switch_day = np.where(in_year, issued - year0, 0).astype(np.int32)
    old = np.flatnonzero(has_old)
    old_issued = epoch_day(2005) + (
        rng.random(old.size) * np.maximum(1, issued[old] - 200 - epoch_day(2005))
    ).astype(np.int64)
    old_issued = np.maximum(old_issued, pop.birth[old] + 30)
    old_status = np.where(rng.random(old.size) < 0.6, LOST, CANCELLED)
    # the deceased: most cards are cancelled within weeks, some are never reported
    status = np.zeros(n, np.int8)
    status_date = np.full(n, -1, np.int64)
    dead = pop.death >= 0
    cancel_day = pop.death + rng.integers(10, 61, n)
    told = dead & (rng.random(n) < 0.6) & (cancel_day < n_days)
    status[told] = CANCELLED
    status_date[told] = year0 + cancel_day[told]
    person = np.concatenate([np.arange(n), old]).astype(np.int32)
    m = person.size
    card_no = UniquePool().draw(
        rng, m, lambda g, k: g.integers(0, len(CARD_LETTERS), k) * 10**8 + g.integers(0, 10**8, k)
    )
    order = np.argsort(card_no, kind="stable")  # output order: by card id
    rank = np.empty(m, np.int64)
    rank[order] = np.arange(m)
    pop.card_person = person[order]
    pop.card_no = card_no[order]
    pop.card_issued = np.concatenate([issued, old_issued])[order].astype(np.int32)
    pop.card_status = np.concatenate([status, old_status]).astype(np.int8)[order]
    pop.card_status_date = np.concatenate([status_date, issued[old]])[order].astype(np.int32)
    pop.active_card = rank[:n].astype(np.int32)
    pop.old_card = np.full(n, -1, np.int32)
    pop.old_card[old] = rank[n:]
    pop.switch_day = switch_day


def card_at(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The card a person settles with on ``day``: the old one before a replacement."""
    old = pop.old_card[person]
    before = (old >= 0) & (day < pop.switch_day[person])
    return np.where(before, old, pop.active_card[person]).astype(np.int32)


def link_doctors_to_persons(rng: np.random.Generator, city: City, pop: Population) -> None:
    """About 30 % of doctors are also insured residents: same phone in both tables."""
    doc = city.doctors
    district = city.orgs["district"].to_numpy()[doc["org"].to_numpy()]
    linked = np.full(len(doc), -1, np.int64)
    working = (pop.age >= 25) & (pop.age <= 60) & (pop.phone > 0) & (pop.death < 0)
    for d in range(len(city.d_code)):
        docs = np.flatnonzero((district == d) & (rng.random(len(doc)) < 0.3))
        cand = np.flatnonzero(working & (pop.district == d))
        if docs.size and cand.size >= docs.size:
            linked[docs] = rng.choice(cand, docs.size, replace=False)
    has = linked >= 0
    phone = doc["phone"].to_numpy().copy()
    phone[has] = pop.phone[linked[has]]
    doc["phone"] = phone
    pop.doctor_person = linked


def id_number_matrix(pop: Population, idx: np.ndarray) -> np.ndarray:
    """(k, 18) ASCII ID numbers of persons ``idx``."""
    birth = np.asarray(pop.birth[idx], dtype="datetime64[D]")
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    mth = (birth.astype("datetime64[M]").astype(np.int64) % 12) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    body = np.hstack(
        [
            digits(pop.id_region[idx], 6),
            digits(y, 4),
            digits(mth, 2),
            digits(day, 2),
            digits(pop.id_seq[idx], 3),
        ]
    )
    return np.hstack([body, id_check_digits(body)[:, None]])
