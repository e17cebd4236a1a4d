"""Insured-drug resale through a pharmacy (倒卖医保药品, 超量购药, 串换).

A pharmacy (often with its staff's relatives and acquaintances) runs a set of cards
through the till for the same expensive drugs, far beyond what anyone could take, in
batches, and sells the drugs on or pays out cash. Each purchase looks like an ordinary
dispensing; the block of cards × drug × one pharmacy does not.

Algorithm
---------
The unit is the *cell* (pharmacy, drug code) and its buyers (the card, or the person
when no card is recorded). No drug code is hard-coded: each drug is compared with
itself, so units (tablets, boxes, vials) cancel.

1. **Dosage, against the population.** A buyer's rate is the quantity per 30 days
   over their own buying period (first to last purchase, plus one 30-day supply). The
   drug's baseline is the median rate over all its buyers (each buyer once; drugs with
   fewer than ``min_drug_buyers`` buyers have none); one baseline for every pharmacy,
   so that "over-quantity" means the same everywhere. A buyer at ``over_factor`` × the
   baseline or more at one pharmacy is over-quantity, counted also at doubling levels
   (6×, 12×, 24×). A cell's count is tested against its buyers × the over-quantity
   share of the drug at the other pharmacies (smoothed towards the all-drug share),
   Poisson tail, keeping the most surprising level. That share leaves out the cells
   that stand out on their own (repeated until no more do), so that two rings buying
   one drug at two pharmacies do not vouch for each other; a drug whose doses are
   simply spread (two indications, two strengths) has a high share everywhere and
   raises nothing. When rings are most of a drug's buyers the data hold no honest
   dose; the batches below still show them.
2. **Batches, against the pharmacy's trade.** Every ``wave_window``-day window
   starting on a day the cell sold counts the cell's distinct buyers in it, against
   the cell's purchases spread over the pharmacy's other trade in those days (smoothed
   towards the city's pharmacy trade, so that a one-drug pharmacy still has a
   profile), Poisson tail. Windows below ``wave_alpha`` are batches; overlapping ones
   merge. *Batch members* are the same cards batch after batch: cards in ``min_waves``
   or more batches whose own purchase days fall in the batches beyond chance (a
   regular whose monthly refill sometimes lands in a batch is not one), tied to each
   other by sharing ``min_waves`` or more batches (lockstep groups: connected
   components, igraph). A cell's batch evidence is the larger
   of (a) its number of batches against the at most ``wave_alpha`` × open days that
   chance gives and (b) the batches' own tails, each charged for the open days. A
   busy pharmacy's crowd on market day is its trade, not a batch; a new-year rush has
   no repeat members.
3. **Blocks.** A cell's over-quantity buyers (at its best level) and batch members
   are its block; cells sharing cards are joined (connected components of the
   card–cell graph, igraph), so a ring buying two drugs is one finding. A block must
   stand beyond chance on dose or batches alone, after the number of cells that could
   hold one is charged, before its sharpeners are looked at.
4. **Sharpeners**, each against the pharmacy's or the city's own rate: block holders
   linked to the pharmacy's staff (``doctors.institution_id`` = the pharmacy) by phone,
   or by the address of the person who holds a staff phone (binomial against the share
   among the pharmacy's other customers); cards with 15 or more visits in a month
   (binomial against the share among all buyers).
5. Surprises (−log10 tails) add up; the number of cells that could hold a block
   (``min_cards`` buyers or more) is charged once (Bonferroni); ``strength =
   1 − 2^(−S/2)`` (the shared calibration in :mod:`ringfinder.detectors._common`).

Honest look-alikes: a busy pharmacy serving chronic patients (dosage-consistent, on
their own days: only the expected few over-quantity buyers and no batches beyond its
trade); a family member buying a parent's drugs with the parent's card (one card at
one dose). Batches alone are also what an honest drug-specific rhythm makes (a clinic's
weekly session sending its patients next door), so without dose or staff evidence
beyond chance the strength is capped below 0.5. Not covered: a designated specialist
(双通道/DTP) pharmacy legitimately concentrating one expensive drug is not scored for
concentration at all, and drugs bought mostly by rings have no honest dose in the data
(their batches still show).

Cost: one hash join of pharmacy claims with their drug items and group-bys over
(pharmacy, drug, buyer, day) and (buyer, drug, pharmacy) rows (O(items)); per-drug
medians; window sums (window functions, no range joins) over the days of cells with
``min_cards`` buyers or more, with exact distinct counts only for windows that pass a
loose screen. A big honest pharmacy adds rows to these group-bys, never pairs of cards.
Per-block checks are batched over all blocks (one query per question); the
15-visits share is estimated on a fixed 1-in-64 hash sample of buyers. A synthetic
city-year (3 M persons, 30 M claims, 24 M items, 3,000 pharmacies) took about 20 s on
two cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors._common import (
    binom_surprise,
    frame_table,
    poisson_sf_array,
    poisson_surprise,
    strength,
)
from ringfinder.detectors.base import Detector
from ringfinder.duck import one
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason

NAME = "pharmacy_resale"

MESSAGES = {
    "pharmacy_resale.block": {
        "zh": "{cards}张医保卡在{pharmacy}集中购买{drugs}种药品,涉及{claims}笔结算、{amount}元",
        "en": "{cards} cards bought {drugs} drug codes at {pharmacy}: {claims} settlements, "
        "{amount} yuan",
    },
    "pharmacy_resale.over": {
        "zh": "药品{drug}:{over}张卡的购药量达到全市常用量({baseline}/30天)的{factor}倍以上"
        "(中位{ratio}倍),按其他药店的比例应只有{expected}张",
        "en": "drug {drug}: {over} cards bought {factor}× or more the usual dose ({baseline} "
        "per 30 days; median {ratio}×), where other pharmacies' share predicts {expected}",
    },
    "pharmacy_resale.wave": {
        "zh": "药品{drug}:{waves}批集中购药,每批{window}天内{low}–{peak}张卡"
        "(按该店客流预期{expected}张)",
        "en": "drug {drug}: {waves} batches of {low} to {peak} cards within {window} days "
        "(the pharmacy's trade predicts {expected})",
    },
    "pharmacy_resale.staff": {
        "zh": "{linked}/{cards}名持卡人与该药店工作人员共用电话或住址(其他顾客中{base_pct}%)",
        "en": "{linked} of {cards} card holders share a phone or address with the "
        "pharmacy's staff (other customers {base_pct}%)",
    },
    "pharmacy_resale.visits": {
        "zh": "{cards}张卡出现单月就诊{limit}次及以上",
        "en": "{cards} cards had {limit} or more visits in one month",
    },
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class Params:
    """Defaults are domain figures (see ``shared/domain/schemes.md``).

    - ``window_days = 30``: quantities are compared per 30 days, the regulators'
      monthly view; one purchase is taken to cover at least 30 days of treatment.
    - ``over_factor = 3``: labelled maximum daily doses rarely exceed two to three
      times the usual dose, so buying three times what the median buyer of the same
      drug takes per 30 days is beyond any plausible dose for one patient (a
      12-week long prescription bought at once stays below it: 84 / 30 = 2.8).
    - ``over_levels = 4``: over-quantity is also counted at 6×, 12× and 24× (doubling),
      since a buyer at fifteen times the dose says more than one at three times (the
      levels tried are charged).
    - ``min_drug_buyers = 10``: a median needs some ten independent buyers to mean
      "what the population takes".
    - ``min_cards = 3``: "a set of cards" — one or two heavy buyers are a person's
      matter, not a block; a batch has at least this many of a cell's buyers.
    - ``min_waves = 2``: "repeatedly": a batch member bought in two or more (and at
      least half) of the cell's batches.
    - ``max_batch_cards = 200``: a batch with more candidate cards than that is the
      pharmacy's crowd (a market day, a health campaign): counted, but it ties no pair.
    - ``member_alpha = 0.01``: a batch buyer is a member only when its own purchase days
      fall in the batches beyond chance at that level.
    - ``wave_window = 3``: a batch of collected cards is swiped over a few days (a long
      weekend), so purchases are counted in 3-day windows.
    - ``wave_alpha = 0.001``: a window is a batch when its tail probability is below
      one in a thousand; a cell then expects at most one chance batch in three years of
      3-day windows, so two or more batches of the same cards stand out.
    - ``corroborate_surprise = 2`` and ``waves_only_cap = 0.45``: waves alone are also
      what an honest drug-specific rhythm produces (a diabetes clinic's weekly session
      sending its patients to the pharmacy next door), so unless the dose or the staff
      links stand beyond chance on their own (tail probability below 0.01), the
      strength stays below 0.5.
    - ``visits_per_month = 15``: the regulators' real-time indicator (15 or more visits
      by one person in a month).
    - ``prior_weight = 20``: shares and day profiles estimated for one pharmacy or drug
      are smoothed towards the city's with the weight of 20 observations, so that a
      small pharmacy or a rare drug does not get a zero expectation.
    - ``min_rate = 0.01``: rates estimated from the data are floored at 1 %, so that a
      clean city cannot make one coincidence infinitely surprising.
    - ``half_surprise = 2``: strength 0.5 at a Bonferroni-adjusted tail probability of
      0.01 (the shared calibration).
    """

    window_days: int = 30
    over_factor: float = 3.0
    over_levels: int = 4
    min_drug_buyers: int = 10
    min_cards: int = 3
    min_waves: int = 2
    max_batch_cards: int = 200
    member_alpha: float = 0.01
    wave_window: int = 3
    wave_alpha: float = 0.001
    corroborate_surprise: float = 2.0
    waves_only_cap: float = 0.45
    visits_per_month: int = 15
    prior_weight: float = 20.0
    min_rate: float = 0.01
    half_surprise: float = 2.0


_P = "_rf_pharmacy_resale_purchase"  # (pharmacy, drug, buyer, day) purchases
_T = "_rf_pharmacy_resale_cell"  # (buyer, drug, pharmacy) quantities and baselines
_M = "_rf_pharmacy_resale_member"  # block members with their block label


def _build(engine: EmbeddedEngine, p: Params) -> None:
    """Purchases, per-buyer rates and the per-drug dosage baseline."""
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_P} AS
        WITH pc AS (
            SELECT c.claim_id, coalesce(c.card_id, c.person_id) AS buyer,
                   c.provider_id AS ph, CAST(c.start_time AS DATE) AS d
            FROM claims c SEMI JOIN pharmacies f ON c.provider_id = f.pharmacy_id
        )
        SELECT pc.ph, i.item_code AS drug, pc.buyer, pc.d,
               sum(i.quantity) AS qty, sum(CAST(i.amount AS DOUBLE)) AS amount
        FROM claim_items i JOIN pc USING (claim_id)
        WHERE coalesce(i.item_kind, 'drug') = 'drug' AND i.quantity > 0
        GROUP BY ALL
        """
    )
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE {_T} AS
        WITH bdp AS (
            SELECT buyer, drug, ph, sum(qty) AS qty, sum(amount) AS amount,
                   min(d) AS first, max(d) AS last
            FROM {_P} GROUP BY ALL
        ), bd AS (  -- each buyer once per drug: their rate over all pharmacies
            SELECT buyer, drug,
                   sum(qty) * $w / (date_diff('day', min(first), max(last)) + $w) AS rate
            FROM bdp GROUP BY ALL
        ), base AS (
            SELECT drug, median(rate) AS baseline FROM bd
            GROUP BY drug HAVING count(*) >= $min_buyers
        )
        SELECT bdp.*, base.baseline,
               bdp.qty * $w / (date_diff('day', bdp.first, bdp.last) + $w) AS rate
        FROM bdp LEFT JOIN base USING (drug)
        """,
        {"w": float(p.window_days), "min_buyers": p.min_drug_buyers},
    )


def run(engine: EmbeddedEngine, params: Params) -> list[Finding]:
    """Pharmacy resale findings (see the module docstring)."""
    p = params
    try:
        _build(engine, p)
        return _findings(engine, p)
    finally:
        for t in (_P, _T, _M):
            engine.sql(f"DROP TABLE IF EXISTS {t}")


def _over_cells(engine: EmbeddedEngine, p: Params, tests: int) -> pd.DataFrame:
    """Cells with ``min_cards`` over-quantity buyers, with their Poisson surprise.

    Over-quantity is counted at ``over_levels`` doubling levels (3×, 6×, 12×, 24× the
    baseline by default), each against the share of the drug's buyers at that level at
    other pharmacies; the cell keeps its most surprising level, charged for the levels
    tried. The honest share is estimated without the cell itself and without the cells
    that stand out on their own (repeated until no more do), so that two rings buying one
    drug at two pharmacies do not vouch for each other.
    """
    cells = engine.sql(
        f"""
        WITH lv AS (SELECT unnest(range($levels)) AS j)
        SELECT t.ph, t.drug, lv.j, count(*) AS buyers,
               count(*) FILTER (WHERE t.rate >= $factor * pow(2, lv.j) * t.baseline) AS over
        FROM {_T} t, lv WHERE t.baseline IS NOT NULL GROUP BY ALL
        """,
        {"levels": p.over_levels, "factor": p.over_factor},
    ).df()
    return _best_levels(cells, p, tests)


def _best_levels(cells: pd.DataFrame, p: Params, tests: int) -> pd.DataFrame:
    """Each candidate cell at its most surprising level (``cells``: ph, drug, j, buyers,
    over, in any order). Equally surprising levels (rates floored at ``min_rate`` give
    the same expectation at every level) go to the highest: the same cards, the stronger
    statement, whatever order the rows came in."""
    cells = cells.sort_values(["ph", "drug", "j"], ascending=[True, True, False])
    cells = cells.reset_index(drop=True)
    drug = cells.groupby(["drug", "j"])[["buyers", "over"]].sum()
    overall = drug.groupby("j")["over"].sum() / drug.groupby("j")["buyers"].sum()
    cand = cells[cells["over"] >= p.min_cards].copy()
    if cand.empty:
        return cand.assign(q=[], expected=[], surprise=[], level=[])
    flagged = cand.iloc[0:0]
    for _ in range(10):  # until the cells that stand out on their own are all set aside
        out = flagged.groupby(["drug", "j"])[["buyers", "over"]].sum()
        honest = drug.sub(out, fill_value=0).reindex(drug.index)
        key = pd.MultiIndex.from_frame(cand[["drug", "j"]])
        mine_out = cand.set_index(["ph", "drug", "j"]).index.isin(
            flagged.set_index(["ph", "drug", "j"]).index
        )
        own_b = np.where(mine_out, 0, cand["buyers"])
        own_o = np.where(mine_out, 0, cand["over"])
        prior = overall.reindex(cand["j"]).to_numpy()
        q = (honest["over"].reindex(key).to_numpy() - own_o + p.prior_weight * prior) / (
            honest["buyers"].reindex(key).to_numpy() - own_b + p.prior_weight
        )
        cand["q"] = np.clip(q, p.min_rate, 1.0)
        cand["expected"] = cand["buyers"] * cand["q"]
        cand["surprise"] = [
            poisson_surprise(k, lam) - math.log10(p.over_levels)
            for k, lam in zip(cand["over"], cand["expected"], strict=True)
        ]
        again = cand[cand["surprise"] - math.log10(max(tests, 1)) >= p.half_surprise]
        if len(again) == len(flagged):
            break
        flagged = again
    cand["level"] = p.over_factor * 2.0 ** cand["j"]
    best = cand.loc[cand.groupby(["ph", "drug"])["surprise"].idxmax()]
    return best[best["surprise"] > 0].reset_index(drop=True)


def _waves(engine: EmbeddedEngine, p: Params) -> pd.DataFrame:
    """Batches of one cell's buyers beyond the pharmacy's trade, as episodes.

    Every ``wave_window``-day window starting on a day the cell sold is tested: its
    distinct buyers against the cell's purchases spread over the pharmacy's other trade
    in those days (smoothed towards the city's pharmacy trade), Poisson tail, charged
    for the pharmacy's open days. Overlapping significant windows merge into one
    episode (one batch).
    """
    win = engine.sql(
        f"""
        WITH trade AS (  -- the pharmacy's trade in (buyer, drug, day) purchases
            SELECT ph, d, count(*) AS n FROM {_P} GROUP BY ALL
        ),
        city AS (SELECT d, sum(n) / sum(sum(n)) OVER () AS share FROM trade GROUP BY d),
        shop AS (SELECT ph, sum(n) AS total, count(*) AS open_days FROM trade GROUP BY ph),
        cells AS (  -- only cells with min_cards buyers can hold a batch of min_cards
            SELECT ph, drug FROM {_T} GROUP BY ALL HAVING count(*) >= $min_cards
        ),
        cd AS (SELECT ph, drug, d, count(*) AS c FROM {_P} SEMI JOIN cells USING (ph, drug)
               GROUP BY ALL),
        ct AS (SELECT ph, drug, sum(c) AS events FROM cd GROUP BY ALL),
        -- window sums by window functions (no range joins): the cell's purchases, the
        -- pharmacy's trade and the city's share in the window starting on each day
        cw AS (
            SELECT ph, drug, d AS start,
                   sum(c) OVER (PARTITION BY ph, drug ORDER BY d
                                RANGE BETWEEN CURRENT ROW AND INTERVAL ($w - 1) DAY FOLLOWING)
                       AS own
            FROM cd
        ),
        tw AS (
            SELECT trade.ph, trade.d AS start,
                   sum(trade.n) OVER (PARTITION BY trade.ph ORDER BY trade.d
                       RANGE BETWEEN CURRENT ROW AND INTERVAL ($w - 1) DAY FOLLOWING) AS n,
                   sum(city.share) OVER (PARTITION BY trade.ph ORDER BY trade.d
                       RANGE BETWEEN CURRENT ROW AND INTERVAL ($w - 1) DAY FOLLOWING)
                       AS share
            FROM trade JOIN city USING (d)
        ),
        mu AS (
            SELECT cw.ph, cw.drug, cw.start, cw.own, shop.open_days,
                   ct.events * ((tw.n - cw.own) + $m * tw.share)
                       / ((shop.total - ct.events) + $m) AS mu
            FROM cw JOIN tw USING (ph, start) JOIN shop USING (ph) JOIN ct USING (ph, drug)
            WHERE cw.own >= $min_cards
        ), cand AS (  -- a loose screen (4 standard deviations less one) before exact tails
            SELECT * FROM mu WHERE own >= mu + 3 * sqrt(mu)
        )
        SELECT cand.ph, cand.drug, cand.start, count(DISTINCT x.buyer) AS c,
               any_value(cand.open_days) AS open_days, any_value(cand.mu) AS mu
        FROM cand JOIN {_P} x ON x.ph = cand.ph AND x.drug = cand.drug
             AND x.d BETWEEN cand.start AND cand.start + CAST($w - 1 AS INTEGER)
        GROUP BY cand.ph, cand.drug, cand.start
        HAVING count(DISTINCT x.buyer) >= $min_cards
        """,
        {"m": p.prior_weight, "min_cards": p.min_cards, "w": p.wave_window},
    ).df()
    cols = ["ph", "drug", "start", "end", "c", "mu", "open_days", "surprise"]
    if win.empty:
        return pd.DataFrame(columns=cols)
    tail = poisson_sf_array(win["c"].to_numpy(), win["mu"].to_numpy())
    win = win[tail < p.wave_alpha].copy()
    if win.empty:
        return pd.DataFrame(columns=cols)
    win["surprise"] = [
        poisson_surprise(c, mu) - math.log10(max(n, 1))
        for c, mu, n in zip(win["c"], win["mu"], win["open_days"], strict=True)
    ]
    win["start"] = pd.to_datetime(win["start"])
    win["end"] = win["start"] + pd.Timedelta(days=p.wave_window - 1)
    # merge overlapping windows of a cell into episodes (gaps and islands)
    win = win.sort_values(["ph", "drug", "start"])
    reach = win.groupby(["ph", "drug"])["end"].cummax()
    prev = reach.groupby([win["ph"], win["drug"]]).shift()
    win["episode"] = (prev.isna() | (win["start"] > prev)).cumsum()
    best = win.loc[win.groupby("episode")["surprise"].idxmax()]
    span = win.groupby("episode").agg(start=("start", "min"), end=("end", "max"))
    return best.drop(columns=["start", "end"]).join(span, on="episode")[cols]


def _findings(engine: EmbeddedEngine, p: Params) -> list[Finding]:
    (tests,) = one(
        engine.sql(
            f"""SELECT count(*) FROM (SELECT ph, drug FROM {_T} GROUP BY ALL
            HAVING count(*) >= $k)""",
            {"k": p.min_cards},
        )
    )  # type: ignore[misc]
    over = _over_cells(engine, p, int(tests))
    waves = _waves(engine, p)
    lock, waves = _lockstep(engine, waves, p)
    if over.empty and lock.empty:
        return []
    # block members: over-quantity buyers of each over cell (key "o") and lockstep
    # groups of batch buyers (key "w"); blocks are components of the card–key graph
    over_members = engine.sql(
        f"""
        SELECT t.ph, t.drug, t.buyer FROM {_T} t
        JOIN (SELECT unnest($ph) AS ph, unnest($drug) AS drug, unnest($level) AS level) o
          USING (ph, drug)
        WHERE t.rate >= o.level * t.baseline
        """,
        {
            "ph": over["ph"].tolist(),
            "drug": over["drug"].tolist(),
            "level": over["level"].astype(float).tolist(),
        },
    ).df()
    over_members["key"] = "o\x1f" + over_members["ph"] + "\x1f" + over_members["drug"]
    links = pd.concat([over_members, lock[["ph", "drug", "buyer", "key"]]], ignore_index=True)
    codes, _ = pd.factorize(pd.concat(["b\x1f" + links["buyer"], links["key"]]))
    n = len(links)
    g = ig.Graph(n=int(codes.max()) + 1, edges=np.column_stack([codes[:n], codes[n:]]).tolist())
    links["block"] = np.asarray(g.connected_components().membership)[codes[:n]]
    block_of = links.drop_duplicates("key").set_index("key")["block"]
    over = over.assign(block=("o\x1f" + over["ph"] + "\x1f" + over["drug"]).map(block_of))
    waves = waves.assign(block=waves["key"].map(block_of))
    wave_keys = _wave_evidence(waves, p)
    # a block must stand beyond chance on dose or batches alone, after every cell that
    # could hold one is charged, before its sharpeners are looked at
    cell_evidence = (
        over.groupby("block")["surprise"]
        .sum()
        .add(wave_keys.groupby("block")["evidence"].sum(), fill_value=0.0)
    )
    members = engine.sql(
        f"""
        SELECT DISTINCT l.ph, l.drug, l.buyer, l.block, t.qty, t.amount, t.rate, t.baseline
        FROM (SELECT unnest($ph) AS ph, unnest($drug) AS drug, unnest($buyer) AS buyer,
                     unnest($block) AS block) l
        JOIN {_T} t USING (ph, drug, buyer)
        """,
        {
            "ph": links["ph"].tolist(),
            "drug": links["drug"].tolist(),
            "buyer": links["buyer"].tolist(),
            "block": links["block"].astype(int).tolist(),
        },
    ).df()
    sizes = members.groupby("block")["buyer"].nunique()
    keep = sizes[sizes >= p.min_cards].index.intersection(
        cell_evidence[cell_evidence > math.log10(max(int(tests), 1))].index
    )
    members = members[members["block"].isin(keep)]
    if members.empty:
        return []
    frame_table(engine, _M, members[["ph", "drug", "buyer", "block"]])
    ctx = _context(engine, p)
    split = {
        k: dict(tuple(v.groupby("block", sort=False)))
        for k, v in ctx.items()
        if isinstance(v, pd.DataFrame) and "block" in v
    }
    findings = []
    for b, block in members.groupby("block", sort=True):
        local = {k: v.get(b, ctx[k].iloc[0:0]) for k, v in split.items()}
        findings.append(
            _finding(
                block,
                over[over["block"] == b],
                waves[waves["block"] == b],
                float(wave_keys.loc[wave_keys["block"] == b, "evidence"].sum()),
                local,
                ctx,
                p,
            )
        )
    for f in findings:
        f.strength = strength(f.figures["surprise"], int(tests), p.half_surprise)
        t = f.figures["terms"]
        if max(t.get("over_quantity", 0.0), t.get("staff", 0.0)) < p.corroborate_surprise:
            f.strength = min(f.strength, p.waves_only_cap)
    findings.sort(key=lambda f: -f.strength)
    return findings


def _context(engine: EmbeddedEngine, p: Params) -> dict[str, Any]:
    """Everything the blocks need, one query per question over all blocks at once."""
    ctx: dict[str, Any] = {}
    # the evidence: block cards' claims at the block pharmacy carrying the block drug
    ctx["evidence"] = engine.sql(
        f"""
        SELECT DISTINCT b.block, c.claim_id, c.card_id, c.person_id, c.doctor_id,
               CAST(c.total_amount AS DOUBLE) AS amount
        FROM claims c JOIN claim_items i USING (claim_id)
        JOIN {_M} b ON b.ph = c.provider_id AND b.drug = i.item_code
                   AND b.buyer = coalesce(c.card_id, c.person_id)
        """
    ).df()
    # customers linked to the pharmacy's staff by a staff phone or a staff home address
    ctx["staff"] = engine.sql(
        f"""
        WITH phs AS (SELECT DISTINCT ph, block FROM {_M}),
        staff AS (SELECT d.doctor_id, phs.block, d.phone FROM doctors d
                  JOIN phs ON d.institution_id = phs.ph WHERE d.phone IS NOT NULL),
        sa AS (SELECT DISTINCT s.doctor_id, s.block, p.address FROM staff s
               JOIN persons p ON p.phone = s.phone WHERE p.address IS NOT NULL),
        cust AS (SELECT DISTINCT phs.block, c.person_id FROM claims c
                 JOIN phs ON c.provider_id = phs.ph),
        cp AS (SELECT cust.block, p.person_id, p.phone, p.address
               FROM cust JOIN persons p USING (person_id))
        SELECT cp.block, cp.person_id, s.doctor_id FROM cp JOIN staff s USING (block, phone)
        UNION
        SELECT cp.block, cp.person_id, sa.doctor_id FROM cp JOIN sa USING (block, address)
        """
    ).df()
    ctx["customers"] = engine.sql(
        f"""
        WITH phs AS (SELECT DISTINCT ph, block FROM {_M})
        SELECT phs.block, count(DISTINCT c.person_id) AS n
        FROM claims c JOIN phs ON c.provider_id = phs.ph GROUP BY phs.block
        """
    ).df()
    # the 15-visits-a-month indicator: exact for block cards; its share among pharmacy
    # buyers from a fixed 1-in-64 sample of buyers (by hash), which bounds the scan
    ctx["visits"] = one(
        engine.sql(
            f"""
        WITH c AS (
            SELECT coalesce(card_id, person_id) AS buyer, start_time FROM claims
        ), sample AS (
            SELECT DISTINCT buyer FROM {_T} WHERE hash(buyer) % 64 = 0
        ), heavy_sample AS (
            SELECT DISTINCT buyer FROM c SEMI JOIN sample USING (buyer)
            GROUP BY buyer, date_trunc('month', start_time) HAVING count(*) >= $v
        ), heavy_members AS (
            SELECT DISTINCT buyer FROM c SEMI JOIN {_M} USING (buyer)
            GROUP BY buyer, date_trunc('month', start_time) HAVING count(*) >= $v
        )
        SELECT (SELECT count(*) FROM heavy_sample), (SELECT count(*) FROM sample),
               (SELECT list(buyer) FROM heavy_members)
        """,
            {"v": p.visits_per_month},
        )
    )
    return ctx


def _lockstep(
    engine: EmbeddedEngine, waves: pd.DataFrame, p: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lockstep groups of batch buyers, and the batches each group was in.

    A card is a candidate when it bought in ``min_waves`` or more of its cell's batches
    and its purchase days at the cell fall in batches beyond chance (binomial against
    the share of the pharmacy's open days the batches cover, tail below
    ``member_alpha``): a regular whose monthly refill sometimes lands in a batch is not
    one. Candidates that share ``min_waves`` or more batches are tied; each connected
    component (igraph) of a cell is a lockstep group ("the same cards, batch after
    batch"). A batch of more than ``max_batch_cards`` candidates is a crowd and ties no
    one. Returns the group
    members (ph, drug, buyer, key) and the batches (one row per batch and group, with
    ``key``) in which ``min_cards`` or more of a group's members bought.
    """
    empty = pd.DataFrame(columns=["ph", "drug", "buyer", "key"])
    if waves.empty:
        return empty, waves.assign(key=[])
    waves = waves.reset_index(drop=True).assign(batch=lambda w: np.arange(len(w)))
    buys = engine.sql(
        f"""
        WITH w AS (SELECT unnest($ph) AS ph, unnest($drug) AS drug, unnest($batch) AS batch,
                          CAST(unnest($s) AS DATE) AS s, CAST(unnest($e) AS DATE) AS e),
        wx AS (SELECT x.ph, x.drug, x.buyer, x.d, w.batch FROM {_P} x
               JOIN w ON x.ph = w.ph AND x.drug = w.drug AND x.d BETWEEN w.s AND w.e),
        own AS (SELECT x.ph, x.drug, x.buyer, count(DISTINCT x.d) AS days
                FROM {_P} x SEMI JOIN wx USING (ph, drug, buyer) GROUP BY ALL)
        SELECT wx.ph, wx.drug, wx.buyer, wx.batch,
               count(DISTINCT wx.d) OVER (PARTITION BY wx.ph, wx.drug, wx.buyer) AS in_batches,
               any_value(own.days) OVER (PARTITION BY wx.ph, wx.drug, wx.buyer) AS days
        FROM wx JOIN own USING (ph, drug, buyer)
        """,
        {
            "ph": waves["ph"].tolist(),
            "drug": waves["drug"].tolist(),
            "batch": waves["batch"].tolist(),
            "s": pd.to_datetime(waves["start"]).dt.date.tolist(),
            "e": pd.to_datetime(waves["end"]).dt.date.tolist(),
        },
    ).df()
    buys = buys.drop_duplicates(["ph", "drug", "buyer", "batch"])
    n_batches = buys.groupby(["ph", "drug", "buyer"])["batch"].transform("size")
    # the share of the pharmacy's open days that the cell's batches cover: an honest
    # card's purchase days fall in them at about that rate
    span = (pd.to_datetime(waves["end"]) - pd.to_datetime(waves["start"])).dt.days + 1
    cover = (
        waves.assign(span=span)
        .groupby(["ph", "drug"])
        .agg(span=("span", "sum"), open_days=("open_days", "first"))
    )
    f0 = (cover["span"] / cover["open_days"].clip(lower=1)).clip(upper=1.0)
    buys["f0"] = pd.MultiIndex.from_frame(buys[["ph", "drug"]]).map(f0)
    per_card = buys.drop_duplicates(["ph", "drug", "buyer"])
    tail = {
        (r.ph, r.drug, r.buyer): binom_surprise(int(r.in_batches), int(r.days), float(r.f0))
        for r in per_card[n_batches.loc[per_card.index] >= p.min_waves].itertuples()
    }
    beyond = pd.Series(
        [tail.get(k, 0.0) for k in zip(buys["ph"], buys["drug"], buys["buyer"], strict=True)],
        index=buys.index,
    )
    cand = buys[(n_batches >= p.min_waves) & (beyond > -math.log10(p.member_alpha))]
    crowd = cand.groupby("batch")["buyer"].transform("size") > p.max_batch_cards
    pairs = cand[~crowd].merge(cand[~crowd], on=["ph", "drug", "batch"])
    pairs = pairs[pairs["buyer_x"] < pairs["buyer_y"]]
    shared = pairs.groupby(["ph", "drug", "buyer_x", "buyer_y"]).size()
    tied = shared[shared >= p.min_waves].reset_index()
    if tied.empty:
        return empty, waves.iloc[0:0].assign(key=[])
    ends = pd.concat(
        [
            tied[["ph", "drug", "buyer_x"]].set_axis(["ph", "drug", "buyer"], axis=1),
            tied[["ph", "drug", "buyer_y"]].set_axis(["ph", "drug", "buyer"], axis=1),
        ]
    )
    node = ends["ph"] + "\x1f" + ends["drug"] + "\x1f" + ends["buyer"]
    codes, names = pd.factorize(node)
    k = len(tied)
    g = ig.Graph(n=len(names), edges=np.column_stack([codes[:k], codes[k:]]).tolist())
    comp = np.asarray(g.connected_components().membership)
    groups = ends.drop_duplicates().assign(
        comp=comp[pd.Index(names).get_indexer(node.drop_duplicates())]
    )
    groups["key"] = (
        "w\x1f" + groups["ph"] + "\x1f" + groups["drug"] + "\x1f" + groups["comp"].astype(str)
    )
    # the batches each group was in: min_cards or more of its members bought there
    inb = cand.merge(groups[["ph", "drug", "buyer", "key"]], on=["ph", "drug", "buyer"])
    per = inb.groupby(["key", "batch"])["buyer"].nunique()
    per = per[per >= p.min_cards].reset_index()[["key", "batch"]]
    group_batches = waves.merge(per, on="batch")
    keep = set(group_batches["key"])
    return groups[groups["key"].isin(keep)], group_batches


def _wave_evidence(waves: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Per lockstep group: its batches against chance, by their number or their size.

    A window's tail is below ``wave_alpha`` by chance at most that often, so a cell
    open ``D`` days expects at most ``wave_alpha·D`` batches: the number of batches is
    tested against that (Poisson), and separately the batches' own tails, each charged
    for the ``D`` windows; the larger of the two counts, charged for trying both.
    """
    cols = ["key", "block", "batches", "evidence"]
    if waves.empty:
        return pd.DataFrame(columns=cols)
    g = waves.groupby(["key", "block"])
    cells = g.agg(batches=("c", "size"), open_days=("open_days", "first")).reset_index()
    size = g["surprise"].apply(lambda x: float(x.clip(lower=0).sum())).to_numpy()
    count = [
        poisson_surprise(k, p.wave_alpha * n)
        for k, n in zip(cells["batches"], cells["open_days"], strict=True)
    ]
    cells["evidence"] = np.maximum(np.maximum(size, count) - math.log10(2), 0.0)
    return cells[cols]


def _finding(
    block: pd.DataFrame,
    over: pd.DataFrame,
    waves: pd.DataFrame,
    wave_evidence: float,
    local: dict[str, pd.DataFrame],
    ctx: dict[str, Any],
    p: Params,
) -> Finding:
    ev = local["evidence"]
    buyers = set(block["buyer"].unique())
    pharmacies = set(block["ph"].unique())
    terms = {
        "over_quantity": float(over["surprise"].sum()),
        "waves": wave_evidence,
    }
    reasons = [
        Reason(
            "pharmacy_resale.block",
            {
                "cards": len(buyers),
                "pharmacy": "、".join(sorted(pharmacies)),
                "drugs": int(block["drug"].nunique()),
                "claims": int(ev["claim_id"].nunique()),
                "amount": round(float(ev.drop_duplicates("claim_id")["amount"].sum()), 2),
            },
        )
    ]
    for _, cell in over.sort_values("surprise", ascending=False).iterrows():
        rows = block[
            (block["drug"] == cell["drug"]) & (block["rate"] >= cell["level"] * block["baseline"])
        ]
        reasons.append(
            Reason(
                "pharmacy_resale.over",
                {
                    "drug": cell["drug"],
                    "over": int(cell["over"]),
                    "factor": float(cell["level"]),
                    "baseline": round(float(rows["baseline"].iloc[0]), 1) if len(rows) else 0.0,
                    "ratio": round(float((rows["rate"] / rows["baseline"]).median()), 1)
                    if len(rows)
                    else 0.0,
                    "expected": round(float(cell["expected"]), 1),
                },
            )
        )
    for drug, days in waves.groupby("drug", sort=True):
        peak = days.loc[days["c"].idxmax()]
        reasons.append(
            Reason(
                "pharmacy_resale.wave",
                {
                    "drug": drug,
                    "waves": len(days),
                    "low": int(days["c"].min()),
                    "peak": int(peak["c"]),
                    "window": p.wave_window,
                    "expected": round(float(peak["mu"]), 1),
                },
            )
        )
    persons = set(ev["person_id"].unique())
    cards = set(ev["card_id"].dropna().unique())
    doctors = set(ev["doctor_id"].dropna().unique())

    # holders linked to the pharmacy's staff, against the share among other customers
    staff = local["staff"]
    staff_customers = set(staff["person_id"].unique())
    linked = persons & staff_customers
    if linked:
        customers = local["customers"]
        n_cust = int(customers["n"].iloc[0]) if len(customers) else len(persons)
        others = len(staff_customers - persons)
        q = max(others / max(n_cust - len(persons), 1), p.min_rate)
        terms["staff"] = binom_surprise(len(linked), len(persons), q)
        doctors |= set(staff.loc[staff["person_id"].isin(linked), "doctor_id"])
        reasons.append(
            Reason(
                "pharmacy_resale.staff",
                {"linked": len(linked), "cards": len(persons), "base_pct": round(100 * q, 1)},
            )
        )
    # the 15-visits-a-month indicator, against its share among all pharmacy buyers
    n_heavy, n_buyers, heavy_members = ctx["visits"]
    q_visits = max(int(n_heavy) / max(int(n_buyers), 1), p.min_rate)
    frequent = len(buyers & set(heavy_members or ()))
    if frequent:
        terms["visits"] = binom_surprise(frequent, len(buyers), q_visits)
        reasons.append(
            Reason("pharmacy_resale.visits", {"cards": frequent, "limit": p.visits_per_month})
        )
    terms = {k: v for k, v in terms.items() if v > 0}
    surprise = float(sum(terms.values()))
    return Finding(
        NAME,
        0.0,
        persons=persons,
        cards=cards,
        doctors=doctors,
        pharmacies=pharmacies,
        claims=set(ev["claim_id"].unique()),
        reasons=reasons,
        figures={
            "surprise": round(surprise, 3),
            "terms": {k: round(v, 3) for k, v in terms.items()},
            "buyers": len(buyers),
            "drugs": sorted(block["drug"].unique()),
            "over_cells": len(over),
            "wave_days": len(waves),
        },
    )


DETECTOR = Detector(
    name=NAME,
    requires=("claims", "claim_items", "pharmacies"),
    params_type=Params,
    run_embedded=run,
    summary="倒卖医保药品: cards buying the same drugs at one pharmacy far beyond any dose",
    uses=("doctors", "persons"),
)
