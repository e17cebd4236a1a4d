"""Referral loops and split stays (转诊, 分解住院, 重复住院).

Institutions that pass the same patients round among themselves (A → B → A → B, or
A → B → C → A), each hop a referral and a fresh admission within days, bill one
illness as many stays. One referral is ordinary; the same patients going round the
same small set of institutions is not.

Algorithm
---------
1. **Loop instances, per patient.** A referral that brings a patient back to an
   institution that referred them away within ``loop_days`` closes a loop: its legs are
   the patient's referrals from that departure to this return. A loop whose legs form a
   simple cycle of 2 to ``max_cycle`` institutions is keyed by that cycle (its set of
   directed edges), so the same cycle travelled by different patients, or by one
   patient again, has the same key.
2. **What honest patients do.** A single return along a 2-cycle (referred up, then
   back for rehabilitation) is ordinary. A patient is *cycling* on a cycle when they
   travel it twice or more, or travel a cycle of three or more institutions (passed
   round, not sent back). Upward chains (village clinic → county → city → provincial)
   close no loop at all.
3. **Rings.** Cycles travelled by ``min_patients`` or more cycling patients are
   candidates. This is simple-cycle enumeration (length ≤ ``max_cycle``) on the
   referral graph pruned to edges carrying ``min_patients`` of the same patients, read
   off the patients' own walks instead of enumerated from the graph: enumeration on a
   pruned edge graph would also return cycles whose edges carry *different* patients.
   Candidates that share cycling patients are joined (connected components of the
   cycle–patient graph, igraph): one ring may run several cycles.
4. **Evidence against honest flows.** The ring's cycling patients are compared with all
   patients referred along any of its edges, times the share of cycling patients among
   all other referred patients in the city (binomial tail): a county–city pair with
   hundreds of honest rehabilitation returns has many patients and only the expected
   few cycling ones. A second term counts the ring's loop referrals followed by an
   inpatient admission at the receiving institution within ``readmit_days`` against the
   same share among all referrals (split stays). The ring's edges are also compared with
   the degree-based expectation (out-degree × in-degree / all referrals), reported as a
   figure but not scored: honest rehabilitation pairs exceed it too.
5. Surprises (−log10 tails) add up; the number of candidate cycles is charged once
   (Bonferroni); ``strength = 1 − 2^(−S/2)``, 0.5 at an adjusted p of 0.01 (the shared
   calibration in :mod:`ringfinder.detectors._common`).

Members: the cycling patients (persons, defining), the cycle's institutions and the
referring doctors of the loop referrals. Evidence: the patients' inpatient claims at
those institutions from ``readmit_days`` before their first loop referral to
``readmit_days`` after their last (referral ids are listed in the figures, not as
claims). When ``institutions`` is loaded, the ring institutions' ownership and level
are reported as a figure.

Honest look-alikes: upward chains close no loop; a single rehabilitation return is
not cycling, and a county–city pair with many of them has a large base. Not covered:
scheduled treatment referred afresh each cycle (chemotherapy courses where every
cycle needs a new referral) is repeated cycling by this definition, and a hub pair
whose patients mostly do that is flagged; diagnoses would separate it and are not
used yet.

Cost: the self-join of referrals is per patient and bounded by ``loop_days``
(O(referrals × a patient's referrals in the window)); the rest are group-bys over loop
legs. Busy honest hubs add rows to those group-bys, never pairs of patients. The graph
is over candidate cycles and their patients only; per-ring figures are batched (one
query per question over all rings). A synthetic city-year (1.8 M referrals, 30 M
claims) took 3–8 s on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors._common import binom_surprise, strength
from ringfinder.detectors.base import Detector
from ringfinder.duck import one
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason

NAME = "referral_loop"

MESSAGES = {
    "referral_loop.ring": {
        "zh": "{patients}名患者在{institutions}家机构间被反复转诊(共{loops}次转回曾转出的机构),"
        "这些机构间转诊的{entered}名患者中按全市比例应只有{expected}名",
        "en": "{patients} patients were passed round {institutions} institutions ({loops} "
        "referrals back to an institution they had left), where {expected} of the "
        "{entered} patients referred along these routes would be expected to cycle",
    },
    "referral_loop.cycle": {
        "zh": "转诊环 {cycle}:{patients}名患者,环上转诊{referrals}次",
        "en": "referral cycle {cycle}: {patients} patients, {referrals} referrals along it",
    },
    "referral_loop.readmit": {
        "zh": "{quick}/{legs}次回转转诊后{days}天内即在接收机构再次入院(全市比例{base_pct}%),"
        "住院天数中位{stay}天",
        "en": "{quick} of {legs} loop referrals were followed by admission at the receiving "
        "institution within {days} days (city-wide {base_pct}%), median stay {stay} days",
    },
    "referral_loop.reciprocity": {
        "zh": "环上各转诊方向共{observed}人次,按机构转出/转入量预期{expected}人次",
        "en": "the loop's referral routes carry {observed} patients where out/in-degree "
        "predicts {expected}",
    },
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class Params:
    """Defaults are domain figures (see ``shared/domain/schemes.md``).

    - ``loop_days = 90``: a return within a quarter belongs to the same episode (the
      usual rehabilitation return follows an acute stay within weeks); a patient
      treated again next year starts a new episode.
    - ``max_cycle = 4``: the documents' loops are A → B → A and A → B → C → A; four
      institutions bound the search (cycle enumeration grows with its length).
    - ``min_patients = 3``: a ring moves a group of patients; one or two patients on
      the same loop are a clinical story, not a pattern.
    - ``readmit_days = 15``: the window in which a discharge followed by a new
      admission is screened as a possible split stay (分解住院). The campaign documents
      define the scheme but give no window; 15 days is our choice, between the
      same-or-next-day transfer and the 30-day readmission measure.
    - ``min_rate = 0.01``: shares estimated from the data are floored at 1 %, so that a
      clean city cannot make one coincidence infinitely surprising.
    - ``half_surprise = 2``: strength 0.5 at a Bonferroni-adjusted tail probability of
      0.01 (shared by ringfinder's statistical detectors).
    """

    loop_days: int = 90
    max_cycle: int = 4
    min_patients: int = 3
    readmit_days: int = 15
    min_rate: float = 0.01
    half_surprise: float = 2.0


_LEGS = "_rf_referral_loop_legs"  # legs of loop instances that form simple cycles
_RING = "_rf_referral_loop_ring"  # legs of the candidate rings' cycling patients


def _build(engine: EmbeddedEngine, p: Params) -> None:
    """Loop instances whose legs form a simple cycle, one row per leg."""
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_LEGS} AS
        WITH r AS (
            SELECT referral_id, person_id AS pid, from_provider_id AS f,
                   to_provider_id AS t, referral_date AS d, doctor_id
            FROM referrals WHERE from_provider_id <> to_provider_id
        ), ret AS (
            SELECT r2.referral_id AS inst, r2.pid, r2.d AS d2, max(r1.d) AS d1
            FROM r r2 JOIN r r1
              ON r1.pid = r2.pid AND r1.f = r2.t AND r1.d < r2.d
             AND r1.d >= r2.d - CAST($loop_days AS INTEGER)
            GROUP BY ALL
        ), legs AS (
            SELECT ret.inst, ret.pid, l.referral_id, l.f, l.t, l.d, l.doctor_id
            FROM ret JOIN r l ON l.pid = ret.pid AND l.d BETWEEN ret.d1 AND ret.d2
        ), inst AS (
            SELECT inst, count(*) AS len,
                   list_sort(list(f || chr(31) || t)) AS edges,
                   list_sort(list_distinct(list(f))) AS fs,
                   list_sort(list_distinct(list(t))) AS ts
            FROM legs GROUP BY inst
        )
        SELECT legs.*, inst.len, array_to_string(inst.edges, chr(30)) AS cycle
        FROM legs JOIN inst USING (inst)
        WHERE inst.len BETWEEN 2 AND $max_cycle
          AND len(inst.fs) = inst.len AND len(inst.ts) = inst.len AND inst.fs = inst.ts
        """,
        {"loop_days": p.loop_days, "max_cycle": p.max_cycle},
    )


def run(engine: EmbeddedEngine, params: Params) -> list[Finding]:
    """Referral-loop findings (see the module docstring)."""
    p = params
    _build(engine, p)
    try:
        return _findings(engine, p)
    finally:
        engine.sql(f"DROP TABLE IF EXISTS {_LEGS}")
        engine.sql(f"DROP TABLE IF EXISTS {_RING}")


#: Columns of the loop-instance legs (step 1), as another engine hands them over.
LEG_COLUMNS = ("inst", "pid", "referral_id", "f", "t", "d", "doctor_id", "len", "cycle")


def run_on_legs(engine: EmbeddedEngine, params: Params, legs: pd.DataFrame) -> list[Finding]:
    """Steps 2–5 on loop instances computed elsewhere (one row per leg, ``LEG_COLUMNS``).

    The Neo4j engine computes step 1 in Cypher (``cypher/detectors/referral_loop_legs``)
    and scores the rows here, on the tables it pulled into ``engine``: one definition of
    the scoring, whichever store found the loops.
    """
    if legs.empty:
        return []  # no loop instance (as in run)
    view = f"{_LEGS}__frame"
    engine.con.register(view, legs[list(LEG_COLUMNS)])
    try:
        engine.sql(
            f"""CREATE OR REPLACE TEMP TABLE {_LEGS} AS
                SELECT CAST(inst AS VARCHAR) AS inst, CAST(pid AS VARCHAR) AS pid,
                       CAST(referral_id AS VARCHAR) AS referral_id, CAST(f AS VARCHAR) AS f,
                       CAST(t AS VARCHAR) AS t, CAST(d AS DATE) AS d,
                       CAST(doctor_id AS VARCHAR) AS doctor_id, CAST(len AS BIGINT) AS len,
                       CAST(cycle AS VARCHAR) AS cycle
                FROM {view}"""
        )
    finally:
        engine.con.unregister(view)
    try:
        return _findings(engine, params)
    finally:
        engine.sql(f"DROP TABLE IF EXISTS {_LEGS}")
        engine.sql(f"DROP TABLE IF EXISTS {_RING}")


def _findings(engine: EmbeddedEngine, p: Params) -> list[Finding]:
    # per (patient, cycle): how often travelled; cycling = twice or more, or 3+ places
    pc = engine.sql(
        f"""
        SELECT pid, cycle, any_value(len) AS len, count(DISTINCT inst) AS loops,
               count(DISTINCT inst) >= 2 OR any_value(len) >= 3 AS cycling
        FROM {_LEGS} GROUP BY pid, cycle
        """
    ).df()
    if pc.empty:
        return []
    cycling = pc[pc["cycling"]]
    per_cycle = cycling.groupby("cycle")["pid"].nunique()
    candidates = per_cycle[per_cycle >= p.min_patients].index
    if len(candidates) == 0:
        return []
    cand = cycling[cycling["cycle"].isin(candidates)]

    # cycles sharing cycling patients are one ring (components of cycle–patient graph)
    codes, _names = pd.factorize(pd.concat(["c\x1f" + cand["cycle"], "p\x1f" + cand["pid"]]))
    n = len(cand)
    g = ig.Graph(n=int(codes.max()) + 1, edges=np.column_stack([codes[:n], codes[n:]]).tolist())
    cand = cand.assign(ring=np.asarray(g.connected_components().membership)[codes[:n]])

    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_RING} AS
        SELECT DISTINCT r.ring, l.pid, l.referral_id, l.f, l.t, l.d, l.doctor_id, l.cycle
        FROM {_LEGS} l
        JOIN (SELECT unnest($ring) AS ring, unnest($pid) AS pid, unnest($cycle) AS cycle) r
          USING (pid, cycle)
        """,
        {
            "ring": cand["ring"].tolist(),
            "pid": cand["pid"].tolist(),
            "cycle": cand["cycle"].tolist(),
        },
    )
    ctx = _context(engine, p)
    all_cycling = set(cycling["pid"])
    findings = [
        _finding(ring_id, ring, ctx, all_cycling, p)
        for ring_id, ring in cand.groupby("ring", sort=True)
    ]
    for f in findings:
        f.strength = strength(f.figures["surprise"], len(candidates), p.half_surprise)
    findings.sort(key=lambda f: -f.strength)
    return findings


def _context(engine: EmbeddedEngine, p: Params) -> dict[str, Any]:
    """Everything the rings need, one query per question over all rings at once."""
    ctx: dict[str, Any] = {}
    ctx["legs"] = engine.sql(f"SELECT * FROM {_RING}").df()
    ctx["referred"], ctx["routes"] = one(
        engine.sql(
            """SELECT count(DISTINCT person_id),
                  count(DISTINCT (person_id, from_provider_id, to_provider_id))
           FROM referrals"""
        )
    )  # type: ignore[misc]
    # patients referred along each ring's edges, and the edges' degree expectation
    ctx["entered"] = (
        engine.sql(
            f"""
            WITH e AS (SELECT DISTINCT ring, f, t FROM {_RING})
            SELECT e.ring, count(DISTINCT r.person_id) AS n
            FROM referrals r JOIN e ON r.from_provider_id = e.f AND r.to_provider_id = e.t
            GROUP BY e.ring
            """
        )
        .df()
        .set_index("ring")["n"]
    )
    ctx["flows"] = engine.sql(
        f"""
        WITH e AS (SELECT DISTINCT ring, f, t FROM {_RING}),
        nodes AS (SELECT f AS inst FROM e UNION SELECT t FROM e),
        deg_out AS (SELECT from_provider_id AS f, count(DISTINCT person_id) AS n
                    FROM referrals SEMI JOIN nodes ON from_provider_id = nodes.inst GROUP BY 1),
        deg_in AS (SELECT to_provider_id AS t, count(DISTINCT person_id) AS n
                   FROM referrals SEMI JOIN nodes ON to_provider_id = nodes.inst GROUP BY 1),
        w AS (SELECT from_provider_id AS f, to_provider_id AS t,
                     count(DISTINCT person_id) AS n
              FROM referrals SEMI JOIN e ON from_provider_id = e.f AND to_provider_id = e.t
              GROUP BY ALL)
        SELECT e.ring, w.n AS observed, deg_out.n * deg_in.n AS degree_product
        FROM e JOIN w USING (f, t) JOIN deg_out USING (f) JOIN deg_in USING (t)
        """
    ).df()
    # split stays: the admission at the receiver within days of each loop referral
    ctx["stays"] = engine.sql(
        f"""
        SELECT l.ring, l.referral_id, min(c.start_time) AS admitted,
               min(date_diff('day', CAST(c.start_time AS DATE), CAST(c.end_time AS DATE)))
                   AS stay
        FROM {_RING} l JOIN claims c
          ON c.person_id = l.pid AND c.provider_id = l.t AND c.visit_type = 'inpatient'
         AND CAST(c.start_time AS DATE) BETWEEN l.d AND l.d + CAST($days AS INTEGER)
        GROUP BY l.ring, l.referral_id
        """,
        {"days": p.readmit_days},
    ).df()
    ctx["base_quick"] = _quick_share(engine, p)
    # evidence: the patients' inpatient claims at the ring's institutions around the loops
    ctx["evidence"] = engine.sql(
        f"""
        WITH s AS (SELECT ring, pid, min(d) AS lo, max(d) AS hi FROM {_RING} GROUP BY ALL),
        i AS (SELECT ring, f AS provider_id FROM {_RING} UNION SELECT ring, t FROM {_RING})
        SELECT DISTINCT s.ring, c.claim_id
        FROM claims c JOIN s ON c.person_id = s.pid
        JOIN i ON i.ring = s.ring AND i.provider_id = c.provider_id
        WHERE c.visit_type = 'inpatient'
          AND CAST(c.start_time AS DATE)
              BETWEEN s.lo - CAST($days AS INTEGER) AND s.hi + CAST($days AS INTEGER)
        """,
        {"days": p.readmit_days},
    ).df()
    # who the institutions are (level, ownership), when the institutions table has them
    ctx["kinds"] = (
        engine.sql(
            f"""
        WITH i AS (SELECT f AS inst FROM {_RING} UNION SELECT t FROM {_RING})
        SELECT i.inst, coalesce(n.ownership, '?') || '/' || coalesce(n.level, '?') AS kind
        FROM i LEFT JOIN institutions n ON n.institution_id = i.inst
        """
        )
        .df()
        .set_index("inst")["kind"]
    )
    return ctx


def _quick_share(engine: EmbeddedEngine, p: Params) -> float:
    """Share of all referrals followed by an admission at the receiver within the window."""
    row = one(
        engine.sql(
            """
        SELECT avg(CASE WHEN EXISTS (
                   SELECT 1 FROM claims c WHERE c.person_id = r.person_id
                   AND c.provider_id = r.to_provider_id AND c.visit_type = 'inpatient'
                   AND CAST(c.start_time AS DATE) BETWEEN r.referral_date
                       AND r.referral_date + CAST($days AS INTEGER)) THEN 1.0 ELSE 0.0 END)
        FROM referrals r
        """,
            {"days": p.readmit_days},
        )
    )
    return float(row[0]) if row and row[0] is not None else 0.5


def _finding(
    ring_id: int,
    ring: pd.DataFrame,
    ctx: dict[str, Any],
    all_cycling: set[str],
    p: Params,
) -> Finding:
    patients = sorted(set(ring["pid"]))
    cycles = sorted(set(ring["cycle"]))
    legs = ctx["legs"][ctx["legs"]["ring"] == ring_id]
    institutions = set(legs["f"]) | set(legs["t"])
    loops = int(ring["loops"].sum())

    # cycling patients against everyone referred along the ring's edges
    entered = int(ctx["entered"].get(ring_id, len(patients)))
    others_cycling = len(all_cycling - set(patients))
    q = max(others_cycling / max(int(ctx["referred"]) - entered, 1), p.min_rate)
    terms = {"cycling": binom_surprise(len(patients), entered, q)}
    reasons = [
        Reason(
            "referral_loop.ring",
            {
                "patients": len(patients),
                "institutions": len(institutions),
                "loops": loops,
                "entered": entered,
                "expected": round(entered * q, 1),
            },
        )
    ]
    for cyc, grp in ring.groupby("cycle", sort=True):
        seq = _cycle_path(legs[legs["cycle"] == cyc])
        reasons.append(
            Reason(
                "referral_loop.cycle",
                {
                    "cycle": " → ".join(seq),
                    "patients": grp["pid"].nunique(),
                    "referrals": int(legs.loc[legs["cycle"] == cyc, "referral_id"].nunique()),
                },
            )
        )

    # split stays: loop referrals followed by an admission within days
    stays = ctx["stays"][ctx["stays"]["ring"] == ring_id]
    n_legs = int(legs["referral_id"].nunique())
    quick = int(stays["referral_id"].nunique())
    qb = min(max(float(ctx["base_quick"]), p.min_rate), 1 - p.min_rate)
    s = binom_surprise(quick, n_legs, qb)
    if s > 0:
        terms["readmit"] = s
    if quick:
        reasons.append(
            Reason(
                "referral_loop.readmit",
                {
                    "quick": quick,
                    "legs": n_legs,
                    "days": p.readmit_days,
                    "base_pct": round(100 * qb, 1),
                    "stay": float(stays["stay"].dropna().median()),
                },
            )
        )
    # the degree-based expectation of the ring's routes (a figure, not scored)
    flows = ctx["flows"][ctx["flows"]["ring"] == ring_id]
    observed = int(flows["observed"].sum())
    expected = float(flows["degree_product"].sum()) / max(int(ctx["routes"]), 1)
    reasons.append(
        Reason("referral_loop.reciprocity", {"observed": observed, "expected": round(expected, 1)})
    )
    kinds = ctx["kinds"].reindex(sorted(institutions)).value_counts()
    surprise = float(sum(terms.values()))
    return Finding(
        NAME,
        0.0,
        persons=set(patients),
        institutions=institutions,
        doctors=set(legs["doctor_id"].dropna()),
        claims=set(ctx["evidence"].loc[ctx["evidence"]["ring"] == ring_id, "claim_id"]),
        reasons=reasons,
        figures={
            "surprise": round(surprise, 3),
            "terms": {k: round(v, 3) for k, v in terms.items()},
            "cycles": len(cycles),
            "loops": loops,
            "entered": entered,
            "loop_referrals": sorted(legs["referral_id"].unique()),
            "degree_expected": round(expected, 2),
            "observed_on_routes": observed,
            "institution_kinds": {str(k): int(v) for k, v in kinds.items()},
        },
    )


def _cycle_path(legs: pd.DataFrame) -> list[str]:
    """The institutions of one cycle in travel order, from its smallest id."""
    nxt = dict(zip(legs["f"], legs["t"], strict=False))
    start = min(nxt)
    path = [start]
    while nxt.get(path[-1], start) != start and len(path) < len(nxt):
        path.append(nxt[path[-1]])
    return [*path, start]


DETECTOR = Detector(
    name=NAME,
    requires=("referrals", "claims"),
    params_type=Params,
    run_embedded=run,
    summary="转诊/分解住院: the same patients passed round a small cycle of institutions",
    uses=("institutions",),
)
