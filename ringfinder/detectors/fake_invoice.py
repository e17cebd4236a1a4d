"""Fake-invoice rings for window reimbursement (虚假发票"一条龙").

A forger or agent sells invoices "issued" by a (usually out-of-area) hospital to
claimants who are often unrelated; the agent brings the papers to the window (one
submitter phone), collects the money (one payee account), and an agency handler may
be in on it. One claimant with one forged invoice looks like any other claimant; the
ring shows as a graph.

Algorithm
---------
1. **Agent links.** A reimbursement's submitter phone or payee account is *foreign*
   when it is not the claimant's own (``persons.phone`` / ``persons.bank_account``).
   A foreign identifier becomes a graph node only when it reaches claimants in two or
   more *households* (``persons.address``; a person without an address is a household
   of one): a family sharing one account at one address stays out. For submitter
   phones the claimants of one employer count as one unit (an employer's HR desk
   bringing its staff's papers is routine; the money still goes to each claimant).
2. **Invoice pads.** The trailing digits of ``invoice_id`` are the invoice number; the
   rest, with the issuer, names the series. Within a series, invoices whose numbers lie
   within ``pad_size`` of their neighbour form a run. A run is a *pad* when it crosses
   two or more households and its issue dates are spread wider than a real issuer could
   spread that many numbers (a hospital issues at least ``min_invoices_per_day``; the
   forger hands out one pad for months: "two invoices years apart with nearly
   consecutive numbers" is how one case was caught).
3. **Groups.** Claimants are joined to the agent and pad nodes of their reimbursements;
   each connected component (igraph) reaching ``min_households`` households is a
   candidate ring.
4. **Evidence, each against an honest expectation from the rest of the data**
   (leave-the-group-out): extra households reached by the agent identifiers and pads
   (geometric: each further household is one more coincidence at the rate honest
   identifiers reach a second household); invoices without a referral to their issuer
   for that person (binomial against the population share); one handler processing
   most of the group (binomial against the handler's share of all work); amounts in
   the band around the 10,000-yuan review line (binomial against the population
   share). The surprises (−log10 tail probabilities) add up; the number of candidate
   groups is charged once (Bonferroni); ``strength = 1 − 2^(−S/2)`` is 0.5 at an
   adjusted p of 0.01 (the shared calibration in :mod:`ringfinder.detectors._common`).
   The 10,000-yuan and 4-a-year rules are features here, never the detector.

Members: the claimants (persons, defining) and the issuers of their linked invoices
(institutions, external ones included). Evidence: the linked reimbursement ids, plus
the members' other reimbursements with an unreferred invoice from the same issuers
("trace back all of that person's earlier receipts"). Handlers are not a member kind;
the one processing most of the group is named in the reasons and figures.

Honest look-alikes: a cancer patient with many large reimbursements (own phone, own
account, a matching referral) never joins a group; a family sharing one payee account
at one address forms no agent node.

Cost: linear in reimbursements and invoices (hash joins, one window sort of invoices
per series: O(n log n), a correlated referral lookup per invoice that DuckDB runs as
a join on (person, issuer)); the graph has one node per claimant and per shared
identifier. A busy honest identifier (an HR desk, a hospital social worker) makes one
larger component, scored once; there is no pair counting anywhere. A synthetic
city-year (100k reimbursements, 120k invoices, 1M referrals) took 1–5 s on two cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import igraph as ig
import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.detectors._common import binom_surprise, strength
from ringfinder.detectors.base import Detector
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason

NAME = "fake_invoice"
_NODE_KINDS = ("phone", "account", "pad")

MESSAGES = {
    "fake_invoice.agent": {
        "zh": "{households}户互不相关的参保人由同一代办人员(电话{phones}个、收款账户{accounts}个)"
        "代为报销,涉及报销{reimbursements}笔",
        "en": "one agent ({phones} submitter phones, {accounts} payee accounts, none the "
        "claimants' own) handled {reimbursements} reimbursements for {households} unrelated "
        "households",
    },
    "fake_invoice.pad": {
        "zh": "{issuer}的{invoices}张发票号码落在{span}个号以内,却分属{households}户、"
        "开票日期跨{days}天",
        "en": "{invoices} invoices of {issuer} numbered within {span} of each other go to "
        "{households} households yet are dated {days} days apart",
    },
    "fake_invoice.no_referral": {
        "zh": "{unmatched}/{invoices}张发票的开票机构无该参保人事先的转诊记录(全市比例{base_pct}%)",
        "en": "{unmatched} of {invoices} invoices come from an issuer the claimant was never "
        "referred to (city-wide {base_pct}%)",
    },
    "fake_invoice.handler": {
        "zh": "经办人{handler}办理了其中{handled}/{reimbursements}笔(其全市经办占比{base_pct}%)",
        "en": "handler {handler} processed {handled} of the {reimbursements} reimbursements "
        "(share of all work {base_pct}%)",
    },
    "fake_invoice.threshold": {
        "zh": "{near}/{reimbursements}笔报销金额在{low}–{high}元之间,贴近1万元审核线"
        "(全市比例{base_pct}%)",
        "en": "{near} of {reimbursements} reimbursements are between {low} and {high} yuan, "
        "around the 10,000-yuan review line (city-wide {base_pct}%)",
    },
    "fake_invoice.per_year": {
        "zh": "{persons}名成员一年报销达{limit}次及以上",
        "en": "{persons} members had {limit} or more reimbursements in a year",
    },
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class Params:
    """Defaults are domain figures (see ``shared/domain/schemes.md``).

    - ``min_households = 3``: a relative may well bring the papers of two households
      (parents and parents-in-law); an agent serving three or more unrelated households
      is the trace the documents describe ("the same submitter phone or payee account
      for many claimants").
    - ``pad_size = 100``: paper invoices come in books of 25 to 100 sheets; numbers
      within one book's width of each other are "a narrow sequential range".
    - ``min_invoices_per_day = 10``: even a small clinic issues ten invoices a working
      day, so a real issuer cannot spread ``w`` consecutive numbers over more than
      ``w / 10`` days (plus ``holiday_days = 7``, the Spring Festival break).
    - ``referral_valid_days = 365``: a referral (转诊/异地就医备案) covers the course of
      treatment it was made for, taken here as up to a year.
    - ``review_line = 10000`` yuan with ``review_band = 0.1``: the regulators' single
      reimbursement review line; amounts within 10 % either side are "just below or
      above" it.
    - ``per_year_limit = 4``: the regulators' 4-reimbursements-a-year rule (a figure in
      the reasons only).
    - ``min_rate`` / ``max_rate``: bounds on rates estimated from the data, so that a
      clean city cannot make one coincidence infinitely surprising (at least 1 in 100
      foreign identifiers honestly reaches a second household) nor a contaminated one
      hide everything.
    - ``half_surprise = 2``: strength is 0.5 at a Bonferroni-adjusted tail probability
      of 0.01 (shared by ringfinder's statistical detectors).
    """

    min_households: int = 3
    pad_size: int = 100
    min_invoices_per_day: float = 10.0
    holiday_days: int = 7
    referral_valid_days: int = 365
    review_line: Decimal = Decimal("10000")
    review_band: float = 0.1
    per_year_limit: int = 4
    min_rate: float = 0.01
    max_rate: float = 0.5
    half_surprise: float = 2.0


def _rate(hits: float, total: float, p: Params) -> float:
    """A leave-group-out rate with a Laplace prior, bounded to [min_rate, max_rate]."""
    return min(max((hits + 1.0) / (total + 2.0), p.min_rate), p.max_rate)


# -- data --------------------------------------------------------------------------------
#: the reimbursement rows the detector reads, from any source relation ``r`` holding
#: them (the workspace's SQL below, or the Cypher stage's rows): canonical types
_REIM_COLUMNS = """
    CAST(rid AS VARCHAR) AS rid, CAST(pid AS VARCHAR) AS pid, CAST(d AS DATE) AS d,
    CAST(amount AS DOUBLE) AS amount, CAST(handler AS VARCHAR) AS handler,
    CAST(fphone AS VARCHAR) AS fphone, CAST(facct AS VARCHAR) AS facct,
    CAST(hh AS VARCHAR) AS hh, CAST(unit AS VARCHAR) AS unit
"""
#: invoice rows (invoice_id, rid, issuer_id, issue_date, referred) to series, number and
#: run of near-consecutive numbers, over a relation ``inv`` holding them
_RUNS = """
    s AS (
        SELECT *, issuer_id || chr(31)
                  || left(invoice_id, length(invoice_id) - least(length(digits), 15))
                  AS series,
               CASE WHEN digits <> '' THEN CAST(right(digits, 15) AS BIGINT) END AS num
        FROM (SELECT CAST(invoice_id AS VARCHAR) AS invoice_id, CAST(rid AS VARCHAR) AS rid,
                     CAST(issuer_id AS VARCHAR) AS issuer_id,
                     CAST(issue_date AS DATE) AS issue_date,
                     CAST(referred AS BOOLEAN) AS referred,
                     regexp_extract(invoice_id, '([0-9]+)$', 1) AS digits
              FROM inv)
    ), g AS (
        SELECT *, num - lag(num) OVER (PARTITION BY series ORDER BY num) AS gap
        FROM s
    )
    SELECT invoice_id, rid, issuer_id, issue_date, referred, series, num,
           CASE WHEN num IS NULL THEN NULL ELSE
           sum(CASE WHEN gap IS NULL OR gap > $pad THEN 1 ELSE 0 END)
               OVER (PARTITION BY series ORDER BY num ROWS UNBOUNDED PRECEDING)
           END AS run
    FROM g
"""


def _reimbursements(engine: EmbeddedEngine) -> pd.DataFrame:
    """Each reimbursement with its foreign submitter phone and payee account (not the
    claimant's own), household and unit (the Cypher stage ``fake_invoice_reimbursements``
    answers the same on the graph)."""
    return engine.sql(
        f"""
        SELECT {_REIM_COLUMNS} FROM (
        SELECT r.reimbursement_id AS rid, r.person_id AS pid, r.submitted_date AS d,
               r.amount_claimed AS amount, r.handler_id AS handler,
               CASE WHEN r.submitter_phone IS NOT NULL
                         AND r.submitter_phone IS DISTINCT FROM p.phone
                    THEN r.submitter_phone END AS fphone,
               CASE WHEN r.payee_account IS NOT NULL
                         AND r.payee_account IS DISTINCT FROM p.bank_account
                    THEN r.payee_account END AS facct,
               coalesce('a:' || p.address, 'p:' || r.person_id) AS hh,
               coalesce('e:' || p.employer_id, 'a:' || p.address, 'p:' || r.person_id) AS unit
        FROM reimbursements r LEFT JOIN persons p USING (person_id))
        """
    ).df()


def _invoices(engine: EmbeddedEngine, p: Params, with_referrals: bool) -> pd.DataFrame:
    """Invoices with their series, number, run and whether a referral covers them (the
    Cypher stage ``fake_invoice_invoices`` gives the rows before the series)."""
    referral = (
        """EXISTS (SELECT 1 FROM referrals f WHERE f.person_id = r.person_id
                   AND f.to_provider_id = i.issuer_id AND f.referral_date <= i.issue_date
                   AND f.referral_date >= i.issue_date - CAST($valid AS INTEGER))"""
        if with_referrals
        else "NULL"
    )
    return engine.sql(
        f"""
        WITH inv AS (
            SELECT i.invoice_id, i.reimbursement_id AS rid, i.issuer_id, i.issue_date,
                   {referral} AS referred
            FROM invoices i JOIN reimbursements r USING (reimbursement_id)
        ), {_RUNS}
        """,
        {"pad": p.pad_size, "valid": p.referral_valid_days}
        if with_referrals
        else {"pad": p.pad_size},
    ).df()


def frames_from_rows(
    reim: pd.DataFrame, inv: pd.DataFrame, p: Params
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The detector's frames from rows read elsewhere (the Neo4j engine's Cypher stage).

    ``reim``: the columns of :func:`_reimbursements`; ``inv``: invoice_id, rid,
    issuer_id, issue_date, referred. They pass through the same typed SELECT and
    series SQL as the workspace's rows, in a DuckDB of their own, so both engines hand
    :func:`run_on_frames` the same values in the same types.
    """
    con = duckdb.connect()
    try:
        con.register("r", reim)
        con.register("inv", inv)
        reim_f = con.execute(f"SELECT {_REIM_COLUMNS} FROM r").df()
        inv_f = con.execute(f"WITH {_RUNS}", {"pad": p.pad_size}).df()
    finally:
        con.close()
    return reim_f, inv_f


def _pads(inv: pd.DataFrame, hh: pd.Series, p: Params) -> pd.DataFrame:
    """Runs of near-consecutive numbers crossing households, dated too far apart."""
    x = inv.dropna(subset=["num"]).assign(hh=lambda d: d["rid"].map(hh))
    runs = x.groupby(["series", "run"]).agg(
        issuer=("issuer_id", "first"),
        invoices=("invoice_id", "size"),
        households=("hh", "nunique"),
        lo=("num", "min"),
        hi=("num", "max"),
        first=("issue_date", "min"),
        last=("issue_date", "max"),
    )
    runs["span"] = (runs["hi"] - runs["lo"]).astype("int64")
    runs["days"] = (pd.to_datetime(runs["last"]) - pd.to_datetime(runs["first"])).dt.days
    honest_days = runs["span"] / p.min_invoices_per_day + p.holiday_days
    runs["pad"] = (runs["households"] >= 2) & (runs["days"] > honest_days)
    runs = runs.reset_index()
    return runs.assign(key="pad\x1f" + runs["series"] + "\x1f" + runs["run"].astype(str))


def run(engine: EmbeddedEngine, params: Params) -> list[Finding]:
    """Fake-invoice ring findings (see the module docstring)."""
    reim = _reimbursements(engine)
    if reim.empty:
        return []
    with_referrals = "referrals" in engine.tables()
    inv = _invoices(engine, params, with_referrals)
    return run_on_frames(params, reim, inv, with_referrals)


def run_on_frames(
    params: Params, reim: pd.DataFrame, inv: pd.DataFrame, with_referrals: bool
) -> list[Finding]:
    """Findings from the reimbursement and invoice frames (:func:`_reimbursements`,
    :func:`_invoices`, or :func:`frames_from_rows` on the Cypher stage's rows)."""
    p = params
    if reim.empty:
        return []
    # one order whatever the source's: ties (the busiest handler, equally strong rings)
    # are then broken the same way on every engine and every run
    reim = reim.sort_values("rid", ignore_index=True)
    inv = inv.sort_values(["invoice_id", "rid"], ignore_index=True)
    hh = reim.set_index("rid")["hh"]

    # -- agent and pad nodes ---------------------------------------------------------
    links = []  # (rid, node)
    node_units: dict[str, int] = {}
    rates: dict[str, tuple[int, int]] = {}  # kind -> (identifiers reaching >= 2, all)
    for kind, col, unit in (("phone", "fphone", "unit"), ("account", "facct", "hh")):
        use = reim.dropna(subset=[col])
        units = use.groupby(col)[unit].nunique()
        rates[kind] = (int((units >= 2).sum()), len(units))
        shared = units[units >= 2]
        node_units.update({f"{kind}\x1f{k}": int(v) for k, v in shared.items()})
        linked = use[use[col].isin(shared.index)]
        links.append(pd.DataFrame({"rid": linked["rid"], "node": kind + "\x1f" + linked[col]}))
    runs = _pads(inv, hh, p)
    pads = runs[runs["pad"]]
    rates["pad"] = (len(pads), len(runs))
    if len(pads):
        node_units.update(dict(zip(pads["key"], pads["households"].astype(int), strict=True)))
        padded = inv.merge(pads[["series", "run", "key"]], on=["series", "run"])
        links.append(pd.DataFrame({"rid": padded["rid"], "node": padded["key"]}))
    edges = pd.concat(links, ignore_index=True).drop_duplicates()
    if edges.empty:
        return []
    edges = edges.merge(reim[["rid", "pid"]], on="rid")

    # -- components over claimants and nodes -----------------------------------------
    codes, names = pd.factorize(pd.concat(["p\x1f" + edges["pid"], edges["node"]]))
    n_e = len(edges)
    g = ig.Graph(n=len(names), edges=np.column_stack([codes[:n_e], codes[n_e:]]).tolist())
    comp = np.asarray(g.connected_components().membership)
    edges["comp"] = comp[codes[:n_e]]
    edges["hh"] = edges["rid"].map(hh)
    sizes = edges.groupby("comp")["hh"].nunique()
    candidates = sizes[sizes >= p.min_households].index
    if len(candidates) == 0:
        return []

    # -- population figures for the honest expectations ------------------------------
    band = (
        float(p.review_line) * (1 - p.review_band),
        float(p.review_line) * (1 + p.review_band),
    )
    reim["near"] = reim["amount"].between(band[0], band[1], inclusive="left")
    years = reim.assign(y=pd.to_datetime(reim["d"]).dt.year).groupby(["pid", "y"]).size()
    pop = {
        "reimbursements": len(reim),
        "near": int(reim["near"].sum()),
        "handlers": reim["handler"].value_counts(),
        "heavy": set(years[years >= p.per_year_limit].index.get_level_values(0)),
        "band": band,
        "rates": rates,
        "units": node_units,
    }
    if with_referrals:
        ref = inv.dropna(subset=["referred"])
        pop["invoices"] = len(ref)
        pop["unmatched"] = int((~ref["referred"].astype(bool)).sum())
    # each linked reimbursement and each claimant belongs to exactly one component
    rid_comp = edges.drop_duplicates("rid").set_index("rid")["comp"]
    pid_comp = edges.drop_duplicates("pid").set_index("pid")["comp"]
    reim["comp"] = reim["rid"].map(rid_comp)
    reim["member_of"] = reim["pid"].map(pid_comp)
    inv = inv.merge(reim[["rid", "comp", "member_of"]], on="rid")
    slices = {
        "edges": dict(tuple(edges.groupby("comp"))),
        "reim": dict(tuple(reim.dropna(subset=["comp"]).groupby("comp"))),
        "inv": dict(tuple(inv.dropna(subset=["member_of"]).groupby("member_of"))),
    }
    findings = [
        _finding(slices["edges"][c], slices["reim"][c], slices["inv"][c], pads, pop, p)
        for c in candidates
    ]
    for f in findings:
        f.strength = strength(f.figures["surprise"], len(findings), p.half_surprise)
    findings.sort(key=lambda f: (-f.strength, sorted(f.persons)))
    return findings


def _finding(
    e: pd.DataFrame,
    mine: pd.DataFrame,
    member_inv: pd.DataFrame,
    pads: pd.DataFrame,
    pop: dict[str, Any],
    p: Params,
) -> Finding:
    """One candidate ring: its links ``e``, linked reimbursements ``mine`` and the
    invoices of all its members' reimbursements ``member_inv``."""
    persons = set(e["pid"])
    linked = set(e["rid"])
    nodes = set(e["node"])
    kinds = {k: sorted(x for x in nodes if x.startswith(k + "\x1f")) for k in _NODE_KINDS}
    units, rates = pop["units"], pop["rates"]
    reasons: list[Reason] = []
    terms: dict[str, float] = {}

    # agents: extra households reached, at the rate honest identifiers reach a second one
    agent_terms = []
    for kind in ("phone", "account"):
        if kinds[kind]:
            hits, total = rates[kind]
            lam = _rate(hits - len(kinds[kind]), total - len(kinds[kind]), p)
            extra = sum(units[x] - 1 for x in kinds[kind])
            agent_terms.append(extra * -math.log10(lam))
    if agent_terms:
        terms["agent"] = max(agent_terms)
        agent_rids = e.loc[~e["node"].str.startswith("pad\x1f"), "rid"]
        reasons.append(
            Reason(
                "fake_invoice.agent",
                {
                    "households": int(e.loc[e["rid"].isin(agent_rids), "hh"].nunique()),
                    "phones": len(kinds["phone"]),
                    "accounts": len(kinds["account"]),
                    "reimbursements": int(agent_rids.nunique()),
                },
            )
        )
    # pads: the same geometric reading, at the rate runs cross households out of order
    if kinds["pad"]:
        hits, total = rates["pad"]
        lam = _rate(hits - len(kinds["pad"]), total - len(kinds["pad"]), p)
        terms["pad"] = sum(units[x] - 1 for x in kinds["pad"]) * -math.log10(lam)
        for _, r in pads[pads["key"].isin(nodes)].sort_values("invoices").iterrows():
            reasons.append(
                Reason(
                    "fake_invoice.pad",
                    {
                        "issuer": r["issuer"],
                        "invoices": int(r["invoices"]),
                        "span": int(r["span"]),
                        "households": int(r["households"]),
                        "days": int(r["days"]),
                    },
                )
            )

    linked_inv = member_inv[member_inv["rid"].isin(linked)]
    issuers = set(linked_inv["issuer_id"])
    evidence = set(linked)
    # invoices with no referral to their issuer, against the share among everyone else's
    if "invoices" in pop:
        ref = linked_inv.dropna(subset=["referred"])
        unmatched = int((~ref["referred"].astype(bool)).sum())
        others = pop["invoices"] - len(ref)
        base = (pop["unmatched"] - unmatched) / others if others else 0.5
        base = min(max(base, p.min_rate), 1 - p.min_rate)
        terms["no_referral"] = binom_surprise(unmatched, len(ref), base)
        if unmatched:
            reasons.append(
                Reason(
                    "fake_invoice.no_referral",
                    {
                        "unmatched": unmatched,
                        "invoices": len(ref),
                        "base_pct": round(100 * base, 1),
                    },
                )
            )
        # trace back: the members' other unreferred invoices from the ring's issuers
        back = member_inv.dropna(subset=["referred"])
        back = back[back["issuer_id"].isin(issuers) & ~back["referred"].astype(bool)]
        evidence |= set(back["rid"])

    n = len(mine)
    others_n = pop["reimbursements"] - n
    # one handler processing most of the group, against the handler's share of all work
    handled = mine["handler"].value_counts()
    if len(handled) and n >= p.min_households:
        top, m = handled.index[0], int(handled.iloc[0])
        q = (int(pop["handlers"].get(top, 0)) - m) / others_n if others_n else 0.5
        q = min(max(q, p.min_rate), 1 - p.min_rate)
        s = binom_surprise(m, n, q) - math.log10(len(handled))
        if s > 0:
            terms["handler"] = s
            reasons.append(
                Reason(
                    "fake_invoice.handler",
                    {
                        "handler": top,
                        "handled": m,
                        "reimbursements": n,
                        "base_pct": round(100 * q, 1),
                    },
                )
            )
    # amounts around the review line, against the share among everyone else's
    near = int(mine["near"].sum())
    qa = (pop["near"] - near) / others_n if others_n else 0.5
    qa = min(max(qa, p.min_rate), 1 - p.min_rate)
    s = binom_surprise(near, n, qa)
    if s > 0:
        terms["threshold"] = s
        reasons.append(
            Reason(
                "fake_invoice.threshold",
                {
                    "near": near,
                    "reimbursements": n,
                    "low": int(pop["band"][0]),
                    "high": int(pop["band"][1]),
                    "base_pct": round(100 * qa, 1),
                },
            )
        )
    rule_persons = len(persons & pop["heavy"])
    if rule_persons:
        reasons.append(
            Reason("fake_invoice.per_year", {"persons": rule_persons, "limit": p.per_year_limit})
        )
    surprise = float(sum(terms.values()))
    return Finding(
        NAME,
        0.0,
        persons=persons,
        institutions=issuers,
        claims=evidence,
        reasons=reasons,
        figures={
            "surprise": round(surprise, 3),
            "terms": {k: round(v, 3) for k, v in terms.items()},
            "households": int(e["hh"].nunique()),
            "reimbursements": n,
            "agent_identifiers": len(kinds["phone"]) + len(kinds["account"]),
            "pads": len(kinds["pad"]),
            "handlers": [str(h) for h in handled.index[:3]],
        },
    )


DETECTOR = Detector(
    name=NAME,
    requires=("reimbursements", "invoices"),
    params_type=Params,
    run_embedded=run,
    summary="虚假发票一条龙: claimants tied by a foreign agent phone/account or one invoice pad",
    uses=("referrals", "persons"),
)
