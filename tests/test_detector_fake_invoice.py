"""fake_invoice: agent rings and invoice pads are found; families and cancer patients not."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors.fake_invoice import DETECTOR, Params, run
from ringfinder.engine.embedded import EmbeddedEngine

D0 = date(2025, 1, 1)


class City:
    """A small typed city: honest background plus whatever a test adds."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.persons: list[tuple] = []
        self.reim: list[tuple] = []
        self.inv: list[tuple] = []
        self.ref: list[tuple] = []
        self.n = 0

    def person(self, pid: str, address: str | None = None, employer: str | None = None) -> str:
        self.persons.append((pid, f"ph-{pid}", address or f"ad-{pid}", f"ac-{pid}", employer))
        return pid

    def reimbursement(
        self,
        pid: str,
        amount: float,
        issuer: str,
        number: int,
        day: int,
        *,
        phone: str | None = None,
        account: str | None = None,
        handler: str | None = None,
        referred: bool = True,
    ) -> str:
        self.n += 1
        rid = f"R{self.n:05d}"
        handler = handler or f"h{self.rng.integers(1, 6)}"
        self.reim.append(
            (
                rid,
                pid,
                D0 + timedelta(days=day + 5),
                amount,
                amount * 0.7,
                handler,
                phone or f"ph-{pid}",
                account or f"ac-{pid}",
            )
        )
        self.inv.append(
            (f"INV-{issuer}-{number:08d}", rid, issuer, D0 + timedelta(days=day), amount)
        )
        if referred:
            self.ref.append(
                (f"F{self.n:05d}", pid, "H_LOCAL", issuer, D0 + timedelta(days=day - 3))
            )
        return rid

    def background(self, count: int = 300) -> None:
        issuers = [f"X{i}" for i in range(6)]
        for i in range(count):
            pid = self.person(f"b{i}")
            for _ in range(int(self.rng.integers(1, 3))):
                self.reimbursement(
                    pid,
                    float(self.rng.integers(300, 25000)),
                    issuers[int(self.rng.integers(0, 6))],
                    int(self.rng.integers(0, 10**8)),
                    int(self.rng.integers(0, 330)),
                    referred=bool(self.rng.random() < 0.7),
                )

    def engine(self) -> EmbeddedEngine:
        eng = EmbeddedEngine(None)
        tables = {
            "persons": (
                ["person_id", "phone", "address", "bank_account", "employer_id"],
                self.persons,
            ),
            "reimbursements": (
                [
                    "reimbursement_id",
                    "person_id",
                    "submitted_date",
                    "amount_claimed",
                    "amount_paid",
                    "handler_id",
                    "submitter_phone",
                    "payee_account",
                ],
                self.reim,
            ),
            "invoices": (
                ["invoice_id", "reimbursement_id", "issuer_id", "issue_date", "amount"],
                self.inv,
            ),
            "referrals": (
                ["referral_id", "person_id", "from_provider_id", "to_provider_id", "referral_date"],
                self.ref,
            ),
        }
        for name, (cols, rows) in tables.items():
            frame = pd.DataFrame(rows, columns=cols)  # noqa: F841 - read by DuckDB below
            eng.con.execute(f"INSERT INTO {name} ({', '.join(cols)}) SELECT * FROM frame")
        return eng


def _honest_lookalikes(city: City) -> tuple[set[str], set[str], set[str]]:
    # a cancer patient: many large reimbursements, own phone and account, referred
    cancer = {city.person("cancer")}
    for k in range(9):
        city.reimbursement(
            "cancer", 18000.0 + 500 * k, "X_ONC", int(city.rng.integers(0, 10**8)), 30 * k + 3
        )
    # a family of four at one address, all paid into the father's account
    family = {city.person(f"fam{i}", address="ad-family") for i in range(4)}
    for i, pid in enumerate(sorted(family)):
        city.reimbursement(
            pid,
            9500.0,
            "X1",
            int(city.rng.integers(0, 10**8)),
            40 * i,
            phone="ph-fam0",
            account="ac-fam0",
            referred=False,
        )
    # a daughter bringing the papers of her parents and her parents-in-law (2 households)
    parents = {city.person("par1", address="ad-par"), city.person("inl1", address="ad-inl")}
    city.person("daughter")
    for i, pid in enumerate(sorted(parents)):
        city.reimbursement(
            pid, 9900.0, "X2", int(city.rng.integers(0, 10**8)), 60 + i, phone="ph-daughter"
        )
    return cancer, family, parents


def test_agent_ring_found_with_exact_members_and_lookalikes_left_alone() -> None:
    city = City(1)
    city.background()
    cancer, family, parents = _honest_lookalikes(city)
    ring = {city.person(f"r{i}") for i in range(8)}
    rids = set()
    for i, pid in enumerate(sorted(ring)):
        for k in range(2):
            rids.add(
                city.reimbursement(
                    pid,
                    9800.0 + 37 * i,
                    "X_FAKE",
                    int(city.rng.integers(0, 10**8)),
                    20 * i + 150 * k,
                    phone="ph-agent",
                    account="ac-agent",
                    handler="h_inside",
                    referred=False,
                )
            )
    findings = run(city.engine(), Params())
    strong = [f for f in findings if f.strength >= 0.5]
    assert len(strong) == 1
    (f,) = strong
    assert f.persons == ring
    assert f.claims == rids
    assert f.institutions == {"X_FAKE"}
    assert f.strength > 0.9
    assert {"agent", "no_referral", "handler", "threshold"} <= set(f.figures["terms"])
    for other in findings:
        assert not other.persons & (cancer | family | parents) or other.strength < 0.5
    texts = [i18n.render(r, "en") for r in f.reasons]
    assert any("8 unrelated households" in t for t in texts)
    assert any("h_inside" in t for t in texts)
    assert all(i18n.render(r, "zh") for r in f.reasons)


def test_invoice_pad_across_households_found_without_any_shared_agent() -> None:
    city = City(2)
    city.background()
    _honest_lookalikes(city)
    ring = {city.person(f"q{i}") for i in range(6)}
    base = 55_000_000
    for i, pid in enumerate(sorted(ring)):
        # consecutive numbers from one pad, handed out over half a year, own accounts
        city.reimbursement(pid, 12000.0, "X_PAD", base + 3 * i, 30 * i + 10, referred=False)
    # an honest coach trip: consecutive numbers from a real issuer, all on one day
    trip = {city.person(f"t{i}") for i in range(6)}
    for i, pid in enumerate(sorted(trip)):
        city.reimbursement(pid, 4000.0, "X_TRIP", 70_000_000 + 2 * i, 100)
    findings = run(city.engine(), Params())
    strong = [f for f in findings if f.strength >= 0.5]
    assert [f.persons for f in strong] == [ring]
    assert strong[0].figures["pads"] == 1
    assert not any(f.persons & trip for f in findings)


def test_nothing_to_find_in_an_honest_city() -> None:
    city = City(3)
    city.background(400)
    _honest_lookalikes(city)
    assert all(f.strength < 0.5 for f in run(city.engine(), Params()))


def test_employer_desk_is_one_unit_and_detector_declares_itself() -> None:
    city = City(4)
    city.background(50)
    staff = {city.person(f"s{i}", employer="E1") for i in range(10)}
    for i, pid in enumerate(sorted(staff)):
        city.reimbursement(
            pid, 3000.0, "X1", int(city.rng.integers(0, 10**8)), 10 * i, phone="ph-hr-desk"
        )
    assert run(city.engine(), Params()) == []
    assert DETECTOR.requires == ("reimbursements", "invoices")
    assert DETECTOR.default_params().min_households == 3
