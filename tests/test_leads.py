"""Merging, scoring, stable ids and the written leads.jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason
from ringfinder.leads import build_leads, combine_strength, lead_id_for, merge_groups, write_leads

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tools" / "validate_leads.py"


def _f(pattern: str, persons: set[str], strength: float, claims: set[str] = frozenset()) -> Finding:
    return Finding(
        pattern, strength, persons=set(persons), claims=set(claims), reasons=[Reason("x", {})]
    )


def test_findings_sharing_most_members_merge_and_others_do_not() -> None:
    a = _f("co_admission", {"p1", "p2", "p3", "p4"}, 0.9)
    b = _f("shared_card", {"p2", "p3", "p4", "p9"}, 0.6)  # 3 of 4 shared: same ring
    c = _f("co_admission", {"p4", "q1", "q2", "q3", "q5"}, 0.8)  # one shared person: apart
    groups = sorted(sorted(g) for g in merge_groups([a, b, c]))
    assert groups == [[0, 1], [2]]


def test_noisy_or_is_monotone_and_bounded() -> None:
    assert combine_strength([]) == 0.0
    assert combine_strength([0.5, 0.5]) == pytest.approx(0.75)
    assert combine_strength([0.9]) < combine_strength([0.9, 0.1]) <= 1.0


def test_lead_id_depends_only_on_members() -> None:
    m = {
        "persons": ["a", "b"],
        "cards": [],
        "doctors": [],
        "institutions": ["H1"],
        "pharmacies": [],
    }
    m2 = {k: list(v) for k, v in m.items()}
    assert lead_id_for(m) == lead_id_for(m2)
    m2["persons"] = ["a", "c"]
    assert lead_id_for(m) != lead_id_for(m2)


@pytest.fixture()
def engine() -> EmbeddedEngine:
    eng = EmbeddedEngine(None)
    eng.con.execute(
        "INSERT INTO claims (claim_id, person_id, provider_id, visit_type, start_time, "
        "total_amount, fund_amount) VALUES "
        "('c1','p1','H1','inpatient',?, 1000.10, 800.05),"
        "('c2','p2','H1','inpatient',?, 2000.00, 1500.00)",
        [datetime(2025, 3, 1, 9), datetime(2025, 4, 2, 10)],
    )
    eng.con.execute(
        "INSERT INTO reimbursements (reimbursement_id, person_id, submitted_date, "
        "amount_claimed, amount_paid) VALUES ('r1','p3', DATE '2025-05-05', 12000, 9000)"
    )
    return eng


def test_leads_sum_money_over_the_union_of_evidence(engine: EmbeddedEngine, tmp_path: Path) -> None:
    a = _f("co_admission", {"p1", "p2"}, 0.9, {"c1", "c2"})
    b = _f("shared_card", {"p1", "p2"}, 0.5, {"c2", "r1"})  # c2 counted once
    (lead,) = build_leads([a, b], engine)
    assert lead.pattern == "co_admission+shared_card"
    assert Decimal(lead.amount_total) == Decimal("15000.10")
    assert Decimal(lead.fund_amount) == Decimal("11300.05")
    assert (lead.first_seen, lead.last_seen) == ("2025-03-01", "2025-05-05")
    assert lead.score == pytest.approx(95.0)
    path = tmp_path / "leads.jsonl"
    write_leads([lead], path, "en")
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["claims"] == ["c1", "c2", "r1"]
    assert obj["cards"] == [] and obj["pharmacies"] == []
    if SHARED.exists():
        res = subprocess.run(
            [sys.executable, str(SHARED), str(path)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stdout


def test_evidence_of_all_groups_at_once_equals_one_group_at_a_time(
    engine: EmbeddedEngine,
) -> None:
    groups = [["c1", "c2", "r1"], ["c2"], [], ["nowhere"], ["r1", "r1"]]
    assert engine.evidence_summaries(groups) == [engine.evidence_summary(g) for g in groups]
    assert engine.evidence_summaries([]) == []
