"""Recruited patients admitted in batches (诱导住院: 包吃包住、车接车送、免费体检).

A hospital (often a small private one) fills its beds with residents of a few
villages, brought in by a recruiter with free board, transport or waived co-payments,
batch after batch. Each stay looks ordinary; the same persons admitted to the same
hospital on the same days, again and again, do not.

Algorithm
---------
1. **Admissions.** Inpatient claims give (hospital, person, admission day) — the day of
   ``start_time``. Only persons with at least ``min_pair_days`` distinct admission days
   at a hospital can share two days with anyone there, so only they are paired.
2. **Pair graph.** Two such persons are tied when admitted to the hospital on the same
   day on ``min_pair_days`` or more distinct days, *and* that is unlikely
   (``chance_p``) given their own admission counts there: under chance the expected
   shared days are ``n_a·n_b·W2``, W2 the chance that two admissions fall on the same
   day when the hospital's admissions spread over its active span by its weekday
   rhythm. (The particular days are not used: where a recruited group is most of a
   small hospital's admissions, its batch days would explain themselves.) Two frequent
   patients of a busy hospital sharing a few days are not tied; two persons admitted
   twice, both times together, are. A tie weighs its surprise ``-log10 P``.
3. **Groups.** Leiden on the whole pair graph (modularity, resolution 1, fixed seed:
   :class:`ringfinder.graph.LeidenSettings`, recorded in the finding); vertices are
   (hospital, person), so a group never spans hospitals, and Leiden never joins
   separate components.
4. **Batches and members, peeled.** Under the null a group's M admission days at its
   hospital fall on days in proportion to the hospital's admissions that day by
   persons outside the community, add-one smoothed over its active span: day d
   expects ``λ_d = M·w_d`` of them. A *batch day* has ``min_batch`` or more members
   admitted together with ``P(Poisson(λ_d) ≥ c_d) ≤ chance_p``. A *member* is
   admitted on ``min_member_batches`` batch days or more, and on more of them than
   chance gives (binomial: the person's admission days against the batch days'
   share of the hospital's rhythm), selected at a false-discovery rate of
   ``chance_p`` (Benjamini–Hochberg) — first among the community (this strips the
   crowd a community picked up in a busy hospital, and the crowd's coincidences with
   it), then among all the hospital's repeat patients, any of whom could have
   coincided with the batches. Repeated until stable; a group needs
   ``min_batch_days`` batch days.
5. **Lockstep against chance.** The surprise is the sum over batch days of
   ``-log10 P(Poisson(λ_d) ≥ c_d)``, less ``log10 C(D, K)`` for choosing which K of
   the hospital's D active days and ``log10 C(R, m)`` for choosing which m of its R
   repeat patients; it must stand beyond chance after Bonferroni over the groups
   examined, or there is no finding.
6. **Recruitment and billing traces**, each a binomial tail against the hospital's other
   inpatients (smoothed towards the city): members concentrated in one residence
   region, or living outside the hospital's region (travel past nearer hospitals) —
   the larger of the two counts, as they measure one thing; stays of one length
   (±``stay_tolerance_days``); one diagnosis category (ICD-10, 3 characters); a fund
   share in the hospital's top quarter.
7. ``strength = 1 - 2^(-S/2)`` of the Bonferroni-adjusted total surprise (the shared
   calibration in :mod:`ringfinder.detectors._common`). Lockstep alone is also what an
   honest scheduled cohort produces (patients on the same chemotherapy cycle or
   rehabilitation course, from all over the city), so without a residence trace of
   at least ``corroborate_surprise`` — or else the whole billing profile the documents
   describe, uniform stays *and* one diagnosis *and* a high fund share, each at that
   level — the strength is capped at ``cohort_cap`` (well below 0.5).

Honest look-alikes: hemodialysis cohorts (chronic outpatients, not admissions);
nursing-home residents taken for check-ups by van (outpatients); an outbreak or
disaster (many admitted on one day, not repeated: nobody shares two days); a big
hospital where crowds coincide by chance (pairs sharing two days are sparse and rarely
close into batches of three on three days; the lockstep test charges the crowd).

Cost: one scan of the claims for inpatient rows, group-bys on (hospital, person, day),
and a self-join per (hospital, day) over *repeat* patients only (two admission days or
more at that hospital): Σ over days of n²/2 pair rows, n the day's repeat patients. It
grows with the square of the daily repeat-patient crowd, not of the daily admissions;
a day with more than ``max_day_crowd`` repeat patients adds no pairs, so a hospital
costs at most ``max_day_crowd²/2`` pair rows a day whatever its size. Groups are
scored on their own members' admissions and their hospitals' day counts and
histograms. Measured on a generated city-year of 3 M persons and 30 M claims (1.5 M
stays, the largest hospital admitting 600 a day, up to 374 repeat patients on one
day: 19 M pair rows): 8 s wall, 10 s of CPU, on two cores shared with other jobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors._common import (
    binom_sf_array,
    binom_surprise,
    fdr_select,
    frame_table,
    lockstep_groups,
    log10_comb,
    log10_poisson_sf_array,
    poisson_sf_array,
    poisson_surprise,
    smoothed_rate,
    strength,
    temp_tables,
    weekday_w2_sql,
)
from ringfinder.detectors.base import Detector
from ringfinder.duck import one
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason
from ringfinder.graph import LeidenSettings

NAME = "co_admission"

MESSAGES = {
    "co_admission.batches": {
        "zh": "{persons}人在{hospital}于{days}个不同日期同日入院({dates}),单日最多{max_batch}人;"
        "按该院收治规律随机出现此类日期的期望为{expected}个",
        "en": "{persons} persons admitted together to {hospital} on {days} separate days "
        "({dates}), up to {max_batch} on one day; chance at this hospital's admission rhythm "
        "gives {expected} such days",
    },
    "co_admission.region": {
        "zh": "{count}/{persons}人居住在同一地区{region}(该院其他住院病人中占{base_pct}%)",
        "en": "{count} of {persons} persons live in one region {region} (of the hospital's "
        "other inpatients {base_pct}%)",
    },
    "co_admission.travel": {
        "zh": "{count}/{persons}人居住在医院所在地区{hospital_region}以外"
        "(该院其他住院病人中占{base_pct}%)",
        "en": "{count} of {persons} persons live outside the hospital's region "
        "{hospital_region} (of its other inpatients {base_pct}%)",
    },
    "co_admission.stays": {
        "zh": "{count}/{stays}次住院时长为{los}±{tol}天(该院其他住院中占{base_pct}%)",
        "en": "{count} of {stays} stays lasted {los}±{tol} days (other stays at the "
        "hospital {base_pct}%)",
    },
    "co_admission.diagnosis": {
        "zh": "{count}/{stays}次住院诊断同为{diagnosis}(该院其他住院中占{base_pct}%)",
        "en": "{count} of {stays} stays share diagnosis {diagnosis} (other stays at the "
        "hospital {base_pct}%)",
    },
    "co_admission.fund": {
        "zh": "{count}/{stays}次住院统筹支付比例不低于{threshold}%(该院其他住院中占{base_pct}%)",
        "en": "{count} of {stays} stays had a fund share of {threshold}% or more (other "
        "stays at the hospital {base_pct}%)",
    },
    "co_admission.cohort": {
        "zh": "成员居住地无集中或异地就医迹象,住院天数、诊断、统筹比例也未同时异常;"
        "同批治疗的正常队列(如化疗周期)也会同日入院,强度上限为{cap}",
        "en": "no residence trace (one region, or travel from elsewhere) and not the "
        "full billing profile (uniform stays, one diagnosis, high fund share); an honest "
        "scheduled cohort (e.g. chemotherapy cycles) is also admitted together, so the "
        "strength is capped at {cap}",
    },
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class Params:
    """Defaults are domain figures (see ``shared/domain/schemes.md`` §1).

    - ``min_batch = 3``: a batch is three or more of the group admitted on one day —
      the documents' 多名参保人员; two could be a couple.
    - ``min_batch_days = 3``: the batches recur — admitted together on three or more
      separate days ("again and again"); one day is an outbreak or a disaster, and two
      can still be a couple's follow-up.
    - ``min_pair_days = 2``: two persons are tied when admitted together on two
      different days; one shared day is chance or an outbreak. Also the least number of
      admissions a person needs at a hospital to be paired at all.
    - ``min_member_batches = 2``: a member comes back in a second batch; a one-off
      admission among a batch is not lockstep.
    - ``max_day_crowd = 500``: beyond 500 repeat patients admitted to one hospital on
      one day the day is institution-wide, not a recruited batch; it adds no pairs
      (bounds the cost) but still counts when a group found on other days is scored.
    - ``chance_p = 0.01``: a tie and a batch day must be beyond what chance gives at
      1 %, given the persons' own admission counts and the hospital's rhythm; members
      are selected at a 1 % false-discovery rate (the same figure as the strength
      calibration's 0.5 point).
    - ``stay_tolerance_days = 1``: stays "of one length" differ by a day at most (the
      hour of admission moves the discharge by a day).
    - ``fund_quantile = 0.75``: "high fund share" means in the hospital's top quarter.
    - ``prior_weight = 20``: a hospital's own shares are smoothed towards the city's
      with the weight of 20 patients, so that a small hospital's handful of other
      patients does not make a share 0 or 1.
    - ``min_rate = 0.01``: shares estimated from the data are floored at 1 %.
    - ``corroborate_surprise = 2`` and ``cohort_cap = 0.3``: without a residence trace
      at a tail probability of 0.01 or less, lockstep is what an honest scheduled
      cohort also shows: weak evidence, kept well below the 0.5 that marks evidence beyond
      honest behaviour (as strong as one unexplained day of settlements after a death).
      Recruits from the hospital's own county leave no residence trace; for them the
      documents' billing profile (short uniform stays, similar diagnoses, high fund
      share: schemes.md §1), all three at that tail probability, corroborates instead.
    - ``half_surprise = 2``: strength 0.5 at a Bonferroni-adjusted tail probability of
      0.01 (shared by ringfinder's statistical detectors).
    - ``leiden``: modularity, resolution 1, fixed seed, iterated until stable.
    """

    min_batch: int = 3
    min_batch_days: int = 3
    min_pair_days: int = 2
    min_member_batches: int = 2
    max_day_crowd: int = 500
    chance_p: float = 0.01
    stay_tolerance_days: int = 1
    fund_quantile: float = 0.75
    prior_weight: float = 20.0
    min_rate: float = 0.01
    corroborate_surprise: float = 2.0
    cohort_cap: float = 0.3
    half_surprise: float = 2.0
    leiden: LeidenSettings = field(default_factory=LeidenSettings)


_ADM = "_rf_co_admission_adm"
_GRP = "_rf_co_admission_grp"
_HOS = "_rf_co_admission_hosp"


_CNT = "_rf_co_admission_counted"

#: Columns of the same-day pair counts (step 2's co-occurrence), as another engine hands them.
PAIR_COLUMNS = ("h", "a", "b", "days")


def run(engine: EmbeddedEngine, params: Params) -> list[Finding]:
    """Co-admission findings (see the module docstring)."""
    with temp_tables(engine, _ADM, _GRP, _HOS):
        return _run(engine, params)


def run_on_pairs(engine: EmbeddedEngine, params: Params, pairs: pd.DataFrame) -> list[Finding]:
    """The detector with step 2's same-day pair counts computed elsewhere.

    ``pairs`` has one row per pair of persons admitted to hospital ``h`` on the same
    day on ``days`` (≥ ``min_pair_days``) distinct days, counted over repeat patients
    and days of at most ``max_day_crowd`` of them (``PAIR_COLUMNS``). The Neo4j engine
    counts them in Cypher (``cypher/detectors/co_admission_pairs``); the chance model,
    the grouping and the scoring run here, as in :func:`run`.
    """
    if pairs.empty:
        return []  # no pair shares days: nothing to group (as in run)
    with temp_tables(engine, _ADM, _GRP, _HOS, _CNT):
        frame_table(engine, _CNT, pairs[list(PAIR_COLUMNS)].astype({"days": "int64"}))
        return _run(engine, params, counted=_CNT)


def _run(engine: EmbeddedEngine, p: Params, counted: str | None = None) -> list[Finding]:
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_ADM} AS
        SELECT claim_id, person_id, provider_id AS h, CAST(start_time AS DATE) AS d,
               date_diff('day', CAST(start_time AS DATE), CAST(end_time AS DATE)) AS los,
               doctor_id, left(diagnosis_code, 3) AS dx,
               CASE WHEN total_amount > 0
                    THEN CAST(round(100 * fund_amount / total_amount) AS INTEGER) END AS fund_pct
        FROM claims WHERE visit_type = 'inpatient'
        """
    )
    pair_counts = (
        f"SELECT h, a, b, days FROM {counted}"
        if counted
        else """SELECT x.h, x.person_id AS a, y.person_id AS b, count(*) AS days
            FROM c x JOIN c y ON x.h = y.h AND x.d = y.d AND x.person_id < y.person_id
            GROUP BY ALL HAVING count(*) >= $k"""
    )
    pairs = engine.sql(
        f"""
        WITH a AS (SELECT DISTINCT h, person_id, d FROM {_ADM}),
        per AS (SELECT h, person_id, count(*) AS n FROM a GROUP BY ALL),
        rep AS (SELECT * FROM per WHERE n >= $k),
        prof AS ({weekday_w2_sql("SELECT h, d, count(*) AS n FROM a GROUP BY ALL", "h")}),
        cand AS (SELECT a.* FROM a SEMI JOIN rep USING (h, person_id)),
        crowd AS (SELECT h, d, count(*) AS n FROM cand GROUP BY ALL
                  HAVING count(*) BETWEEN 2 AND $cap),
        c AS (SELECT cand.* FROM cand SEMI JOIN crowd USING (h, d)),
        pairs AS ({pair_counts})
        SELECT pairs.*, ra.n * rb.n * prof.w2 AS expected
        FROM pairs JOIN rep ra ON ra.h = pairs.h AND ra.person_id = pairs.a
        JOIN rep rb ON rb.h = pairs.h AND rb.person_id = pairs.b
        JOIN prof ON prof.h = pairs.h
        """,
        {"k": p.min_pair_days, "cap": p.max_day_crowd},
    ).df()
    surprise = -log10_poisson_sf_array(pairs["days"].to_numpy(), pairs["expected"].to_numpy())
    pairs = pairs.assign(weight=surprise)[surprise >= -math.log10(p.chance_p)]
    if pairs.empty:
        return []
    pairs = pairs.sort_values(["h", "a", "b"], kind="stable", ignore_index=True)
    ka = pairs["h"] + "\x1f" + pairs["a"]
    kb = pairs["h"] + "\x1f" + pairs["b"]
    codes, keys = pd.factorize(pd.concat([ka, kb], ignore_index=True), sort=True)
    n_e = len(pairs)
    labels = lockstep_groups(
        len(keys),
        codes[:n_e],
        codes[n_e:],
        pairs["weight"].to_numpy(),
        min_size=p.min_batch,
        settings=p.leiden,
    )
    keep = labels >= 0
    if not keep.any():
        return []
    tests = int(labels.max()) + 1  # groups examined (Bonferroni)
    split = pd.Series(keys[keep]).str.split("\x1f", n=1, expand=True)
    grp = pd.DataFrame({"gid": labels[keep], "h": split[0], "person_id": split[1]})
    frame_table(engine, _GRP, grp)
    frame_table(engine, _HOS, pd.DataFrame({"h": sorted(set(grp["h"]))}))
    days, hosp = _rhythm(engine, p)
    ga = engine.sql(f"SELECT g.gid, a.* FROM {_ADM} a JOIN {_GRP} g USING (h, person_id)").df()
    members, batch, comm = _batches(ga, days, hosp, p)
    if members.empty:
        return []
    ga = ga.merge(members, on=["gid", "h", "person_id"])
    ctx = _context(engine)
    ctx["days"], ctx["hosp"], ctx["comm"] = days, hosp, comm
    findings = []
    for gid, rows in ga.groupby("gid", sort=True):
        f = _finding(rows, batch[batch["gid"] == gid], ctx, tests, p)
        if f is not None:
            findings.append(f)
    findings.sort(key=lambda f: (-f.strength, sorted(f.persons)))
    return findings


def _rhythm(engine: EmbeddedEngine, p: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each group hospital's admissions per day, active span and number of repeat patients."""
    days = engine.sql(
        f"""
        SELECT h, d, count(DISTINCT person_id) AS n FROM {_ADM} SEMI JOIN {_HOS} USING (h)
        GROUP BY ALL
        """
    ).df()
    hosp = engine.sql(
        f"""
        WITH a AS (SELECT DISTINCT h, person_id, d FROM {_ADM} SEMI JOIN {_HOS} USING (h)),
        per AS (SELECT h, person_id, count(*) AS k, min(d) AS d0, max(d) AS d1
                FROM a GROUP BY ALL)
        SELECT h, date_diff('day', min(d0), max(d1)) + 1 AS span,
               sum(k) AS total, count(*) FILTER (WHERE k >= $k) AS repeaters
        FROM per GROUP BY h
        """,
        {"k": p.min_pair_days},
    ).df()
    return days, hosp.set_index("h")


def _batches(
    ga: pd.DataFrame, days: pd.DataFrame, hosp: pd.DataFrame, p: Params
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Members and batch days of every group, peeled until stable (vectorised).

    A batch day has ``min_batch`` or more members admitted together, a count their own
    admission rates at the hospital put below ``chance_p`` for that day. A member is
    admitted on ``min_member_batches`` batch days or more, and on more of them than
    chance would put there (binomial: the member's admission days at the hospital
    against the share of the hospital's admissions falling on the batch days), selected
    at a false-discovery rate of ``chance_p`` (Benjamini–Hochberg). Peeling runs twice:
    first among the persons the community brought in (it strips the crowd a large
    community picked up, and with it the crowd's own coincidences), then among every
    repeat patient of the hospital — any of them could have coincided with the batches
    — against the core's batch days.
    The hospital's rhythm is always measured without the whole community's admissions
    (``comm``): persons peeled off do not turn into a crowd that explains the batches.
    Returns the members, the batch days and the community's admissions per day.
    """
    adm = ga[["gid", "h", "person_id", "d"]].drop_duplicates()
    comm = adm.groupby(["gid", "d"]).size().rename("cc").reset_index()
    comm["Mc"] = comm["gid"].map(comm.groupby("gid")["cc"].sum())
    group_h = adm.drop_duplicates("gid").set_index("gid")["h"]
    community = adm.groupby("gid")["person_id"].nunique()
    adm, cnt = _peel(adm, days, hosp, comm, community, p)
    adm, cnt = _peel(adm, days, hosp, comm, group_h.map(hosp["repeaters"]), p)
    members = adm[["gid", "h", "person_id"]].drop_duplicates()
    return members, cnt[cnt["batch"]].drop(columns="batch"), comm


def _peel(
    adm: pd.DataFrame,
    days: pd.DataFrame,
    hosp: pd.DataFrame,
    comm: pd.DataFrame,
    tests: pd.Series,
    p: Params,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop non-members until stable; ``tests``: each group's number of candidates."""
    while True:
        cnt = _day_counts(adm, days, hosp, comm)
        cnt["batch"] = (cnt["c"] >= p.min_batch) & (
            poisson_sf_array(cnt["c"].to_numpy(), cnt["lam"].to_numpy()) <= p.chance_p
        )
        bd = cnt.loc[cnt["batch"], ["gid", "d"]]
        # the share of a member's admissions that chance puts on the group's batch days
        w_batch = (cnt["lam"] / cnt["M"]).where(cnt["batch"], 0.0).groupby(cnt["gid"]).sum()
        per = adm.groupby(["gid", "person_id"]).size().rename("n").reset_index()
        on_b = adm.merge(bd, on=["gid", "d"]).groupby(["gid", "person_id"]).size().rename("b")
        per = per.join(on_b, on=["gid", "person_id"]).fillna({"b": 0})
        per["w"] = per["gid"].map(w_batch).fillna(0.0)
        tail = binom_sf_array(per["b"].to_numpy(), per["n"].to_numpy(), per["w"].to_numpy())
        charge = per["gid"].map(tests).fillna(1).to_numpy()
        per = per.reset_index(drop=True)
        found = fdr_select(per["gid"].to_numpy(), tail, charge, p.chance_p)
        ok = per.loc[found & (per["b"] >= p.min_member_batches), ["gid", "person_id"]]
        n_members = ok.groupby("gid").size()
        n_days = bd.groupby("gid").size().reindex(n_members.index, fill_value=0)
        good = n_members.index[(n_members >= p.min_batch) & (n_days >= p.min_batch_days)]
        new = adm.merge(ok[ok["gid"].isin(good)], on=["gid", "person_id"])
        if len(new) == len(adm):
            return adm, cnt
        adm = new


def _day_counts(
    adm: pd.DataFrame, days: pd.DataFrame, hosp: pd.DataFrame, comm: pd.DataFrame
) -> pd.DataFrame:
    """Per group and day: members admitted ``c`` and the chance expectation ``lam``.

    Under the null a group's M admission days at its hospital fall on days in proportion
    to the hospital's admissions that day by persons outside the community, add-one
    smoothed over its active span.
    """
    cnt = adm.groupby(["gid", "h", "d"]).size().rename("c").reset_index()
    big_m = adm.groupby("gid").size().rename("M")
    cnt = cnt.join(big_m, on="gid").merge(days, on=["h", "d"]).join(hosp, on="h")
    cnt = cnt.merge(comm, on=["gid", "d"], how="left")
    other = (cnt["n"] - cnt["cc"]).clip(lower=0)
    denom = (cnt["total"] - cnt["Mc"] + cnt["span"]).clip(lower=1)
    cnt["lam"] = cnt["M"] * (other + 1.0) / denom
    return cnt


def _context(engine: EmbeddedEngine) -> dict[str, Any]:
    """Per-hospital histograms (all patients; groups subtract their own) and city priors."""
    ctx: dict[str, Any] = {}
    ctx["hospital_region"] = (
        engine.sql(
            f"SELECT institution_id AS h, region_code FROM institutions SEMI JOIN {_HOS} "
            "ON institution_id = h"
        )
        .df()
        .set_index("h")["region_code"]
    )
    ctx["region"] = engine.sql(
        f"""
        WITH pp AS (SELECT DISTINCT h, person_id FROM {_ADM} SEMI JOIN {_HOS} USING (h))
        SELECT pp.h, p.region_code AS region, count(*) AS n
        FROM pp JOIN persons p USING (person_id) GROUP BY ALL
        """
    ).df()
    ctx["city_region"] = (
        engine.sql(
            """
        SELECT region_code AS region, count(*) / sum(count(*)) OVER () AS share
        FROM persons WHERE region_code IS NOT NULL GROUP BY 1
        """
        )
        .df()
        .set_index("region")["share"]
    )
    (away,) = one(
        engine.sql(
            f"""
        WITH pp AS (SELECT DISTINCT h, person_id FROM {_ADM})
        SELECT avg(CASE WHEN p.region_code <> i.region_code THEN 1.0 ELSE 0.0 END)
        FROM pp JOIN persons p USING (person_id) JOIN institutions i ON i.institution_id = pp.h
        WHERE p.region_code IS NOT NULL AND i.region_code IS NOT NULL
        """
        )
    )  # type: ignore[misc]
    ctx["city_away"] = float(away) if away is not None else 0.0
    for col in ("los", "dx", "fund_pct"):
        ctx[col] = engine.sql(
            f"""
            SELECT h, {col} AS v, count(*) AS n FROM {_ADM} SEMI JOIN {_HOS} USING (h)
            WHERE {col} IS NOT NULL GROUP BY ALL
            """
        ).df()
        ctx[f"city_{col}"] = (
            engine.sql(
                f"""
            SELECT {col} AS v, count(*) / sum(count(*)) OVER () AS share FROM {_ADM}
            WHERE {col} IS NOT NULL GROUP BY 1
            """
            )
            .df()
            .set_index("v")["share"]
        )
    persons = engine.sql(
        f"""
        SELECT DISTINCT p.person_id, p.region_code FROM persons p
        SEMI JOIN {_GRP} g ON g.person_id = p.person_id
        """
    ).df()
    ctx["person_region"] = persons.set_index("person_id")["region_code"]
    return ctx


def _others(hist: pd.DataFrame, h: str, own: pd.Series) -> pd.Series:
    """The hospital's histogram less the group's own rows."""
    allh = hist[hist["h"] == h].groupby("v")["n"].sum()
    return allh.sub(own.reindex(allh.index, fill_value=0), fill_value=0).clip(lower=0)


def _finding(
    rows: pd.DataFrame, batch: pd.DataFrame, ctx: dict[str, Any], tests: int, p: Params
) -> Finding | None:
    h = str(rows["h"].iloc[0])
    persons = sorted(set(rows["person_id"]))
    m = len(persons)
    # -- lockstep against the hospital's admission rhythm --------------------------------
    hosp = ctx["hosp"].loc[h]
    span, repeaters = int(hosp["span"]), int(hosp["repeaters"])
    bdays = batch.sort_values("d")
    k_days = len(bdays)
    s_days = sum(
        poisson_surprise(c, lam)
        for c, lam in zip(bdays["c"].to_numpy(), bdays["lam"].to_numpy(), strict=True)
    )
    # charged: which K of the hospital's days, and which m of its repeat patients
    s_lock = float(s_days) - log10_comb(span, k_days) - log10_comb(max(repeaters, m), m)
    big_m = int(rows[["person_id", "d"]].drop_duplicates().shape[0])
    comm = ctx["comm"][ctx["comm"]["gid"] == rows["gid"].iloc[0]]
    expected = _expected_batch_days(ctx["days"], h, comm, big_m, hosp, p)
    if s_lock - math.log10(max(tests, 1)) <= 0:
        return None
    terms: dict[str, float] = {"lockstep": s_lock}
    dates = [d.isoformat() for d in pd.to_datetime(bdays["d"]).dt.date]
    reasons = [
        Reason(
            "co_admission.batches",
            {
                "persons": m,
                "hospital": h,
                "days": k_days,
                "dates": dates if len(dates) <= 12 else [*dates[:12], "…"],
                "max_batch": int(bdays["c"].max()),
                "expected": round(expected, 3),
            },
        )
    ]
    figures: dict[str, Any] = {
        "persons": m,
        "batch_days": dates,
        "batch_sizes": [int(c) for c in bdays["c"].to_numpy()],
        "member_admission_days": big_m,
        "hospital_active_days": span,
        "hospital_repeat_patients": repeaters,
        "expected_batch_days": round(expected, 4),
    }
    # -- residence: one region, or travel from outside the hospital's region ------------
    residence, res_reason = _residence(h, persons, ctx, p)
    if res_reason is not None:
        terms["residence"] = residence
        reasons.append(res_reason)
    # -- the evidence stays ---------------------------------------------------------------
    ev = rows[rows["d"].isin(bdays["d"])]
    for col, term in (("los", "stays"), ("dx", "diagnosis"), ("fund_pct", "fund")):
        s, reason = _billing(col, h, rows, ev, ctx, p)
        if reason is not None:
            terms[term] = s
            reasons.append(reason)
    surprise = float(sum(terms.values()))
    st = strength(surprise, tests, p.half_surprise)
    billing = ("stays", "diagnosis", "fund")
    corroborated = terms.get("residence", 0.0) >= p.corroborate_surprise or all(
        terms.get(t, 0.0) >= p.corroborate_surprise for t in billing
    )
    if not corroborated and st > p.cohort_cap:
        st = p.cohort_cap
        reasons.append(Reason("co_admission.cohort", {"cap": p.cohort_cap}))
    figures.update(
        {
            "surprise": round(surprise, 3),
            "terms": {k: round(v, 3) for k, v in terms.items()},
            "tests": tests,
            "corroborated": corroborated,
            "leiden": p.leiden.record(),
        }
    )
    return Finding(
        NAME,
        st,
        persons=set(persons),
        doctors=set(ev["doctor_id"].dropna()),
        institutions={h},
        claims=set(ev["claim_id"]),
        reasons=reasons,
        figures=figures,
    )


def _expected_batch_days(
    days: pd.DataFrame, h: str, comm: pd.DataFrame, big_m: int, hosp: pd.Series, p: Params
) -> float:
    """Batch days chance gives the group at the hospital (an upper bound)."""
    n = days[days["h"] == h].set_index("d")["n"]
    c = comm.set_index("d")["cc"]
    other = n.sub(c.reindex(n.index, fill_value=0), fill_value=0).clip(lower=0)
    m_comm = float(comm["cc"].sum())
    denom = max(float(hosp["total"]) - m_comm + float(hosp["span"]), 1.0)
    lam = np.concatenate(
        [
            big_m * (other.to_numpy(dtype=float) + 1) / denom,
            np.full(max(int(hosp["span"]) - len(n), 0), big_m / denom),
        ]
    )
    tail = poisson_sf_array(np.full(len(lam), p.min_batch), lam)
    return float(np.minimum(tail, p.chance_p).sum())


def _residence(
    h: str, persons: list[str], ctx: dict[str, Any], p: Params
) -> tuple[float, Reason | None]:
    regions = ctx["person_region"].reindex(persons).dropna()
    if regions.empty:
        return 0.0, None
    m = len(regions)
    hist = ctx["region"].rename(columns={"region": "v"})
    others = _others(hist.dropna(subset=["v"]), h, regions.value_counts())
    total = float(others.sum())
    counts = regions.value_counts().sort_index(kind="stable")
    top = str(counts.sort_values(ascending=False, kind="stable").index[0])
    x = int(counts[top])
    q = smoothed_rate(
        float(others.get(top, 0.0)),
        total,
        float(ctx["city_region"].get(top, 0.0)),
        p.prior_weight,
        p.min_rate,
    )
    s_region = binom_surprise(x, m, q) - math.log10(len(counts))
    best: tuple[float, Reason | None] = (0.0, None)
    if s_region > 0:
        best = (
            s_region,
            Reason(
                "co_admission.region",
                {"count": x, "persons": m, "region": top, "base_pct": round(100 * q, 1)},
            ),
        )
    hreg = ctx["hospital_region"].get(h)
    if hreg is not None and not pd.isna(hreg):
        away = int((regions != hreg).sum())
        o_away = float(others[others.index != hreg].sum())
        qa = smoothed_rate(o_away, total, ctx["city_away"], p.prior_weight, p.min_rate)
        s_travel = binom_surprise(away, m, qa)
        if s_travel > best[0]:
            best = (
                s_travel,
                Reason(
                    "co_admission.travel",
                    {
                        "count": away,
                        "persons": m,
                        "hospital_region": str(hreg),
                        "base_pct": round(100 * qa, 1),
                    },
                ),
            )
    return best


def _billing(
    col: str, h: str, rows: pd.DataFrame, ev: pd.DataFrame, ctx: dict[str, Any], p: Params
) -> tuple[float, Reason | None]:
    """One billing trace of the evidence stays against the hospital's other stays."""
    vals = ev[col].dropna()
    if vals.empty:
        return 0.0, None
    others = _others(ctx[col], h, rows[col].dropna().value_counts())
    total = float(others.sum())
    city = ctx[f"city_{col}"]
    n = len(vals)
    if col == "los":
        tol = p.stay_tolerance_days
        mode = int(vals.value_counts().sort_index().idxmax())
        x = int(((vals - mode).abs() <= tol).sum())
        near = (others.index.to_series() - mode).abs() <= tol
        cnear = (city.index.to_series() - mode).abs() <= tol
        q = smoothed_rate(
            float(others[near].sum()), total, float(city[cnear].sum()), p.prior_weight, p.min_rate
        )
        s = binom_surprise(x, n, q) - math.log10(vals.nunique())
        figs = {"count": x, "stays": n, "los": mode, "tol": tol}
        code = "co_admission.stays"
    elif col == "dx":
        counts = vals.value_counts().sort_index()
        mode = str(counts.idxmax())
        x = int(counts[mode])
        q = smoothed_rate(
            float(others.get(mode, 0.0)),
            total,
            float(city.get(mode, 0.0)),
            p.prior_weight,
            p.min_rate,
        )
        s = binom_surprise(x, n, q) - math.log10(len(counts))
        figs = {"count": x, "stays": n, "diagnosis": mode}
        code = "co_admission.diagnosis"
    else:
        if total <= 0:
            return 0.0, None
        cum = others.sort_index().cumsum() / total
        threshold = int(cum.index[np.searchsorted(cum.to_numpy(), p.fund_quantile)])
        x = int((vals >= threshold).sum())
        q = smoothed_rate(
            float(others[others.index >= threshold].sum()),
            total,
            float(city[city.index >= threshold].sum()),
            p.prior_weight,
            p.min_rate,
        )
        s = binom_surprise(x, n, q)
        figs = {"count": x, "stays": n, "threshold": threshold}
        code = "co_admission.fund"
    if s <= 0:
        return 0.0, None
    return s, Reason(code, {**figs, "base_pct": round(100 * q, 1)})


DETECTOR = Detector(
    name=NAME,
    requires=("claims",),
    params_type=Params,
    run_embedded=run,
    summary="诱导住院: the same persons admitted together to one hospital on several days",
    uses=("persons", "institutions"),
)
