"""What planting needs: the shared context, member picking, and the planted record."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringfinder.synth.city import City
from ringfinder.synth.frames import Activity
from ringfinder.synth.ids import UniquePool
from ringfinder.synth.market import Market
from ringfinder.synth.population import Population
from ringfinder.synth.timeline import Calendar

SCHEME_KINDS = ("co_admission", "shared_card", "fake_invoice", "pharmacy_resale", "referral_loop")
LOOKALIKE_KINDS = (
    "dialysis_cohort",
    "nursing_home_van",
    "family_shared",
    "honest_referral_chain",
    "cancer_reimbursement",
    "crowded_hospital",
    "busy_pharmacy",
    "outbreak_admission",
)


def schemes_per_kind(persons: int) -> int:
    """4 at 20 k persons, 6 at 300 k, 10 at 3 M: slowly growing with the city."""
    return max(2, int(4.1 + 0.5 * np.sqrt(persons / 20_000)))


@dataclass
class Planted:
    """One planted scheme or honest look-alike: its members (indices) and its activity."""

    kind: str
    persons: np.ndarray
    cards: np.ndarray
    doctors: np.ndarray
    orgs: np.ndarray  # institutions, pharmacies and external hospitals
    activity: Activity = field(default_factory=Activity)
    notes: str = ""


@dataclass
class Ctx:
    rng: np.random.Generator
    city: City
    pop: Population
    m: Market
    cal: Calendar
    phones: UniquePool
    accounts: UniquePool
    used: np.ndarray  # persons already in a scheme or look-alike
    used_orgs: set[int] = field(default_factory=set)

    def pick(self, mask: np.ndarray, n: int, weight: np.ndarray | None = None) -> np.ndarray:
        """Up to n persons from ``mask`` not used yet (marked used), sorted."""
        cand = np.flatnonzero(mask & ~self.used)
        n = min(n, cand.size)
        if n <= 0:
            return np.empty(0, np.int64)
        p = None
        if weight is not None:
            w = np.asarray(weight, dtype=np.float64)[cand] + 1e-12
            p = w / w.sum()
        out = np.sort(self.rng.choice(cand, n, replace=False, p=p))
        self.used[out] = True
        return out

    def free_orgs(self, kinds: tuple[str, ...], exclude_busy: bool = True) -> np.ndarray:
        ids = self.city.org_ids(kinds)
        spec = self.m.specialty[ids]
        ok = np.array([i not in self.used_orgs for i in ids], dtype=bool)
        if exclude_busy:
            ok &= spec != "busy"
        return ids[ok]

    def take_org(self, candidates: np.ndarray, weight: np.ndarray | None = None) -> int:
        if candidates.size == 0:
            raise RuntimeError("the city has too few providers for the planted schemes")
        p = None if weight is None else weight / weight.sum()
        org = int(self.rng.choice(candidates, p=p))
        self.used_orgs.add(org)
        return org

    def alive(self) -> np.ndarray:
        return self.pop.death < 0

    def sizes(self, lo: int, hi: int, n: int) -> np.ndarray:
        """n sizes spread over [lo, hi] (narrower in small towns), in random order."""
        hi = max(lo + 4, min(hi, self.pop.n // 100))
        base = np.linspace(lo, hi, n) * self.rng.uniform(0.85, 1.15, n)
        return self.rng.permutation(np.clip(np.round(base), lo, hi).astype(np.int64))

    def doctors_of(self, org: int, k: int) -> np.ndarray:
        docs = self.m.doctors.of_org(org)
        return np.sort(self.rng.choice(docs, min(k, docs.size), replace=False))


def cards_used(act: Activity) -> np.ndarray:
    card = act.claims["card"]
    return np.unique(card[card >= 0])
