"""The found-criterion and precision at K used to judge detectors."""

from __future__ import annotations

from ringfinder.evaluate import evaluate

TRUTH = {
    "schemes": [
        {"id": "S1", "kind": "co_admission", "persons": ["a", "b", "c", "d"]},
        {"id": "S2", "kind": "shared_card", "cards": ["k1", "k2"], "persons": ["x", "y"]},
    ],
    "lookalikes": [{"id": "L1", "kind": "dialysis_cohort", "persons": ["d1", "d2", "d3"]}],
}


def lead(persons=(), cards=()):
    return {"persons": list(persons), "cards": list(cards)}


def test_found_needs_half_coverage_and_half_purity() -> None:
    r = evaluate([lead(["a", "b"]), lead(cards=["k1", "z1", "z2"])], TRUTH)
    assert r.found == 1 and r.missed == ["S2:shared_card"]
    assert r.per_kind == {"co_admission": (1, 1), "shared_card": (0, 1)}
    diluted = evaluate([lead(["a", "b", "c", "q1", "q2", "q3", "q4"])], TRUTH)
    assert diluted.found == 0


def test_precision_at_k_and_lookalikes() -> None:
    leads = [lead(["a", "b", "c"]), lead(["d1", "d2"]), lead(cards=["k1", "k2"])]
    r = evaluate(leads, TRUTH)
    assert r.recall == 1.0
    assert r.k == 4 and r.true_in_top_k == 2
    assert abs(r.precision_at_k - 2 / 3) < 1e-9
    assert r.lookalikes_in_top_k == ["L1:dialysis_cohort"]
