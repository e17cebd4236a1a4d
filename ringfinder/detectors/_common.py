"""Helpers shared by detectors: tail probabilities, the strength calibration, grouping.

Every statistical detector measures how far a group's figures stand beyond what
chance or honest behaviour gives as a *surprise* ``S = -log10 P`` (P a Poisson or
binomial tail of the observed figure against its expectation), adds the surprises of
independent pieces of evidence, charges the number of candidate groups it looked at
(Bonferroni: ``S - log10(tests)``) and squashes the result to a strength in [0, 1]
with ``1 - 2^(-S/half)``: with ``half = 2``, strength 0.5 at an adjusted tail
probability of 0.01, 0.75 at 0.0001. The same calibration in every detector keeps
strengths comparable across patterns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ringfinder.graph import LeidenSettings, leiden

if TYPE_CHECKING:
    from ringfinder.engine.embedded import EmbeddedEngine

LN10 = math.log(10.0)


# -- tail probabilities, as log10 ------------------------------------------------------
def log10_poisson_sf(k: float, lam: float) -> float:
    """log10 P(X >= k) for X ~ Poisson(lam); 0 when k is not above the mean."""
    k = int(math.ceil(k))
    if k <= 0 or k <= lam:
        return 0.0
    lam = max(lam, 1e-300)
    head = -lam + k * math.log(lam) - math.lgamma(k + 1)
    i = np.arange(k, k + 50 + int(20 * math.sqrt(lam)), dtype=float)
    logs = np.concatenate([[0.0], np.cumsum(np.log(lam / (i + 1)))])
    top = logs.max()
    return float(min(0.0, (head + top + math.log(np.exp(logs - top).sum())) / LN10))


def log10_binom_sf(k: int, n: int, p: float) -> float:
    """log10 P(X >= k) for X ~ Binomial(n, p); 0 when k is not above the mean."""
    if k <= 0 or k <= n * p:
        return 0.0
    if k > n:
        return -math.inf
    p = min(max(p, 1e-12), 1 - 1e-12)
    head = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    i = np.arange(k, min(n, k + 50 + int(20 * math.sqrt(n * p * (1 - p)))), dtype=float)
    logs = np.concatenate([[0.0], np.cumsum(np.log((n - i) / (i + 1)) + math.log(p / (1 - p)))])
    top = logs.max()
    return float(min(0.0, (head + top + math.log(np.exp(logs - top).sum())) / LN10))


def poisson_surprise(k: float, lam: float) -> float:
    """``-log10 P(X >= k)``, X ~ Poisson(lam)."""
    return -log10_poisson_sf(k, lam)


def binom_surprise(k: int, n: int, p: float) -> float:
    """``-log10 P(X >= k)``, X ~ Binomial(n, p) (finite: capped at 300)."""
    return min(-log10_binom_sf(k, n, p), 300.0)


def log10_comb(n: float, k: float) -> float:
    """log10 of the binomial coefficient C(n, k) (0 when k is outside 0..n)."""
    if k <= 0 or k >= n:
        return 0.0
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / LN10


def strength(surprise: float, tests: int = 1, half: float = 2.0) -> float:
    """``1 - 2^(-S/half)`` of the Bonferroni-adjusted surprise ``S - log10(tests)``."""
    s = surprise - math.log10(max(tests, 1))
    return round(1.0 - 2.0 ** (-max(s, 0.0) / half), 4)


def smoothed_rate(hits: float, total: float, prior: float, weight: float, floor: float) -> float:
    """``(hits + weight·prior) / (total + weight)``, floored (a share estimated from data).

    The prior (e.g. the city-wide share) carries the weight of ``weight`` observations,
    so a small provider does not get a share of 0 or 1 from a handful of rows; the floor
    keeps one coincidence in a clean city from being infinitely surprising.
    """
    rate = (hits + weight * prior) / (total + weight) if total + weight > 0 else prior
    return float(min(max(rate, floor), 1.0))


# -- working tables ---------------------------------------------------------------------
@contextmanager
def temp_tables(engine: EmbeddedEngine, *names: str) -> Iterator[None]:
    """Drop the named temporary tables when the block ends, whatever happens."""
    try:
        yield
    finally:
        for name in names:
            engine.sql(f"DROP TABLE IF EXISTS {name}")


def frame_table(engine: EmbeddedEngine, name: str, frame: pd.DataFrame) -> None:
    """Copy a pandas frame into a temporary DuckDB table ``name`` (replacing it)."""
    view = f"{name}__frame"
    engine.con.register(view, frame)
    try:
        engine.sql(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}")
    finally:
        engine.con.unregister(view)


# -- grouping ---------------------------------------------------------------------------
def lockstep_groups(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray,
    *,
    min_size: int,
    settings: LeidenSettings | None = None,
) -> np.ndarray:
    """Groups of a weighted pair graph: one Leiden partition of the whole graph.

    Returns one group label per vertex (``-1`` for vertices in no group of
    ``min_size`` or more), labels numbered from 0. Leiden (:func:`ringfinder.graph.leiden`:
    objective, resolution and seed from ``settings``, modularity and resolution 1 by
    default, seeded) runs once on the whole graph: its communities are connected, so
    separate components are never merged, and an isolated dense block is never cut (on
    a component alone, modularity would split any block, since a whole graph as one
    community scores 0). Within a large connected crowd, modularity's resolution limit
    can leave a small dense block merged with some of its neighbours: detectors peel
    their groups afterwards (keep the members who carry the group's own repeated,
    beyond-chance co-occurrences).
    """
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(src) == 0:
        return labels
    member = leiden(n, np.asarray(src), np.asarray(dst), np.asarray(weights), settings=settings)
    sizes = np.bincount(member)
    big = sizes >= min_size
    relabel = np.full(len(sizes), -1, dtype=np.int64)
    relabel[big] = np.arange(int(big.sum()))
    return relabel[member]


def poisson_sf_array(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(lam), elementwise (plain floats: tiny tails become 0).

    For thresholds and expectations; use :func:`poisson_surprise` for the size of a
    tail.
    """
    k = np.asarray(k, dtype=np.int64)
    lam = np.asarray(lam, dtype=float)
    out = np.ones(np.broadcast(k, lam).shape, dtype=float)
    k, lam = np.broadcast_arrays(k, lam)
    if out.size == 0:
        return out
    term = np.exp(-lam)
    cdf = np.zeros_like(lam)
    for j in range(int(k.max()) if k.size else 0):
        cdf = cdf + np.where(j < k, term, 0.0)
        term = term * lam / (j + 1)
    return np.clip(1.0 - cdf, 0.0, 1.0)


def binom_sf_array(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Binomial(n, p), elementwise (plain floats)."""
    k, n, p = np.broadcast_arrays(
        np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64), np.asarray(p, dtype=float)
    )
    if k.size == 0:
        return np.ones(k.shape, dtype=float)
    p = np.clip(p, 0.0, 1.0)
    q = 1.0 - p
    term = np.power(q, n)  # P(X = 0)
    cdf = np.zeros(k.shape, dtype=float)
    for j in range(int(k.max())):
        cdf = cdf + np.where(j < k, term, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(q > 0, (n - j) / (j + 1) * p / np.where(q > 0, q, 1.0), 0.0)
        term = np.where(j < n, term * ratio, 0.0)
    return np.where(k <= 0, 1.0, np.clip(1.0 - cdf, 0.0, 1.0))


def log10_poisson_sf_array(k: np.ndarray, lam: np.ndarray, terms: int = 80) -> np.ndarray:
    """log10 P(X >= k) for X ~ Poisson(lam), elementwise and accurate for tiny tails.

    Where ``lam < k`` the tail is summed in log space from ``P(X = k)`` (``terms``
    terms of the series); elsewhere the tail is not small and plain floats do.
    """
    k = np.asarray(k, dtype=np.int64)
    lam = np.asarray(lam, dtype=float)
    k, lam = np.broadcast_arrays(k, lam)
    out = np.zeros(k.shape, dtype=float)
    if k.size == 0:
        return out
    small = (k > 0) & (lam < k)
    if small.any():
        ks, ls = k[small], np.maximum(lam[small], 1e-300)
        lg = np.array([math.lgamma(i + 1) for i in range(int(ks.max()) + 1)])
        head = -ls + ks * np.log(ls) - lg[ks]
        total = np.ones_like(ls)
        term = np.ones_like(ls)
        for j in range(1, terms):
            term = term * ls / (ks + j)
            total = total + term
        out[small] = (head + np.log(total)) / LN10
    big = (k > 0) & ~small
    if big.any():
        out[big] = np.log10(np.maximum(poisson_sf_array(k[big], lam[big]), 1e-300))
    return np.minimum(out, 0.0)


def weekday_days_sql(days: str, key: str) -> str:
    """SQL giving, per ``key`` and weekday ``wd``, the calendar days ``c`` of that weekday
    in the key's active span (first to last day), the weekday's add-one smoothed share
    of the key's events ``share``, and the key's total ``tot``.

    ``days`` is a query with columns ``<key>``, ``d`` (DATE) and ``n`` (events that day).
    """
    return f"""
    WITH dd AS ({days}),
    span AS (
        SELECT {key}, min(d) AS d0, date_diff('day', min(d), max(d)) + 1 AS nd, sum(n) AS tot
        FROM dd GROUP BY {key}
    ),
    wk AS (SELECT {key}, dayofweek(d) AS wd, sum(n) AS n FROM dd GROUP BY ALL),
    cal AS (
        SELECT span.{key}, r.wd, span.tot,
               span.nd // 7 + CASE WHEN (r.wd - dayofweek(span.d0) + 7) % 7 < span.nd % 7
                                   THEN 1 ELSE 0 END AS c
        FROM span CROSS JOIN (SELECT range AS wd FROM range(7)) r
    )
    SELECT cal.{key}, cal.wd, cal.tot, greatest(cal.c, 1) AS c,
           (coalesce(wk.n, 0) + 1.0) / (cal.tot + 7) AS share
    FROM cal LEFT JOIN wk USING ({key}, wd)
    """


def weekday_w2_sql(days: str, key: str) -> str:
    """SQL giving, per ``key``, the chance that two events fall on the same day.

    ``days`` is a query with columns ``<key>``, ``d`` (DATE) and ``n`` (events that
    day). Events are spread over the key's active span (first to last day) in
    proportion to its weekday profile (add-one smoothed, :func:`weekday_days_sql`): the
    provider's weekly rhythm counts, but not the particular days — otherwise a group
    that makes up most of a small provider's traffic would explain its own batches.
    Returns ``<key>, w2`` with ``w2 = Σ_weekday share² / c``.
    """
    return f"""
    SELECT {key}, sum(share ** 2 / c) AS w2
    FROM ({weekday_days_sql(days, key)}) GROUP BY {key}
    """


def fdr_select(group: np.ndarray, pvalue: np.ndarray, tests: np.ndarray, rate: float) -> np.ndarray:
    """Benjamini–Hochberg within each group: which p-values are discoveries.

    ``tests`` is each row's number of hypotheses in its group (rows not listed count
    as p = 1: e.g. every repeat patient of a hospital, of whom only the group's are
    given). A row is selected when its rank ``i`` in its group (by p) is at most the
    largest rank with ``p_(i) ≤ i · rate / tests``: the expected share of chance
    members among those selected stays at ``rate``.
    """
    df = pd.DataFrame({"g": group, "p": pvalue, "m": np.maximum(tests, 1)})
    df = df.sort_values(["g", "p"], kind="stable")
    rank = df.groupby("g").cumcount() + 1
    ok = df["p"] <= rank * rate / df["m"]
    last = rank.where(ok, 0).groupby(df["g"]).transform("max")
    out = np.zeros(len(df), dtype=bool)
    out[df.index.to_numpy()] = (rank <= last).to_numpy()
    return out
