"""The detectors' stage entry points (used by the Neo4j engine) score like the whole detector.

``referral_loop.run_on_legs``, ``co_admission.run_on_pairs`` and
``fake_invoice.run_on_frames`` take the graph-side stage's rows from elsewhere (Cypher on
the Neo4j engine); fed the rows the embedded SQL computes, in another order, they must
give exactly :func:`run`'s findings. The Neo4j side of the same equality is
tests/test_neo4j_parity.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from ringfinder.detectors import co_admission, fake_invoice, referral_loop
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding


@pytest.fixture(scope="module")
def engine(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedEngine]:
    from ringfinder.load import load_folder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        eng = EmbeddedEngine(tmp_path_factory.mktemp("stages"))
        load_folder(eng.con, small_city)
    yield eng
    eng.close()


def same(a: list[Finding], b: list[Finding]) -> None:
    assert [(f.pattern, f.strength, f.persons, f.claims, f.reasons) for f in a] == [
        (f.pattern, f.strength, f.persons, f.claims, f.reasons) for f in b
    ]


def test_referral_loop_on_given_legs_equals_run(engine: EmbeddedEngine) -> None:
    p = referral_loop.Params()
    referral_loop._build(engine, p)
    legs = engine.sql(f"SELECT * FROM {referral_loop._LEGS}").df()
    engine.sql(f"DROP TABLE {referral_loop._LEGS}")
    assert set(legs.columns) == set(referral_loop.LEG_COLUMNS)
    want = referral_loop.run(engine, p)
    assert want
    same(referral_loop.run_on_legs(engine, p, legs.sample(frac=1.0, random_state=3)), want)
    assert referral_loop.run_on_legs(engine, p, legs.iloc[:0]) == []


def test_co_admission_on_given_pairs_equals_run(engine: EmbeddedEngine) -> None:
    p = co_admission.Params()
    pairs = engine.sql(
        """
        WITH a AS (SELECT DISTINCT provider_id AS h, person_id, CAST(start_time AS DATE) AS d
                   FROM claims WHERE visit_type = 'inpatient'),
        rep AS (SELECT h, person_id FROM a GROUP BY ALL HAVING count(*) >= $k),
        cand AS (SELECT a.* FROM a SEMI JOIN rep USING (h, person_id)),
        crowd AS (SELECT h, d FROM cand GROUP BY ALL HAVING count(*) BETWEEN 2 AND $cap),
        c AS (SELECT cand.* FROM cand SEMI JOIN crowd USING (h, d))
        SELECT x.h, x.person_id AS a, y.person_id AS b, count(*) AS days
        FROM c x JOIN c y ON x.h = y.h AND x.d = y.d AND x.person_id < y.person_id
        GROUP BY ALL HAVING count(*) >= $k
        """,
        {"k": p.min_pair_days, "cap": p.max_day_crowd},
    ).df()
    want = co_admission.run(engine, p)
    assert want
    shuffled = pairs.sample(frac=1.0, random_state=3)
    same(co_admission.run_on_pairs(engine, p, shuffled), want)
    assert co_admission.run_on_pairs(engine, p, pd.DataFrame(columns=["h", "a", "b", "days"])) == []


def cypher_like_rows(engine: EmbeddedEngine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fake_invoice's rows as its Cypher stage gives them: dates as text, the invoices
    before their series, in another order."""
    p = fake_invoice.Params()
    reim = fake_invoice._reimbursements(engine)
    inv = fake_invoice._invoices(engine, p, True)
    reim = reim.assign(d=reim["d"].dt.strftime("%Y-%m-%d"))
    inv = inv[["invoice_id", "rid", "issuer_id", "issue_date", "referred"]]
    inv = inv.assign(issue_date=inv["issue_date"].dt.strftime("%Y-%m-%d"))
    return reim.sample(frac=1.0, random_state=5), inv.sample(frac=1.0, random_state=6)


def test_fake_invoice_on_given_rows_equals_run(engine: EmbeddedEngine) -> None:
    p = fake_invoice.Params()
    want = fake_invoice.run(engine, p)
    assert want
    reim, inv = cypher_like_rows(engine)
    have_r, have_i = fake_invoice.frames_from_rows(reim, inv, p)
    same(fake_invoice.run_on_frames(p, have_r, have_i, True), want)
    # the frames themselves: same values and types as the workspace's
    want_r = fake_invoice._reimbursements(engine)
    want_i = fake_invoice._invoices(engine, p, True)
    pd.testing.assert_frame_equal(
        have_r.sort_values("rid", ignore_index=True), want_r.sort_values("rid", ignore_index=True)
    )
    pd.testing.assert_frame_equal(
        have_i.sort_values("invoice_id", ignore_index=True),
        want_i.sort_values("invoice_id", ignore_index=True),
    )
    assert fake_invoice.run_on_frames(p, reim.iloc[:0], inv.iloc[:0], True) == []
