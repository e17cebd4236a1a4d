"""referral_loop: cycling rings are found; upward chains and rehab returns are not."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors.referral_loop import DETECTOR, Params, _cycle_path, run
from ringfinder.engine.embedded import EmbeddedEngine

D0 = date(2025, 1, 1)


class Region:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.referrals: list[tuple] = []
        self.claims: list[tuple] = []
        self.persons: set[str] = set()

    def admit(self, pid: str, inst: str, day: int, stay: int) -> str:
        cid = f"K{len(self.claims):06d}"
        start = datetime.combine(D0, datetime.min.time()) + timedelta(days=day, hours=10)
        self.claims.append(
            (cid, pid, inst, "inpatient", start, start + timedelta(days=stay), 8000.0, 6000.0)
        )
        return cid

    def walk(self, pid: str, path: list[str], day: int, gap: int = 2, stay: int = 8) -> set[str]:
        """Admit at path[0], then refer along the path, admitting after each referral."""
        self.persons.add(pid)
        ids = {self.admit(pid, path[0], day, stay)}
        for a, b in zip(path, path[1:], strict=False):
            day += stay
            self.referrals.append(
                (f"F{len(self.referrals):06d}", pid, a, b, D0 + timedelta(days=day), f"dr-{a}")
            )
            day += gap
            ids.add(self.admit(pid, b, day, stay))
        return ids

    def honest(self) -> None:
        villages = [f"V{i:02d}" for i in range(30)]
        county = {v: f"C{i % 4}" for i, v in enumerate(villages)}
        city = {f"C{i}": f"Y{i % 2}" for i in range(4)}
        for i in range(400):  # upward chains, stopping at some level
            v = villages[int(self.rng.integers(0, 30))]
            c = county[v]
            path = [v, c, city[c], "P_EXT"][: int(self.rng.integers(2, 5))]
            self.walk(f"u{i}", path, int(self.rng.integers(0, 300)), int(self.rng.integers(0, 3)))
        for i in range(200):  # referred up, then back once for rehabilitation
            c = f"C{i % 4}"
            self.walk(f"h{i}", [c, city[c], c], int(self.rng.integers(0, 300)))
        for i in range(8):  # home after the city hospital: a single 3-place return
            v = villages[i]
            c = county[v]
            self.walk(f"v{i}", [v, c, city[c], v], int(self.rng.integers(0, 300)))

    def engine(self) -> EmbeddedEngine:
        eng = EmbeddedEngine(None)
        tables = {
            "persons": (["person_id"], [(p,) for p in sorted(self.persons)]),
            "referrals": (
                [
                    "referral_id",
                    "person_id",
                    "from_provider_id",
                    "to_provider_id",
                    "referral_date",
                    "doctor_id",
                ],
                self.referrals,
            ),
            "claims": (
                [
                    "claim_id",
                    "person_id",
                    "provider_id",
                    "visit_type",
                    "start_time",
                    "end_time",
                    "total_amount",
                    "fund_amount",
                ],
                self.claims,
            ),
        }
        for name, (cols, rows) in tables.items():
            frame = pd.DataFrame(rows, columns=cols)  # noqa: F841 - read by DuckDB below
            eng.con.execute(f"INSERT INTO {name} ({', '.join(cols)}) SELECT * FROM frame")
        return eng


def test_rings_found_with_exact_patients_and_honest_flows_left_alone() -> None:
    region = Region(1)
    region.honest()
    tri = {f"t{i}" for i in range(8)}
    tri_claims: set[str] = set()
    for i, pid in enumerate(sorted(tri)):  # R1 → R2 → R3 → R1 → R2 → R3 → R1, short stays
        tri_claims |= region.walk(pid, ["R1", "R2", "R3"] * 2 + ["R1"], 20 * i, 1, 4)
    duo = {f"d{i}" for i in range(5)}
    for i, pid in enumerate(sorted(duo)):  # R4 ↔ R5, three times round
        region.walk(pid, ["R4", "R5"] * 3 + ["R4"], 30 * i + 5, 1, 5)
    findings = run(region.engine(), Params())
    strong = sorted((f for f in findings if f.strength >= 0.5), key=lambda f: -len(f.persons))
    assert [f.persons for f in strong] == [tri, duo]
    assert strong[0].institutions == {"R1", "R2", "R3"}
    assert strong[0].claims == tri_claims
    assert strong[0].doctors == {"dr-R1", "dr-R2", "dr-R3"}
    assert strong[1].institutions == {"R4", "R5"}
    assert all(f.strength > 0.9 for f in strong)
    texts = [i18n.render(r, "en") for r in strong[0].reasons]
    assert any("R1 → R2 → R3 → R1" in t for t in texts)
    assert any("8 patients were passed round 3 institutions" in t for t in texts)
    assert all(i18n.render(r, "zh") for r in strong[0].reasons)
    honest = {p for p in region.persons if p[0] in "uhv"}
    assert not any(f.persons & honest and f.strength >= 0.5 for f in findings)


def test_honest_region_raises_nothing_strong() -> None:
    region = Region(2)
    region.honest()
    assert all(f.strength < 0.5 for f in run(region.engine(), Params()))


def test_cycle_path_and_declaration() -> None:
    legs = pd.DataFrame({"f": ["B", "A", "C"], "t": ["C", "B", "A"]})
    assert _cycle_path(legs) == ["A", "B", "C", "A"]
    assert DETECTOR.requires == ("referrals", "claims")
    assert DETECTOR.default_params().max_cycle == 4
