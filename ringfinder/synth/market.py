"""Who goes where and what it costs: provider choice, doctors, billing, invoice numbers.

Shared by honest behaviour, the planted schemes and the look-alikes, so that planted
claims are priced, itemised and numbered exactly like honest ones.
"""

from __future__ import annotations

import numpy as np

from ringfinder.synth import lexicon
from ringfinder.synth.city import City, DoctorIndex
from ringfinder.synth.frames import Frame
from ringfinder.synth.ids import UniquePool
from ringfinder.synth.population import Population

#: Provider groups for choice: kinds of provider, and the distance (km) of attraction decay.
GROUPS = {
    "clinic": (("village_clinic", "private_clinic"), 2.5),
    "primary": (("township", "community"), 5.0),
    "secondary": (("county", "tcm"), 20.0),
    "tertiary": (("tertiary",), 60.0),
    "private": (("private_hosp",), 15.0),
    "pharmacy": (("pharmacy",), 2.0),
}
GROUP_NAMES = tuple(GROUPS)
GROUP = {g: i for i, g in enumerate(GROUP_NAMES)}
#: Daily cost of a stay and bed price (yuan) by group (index -1: other providers).
_STAY_DAILY = {"primary": 350.0, "secondary": 800.0, "tertiary": 1500.0, "private": 700.0}
_BED_PRICE = {"primary": 30.0, "secondary": 45.0, "tertiary": 70.0, "private": 50.0}
STAY_DAILY = np.array([_STAY_DAILY.get(g, 800.0) for g in GROUP_NAMES] + [800.0])
BED_PRICE = np.array([_BED_PRICE.get(g, 45.0) for g in GROUP_NAMES] + [45.0])
VISIT = {"outpatient": 0, "chronic_outpatient": 1, "inpatient": 2, "pharmacy": 3}
_SURGICAL = ("K35.800", "K80.200", "S72.000", "S82.800", "H25.900", "H26.900", "O82.000")
#: Outpatient diagnoses at specialised providers.
_SPECIALTY_OUTPATIENT = {
    "eye": ("H10.900", "H25.900", "H40.900"),
    "ortho": ("M54.500", "M17.900", "M51.200"),
    "rehab": ("I69.300", "M54.500"),
    "tcm": ("K29.700", "M54.500", "J06.900", "I10.x00"),
    "dental": ("K02.900",),
    "dialysis": ("N18.500",),
}

DIAG_DEPT = np.array([lexicon.DEPT[d.dept] for d in lexicon.DIAGNOSES], dtype=np.int16)
DIAG_SEVERITY = np.array([d.severity for d in lexicon.DIAGNOSES], dtype=np.int8)
DIAG_LOS = np.array([d.los for d in lexicon.DIAGNOSES])
DIAG_SURGICAL = np.array([d.code in _SURGICAL for d in lexicon.DIAGNOSES])
DIAG_STAY_DRUG = np.array(
    [
        lexicon.ITEM[lexicon.INPATIENT_DRUG.get(d.dept, "头孢曲松钠注射液")]
        for d in lexicon.DIAGNOSES
    ],
    dtype=np.int16,
)
ITEM_PRICE = np.array([it.price for it in lexicon.ITEMS])
ITEM_DAYS = np.array([it.days for it in lexicon.ITEMS])


def diag_ix(codes: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.array([lexicon.DIAG[c] for c in codes], dtype=np.int16)


class Market:
    def __init__(
        self, rng: np.random.Generator, city: City, pop: Population, handlers: int
    ) -> None:
        self.city = city
        self.pop = pop
        orgs = city.orgs
        n = len(orgs)
        self.kind = orgs["kind"].to_numpy()
        self.specialty = orgs["specialty"].to_numpy()
        self.terminals = orgs["terminals"].to_numpy().astype(np.int64)
        self.capacity = orgs["capacity"].to_numpy()
        self.district = orgs["district"].to_numpy()
        self.doctors = DoctorIndex(city)
        self.handlers = handlers
        self.group_of = np.full(n, -1, dtype=np.int64)
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.nearest: dict[str, np.ndarray] = {}
        for name, (kinds, scale) in GROUPS.items():
            members = city.org_ids(kinds)
            self.group_of[members] = GROUP[name]
            km = city.village_org_km(members)
            w = self.capacity[members][None, :] * np.exp(-km / scale) + 1e-12
            cdf = np.cumsum(w, axis=1)
            cdf /= cdf[:, -1:]
            flat = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()
            self._tables[name] = (members, flat)
            self.nearest[name] = members[np.argmin(km, axis=1)].astype(np.int32)
        self.maternal = city.org_ids(("maternal",))
        # diagnoses forced by a provider's specialty (outpatient and inpatient)
        self.out_diag: dict[int, np.ndarray] = {}
        self.in_diag: dict[int, np.ndarray] = {}
        for i in range(n):
            spec = self.specialty[i]
            if spec in _SPECIALTY_OUTPATIENT and self.kind[i] != "pharmacy":
                self.out_diag[i] = diag_ix(_SPECIALTY_OUTPATIENT[spec])
            if self.kind[i] == "private_hosp" and lexicon.SPECIALTIES[spec][2]:
                self.in_diag[i] = diag_ix(lexicon.SPECIALTIES[spec][2])
        # invoices: each issuer numbers its paper in its own series
        self.invoice_pool = UniquePool()
        self.invoice_base = rng.integers(10**8, 5 * 10**9, n)
        self.external = city.org_ids(("external",))
        self.region = orgs["region"].astype(np.int64).to_numpy()

    # --- choice ------------------------------------------------------------------------
    def choose(self, rng: np.random.Generator, group: str, village: np.ndarray) -> np.ndarray:
        """A provider of ``group`` for each village, by distance-decayed attraction."""
        members, flat = self._tables[group]
        k = members.size
        v = np.asarray(village, dtype=np.int64)
        pos = np.searchsorted(flat, v + rng.random(v.size), side="right") - v * k
        return members[np.clip(pos, 0, k - 1)].astype(np.int32)

    def choose_mixed(
        self, rng: np.random.Generator, village: np.ndarray, groups: tuple[str, ...], p: np.ndarray
    ) -> np.ndarray:
        """Pick a group per row (p: rows × groups, or one row), then a provider in it."""
        n = village.size
        p = np.broadcast_to(np.asarray(p, dtype=np.float64), (n, len(groups)))
        cdf = np.cumsum(p, axis=1)
        g = (rng.random(n)[:, None] * cdf[:, -1:] > cdf).sum(axis=1)
        out = np.empty(n, np.int32)
        for k, name in enumerate(groups):
            sel = np.flatnonzero(g == k)
            if sel.size:
                out[sel] = self.choose(rng, name, village[sel])
        return out

    def doctor(
        self, rng: np.random.Generator, org: np.ndarray, diag: np.ndarray | None
    ) -> np.ndarray:
        dept = None if diag is None else DIAG_DEPT[np.maximum(diag, 0)]
        return self.doctors.pick(rng, org, dept)

    def terminal(self, rng: np.random.Generator, org: np.ndarray) -> np.ndarray:
        return (rng.random(org.size) * self.terminals[org]).astype(np.int64) + 1

    def specialise(
        self, rng: np.random.Generator, org: np.ndarray, diag: np.ndarray, inpatient: bool
    ) -> np.ndarray:
        """Replace diagnoses that a specialised provider would not see by its own."""
        table = self.in_diag if inpatient else self.out_diag
        diag = diag.copy()
        keys = np.array(sorted(table), dtype=np.int64)
        spec = np.flatnonzero(np.isin(org, keys))
        for o in np.unique(org[spec]):
            rows = spec[org[spec] == o]
            codes = table[int(o)]
            wrong = rows[~np.isin(diag[rows], codes)]
            diag[wrong] = codes[rng.integers(0, codes.size, wrong.size)]
        return diag

    # --- invoices ------------------------------------------------------------------------
    def invoice_numbers(
        self,
        rng: np.random.Generator,
        issuer: np.ndarray,
        day: np.ndarray,
        inpatient: np.ndarray,
        year: int,
        serial: np.ndarray | None = None,
    ) -> np.ndarray:
        """票据代码 (8 digits) * 10**10 + 票据号码 (10 digits), unique city-wide.

        Honest paper: each issuer's serial numbers grow with the date (tens of thousands a
        day). ``serial`` forces the numbers (a forger's block); repeats are redrawn nearby.
        """
        issuer = np.asarray(issuer, np.int64)
        code = self.invoice_code(issuer, inpatient, year)
        base = (self.invoice_base[issuer] + np.asarray(day, np.int64) * 40_000) % (10**10 - 10**5)

        def sample(g: np.random.Generator, idx: np.ndarray) -> np.ndarray:
            if serial is None:
                s = base[idx] + g.integers(0, 40_000, idx.size)
            elif idx.size == issuer.size:  # the first draw, of every row: as forced
                s = serial[idx]
            else:  # a forced number already taken: the forger's next sheets
                s = serial[idx] + g.integers(1, 50, idx.size)
            return code[idx] * 10**10 + s % 10**10

        return self.invoice_pool.draw_at(rng, issuer.size, sample)

    def invoice_code(self, issuer: np.ndarray, inpatient: np.ndarray, year: int) -> np.ndarray:
        prov = self.region[issuer] // 10_000
        kind = np.where(inpatient, 7, 6)
        return prov * 10**6 + kind * 10**4 + 100 + year % 100


def cents(yuan: np.ndarray | float) -> np.ndarray:
    return np.round(np.asarray(yuan, dtype=np.float64) * 100).astype(np.int64)


def fund_of(
    rng: np.random.Generator,
    total: np.ndarray,
    low: np.ndarray | float,
    high: np.ndarray | float,
    zero: np.ndarray | float = 0.0,
) -> np.ndarray:
    """统筹基金支付: a share of the total (0 where the personal account or deductible pays)."""
    share = low + (np.asarray(high) - low) * rng.random(total.size)
    fund = np.floor(total * share).astype(np.int64)
    fund[rng.random(total.size) < zero] = 0
    return np.clip(fund, 0, total)


def items_frame(claim: np.ndarray, item: np.ndarray, qty: np.ndarray, amount: np.ndarray) -> Frame:
    return Frame("items", claim=claim, item=item, qty=qty, amount=amount)


def drug_lines(claim: np.ndarray, drug: np.ndarray, qty: np.ndarray) -> tuple[Frame, np.ndarray]:
    """Item rows for drugs bought by the unit, and their amounts (cents)."""
    amount = cents(ITEM_PRICE[drug] * qty)
    return items_frame(claim, drug, np.asarray(qty, np.float64), amount), amount


def stay_lines(
    rng: np.random.Generator,
    claim: np.ndarray,
    los: np.ndarray,
    group: np.ndarray,
    diag: np.ndarray,
    daily: np.ndarray | None = None,
) -> tuple[Frame, np.ndarray]:
    """Three item rows per stay (bed, the department's drug, exams or surgery) and totals.

    ``group`` is the provider group index (-1 for others); ``daily`` overrides the daily
    cost (yuan). The claim total is the exact sum of the rows.
    """
    n = claim.size
    if daily is None:
        daily = STAY_DAILY[group]
    target = los * daily * rng.lognormal(0, 0.3, n)
    surgical = DIAG_SURGICAL[diag]
    target = target + surgical * rng.uniform(2500, 8000, n)
    bed = cents(los * BED_PRICE[group])
    drug = DIAG_STAY_DRUG[diag]
    qty = np.maximum(1, np.round(0.35 * target / ITEM_PRICE[drug]))
    drug_amt = cents(qty * ITEM_PRICE[drug])
    rest = np.maximum(cents(target) - bed - drug_amt, 20_000)
    exam = np.where(
        rng.random(n) < 0.5, lexicon.ITEM["X线计算机体层(CT)扫描"], lexicon.ITEM["肝功能检测"]
    )
    service = np.where(surgical, lexicon.ITEM["手术治疗费"], exam).astype(np.int16)
    frame = items_frame(
        np.concatenate([claim, claim, claim]),
        np.concatenate([np.full(n, lexicon.ITEM["普通病房床位费"], np.int16), drug, service]),
        np.concatenate([los.astype(np.float64), qty, np.ones(n)]),
        np.concatenate([bed, drug_amt, rest]),
    )
    return frame, bed + drug_amt + rest
