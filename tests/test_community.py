"""Community detection: mixed-signal rings are found, families and crowds are not."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import numpy as np
import pytest

from ringfinder.community import CommunityParams, find_communities, person_edges
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding
from ringfinder.graph import LeidenSettings, leiden


@pytest.fixture()
def engine() -> EmbeddedEngine:
    eng = EmbeddedEngine(None)
    con = eng.con
    rows = []
    # a ring of 6: admitted together at H1 on 3 days, and sharing one agent account
    ring = [f"r{i}" for i in range(6)]
    for d in (3, 40, 90):
        for p in ring:
            rows.append((f"c-{p}-{d}", p, "H1", "inpatient", datetime(2025, 1, 1) + timedelta(d)))
    # a family of 4 sharing an address, nothing else
    fam = [f"f{i}" for i in range(4)]
    # a crowd: 300 persons admitted to H2 on the same two days (an institution-wide event)
    crowd = [f"x{i}" for i in range(300)]
    for d in (10, 11):
        for p in crowd:
            rows.append((f"c-{p}-{d}", p, "H2", "inpatient", datetime(2025, 1, 1) + timedelta(d)))
    for p in ring + fam + crowd:
        addr = "ad_family" if p in fam else None
        con.execute("INSERT INTO persons (person_id, address) VALUES (?, ?)", [p, addr])
    con.executemany(
        "INSERT INTO claims (claim_id, person_id, provider_id, visit_type, start_time, "
        "total_amount, fund_amount) VALUES (?, ?, ?, ?, ?, 1000, 800)",
        rows,
    )
    con.executemany(
        "INSERT INTO reimbursements (reimbursement_id, person_id, submitted_date, "
        "amount_claimed, payee_account) VALUES (?, ?, DATE '2025-06-01', 9000, 'ac_agent')",
        [[f"rb-{p}", p] for p in ring],
    )
    return eng


def test_ring_found_family_and_crowd_left_alone(engine: EmbeddedEngine) -> None:
    edges = person_edges(engine, CommunityParams())
    assert set(edges["kind"]) == {"co_admission", "household", "agent"}
    assert not any(edges["a"].str.startswith("x")), "a crowd above max_crowd adds no pairs"
    (found,) = find_communities(engine)
    assert found.persons == {f"r{i}" for i in range(6)}
    assert len(found.claims) == 18 + 6
    assert 0.5 < found.strength <= 0.9
    assert found.figures["leiden"]["objective"] == "modularity"


def test_communities_already_reported_are_not_repeated(engine: EmbeddedEngine) -> None:
    prior = [Finding("co_admission", 0.9, persons={"r0", "r1", "r2", "r3"})]
    assert find_communities(engine, prior=prior) == []


def test_leiden_is_reproducible_and_separates_cliques() -> None:
    # two 5-cliques joined by one weak edge
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    pairs += [(i + 5, j + 5) for i, j in pairs] + [(0, 5)]
    src, dst = np.array(pairs).T
    w = np.ones(len(pairs))
    w[-1] = 0.1
    a = leiden(10, src, dst, w, settings=LeidenSettings(seed=1))
    b = leiden(10, src, dst, w, settings=LeidenSettings(seed=1))
    assert (a == b).all()
    assert len(set(a[:5])) == 1 and len(set(a[5:])) == 1 and a[0] != a[5]


def _barbell_and_pairs(pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 4-cliques joined by one edge (vertices 0-7), then ``pairs`` separate pairs."""
    clique = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    edges = clique + [(i + 4, j + 4) for i, j in clique] + [(3, 4)]
    edges += [(8 + 2 * k, 9 + 2 * k) for k in range(pairs)]
    src, dst = np.array(edges).T
    return src, dst, np.ones(len(edges))


def test_leiden_skipping_small_components_keeps_the_objective() -> None:
    # Alone (13 edges) the barbell splits into its cliques; beside 100 pairs (113
    # edges) modularity merges it (split wins only while m < 84.5). Leiden run on the
    # barbell alone must see the whole graph's total weight to give the same answer.
    src, dst, w = _barbell_and_pairs(100)
    n = 8 + 200
    full = leiden(n, src, dst, w)
    pruned = leiden(n, src, dst, w, min_size=4)
    assert len(set(full[:8])) == 1, "the whole graph merges the barbell"
    assert (pruned == full).all()
    alone = leiden(8, src[:13], dst[:13], w[:13], min_size=4)
    assert len(set(alone[:4])) == 1 and alone[0] != alone[4], "alone it splits"
    # every pair is a community of its own, numbered after Leiden's
    assert sorted(np.bincount(pruned[8:]).tolist()) == [0] * int(pruned[8:].min()) + [2] * 100
    # self-loops are dropped before Leiden, so they are not part of the weight either
    loops = np.arange(8)
    src, dst, w = np.r_[src, loops], np.r_[dst, loops], np.r_[w, np.ones(8)]
    assert (leiden(n, src, dst, w, min_size=4) == full).all()


def test_leiden_with_only_small_components() -> None:
    src, dst, w = _barbell_and_pairs(3)
    pairs = leiden(6, src[13:] - 8, dst[13:] - 8, w[13:], min_size=4)
    assert pairs.tolist() == [0, 0, 1, 1, 2, 2]
    with_isolated = leiden(14, src[13:], dst[13:], w[13:], min_size=4)  # 0-7 have no edge
    assert with_isolated.tolist() == [*range(8), 8, 8, 9, 9, 10, 10]


def test_partition_keeps_every_community_of_min_size(engine: EmbeddedEngine) -> None:
    from ringfinder.community import detect_communities

    result = detect_communities(engine)
    part = result.partition
    ring = part[part["person_id"].str.startswith("r")]
    family = part[part["person_id"].str.startswith("f")]
    assert ring["community_id"].nunique() == 1 and set(ring["size"]) == {6}
    assert family["community_id"].nunique() == 1 and set(family["size"]) == {4}
    assert ring["community_id"].iloc[0] != family["community_id"].iloc[0]
    # the id is a hash of the sorted members, whatever order Leiden numbered them in
    digest = hashlib.sha256("\x1f".join(sorted(ring["person_id"])).encode()).hexdigest()
    assert ring["community_id"].iloc[0] == "C" + digest[:12].upper()
    assert len(result.findings) == 1  # the family is a community, not a finding
    assert result.settings["objective"] == "modularity"


def test_families_bridged_by_one_ward_pair_are_not_a_ring(engine: EmbeddedEngine) -> None:
    con = engine.con
    # two families of 4 (shared address each); one member of each admitted together twice
    for fam in ("g", "h"):
        for i in range(4):
            con.execute(
                "INSERT INTO persons (person_id, address) VALUES (?, ?)", [f"{fam}{i}", f"ad_{fam}"]
            )
    con.executemany(
        "INSERT INTO claims (claim_id, person_id, provider_id, visit_type, start_time, "
        "total_amount, fund_amount) VALUES (?, ?, 'H3', 'inpatient', ?, 1000, 800)",
        [
            [f"w-{p}-{d}", p, datetime(2025, 3, 1) + timedelta(d)]
            for p in ("g0", "h0")
            for d in (0, 30)
        ],
    )
    found = find_communities(engine)
    assert [f.persons for f in found] == [{f"r{i}" for i in range(6)}]


def test_care_home_taken_out_together_is_not_a_ring(engine: EmbeddedEngine) -> None:
    con = engine.con
    # eight residents of one home (one address, half on the desk phone), admitted together
    home = [f"n{i}" for i in range(8)]
    for i, p in enumerate(home):
        con.execute(
            "INSERT INTO persons (person_id, address, phone) VALUES (?, 'ad_home', ?)",
            [p, "ph_desk" if i % 2 else None],
        )
    con.executemany(
        "INSERT INTO claims (claim_id, person_id, provider_id, visit_type, start_time, "
        "total_amount, fund_amount) VALUES (?, ?, 'H4', 'inpatient', ?, 1000, 800)",
        [[f"n-{p}-{d}", p, datetime(2025, 2, 1) + timedelta(d)] for p in home for d in (0, 60)],
    )
    found = find_communities(engine)
    assert [f.persons for f in found] == [{f"r{i}" for i in range(6)}]
