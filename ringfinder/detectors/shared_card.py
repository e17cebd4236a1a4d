"""Retained, borrowed and stolen cards (留存医保卡, 冒名就医, 盗刷, 代刷).

A clinic or pharmacy keeps its patients' cards (or collects them) and swipes them
itself, in bursts, again and again; cards of the dead and cards reported lost keep
being settled. Each settlement looks ordinary; the same cards settled minutes apart
on one terminal burst after burst, at hours the provider does not work, for holders
who live elsewhere, do not.

Algorithm
---------
A. **Bursts of the same cards.**

1. *Streams.* Card settlements per terminal (``terminal_id``; the provider itself when
   the terminal is not recorded), on hashed integer keys. One sort per terminal keeps
   only settlements lying in a run of ``min_burst`` consecutive settlements that spans
   ``(min_burst-1)·burst_minutes`` or less — exactly those that can belong to a burst
   — and drops those in a crowd of more than ``max_window_crowd`` within
   ``burst_minutes`` (the cost bound). Only cards left on ``min_pair_bursts`` distinct
   days of a terminal can recur with anyone there; only they are paired.
2. *Pair graph.* A burst is the unit. The terminal's settlements (all of them, honest
   customers too) are cut into *sessions* where two follow each other by more than
   ``burst_minutes`` — the cut step 4 applies to a group. Two such cards are tied when
   settled in the same session of the terminal on ``min_pair_bursts`` or more
   distinct days: a collector swiping a stack of cards one every few minutes for an
   hour or two, in a new order each time, puts every two of them in one session,
   though rarely within ``burst_minutes`` of each other twice. A session of more than
   ``max_session`` settlements is a busy terminal, not a burst (a pharmacy serving a
   customer every few minutes is one session all day): there two cards are tied only
   when settled within ``burst_minutes`` of each other. The tie must be unlikely given
   each card's own settlements there: chance expects ``n_a·n_b·Σ_day p_day²·tie(n_day)``.
   The terminal's settlements spread over its active span by its weekday rhythm
   (``p_day``; ``Σ p_day²`` is W2, the chance that two of them fall on the same day)
   and within a day evenly over its working day — ``working_hours``, or fewer where
   its hour-of-day rhythm over the year concentrates them (``1 / Σ_h share_h²``, the
   same measure for hours as W2 for days); ``tie(n)`` is the chance that two of the
   ``n`` settlements of such a day are tied as above (same session of at most
   ``max_session``, or within ``burst_minutes``), from the gaps of ``n`` uniform
   points: about ``2·burst_minutes / hours`` on a quiet day, as for the 10-minute
   window, and more on a busy one, where sessions are long. (A terminal's particular
   days, minutes and sessions are not used: where retained cards are most of a
   terminal's traffic, their bursts would explain themselves.) Ties are kept at
   ``P ≤ chance_p`` and at a false-discovery rate of ``chance_p`` among all pairs of
   the terminal's repeat cards (Benjamini–Hochberg): a busy terminal has millions of
   such pairs, and some tie by chance. A tie weighs its surprise ``-log10 P``.
3. *Groups.* Leiden on the whole graph (modularity, resolution 1, fixed seed:
   :class:`ringfinder.graph.LeidenSettings`); vertices are (provider, card), so a
   group never spans providers, and Leiden never joins separate components.
4. *Bursts.* A group's settlements on a terminal, cut where two follow each other by
   more than ``burst_minutes`` — only the group's own settlements, so honest
   customers in between do not matter. A *batch burst* holds cards of ``min_burst``
   or more households (holders at one address are one household: a family buying
   together is not a ring) and is beyond chance: under the null the group's
   settlements on the terminal fall in time like the terminal's settlements by cards
   outside the community (smoothed by one settlement spread over its active days), so
   a burst's window, widened by ``burst_minutes`` each side, expects ``λ_b``;
   ``P(Poisson(λ_b) ≥ households) ≤ chance_p``. Members are cards in
   ``min_member_bursts`` batch bursts or more, beyond chance (binomial against the
   batch bursts' share of the terminal's time) at a false-discovery rate of
   ``chance_p`` (Benjamini–Hochberg) — first among the community, then among all
   repeat cards of the provider — peeled until stable.
   A group needs batch bursts on ``min_bursts`` distinct days.
5. *Lockstep surprise.* ``Σ_b -log10 P(Poisson(λ_b) ≥ c_b)`` less the charges for
   choosing which K burst windows (of the terminal's active time in windows of
   ``2·burst_minutes``) and which m cards (of the provider's repeat cards); it must
   stand beyond chance after Bonferroni over the groups examined.
6. *Absence traces* (corroborating), each a binomial tail: batch bursts at hours in
   which the provider does less than ``odd_hour_share`` of its other business (its
   own hour profile smoothed towards the city's: night at a day clinic, not at a
   24-hour pharmacy); holders who live outside the provider's region and whose own
   claims elsewhere never reach that region, against the provider's customers (the
   group's holders among them: under the null they are like the others, so the pooled
   share is the estimate; against the others alone, a subgroup of a small clientele —
   one shift of a dialysis centre's patients — would stand out by its selection);
   holders tied to another holder of the group by one phone or bank account across
   households, against the city's share; cards settled after the holder's death or
   after a loss or cancellation (below).
7. ``strength = 1 - 2^(-S/2)`` of the Bonferroni-adjusted surprise. Lockstep alone is
   what an honest cohort produces too (a dialysis shift settled at reception three
   times a week), so the strength is capped at ``cohort_cap`` (well below 0.5) unless
   dead or lost cards are in use (``corroborate_surprise`` or more) or one of the
   three binomial traces reaches ``corroborate_surprise`` after Bonferroni over the
   three and the groups examined: they are tested in every group, and the largest of
   three in each of many groups reaches a tail of 0.01 by chance far more often than
   one test does.

B. **Dead and lost cards.** Settlements dated after the holder's ``death_date`` (by the
card's holder, or by the claim's person when no card is recorded), and on a ``lost``
or ``cancelled`` card after its ``status_date``: one finding per provider, for a single
card too. Each distinct day of such use is evidence against a recording artefact (a
mistyped date, a late posting) with probability ``dead_artefact`` or
``status_artefact``: surprise = days × -log10 of it. A provider whose misused cards are
all in a burst finding there is reported in that finding instead.

Honest look-alikes: a family member buying a parent's chronic drugs with the parent's
card (one card, regular: never a burst group, never a finding while the parent lives);
a family shopping together, or a nursing home's staff fetching the residents' drugs
with their cards (one address: one household, never a batch burst); a busy honest
pharmacy (many cards an hour, but the same cards do not recur together beyond what its
crowd gives; a day-long session is paired only within ``burst_minutes``); a dialysis
shift settled at reception (lockstep at the centre's normal hours, holders from other
districts no more common in the shift than among the centre's patients: capped below
0.5).

Cost: one pass over the card settlements to hash them, one sort by (terminal, time)
for the run filter and the session cuts, two as-of joins that give each remaining
settlement its session's start and size, a group-by on (terminal, card), and over the
remaining repeat-card settlements an equi-join on (terminal, session) for short
sessions and on (terminal, 10-minute bucket) for long ones. In a session of ``s ≤
max_session`` settlements each settlement adds at most ``s - 1 < max_session`` pair
rows; in a longer one, its neighbours within ``burst_minutes``, and a settlement with
more than ``max_window_crowd`` others within ``burst_minutes`` adds none. So the pair
rows are linear in a terminal's settlements, at most ``max(max_session,
max_window_crowd)`` per settlement, never the square of its day; a quiet terminal's
sessions are short and cost little. Groups are scored on their own settlements and their
terminals' bucket counts and providers' hour profiles; the dead and lost cards are
few, and the claims are probed against them. Measured on a generated city-year of
3 M persons and 30 M claims (busiest pharmacy 900 settlements a day): 27 s wall,
42 s of CPU, on two cores shared with other jobs.
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
    smoothed_rate,
    strength,
    temp_tables,
    weekday_days_sql,
)
from ringfinder.detectors.base import Detector
from ringfinder.duck import one
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason
from ringfinder.graph import LeidenSettings

NAME = "shared_card"

MESSAGES = {
    "shared_card.bursts": {
        "zh": "{cards}张医保卡({households}户)在{provider}的终端{terminal}上分{bursts}批、"
        "于{days}个不同日期相隔数分钟连续结算,每批最多{max_cards}张,相邻结算间隔中位{gap}分钟",
        "en": "{cards} cards ({households} households) settled on terminal {terminal} at "
        "{provider} in {bursts} bursts on {days} separate days, up to {max_cards} per "
        "burst, median gap {gap} min",
    },
    "shared_card.odd_hours": {
        "zh": "{count}/{bursts}批结算发生在该机构极少营业的时段({hours}时;其他结算中占{base_pct}%)",
        "en": "{count} of {bursts} bursts at hours the provider rarely works ({hours} h; "
        "{base_pct}% of its other settlements)",
    },
    "shared_card.away": {
        "zh": "{count}/{holders}名持卡人居住在{region}以外且本人在该地区无其他就医记录"
        "(该机构全部持卡顾客中占{base_pct}%)",
        "en": "{count} of {holders} holders live outside {region} and their own claims never "
        "reach it ({base_pct}% of all the provider's card-holding customers)",
    },
    "shared_card.identifiers": {
        "zh": "{count}/{holders}名持卡人与组内其他不同住址的持卡人共用电话或银行账户,"
        "最多{largest}人共用一个(全市{base_pct}%)",
        "en": "{count} of {holders} holders share a phone or bank account with another "
        "holder of the group at a different address, up to {largest} on one "
        "(city-wide {base_pct}%)",
    },
    "shared_card.dead": {
        "zh": "{cards}张卡在持卡人死亡后仍结算{claims}笔,涉及{days}个日期"
        "(最晚在死亡{max_days}天后)",
        "en": "{claims} settlements on {days} days with {cards} cards after the holder's "
        "death_date (up to {max_days} days after)",
    },
    "shared_card.status": {
        "zh": "{cards}张已挂失或注销的卡在状态生效后仍结算{claims}笔,涉及{days}个日期",
        "en": "{claims} settlements on {days} days with {cards} cards reported lost or "
        "cancelled, after the status date",
    },
    "shared_card.cohort": {
        "zh": "未见持卡人缺席迹象(异常时段、异地、共用联系方式、死亡或挂失);"
        "正常的同班次就诊队列(如透析)也会成批结算,强度上限为{cap}",
        "en": "no sign that the holders were absent (odd hours, living elsewhere, shared "
        "contacts, dead or lost cards); an honest cohort (e.g. a dialysis shift) is also "
        "settled in bursts, so the strength is capped at {cap}",
    },
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class Params:
    """Defaults are domain figures (see ``shared/domain/schemes.md`` §2).

    - ``burst_minutes = 10``: "many cards settled on one terminal minutes apart": two
      settlements 10 minutes apart or less belong to one burst.
    - ``min_burst = 3``: a burst holds cards of three or more households — "many
      cards"; a couple or a family shopping together is one household.
    - ``min_bursts = 3``: the same cards recur together on three or more separate days
      (a collector's monthly round, not one busy afternoon).
    - ``min_pair_bursts = 2``: two cards are tied when settled within minutes of each
      other on two different days (also the least number of days a card needs on a
      terminal to be paired at all).
    - ``min_member_bursts = 2``: a member card comes back in a second burst.
    - ``max_window_crowd = 60``: a 10-minute bucket with more than 60 repeat-card
      settlements on one terminal (six a minute, beyond hand swiping) adds no pairs;
      it bounds the cost at the busiest terminals.
    - ``max_session = 120``: a session (settlements with gaps of ``burst_minutes`` or
      less) of up to 120 settlements — two hours of hand swiping at one card a minute,
      an evening's sitting with a stack of cards — is one burst: every two of its cards
      are tied. A longer one is a terminal busy all day (a pharmacy serving a customer
      every few minutes), where only settlements within ``burst_minutes`` of each
      other are tied. It bounds the pair rows at fewer than 120 per settlement
      (``max_session = 1`` gives the 10-minute window alone).
    - ``working_hours = 12``: for tying two cards, chance spreads a terminal's
      settlements of a day evenly over a 12-hour working day (a pharmacy's 8:00–20:00),
      or over fewer hours where the terminal's hour-of-day rhythm over the year is
      more concentrated (a clinic's morning hours). The terminal's own minute-by-minute
      traffic and sessions are not used there: where the retained cards are most of a
      terminal's traffic, its bursts would explain themselves. (Bursts are then judged
      against the terminal's *other* traffic.)
    - ``chance_p = 0.01``: a tie and a batch burst must be beyond what chance gives at
      1 %; ties (among the pairs of a terminal's repeat cards) and member cards are
      selected at a 1 % false-discovery rate (the strength calibration's 0.5 point).
    - ``odd_hour_share = 0.01``: an hour of the day in which the provider does less
      than 1 % of its other settlements is an odd hour for it.
    - ``prior_weight = 20``: a provider's own shares are smoothed towards the city's
      with the weight of 20 settlements or customers.
    - ``min_rate = 0.01``: shares estimated from the data are floored at 1 %.
    - ``dead_artefact = 0.1``: at most one day in ten of settlements after a recorded
      death is a recording artefact (a mistyped date or a late posting); the register
      itself may lag up to 30 working days, but that delays the blocking of the card,
      it does not make its use honest.
    - ``status_artefact = 0.25``: loss and cancellation dates are keyed at a counter and
      found cards are not always reinstated: one day in four may be an artefact.
    - ``corroborate_surprise = 2`` and ``cohort_cap = 0.3``: without an absence trace
      at a tail probability of 0.01 or less, bursts are what an honest cohort also
      shows: weak evidence, kept well below the 0.5 that marks evidence beyond honest
      behaviour (as strong as one unexplained day of settlements after a death). The
      odd-hour, away and identifier traces are tested in every group, so the largest of
      them must reach it after Bonferroni over the three and the groups examined; dead
      or lost cards in use corroborate as they stand.
    - ``half_surprise = 2``: strength 0.5 at a Bonferroni-adjusted tail probability of
      0.01 (shared by ringfinder's statistical detectors).
    - ``leiden``: modularity, resolution 1, fixed seed, iterated until stable.
    """

    burst_minutes: int = 10
    min_burst: int = 3
    min_bursts: int = 3
    min_pair_bursts: int = 2
    min_member_bursts: int = 2
    max_window_crowd: int = 60
    max_session: int = 120
    working_hours: float = 12.0
    chance_p: float = 0.01
    odd_hour_share: float = 0.01
    prior_weight: float = 20.0
    min_rate: float = 0.01
    dead_artefact: float = 0.1
    status_artefact: float = 0.25
    corroborate_surprise: float = 2.0
    cohort_cap: float = 0.3
    half_surprise: float = 2.0
    leiden: LeidenSettings = field(default_factory=LeidenSettings)


_S0 = "_rf_shared_card_all"  # every card settlement: hashed terminal and card, epoch
_C = "_rf_shared_card_cut"  # session cuts and settlements that could be in a burst
_SS = "_rf_shared_card_session"  # sessions of two or more: start, end, size
_S = "_rf_shared_card_stream"  # repeat cards' settlements that could be in a burst
_G = "_rf_shared_card_group"  # (gid, provider, card)
_P = "_rf_shared_card_prov"  # terminals and providers of the groups

#: absence traces tested in every group (binomial tails against a base share)
_CHANCE_TRACES = ("odd_hours", "away", "identifiers")

_PROVIDERS = """
    SELECT institution_id AS id, 'institutions' AS kind, region_code FROM institutions
    UNION ALL SELECT pharmacy_id, 'pharmacies', region_code FROM pharmacies
"""


def run(engine: EmbeddedEngine, params: Params) -> list[Finding]:
    """Shared-card findings (see the module docstring)."""
    with temp_tables(engine, _S0, _C, _SS, _S, _G, _P):
        misuse = _misuse(engine, params)
        findings = _burst_findings(engine, params, misuse)
        covered = {
            (prov, c) for f in findings for prov in f.institutions | f.pharmacies for c in f.cards
        }
        findings += _misuse_findings(engine, misuse, covered, params)
    findings.sort(key=lambda f: (-f.strength, sorted(f.cards), sorted(f.persons)))
    return findings


# -- A. bursts --------------------------------------------------------------------------
def _pairs(engine: EmbeddedEngine, p: Params) -> pd.DataFrame:
    """Card pairs tied on a terminal: (prov, term, a, z, days, expected)."""
    w = 60 * p.burst_minutes
    m = max(int(p.min_burst), 2)
    cap = int(p.max_window_crowd)
    top = int(p.max_session)
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_S0} AS
        SELECT hash(provider_id, coalesce(terminal_id, '')) AS tk, hash(card_id) AS ck,
               CAST(epoch(start_time) AS BIGINT) AS e
        FROM claims WHERE card_id IS NOT NULL
        """
    )
    # A settlement can be in a burst of m only if it lies in a run of m consecutive
    # settlements of its terminal spanning (m-1)·w or less (exact, from one sort).
    lags = ", ".join(
        f"lag(e, {j}) OVER t AS l{j}, lead(e, {j}) OVER t AS r{j}" for j in range(1, m)
    )
    # i settlements before this one and m-1-i after it
    ends = [("e" if i == m - 1 else f"r{m - 1 - i}", "e" if i == 0 else f"l{i}") for i in range(m)]
    runs = " OR ".join(f"({hi} - {lo} <= {(m - 1) * w})" for hi, lo in ends)
    # Sessions: the terminal's settlements cut where two follow each other by more than
    # w (every settlement of the terminal counts, honest customers too), from the same
    # sort: a session starts where the gap before is over w and ends where the gap after
    # is, and its size is the difference of their ranks. (Equal times: the first of them
    # starts a session and the last ends one, whatever the order of the peers.) Kept:
    # the cuts and the settlements that can be in a burst, unless alone in their
    # session (no one to be tied with).
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_C} AS
        SELECT tk, ck, e, rn, first, last, keep FROM (
            SELECT tk, ck, e, rn, coalesce(e - l1 > {w}, true) AS first,
                   coalesce(r1 - e > {w}, true) AS last,
                   ({runs}) AND NOT coalesce(rc - e <= {w}, false)
                       AND NOT coalesce(e - lc <= {w}, false) AS keep
            FROM (
                SELECT tk, ck, e, {lags}, row_number() OVER t AS rn,
                       lead(e, {cap}) OVER t AS rc, lag(e, {cap}) OVER t AS lc
                FROM {_S0} WINDOW t AS (PARTITION BY tk ORDER BY e)
            )
        ) WHERE NOT (first AND last) AND (keep OR first OR last)
        """
    )
    # starts and ends alternate: each start's session ends at the next cut
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_SS} AS
        SELECT st.tk, st.e AS s0, en.e AS s1, en.rn - st.rn + 1 AS size
        FROM (SELECT tk, e, rn FROM {_C} WHERE first) st
        ASOF JOIN (SELECT tk, e, rn FROM {_C} WHERE last) en
            ON st.tk = en.tk AND en.e >= st.e
        """
    )
    # "on k distinct days"; for k = 2, first day before last day is cheaper to test
    k_days = "min(d) < max(d)" if p.min_pair_bursts == 2 else "count(DISTINCT d) >= $k"
    args = {"k": p.min_pair_bursts} if p.min_pair_bursts != 2 else None
    # the kept settlements of cards kept on k days of the terminal, with their sessions
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_S} AS
        WITH k AS (SELECT tk, ck, e, e // 86400 AS d FROM {_C} WHERE keep),
        rep AS (SELECT tk, ck FROM k GROUP BY ALL HAVING {k_days}),
        c AS (SELECT * FROM k SEMI JOIN rep USING (tk, ck))
        SELECT c.tk, c.ck, c.e, c.d, c.e // {w} AS b, s.s0 AS sid,
               c.e <= s.s1 AND s.size <= {top} AS short, s.s0 // 86400 AS sd
        FROM c ASOF JOIN {_SS} s ON c.tk = s.tk AND c.e >= s.s0
        """,
        args,
    )
    pairs = engine.sql(
        f"""
        WITH hit AS (
            -- a short session is one burst: any two of its cards
            SELECT x.tk, x.ck AS a, y.ck AS z, x.sd AS d
            FROM {_S} x JOIN {_S} y ON x.tk = y.tk AND y.sid = x.sid
            WHERE x.short AND x.ck < y.ck
            UNION ALL
            -- a long session (a busy terminal): settlements within w of each other
            SELECT x.tk, x.ck AS a, y.ck AS z, x.d
            FROM {_S} x JOIN {_S} y ON x.tk = y.tk AND y.b = x.b
            WHERE NOT x.short AND x.ck < y.ck AND abs(y.e - x.e) <= {w}
            UNION ALL
            SELECT x.tk, least(x.ck, y.ck), greatest(x.ck, y.ck), x.d
            FROM {_S} x JOIN {_S} y ON x.tk = y.tk AND y.b = x.b + 1
            WHERE NOT x.short AND x.ck <> y.ck AND y.e - x.e <= {w}
        )
        SELECT tk, a, z, count(DISTINCT d) AS days FROM hit GROUP BY ALL HAVING {k_days}
        """,
        args,
    ).df()
    if pairs.empty:
        return pairs
    # chance: each card's settlements on the terminal, spread over its busy days
    tc = pd.DataFrame(
        {
            "tk": np.concatenate([pairs["tk"], pairs["tk"]]),
            "ck": np.concatenate([pairs["a"], pairs["z"]]),
        }
    ).drop_duplicates()
    frame_table(engine, _P, tc)
    counts = engine.sql(
        f"SELECT tk, ck, count(*) AS n FROM {_S0} SEMI JOIN {_P} USING (tk, ck) GROUP BY ALL"
    ).df()
    days = f"""
        SELECT tk, DATE '1970-01-01' + CAST(e // 86400 AS INTEGER) AS d, count(*) AS n
        FROM {_S0} WHERE tk IN (SELECT DISTINCT tk FROM {_P}) GROUP BY ALL
    """
    # the chance that two settlements of a terminal fall in the same hour of the day
    # (unbiased: distinct pairs), over the year: its hour-of-day rhythm
    hours = engine.sql(
        f"""
        SELECT tk, sum(n * (n - 1)) / greatest(sum(n) * (sum(n) - 1), 1) AS same_hour
        FROM (
            SELECT tk, (e % 86400) // 3600 AS h, count(*)::DOUBLE AS n FROM {_S0}
            WHERE tk IN (SELECT DISTINCT tk FROM {_P}) GROUP BY ALL
        ) GROUP BY tk
        """
    ).df()
    wk = engine.sql(weekday_days_sql(days, "tk")).df()
    same = _same_day_tie(wk, hours.set_index("tk")["same_hour"], p)
    names = engine.sql(
        f"""
        SELECT DISTINCT hash(provider_id, coalesce(terminal_id, '')) AS tk, provider_id AS prov,
               coalesce(terminal_id, '') AS term
        FROM claims WHERE card_id IS NOT NULL
          AND hash(provider_id, coalesce(terminal_id, '')) IN (SELECT DISTINCT tk FROM {_P})
        """
    ).df()
    cards = engine.sql(
        f"""
        SELECT hash(card_id) AS ck, card_id FROM cards
        WHERE hash(card_id) IN (SELECT DISTINCT ck FROM {_P})
        """
    ).df()
    n = counts.set_index(["tk", "ck"])["n"]
    nn = n.reindex(pd.MultiIndex.from_arrays([pairs["tk"], pairs["a"]])).to_numpy(
        dtype=float
    ) * n.reindex(pd.MultiIndex.from_arrays([pairs["tk"], pairs["z"]])).to_numpy(dtype=float)
    pairs["expected"] = nn * pairs["tk"].map(same).to_numpy()
    # the pairs tested on each terminal: any two of its repeat cards
    rep_cards = engine.sql(f"SELECT tk, count(DISTINCT ck) AS r FROM {_S} GROUP BY tk").df()
    r = pairs["tk"].map(rep_cards.set_index("tk")["r"]).fillna(2).to_numpy(dtype=float)
    pairs["tested"] = np.maximum(r * (r - 1) / 2, 1)
    pairs = pairs.merge(names.drop_duplicates("tk"), on="tk")
    card_of = cards.drop_duplicates("ck").set_index("ck")["card_id"]
    pairs["a"] = pairs["a"].map(card_of)
    pairs["z"] = pairs["z"].map(card_of)
    return pairs.dropna(subset=["a", "z"])


def _same_day_tie(wk: pd.DataFrame, same_hour: pd.Series, p: Params) -> pd.Series:
    """Per terminal: the chance that two of its settlements are tied by chance.

    Under the null a terminal's settlements spread over its active span by its weekday
    rhythm (``W2 = Σ_day p_day²``, as for the other lockstep detectors) and, within a
    day, evenly over its working day: ``working_hours``, or fewer where its
    hour-of-day rhythm concentrates them — ``1 / same_hour``, the hours over which
    settlements spread evenly would fall in the same hour as often as the terminal's
    do. A day of the weekday then holds ``n = tot·p_day`` settlements (plus the two in
    question). Two of them are tied when in the same session of at most
    ``max_session`` settlements, or within ``burst_minutes`` of each other:
    :func:`_tie_chance`. Returns ``Σ_day p_day² · tie(n_day)``.
    """
    per_day = wk["share"].to_numpy(dtype=float) / wk["c"].to_numpy(dtype=float)
    load = np.rint(wk["tot"].to_numpy(dtype=float) * per_day).astype(np.int64) + 2
    conc = wk["tk"].map(same_hour).fillna(0.0).to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        hours = np.minimum(p.working_hours, np.where(conc > 0, 1.0 / conc, np.inf))
    x = np.minimum(p.burst_minutes / (60.0 * hours), 1.0)
    q = _tie_chance(load, x, int(p.max_session))
    part = wk["share"].to_numpy(dtype=float) ** 2 / wk["c"].to_numpy(dtype=float) * q
    return pd.Series(part, index=wk.index).groupby(wk["tk"].to_numpy()).sum()


def _tie_chance(n: np.ndarray, x: np.ndarray | float, top: int) -> np.ndarray:
    """Chance that two of ``n`` settlements spread evenly over a day are tied.

    ``x`` is ``burst_minutes`` as a share of the working day (per element, or one for
    all). Consecutive settlements
    are in one session when their gap is ``x`` or less: for ``n`` uniform points a gap
    is Beta(1, n), so ``g = 1 - (1-x)^n``, and the gaps are taken as independent. A
    session of ``s`` settlements then occurs ``g^(s-1)·(2(1-g) + (n-s-1)(1-g)²)`` times
    on average (``g^(n-1)`` for ``s = n``) and holds ``C(s, 2)`` of the ``C(n, 2)``
    pairs. Tied: in one session of ``top`` settlements or fewer, or within ``x`` of
    each other (``2x - x²``) in a longer one — bounded by the pairs that longer
    sessions hold. Exact for ``n = 2``; ``2x - x²`` on a busy day, ``≈ 2x`` on a quiet
    one, as for the 10-minute window alone.
    """
    n = np.asarray(n, dtype=np.int64)
    x = np.broadcast_to(np.asarray(x, dtype=float), n.shape)
    combos, where = np.unique(np.stack([n.astype(float), x], axis=1), axis=0, return_inverse=True)
    vals = np.zeros(len(combos), dtype=float)
    for i, (kf, xi) in enumerate(combos):
        k = int(kf)
        if k < 2:
            continue
        g = 1.0 - (1.0 - xi) ** k
        s = np.arange(2, k + 1, dtype=float)
        with np.errstate(under="ignore"):
            count = g ** (s - 1) * (2 * (1 - g) + (k - s - 1) * (1 - g) ** 2)
            count[-1] = g ** (k - 1)
        pairs = count * s * (s - 1) / (k * (k - 1))
        short = float(pairs[: max(top - 1, 0)].sum())
        long = float(pairs[max(top - 1, 0) :].sum())
        vals[i] = min(short + min(2 * xi - xi * xi, long), 1.0)
    return vals[where.ravel()].reshape(n.shape)


def _burst_findings(engine: EmbeddedEngine, p: Params, misuse: pd.DataFrame) -> list[Finding]:
    pairs = _pairs(engine, p)
    if pairs.empty:
        return []
    surprise = -log10_poisson_sf_array(pairs["days"].to_numpy(), pairs["expected"].to_numpy())
    # ties at a false-discovery rate of chance_p among the pairs of each terminal's
    # repeat cards (a busy terminal has millions of pairs, and chance ties among them)
    tied = fdr_select(
        pairs["tk"].to_numpy(),
        np.power(10.0, -surprise),
        pairs["tested"].to_numpy(),
        p.chance_p,
    )
    pairs = pairs.assign(weight=surprise)[tied & (surprise >= -math.log10(p.chance_p))]
    if pairs.empty:
        return []
    pairs = pairs.sort_values(["prov", "a", "z", "term"], kind="stable", ignore_index=True)
    ka = pairs["prov"] + "\x1f" + pairs["a"]
    kb = pairs["prov"] + "\x1f" + pairs["z"]
    codes, keys = pd.factorize(pd.concat([ka, kb], ignore_index=True), sort=True)
    n_e = len(pairs)
    labels = lockstep_groups(
        len(keys),
        codes[:n_e],
        codes[n_e:],
        pairs["weight"].to_numpy(),
        min_size=p.min_burst,
        settings=p.leiden,
    )
    keep = labels >= 0
    if not keep.any():
        return []
    tests = int(labels.max()) + 1  # groups examined (Bonferroni)
    split = pd.Series(keys[keep]).str.split("\x1f", n=1, expand=True)
    grp = pd.DataFrame({"gid": labels[keep], "prov": split[0], "card_id": split[1]})
    frame_table(engine, _G, grp)
    rows = engine.sql(
        f"""
        SELECT g.gid, c.claim_id, c.card_id, c.provider_id AS prov,
               coalesce(c.terminal_id, '') AS term,
               hash(c.provider_id, coalesce(c.terminal_id, '')) AS tk,
               CAST(epoch(c.start_time) AS BIGINT) AS e,
               CAST(c.start_time AS DATE) AS d, hour(c.start_time) AS hour,
               c.person_id, c.doctor_id, k.person_id AS holder,
               coalesce(h.address, 'person:' || k.person_id) AS household
        FROM claims c JOIN {_G} g ON g.prov = c.provider_id AND g.card_id = c.card_id
        JOIN cards k ON k.card_id = c.card_id
        LEFT JOIN persons h ON h.person_id = k.person_id
        """
    ).df()
    ctx = _context(engine, p, rows)
    members, bursts = _members(rows, ctx, p)
    if members.empty:
        return []
    rows = rows.merge(members, on=["gid", "card_id"])
    findings = []
    for gid, grows in rows.groupby("gid", sort=True):
        f = _finding(grows, bursts[bursts["gid"] == gid], ctx, misuse, tests, p)
        if f is not None:
            findings.append(f)
    return findings


def _context(engine: EmbeddedEngine, p: Params, rows: pd.DataFrame) -> dict[str, Any]:
    """Terminal bucket counts and totals, provider profiles, city-wide shares."""
    ctx: dict[str, Any] = {"w": 60 * p.burst_minutes}
    terms = rows[["tk", "prov", "term"]].drop_duplicates()
    frame_table(engine, _P, terms)
    w = ctx["w"]
    ctx["buckets"] = (
        engine.sql(
            f"""
            SELECT tk, e // {w} AS b, count(*) AS n FROM {_S0}
            WHERE tk IN (SELECT tk FROM {_P}) GROUP BY ALL
            """
        )
        .df()
        .merge(terms, on="tk")
        .sort_values(["prov", "term", "b"], kind="stable")
    )
    ctx["terminal"] = (
        engine.sql(
            f"""
            SELECT tk, count(*) AS total, count(DISTINCT e // 86400) AS active_days
            FROM {_S0} WHERE tk IN (SELECT tk FROM {_P}) GROUP BY tk
            """
        )
        .df()
        .merge(terms, on="tk")
        .drop(columns="tk")
        .set_index(["prov", "term"])
    )
    ctx["repeat_cards"] = (
        engine.sql(
            f"""
            SELECT prov, count(*) AS n FROM (
                SELECT provider_id AS prov, card_id FROM claims
                WHERE card_id IS NOT NULL AND provider_id IN (SELECT prov FROM {_P})
                GROUP BY ALL HAVING count(DISTINCT CAST(start_time AS DATE)) >= $k
            ) GROUP BY prov
            """,
            {"k": p.min_pair_bursts},
        )
        .df()
        .set_index("prov")["n"]
    )
    ctx["hours"] = engine.sql(
        f"""
        SELECT provider_id AS prov, hour(start_time) AS hour, count(*) AS n FROM claims
        WHERE provider_id IN (SELECT prov FROM {_P}) GROUP BY ALL
        """
    ).df()
    ctx["city_hours"] = (
        engine.sql("SELECT hour(start_time) AS hour, count(*) AS n FROM claims GROUP BY 1")
        .df()
        .set_index("hour")["n"]
        .reindex(range(24), fill_value=0)
    )
    ctx["providers"] = (
        engine.sql(f"SELECT * FROM ({_PROVIDERS}) WHERE id IN (SELECT prov FROM {_P})")
        .df()
        .set_index("id")
    )
    # customers (card holders) of the providers and whether each is "away"
    ctx["customers"] = engine.sql(
        f"""
        WITH pr AS ({_PROVIDERS}),
        pc AS (
            SELECT DISTINCT provider_id AS prov, card_id FROM claims
            WHERE card_id IS NOT NULL AND provider_id IN (SELECT prov FROM {_P})
        ), cust AS (
            SELECT DISTINCT pc.prov, k.person_id FROM pc JOIN cards k USING (card_id)
        ), near AS (
            SELECT DISTINCT cust.prov, cust.person_id
            FROM cust JOIN claims c2 ON c2.person_id = cust.person_id
                                    AND c2.provider_id <> cust.prov
            JOIN pr p2 ON p2.id = c2.provider_id
            JOIN pr p1 ON p1.id = cust.prov
            WHERE p2.region_code = p1.region_code
        )
        SELECT cust.prov, cust.person_id,
               coalesce(per.region_code <> p1.region_code, false)
                   AND near.person_id IS NULL AS away
        FROM cust JOIN persons per USING (person_id)
        JOIN pr p1 ON p1.id = cust.prov
        LEFT JOIN near USING (prov, person_id)
        WHERE p1.region_code IS NOT NULL AND per.region_code IS NOT NULL
        """
    ).df()
    (linked_share,) = one(
        engine.sql(
            """
        WITH ids AS (
            SELECT person_id, coalesce(address, 'person:' || person_id) AS hh,
                   'ph:' || phone AS ident FROM persons WHERE phone IS NOT NULL
            UNION ALL
            SELECT person_id, coalesce(address, 'person:' || person_id),
                   'ac:' || bank_account FROM persons WHERE bank_account IS NOT NULL
        ), sample AS (SELECT * FROM ids WHERE hash(person_id) % 100 = 0),
        g AS (
            SELECT ident FROM ids SEMI JOIN sample USING (ident)
            GROUP BY ident HAVING count(DISTINCT hh) >= 2
        )
        SELECT (SELECT count(DISTINCT person_id) FROM sample SEMI JOIN g USING (ident))
               / greatest((SELECT count(DISTINCT person_id) FROM sample), 1)
        """
        )
    )  # type: ignore[misc]
    ctx["city_linked"] = float(linked_share or 0.0)
    holders = sorted(set(rows["holder"]))
    ctx["holders"] = (
        engine.sql(
            """
        SELECT person_id, phone, bank_account, region_code,
               coalesce(address, 'person:' || person_id) AS household
        FROM persons WHERE person_id IN (SELECT unnest($h))
        """,
            {"h": holders},
        )
        .df()
        .set_index("person_id")
    )
    return ctx


def _window_counts(ctx: dict[str, Any], bursts: pd.DataFrame, comm: pd.DataFrame) -> np.ndarray:
    """Settlements on each burst's terminal in its window widened by ``burst_minutes``,
    less the community's own (10-minute bucket granularity)."""
    w = ctx["w"]
    out = np.zeros(len(bursts), dtype=float)
    bk = ctx["buckets"]
    lo_all = np.floor((bursts["start"].to_numpy(dtype=float) - w) / w)
    hi_all = np.floor((bursts["end"].to_numpy(dtype=float) + w) / w)
    own = {
        key: np.sort(g["e"].to_numpy() // w)
        for key, g in comm.groupby(["gid", "prov", "term"], sort=False)
    }
    for (prov, term), idx in bursts.groupby(["prov", "term"]).indices.items():
        sel = bk[(bk["prov"] == prov) & (bk["term"] == term)]
        b = sel["b"].to_numpy()
        cum = np.concatenate([[0], np.cumsum(sel["n"].to_numpy())])
        lo, hi = lo_all[idx], hi_all[idx]
        out[idx] = cum[np.searchsorted(b, hi, side="right")] - cum[np.searchsorted(b, lo)]
        for gid, sub in bursts.iloc[idx].groupby("gid").indices.items():
            mine = own.get((gid, prov, term), np.empty(0))
            j = idx[sub]
            out[j] -= np.searchsorted(mine, hi_all[j], side="right") - np.searchsorted(
                mine, lo_all[j]
            )
    return np.maximum(out, 0.0)


def _sessions(rows: pd.DataFrame, w: float) -> pd.DataFrame:
    """Cut each group's settlements on a terminal into bursts (gaps over ``w`` seconds)."""
    r = rows.sort_values(["gid", "prov", "term", "e"], kind="stable")
    gap = r.groupby(["gid", "prov", "term"])["e"].diff()
    return r.assign(burst=(gap.isna() | (gap > w)).cumsum())


def _bursts(
    rows: pd.DataFrame, ctx: dict[str, Any], comm: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bursts of the current members with their chance expectation ``lam``.

    Under the null the members' settlements on a terminal fall in time like the
    terminal's settlements by cards outside the community (``comm``, the group before
    peeling), smoothed by one settlement spread evenly over its active days.
    """
    w = ctx["w"]
    r = _sessions(rows, w)
    bursts = (
        r.groupby("burst")
        .agg(
            gid=("gid", "first"),
            prov=("prov", "first"),
            term=("term", "first"),
            start=("e", "min"),
            end=("e", "max"),
            d=("d", "first"),
            hour=("hour", "first"),
            cards=("card_id", "nunique"),
            households=("household", "nunique"),
            settlements=("claim_id", "size"),
        )
        .reset_index()
    )
    # the group's settlements per terminal, and the terminal's other settlements
    own = r.groupby(["gid", "prov", "term"]).size().rename("M")
    mc = comm.groupby(["gid", "prov", "term"]).size().rename("Mc")
    bursts = (
        bursts.join(own, on=["gid", "prov", "term"])
        .join(mc, on=["gid", "prov", "term"])
        .join(ctx["terminal"], on=["prov", "term"])
    )
    others_in = _window_counts(ctx, bursts, comm)
    span = (bursts["end"] - bursts["start"] + 2 * w).to_numpy(dtype=float)
    uniform = span / (bursts["active_days"].to_numpy(dtype=float) * 86400.0)
    others = np.maximum(bursts["total"].to_numpy(dtype=float) - bursts["Mc"].to_numpy(), 0)
    bursts["share"] = (others_in + uniform) / (others + 1.0)
    bursts["lam"] = bursts["M"].to_numpy(dtype=float) * bursts["share"]
    return bursts, r


def _members(rows: pd.DataFrame, ctx: dict[str, Any], p: Params) -> tuple[pd.DataFrame, Any]:
    """Member cards and batch bursts of every group, peeled until stable (vectorised)."""
    cur = rows
    community = rows.groupby("gid")["card_id"].nunique()
    group_prov = rows.drop_duplicates("gid").set_index("gid")["prov"]
    bursts = pd.DataFrame()
    for tests in (community, group_prov.map(ctx["repeat_cards"]).fillna(1)):
        while True:
            bursts, r = _bursts(cur, ctx, rows)
            bursts["batch"] = (bursts["households"] >= p.min_burst) & (
                poisson_sf_array(bursts["households"].to_numpy(), bursts["lam"].to_numpy())
                <= p.chance_p
            )
            batch = bursts[bursts["batch"]]
            w_batch = batch.groupby("gid")["share"].sum()
            per = r.groupby(["gid", "card_id"]).size().rename("n").reset_index()
            on_b = (
                r[r["burst"].isin(batch["burst"])]
                .groupby(["gid", "card_id"])["burst"]
                .nunique()
                .rename("b")
            )
            per = per.join(on_b, on=["gid", "card_id"]).fillna({"b": 0})
            per["w"] = per["gid"].map(w_batch).fillna(0.0).clip(upper=1.0)
            tail = binom_sf_array(per["b"].to_numpy(), per["n"].to_numpy(), per["w"].to_numpy())
            charge = per["gid"].map(tests).fillna(1).to_numpy()
            per = per.reset_index(drop=True)
            found = fdr_select(per["gid"].to_numpy(), tail, charge, p.chance_p)
            ok = per.loc[found & (per["b"] >= p.min_member_bursts), ["gid", "card_id"]]
            n_cards = ok.groupby("gid").size()
            n_days = batch.groupby("gid")["d"].nunique().reindex(n_cards.index, fill_value=0)
            good = n_cards.index[(n_cards >= p.min_burst) & (n_days >= p.min_bursts)]
            new = cur.merge(ok[ok["gid"].isin(good)], on=["gid", "card_id"])
            if len(new) == len(cur):
                break
            cur = new
            if cur.empty:
                return pd.DataFrame(columns=["gid", "card_id"]), bursts.iloc[0:0]
    members = cur[["gid", "card_id"]].drop_duplicates()
    batch = bursts[bursts["batch"]].drop(columns="batch")
    # remember which settlements are in batch bursts
    r = _sessions(cur, ctx["w"])
    batch = batch.assign(
        claims=batch["burst"].map(r.groupby("burst")["claim_id"].agg(list)),
    )
    return members, batch


def _finding(
    rows: pd.DataFrame,
    bursts: pd.DataFrame,
    ctx: dict[str, Any],
    misuse: pd.DataFrame,
    tests: int,
    p: Params,
) -> Finding | None:
    prov = str(rows["prov"].iloc[0])
    cards = sorted(set(rows["card_id"]))
    m = len(cards)
    bursts = bursts.sort_values("start")
    k = len(bursts)
    s_bursts = -log10_poisson_sf_array(
        bursts["households"].to_numpy(), bursts["lam"].to_numpy()
    ).sum()
    term_info = ctx["terminal"].loc[[(prov, t) for t in sorted(set(bursts["term"]))]]
    positions = float((term_info["active_days"] * 86400.0 / (2 * ctx["w"])).sum())
    repeat = int(ctx["repeat_cards"].get(prov, m))
    s_lock = float(s_bursts) - log10_comb(positions, k) - log10_comb(max(repeat, m), m)
    if s_lock - math.log10(max(tests, 1)) <= 0:
        return None
    ev_ids = {c for lst in bursts["claims"] for c in lst}
    ev = rows[rows["claim_id"].isin(ev_ids)]
    holders = sorted(set(ev["holder"]))
    info = ctx["holders"].reindex(holders)
    ev_sorted = ev.sort_values(["term", "e"])
    gaps = ev_sorted.groupby(ev_sorted["claim_id"].map(_burst_of(bursts)))["e"].diff().dropna()
    terminal = [t or prov for t in sorted(set(bursts["term"]))]
    reasons = [
        Reason(
            "shared_card.bursts",
            {
                "cards": m,
                "households": int(ev["household"].nunique()),
                "provider": prov,
                "terminal": terminal,
                "bursts": k,
                "days": int(bursts["d"].nunique()),
                "max_cards": int(bursts["cards"].max()),
                "gap": round(float(gaps.median()) / 60.0, 1) if len(gaps) else 0.0,
            },
        )
    ]
    terms: dict[str, float] = {"lockstep": s_lock}
    absence: dict[str, float] = {}
    # odd hours: bursts at hours the provider (apart from this group) rarely works
    s, reason = _odd_hours(prov, rows, bursts, ctx, p)
    if reason is not None:
        absence["odd_hours"] = s
        reasons.append(reason)
    # holders living elsewhere whose own claims never reach the provider's region
    s, reason = _away(prov, holders, ctx, p)
    if reason is not None:
        absence["away"] = s
        reasons.append(reason)
    # one phone or account behind holders of different households
    s, reason = _identifiers(info, p, ctx)
    if reason is not None:
        absence["identifiers"] = s
        reasons.append(reason)
    # dead or lost cards among the evidence
    mis = misuse[misuse["claim_id"].isin(ev_ids)]
    if not mis.empty:
        s, mreasons = _misuse_terms(mis, p)
        absence["misuse"] = s
        reasons.extend(mreasons)
    terms.update(absence)
    surprise = float(sum(terms.values()))
    st = strength(surprise, tests, p.half_surprise)
    # dead or lost cards in use corroborate as they stand (they occur only where such a
    # card is used); the chance traces, computed for every group, are charged for the
    # largest of them in one of the groups examined (Bonferroni)
    charge = math.log10(len(_CHANCE_TRACES) * max(tests, 1))
    chance = max((absence.get(k, 0.0) for k in _CHANCE_TRACES), default=0.0)
    corroborated = (
        absence.get("misuse", 0.0) >= p.corroborate_surprise
        or chance - charge >= p.corroborate_surprise
    )
    if not corroborated and st > p.cohort_cap:
        st = p.cohort_cap
        reasons.append(Reason("shared_card.cohort", {"cap": p.cohort_cap}))
    kind = ctx["providers"]["kind"].get(prov, "institutions")
    f = Finding(
        NAME,
        st,
        persons=set(holders) | set(ev["person_id"]),
        cards=set(cards),
        doctors=set(ev["doctor_id"].dropna()),
        claims=ev_ids,
        reasons=reasons,
        figures={
            "cards": m,
            "bursts": k,
            "burst_days": sorted({d.isoformat() for d in pd.to_datetime(bursts["d"]).dt.date}),
            "burst_cards": [int(c) for c in bursts["cards"]],
            "terminals": terminal,
            "surprise": round(surprise, 3),
            "terms": {key: round(v, 3) for key, v in terms.items()},
            "tests": tests,
            "corroborated": corroborated,
            "leiden": p.leiden.record(),
        },
    )
    f.members(kind).add(prov)
    return f


def _burst_of(bursts: pd.DataFrame) -> dict[str, int]:
    return {
        c: int(b) for b, lst in zip(bursts["burst"], bursts["claims"], strict=True) for c in lst
    }


def _odd_hours(
    prov: str, rows: pd.DataFrame, bursts: pd.DataFrame, ctx: dict[str, Any], p: Params
) -> tuple[float, Reason | None]:
    hours = ctx["hours"]
    allh = hours[hours["prov"] == prov].set_index("hour")["n"].reindex(range(24), fill_value=0)
    own = rows.groupby("hour").size().reindex(range(24), fill_value=0)
    other = (allh - own).clip(lower=0).to_numpy(dtype=float)
    city = ctx["city_hours"].to_numpy(dtype=float)
    city = city / city.sum() if city.sum() > 0 else np.full(24, 1 / 24)
    share = (other + p.prior_weight * city) / (other.sum() + p.prior_weight)
    odd = np.flatnonzero(share < p.odd_hour_share)
    if len(odd) == 0:
        return 0.0, None
    x = int(bursts["hour"].isin(odd).sum())
    if x == 0:
        return 0.0, None
    q = float(min(max(share[odd].sum(), p.min_rate), 1.0))
    s = binom_surprise(x, len(bursts), q)
    if s <= 0:
        return 0.0, None
    seen = sorted(set(bursts.loc[bursts["hour"].isin(odd), "hour"].astype(int)))
    return s, Reason(
        "shared_card.odd_hours",
        {"count": x, "bursts": len(bursts), "hours": seen, "base_pct": round(100 * q, 1)},
    )


def _away(
    prov: str, holders: list[str], ctx: dict[str, Any], p: Params
) -> tuple[float, Reason | None]:
    cust = ctx["customers"]
    cust = cust[cust["prov"] == prov]
    if cust.empty:
        return 0.0, None
    mine = cust[cust["person_id"].isin(holders)]
    if mine.empty:
        return 0.0, None
    # the provider's share, the group's holders pooled in (the null: they are customers
    # like the others), smoothed towards the other providers' customers
    pooled = ctx["customers"]
    pooled = pooled[~pooled["person_id"].isin(holders)]
    prior = float(pooled["away"].mean()) if len(pooled) else 0.0
    q = smoothed_rate(
        float(cust["away"].sum()), float(len(cust)), prior, p.prior_weight, p.min_rate
    )
    x = int(mine["away"].sum())
    s = binom_surprise(x, len(mine), q)
    if s <= 0:
        return 0.0, None
    region = ctx["providers"]["region_code"].get(prov)
    return s, Reason(
        "shared_card.away",
        {"count": x, "holders": len(mine), "region": str(region), "base_pct": round(100 * q, 1)},
    )


def _identifiers(info: pd.DataFrame, p: Params, ctx: dict[str, Any]) -> tuple[float, Reason | None]:
    long = pd.concat(
        [
            info["phone"].dropna().map(lambda v: "ph:" + str(v)),
            info["bank_account"].dropna().map(lambda v: "ac:" + str(v)),
        ]
    ).rename("ident")
    if long.empty:
        return 0.0, None
    df = long.reset_index().rename(columns={"index": "person_id"})
    df.columns = ["person_id", "ident"]
    df["household"] = df["person_id"].map(info["household"])
    spread = df.groupby("ident")["household"].nunique()
    shared = spread[spread >= 2].index
    linked = df[df["ident"].isin(shared)]
    x = int(linked["person_id"].nunique())
    if x == 0:
        return 0.0, None
    largest = int(linked.groupby("ident")["person_id"].nunique().max())
    q = max(ctx["city_linked"], p.min_rate)
    s = binom_surprise(x, len(info), q)
    if s <= 0:
        return 0.0, None
    return s, Reason(
        "shared_card.identifiers",
        {"count": x, "holders": len(info), "largest": largest, "base_pct": round(100 * q, 1)},
    )


# -- B. dead and lost cards --------------------------------------------------------------
def _misuse(engine: EmbeddedEngine, p: Params) -> pd.DataFrame:
    """Settlements after the holder's death or the card's loss or cancellation.

    The dead and the lost cards are few: the claims are probed against them, never
    joined whole.
    """
    return engine.sql(
        """
        WITH dead AS (SELECT person_id, death_date FROM persons WHERE death_date IS NOT NULL),
        flagged AS (
            SELECT k.card_id, k.person_id AS holder, dead.death_date,
                   CASE WHEN k.status IN ('lost', 'cancelled') THEN k.status_date END AS lost
            FROM cards k LEFT JOIN dead USING (person_id)
            WHERE dead.death_date IS NOT NULL
               OR (k.status IN ('lost', 'cancelled') AND k.status_date IS NOT NULL)
        ), c AS (
            SELECT c.claim_id, c.provider_id AS prov, c.card_id, c.person_id, c.doctor_id,
                   CAST(c.start_time AS DATE) AS d,
                   coalesce(f.holder, x.person_id) AS holder,
                   coalesce(f.death_date, x.death_date) AS death_date, f.lost
            FROM claims c
            LEFT JOIN flagged f ON c.card_id = f.card_id
            LEFT JOIN dead x ON c.card_id IS NULL AND c.person_id = x.person_id
            WHERE f.card_id IS NOT NULL OR x.person_id IS NOT NULL
        )
        SELECT claim_id, prov, card_id, person_id, doctor_id, d, holder,
               CASE WHEN d > death_date THEN 'dead' ELSE 'status' END AS kind,
               CASE WHEN d > death_date THEN date_diff('day', death_date, d)
                    ELSE date_diff('day', lost, d) END AS after_days
        FROM c
        WHERE d > death_date OR d > lost
        """
    ).df()


def _misuse_terms(mis: pd.DataFrame, p: Params) -> tuple[float, list[Reason]]:
    """Surprise and reasons of dead- and lost-card settlements of one provider or group."""
    stats = _misuse_stats(mis.assign(prov=""), p)
    row = stats.iloc[0]
    return float(row["surprise"]), _misuse_reasons(row)


def _misuse_stats(mis: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Per provider: cards, claims, days of each kind, and the surprise (vectorised).

    Each distinct (card, day) of use counts once against the artefact rate of its kind.
    """
    mis = mis.assign(key=mis["card_id"].fillna("person:" + mis["holder"]))
    out = pd.DataFrame(index=pd.Index(sorted(set(mis["prov"])), name="prov"))
    out["surprise"] = 0.0
    for kind, artefact in (("dead", p.dead_artefact), ("status", p.status_artefact)):
        part = mis[mis["kind"] == kind]
        g = part.groupby("prov")
        out[f"{kind}_cards"] = g["key"].nunique().reindex(out.index, fill_value=0)
        out[f"{kind}_claims"] = g.size().reindex(out.index, fill_value=0)
        days = part.drop_duplicates(["prov", "key", "d"]).groupby("prov").size()
        out[f"{kind}_days"] = days.reindex(out.index, fill_value=0)
        out[f"{kind}_max_after"] = g["after_days"].max().reindex(out.index, fill_value=0)
        out["surprise"] += out[f"{kind}_days"] * -math.log10(artefact)
    return out


def _misuse_reasons(row: pd.Series) -> list[Reason]:
    reasons = []
    if row["dead_claims"]:
        reasons.append(
            Reason(
                "shared_card.dead",
                {
                    "cards": int(row["dead_cards"]),
                    "claims": int(row["dead_claims"]),
                    "days": int(row["dead_days"]),
                    "max_days": int(row["dead_max_after"]),
                },
            )
        )
    if row["status_claims"]:
        reasons.append(
            Reason(
                "shared_card.status",
                {
                    "cards": int(row["status_cards"]),
                    "claims": int(row["status_claims"]),
                    "days": int(row["status_days"]),
                },
            )
        )
    return reasons


def _misuse_findings(
    engine: EmbeddedEngine, mis: pd.DataFrame, covered: set[tuple[str, str]], p: Params
) -> list[Finding]:
    """One finding per provider where dead or lost cards were used (a single card too)."""
    if mis.empty:
        return []
    if covered:
        key = list(zip(mis["prov"], mis["card_id"], strict=True))
        in_burst = pd.Series([k in covered for k in key], index=mis.index)
        done = in_burst.groupby(mis["prov"]).all()
        mis = mis[~mis["prov"].map(done)]
        if mis.empty:
            return []
    kinds = (
        engine.sql(
            f"SELECT id, kind FROM ({_PROVIDERS}) WHERE id IN (SELECT unnest($ids))",
            {"ids": sorted(set(mis["prov"]))},
        )
        .df()
        .set_index("id")["kind"]
    )
    stats = _misuse_stats(mis, p)
    g = mis.groupby("prov", sort=True)
    members = pd.DataFrame(
        {
            "claims": g["claim_id"].agg(set),
            "cards": g["card_id"].agg(lambda s: set(s.dropna())),
            "persons": g["holder"].agg(set),
            "patients": g["person_id"].agg(set),
            "doctors": g["doctor_id"].agg(lambda s: set(s.dropna())),
        }
    )
    out = []
    for prov, row in stats.iterrows():
        mem = members.loc[prov]
        f = Finding(
            NAME,
            strength(float(row["surprise"]), 1, p.half_surprise),
            persons=mem["persons"] | mem["patients"],
            cards=mem["cards"],
            doctors=mem["doctors"],
            claims=mem["claims"],
            reasons=_misuse_reasons(row),
            figures={
                "surprise": round(float(row["surprise"]), 3),
                "dead_claims": int(row["dead_claims"]),
                "status_claims": int(row["status_claims"]),
            },
        )
        f.members(str(kinds.get(prov, "institutions"))).add(str(prov))
        out.append(f)
    return out


DETECTOR = Detector(
    name=NAME,
    requires=("claims", "cards", "persons"),
    params_type=Params,
    run_embedded=run,
    summary="留存医保卡/冒名就医: the same cards settled in bursts on one terminal; dead "
    "and lost cards in use",
    uses=("institutions", "pharmacies"),
)
