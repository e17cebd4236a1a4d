"""Community detection on the weighted person graph (issue: "community" leads).

The person graph joins two persons when the data ties them in ways honest strangers
rarely are, each tie a *signal kind*:

- ``co_admission``: admitted (inpatient) to the same provider on the same day, on at
  least ``min_shared_days`` distinct days; weight per day 1/(crowd − 1);
- ``card_burst``: their cards settled on the same terminal within the same
  ``burst_minutes`` window, in at least ``min_shared_bursts`` distinct windows;
- ``shared_identifier``: the same (pseudonymised) phone or bank account; weight
  1/(k − 1) for an identifier shared by k persons;
- ``household``: the same address, weighted the same way. It joins families and
  care homes into communities but is not a signal: living together explains why
  persons go to the doctor together;
- ``agent``: their window reimbursements went through the same submitter phone or
  payee account (that is not their own).

Cost stays bounded on honest crowds: only persons (cards) with repeated activity at
a provider (terminal) are paired; a day or window with more than ``max_crowd`` such
persons adds no pairs, so the pair count grows with Σ min(n, max_crowd)² over days,
not with the square of a hospital's daily admissions; identifiers shared by more than
``max_identifier_share`` persons are placeholders, not links.

Leiden (modularity, resolution 1, fixed seed; see :class:`LeidenSettings`) partitions
the graph; python-igraph's run leaves out connected components of fewer than
``min_size`` persons (they cannot hold a community of ``min_size``) and keeps the
objective (:func:`ringfinder.graph.leiden`). A community becomes a ``community`` finding
only for what the pattern detectors did not already say: persons named in a pattern
finding are left out, and the rest must still be a ring on its own — ``min_size``
persons or more, tied by at least ``min_signal_kinds`` different kinds (families share
identifiers and nothing else; dialysis cohorts are outpatients), with most of them
(``behaviour_share``) tied by behaviour (admitted together, cards swiped together, one
agent) to someone outside their household, not only by a shared phone or address: Leiden
happily joins a few families through one pair of patients who met on a ward, and a care
home's residents taken to their check-ups together are one household; neither is a ring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from ringfinder import i18n
from ringfinder.duck import one
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.findings import Finding, Reason
from ringfinder.graph import LeidenSettings, leiden

MESSAGES = {
    "community.ties": {
        "zh": "{persons} 名人员由 {kinds} 类关系紧密相连（{kind_list}），共 {edges} 条关联",
        "en": "{persons} persons tied together by {kinds} kinds of link ({kind_list}), "
        "{edges} links in all",
    },
    "community.co_admission": {
        "zh": "其中 {pairs} 对人员在同一机构同日住院，合计 {days} 个不同日期",
        "en": "{pairs} pairs of them admitted to one provider on the same day, "
        "on {days} distinct days",
    },
    "community.card_burst": {
        "zh": "其中 {pairs} 对人员的医保卡在同一终端 {minutes} 分钟内连续结算",
        "en": "{pairs} pairs of their cards settled on one terminal within {minutes} minutes",
    },
    "community.shared_identifier": {
        "zh": "{pairs} 对人员共用电话或银行账户",
        "en": "{pairs} pairs share a phone or bank account",
    },
    "community.household": {
        "zh": "{pairs} 对人员登记住址相同",
        "en": "{pairs} pairs share an address",
    },
    "community.agent": {
        "zh": "{pairs} 对人员的手工报销经同一代办电话或收款账户",
        "en": "{pairs} pairs filed window reimbursements through the same agent phone or account",
    },
    "community.settings": {
        "zh": "社区发现：Leiden 算法，目标 {objective}，分辨率 {resolution}，随机种子 {seed}",
        "en": "Communities: Leiden, objective {objective}, resolution {resolution}, seed {seed}",
    },
}
i18n.register(MESSAGES)

KINDS = ("co_admission", "card_burst", "shared_identifier", "agent", "household")
#: Ties that count towards a community's signal kinds (a shared address does not).
SIGNALS = ("co_admission", "card_burst", "shared_identifier", "agent")
#: Ties that are things persons did together, as opposed to identifiers they share.
BEHAVIOURAL = ("co_admission", "card_burst", "agent")


@dataclass(frozen=True)
class CommunityParams:
    """Defaults are domain figures, not fitted constants.

    - ``min_shared_days`` 2: one shared admission day is chance or an outbreak;
      the documents' batches recur.
    - ``burst_minutes`` 10: "settled minutes apart" on one terminal.
    - ``min_shared_bursts`` 2: the same cards together in more than one burst.
    - ``max_crowd`` 200: repeat patients of one provider on one day beyond this are an
      institution-wide event, not a ring (bounds the pair count).
    - ``max_identifier_share`` 30: an identifier on more persons is a placeholder.
    - ``min_size`` 4 and ``min_signal_kinds`` 2: a ring is several persons tied in
      several ways; a family is a few persons tied one way.
    - ``behaviour_share`` 0.5: most of a ring's persons are tied by what they did
      together; shared identifiers alone make a family.
    """

    min_shared_days: int = 2
    burst_minutes: int = 10
    min_shared_bursts: int = 2
    max_crowd: int = 200
    max_identifier_share: int = 30
    min_size: int = 4
    min_signal_kinds: int = 2
    behaviour_share: float = 0.5
    leiden: LeidenSettings = field(default_factory=LeidenSettings)


def _co_admission_pairs(p: CommunityParams) -> tuple[str, dict[str, object]]:
    return (
        """
        WITH adm AS (
            SELECT DISTINCT person_id, provider_id, CAST(start_time AS DATE) AS d
            FROM claims WHERE visit_type = 'inpatient'
        ), rep AS (
            SELECT person_id, provider_id FROM adm GROUP BY ALL HAVING count(*) >= $k
        ), cand AS (
            SELECT a.* FROM adm a JOIN rep USING (person_id, provider_id)
        ), crowd AS (
            SELECT provider_id, d, count(*) AS n FROM cand GROUP BY ALL
            HAVING count(*) BETWEEN 2 AND $cap
        ), c AS (SELECT cand.*, n FROM cand JOIN crowd USING (provider_id, d))
        SELECT x.person_id AS a, y.person_id AS b, 'co_admission' AS kind,
               sum(1.0 / (x.n - 1)) AS weight, count(*) AS days
        FROM c x JOIN c y ON x.provider_id = y.provider_id AND x.d = y.d
                         AND x.person_id < y.person_id
        GROUP BY ALL HAVING count(*) >= $k
        """,
        {"k": p.min_shared_days, "cap": p.max_crowd},
    )


def _card_burst_pairs(p: CommunityParams) -> tuple[str, dict[str, object]]:
    # cards and terminals as 64-bit hashes until the few pairs are known (a card is one
    # person's, so counting distinct cards counts distinct (person, card) settlements).
    # Every claims.card_id is in cards (the loader rejects unknown cards, and cards are
    # never deleted), so no semi-join with cards; the owner join below keeps it exact.
    return (
        """
        WITH s AS (
            SELECT DISTINCT hash(c.card_id) AS ck, hash(c.terminal_id) AS t,
                   CAST(floor(epoch(c.start_time) / ($m * 60)) AS BIGINT) AS w
            FROM claims c
            WHERE c.terminal_id IS NOT NULL AND c.card_id IS NOT NULL
        ), cand AS (SELECT * FROM s QUALIFY count(*) OVER (PARTITION BY ck, t) >= $k),
        crowd AS (
            SELECT t, w, count(*) AS n FROM cand GROUP BY ALL HAVING count(*) BETWEEN 2 AND $cap
        ), c0 AS (SELECT cand.*, n FROM cand JOIN crowd USING (t, w)),
        owner AS (
            SELECT hash(card_id) AS ck, person_id FROM cards
            WHERE hash(card_id) IN (SELECT DISTINCT ck FROM c0)
        ), c AS (SELECT c0.*, owner.person_id FROM c0 JOIN owner USING (ck))
        SELECT least(x.person_id, y.person_id) AS a, greatest(x.person_id, y.person_id) AS b,
               'card_burst' AS kind, sum(1.0 / (x.n - 1)) AS weight, count(*) AS days
        FROM c x JOIN c y ON x.t = y.t AND x.w = y.w AND x.ck < y.ck
        WHERE x.person_id <> y.person_id
        GROUP BY ALL HAVING count(*) >= $k
        """,
        {"m": p.burst_minutes, "k": p.min_shared_bursts, "cap": p.max_crowd},
    )


def _identifier_pairs(p: CommunityParams, kind: str, source: str) -> tuple[str, dict[str, object]]:
    return (
        f"""
        WITH ids AS ({source}),
        g AS (SELECT ident, count(DISTINCT person_id) AS k FROM ids GROUP BY ident
              HAVING count(DISTINCT person_id) BETWEEN 2 AND $cap),
        m AS (SELECT DISTINCT ids.person_id, ids.ident, g.k FROM ids JOIN g USING (ident))
        SELECT x.person_id AS a, y.person_id AS b, '{kind}' AS kind,
               sum(1.0 / (x.k - 1)) AS weight, count(*) AS days
        FROM m x JOIN m y ON x.ident = y.ident AND x.person_id < y.person_id
        GROUP BY ALL
        """,
        {"cap": p.max_identifier_share},
    )


_SHARED_IDS = """
    SELECT person_id, 'ph:' || phone AS ident FROM persons WHERE phone IS NOT NULL
    UNION ALL SELECT person_id, 'ac:' || bank_account FROM persons WHERE bank_account IS NOT NULL
"""
_ADDRESSES = """
    SELECT person_id, address AS ident FROM persons WHERE address IS NOT NULL
"""
_AGENT_IDS = """
    SELECT r.person_id, 'ph:' || r.submitter_phone AS ident
    FROM reimbursements r JOIN persons p USING (person_id)
    WHERE r.submitter_phone IS NOT NULL AND r.submitter_phone IS DISTINCT FROM p.phone
    UNION ALL
    SELECT r.person_id, 'ac:' || r.payee_account
    FROM reimbursements r JOIN persons p USING (person_id)
    WHERE r.payee_account IS NOT NULL AND r.payee_account IS DISTINCT FROM p.bank_account
"""


#: TEMP tables of one community run (dropped at its end).
_EDGES, _ORDERED, _VERTICES = "_rf_person_edges", "_rf_person_edges_ord", "_rf_person_vertices"


def _edge_queries(
    engine: EmbeddedEngine, p: CommunityParams
) -> list[tuple[str, dict[str, object]]]:
    present = engine.tables()
    parts = []
    if "claims" in present:
        parts += [_co_admission_pairs(p), _card_burst_pairs(p)]
    parts.append(_identifier_pairs(p, "shared_identifier", _SHARED_IDS))
    parts.append(_identifier_pairs(p, "household", _ADDRESSES))
    if "reimbursements" in present:
        parts.append(_identifier_pairs(p, "agent", _AGENT_IDS))
    return parts


def _edge_table(engine: EmbeddedEngine, p: CommunityParams) -> int:
    """All signal edges (a, b, kind, weight, days) into a TEMP table; their count.

    The edges stay in DuckDB: a city has millions (mostly households), and turning
    their person ids into Python strings cost more than finding them.
    """
    con = engine.con
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_EDGES} "
        "(a VARCHAR, b VARCHAR, kind VARCHAR, weight DOUBLE, days BIGINT)"
    )
    for sql, args in _edge_queries(engine, p):
        con.execute(f"INSERT INTO {_EDGES} SELECT a, b, kind, weight, days FROM ({sql})", args)
    row = one(con.execute(f"SELECT count(*) FROM {_EDGES}"))
    return int(row[0]) if row else 0


def _drop_temp(engine: EmbeddedEngine) -> None:
    for name in (_EDGES, _ORDERED, _VERTICES):
        engine.con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def person_edges(engine: EmbeddedEngine, params: CommunityParams) -> pd.DataFrame:
    """All signal edges (a, b, kind, weight, days) of the person graph."""
    try:
        _edge_table(engine, params)
        return engine.con.execute(f"SELECT a, b, kind, weight, days FROM {_EDGES}").df()
    finally:
        _drop_temp(engine)


def canonical_edges(edges: pd.DataFrame) -> pd.DataFrame:
    """The edges in one order (by a, b, kind) with weights rounded to 1e-9.

    Leiden's result depends on the vertex and edge order and, on ties, on the last bits
    of the weights; a query's row order and its floating sums depend on how the store
    happens to hold the rows. Sorting and rounding make the partition a function of the
    data alone, the same from any store (the workspace, a copy of it, Neo4j).
    :func:`person_graph` gives the same order, vertices and weights without leaving
    DuckDB.
    """
    if edges.empty:
        return edges
    edges = edges.assign(weight=edges["weight"].astype(float).round(9))
    return edges.sort_values(["a", "b", "kind"], kind="stable", ignore_index=True)


@dataclass
class PersonGraph:
    """The person graph as arrays: edge ``i`` joins vertices ``src[i]`` and ``dst[i]``.

    Edges are in canonical order (:func:`canonical_edges`); vertices are numbered by
    first appearance in ``a`` then ``b`` of that order (as ``pd.factorize`` of the two
    columns would number them); ``persons[v]`` is vertex ``v``'s person id.
    """

    persons: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray  # index into KINDS
    weight: np.ndarray  # rounded to 1e-9
    days: np.ndarray


def person_graph(engine: EmbeddedEngine, params: CommunityParams) -> PersonGraph | None:
    """The person graph of the workspace (None when it has no edge)."""
    con = engine.con
    try:
        n = _edge_table(engine, params)
        if n == 0:
            return None
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_ORDERED} AS SELECT "
            f"row_number() OVER (ORDER BY a, b, kind) - 1 AS i, * FROM {_EDGES}"
        )
        con.execute(f"DROP TABLE temp.{_EDGES}")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_VERTICES} AS
            WITH seen AS (
                SELECT a AS person_id, min(i) AS pos FROM {_ORDERED} GROUP BY a
                UNION ALL SELECT b, $n + min(i) FROM {_ORDERED} GROUP BY b)
            SELECT person_id, row_number() OVER (ORDER BY min(pos)) - 1 AS v
            FROM seen GROUP BY person_id""",
            {"n": n},
        )
        kind_code = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS))
        cols = con.execute(
            f"""SELECT x.v AS src, y.v AS dst, CAST(CASE e.kind {kind_code} END AS TINYINT) AS kind,
                   e.weight, e.days
            FROM {_ORDERED} e JOIN {_VERTICES} x ON x.person_id = e.a
                              JOIN {_VERTICES} y ON y.person_id = e.b
            ORDER BY e.i"""
        ).fetchnumpy()
        persons = con.execute(f"SELECT person_id FROM {_VERTICES} ORDER BY v").fetchnumpy()
    finally:
        _drop_temp(engine)
    return PersonGraph(
        persons=np.asarray(persons["person_id"], dtype=object),
        src=np.asarray(cols["src"], dtype=np.int64),
        dst=np.asarray(cols["dst"], dtype=np.int64),
        kind=np.asarray(cols["kind"], dtype=np.int8),
        weight=np.round(np.asarray(cols["weight"], dtype=float), 9),
        days=np.asarray(cols["days"], dtype=np.int64),
    )


@dataclass
class CommunityResult:
    """Communities of the person graph and the findings raised from them."""

    findings: list[Finding]
    partition: pd.DataFrame  # person_id, community_id, size: communities of min_size or more
    settings: dict[str, object]


#: ``(persons, src, dst, weights, settings) -> membership``: who partitions the person
#: graph (default python-igraph's Leiden; the Neo4j engine may hand in GDS Leiden).
Partitioner = Callable[
    [Sequence[str], np.ndarray, np.ndarray, np.ndarray, LeidenSettings], np.ndarray
]


def _igraph_leiden(
    persons: Sequence[str],
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray,
    settings: LeidenSettings,
    *,
    min_size: int = 1,
) -> np.ndarray:
    return leiden(len(persons), src, dst, weights, settings=settings, min_size=min_size)


def _codes(kinds: Sequence[str]) -> list[int]:
    return [KINDS.index(k) for k in kinds]


def detect_communities(
    engine: EmbeddedEngine,
    params: CommunityParams | None = None,
    prior: Sequence[Finding] = (),
    *,
    partitioner: Partitioner | None = None,
) -> CommunityResult:
    """Leiden partition of the person graph; findings for communities nobody reported."""
    p = params or CommunityParams()
    empty = pd.DataFrame({"person_id": [], "community_id": [], "size": []})
    g = person_graph(engine, p)
    if g is None:
        return CommunityResult([], empty, p.leiden.record())
    persons = g.persons
    # a family of two or three can never be a community of min_size: igraph skips them
    partition_with = partitioner or partial(_igraph_leiden, min_size=p.min_size)
    membership = partition_with(list(persons), g.src, g.dst, g.weight, p.leiden)
    membership = np.asarray(membership, dtype=np.int64)
    partition, groups = _partition(persons, membership, p.min_size)
    # only communities with a behavioural tie and enough signal kinds can qualify (their
    # residue has no more): one vectorised pass over the edges, as vertex numbers and
    # kind codes, spares the per-community loop for the tens of thousands of families
    ca, cb = membership[g.src], membership[g.dst]
    inside = (ca == cb) & np.isin(ca, groups)
    signal = inside & np.isin(g.kind, _codes(SIGNALS))
    n_kinds = pd.Series(g.kind[signal]).groupby(ca[signal]).nunique()
    acting = np.unique(ca[signal & np.isin(g.kind, _codes(BEHAVIOURAL))])
    candidates = n_kinds.index[(n_kinds >= p.min_signal_kinds) & n_kinds.index.isin(acting)]
    keep = np.flatnonzero(inside & np.isin(ca, candidates))
    internal = pd.DataFrame(
        {
            "a": persons[g.src[keep]],
            "b": persons[g.dst[keep]],
            "kind": np.asarray(KINDS, dtype=object)[g.kind[keep]],
            "weight": g.weight[keep],
            "days": g.days[keep],
            "ca": ca[keep],
        }
    )
    covered: set[str] = set().union(*(f.persons for f in prior)) if prior else set()
    address = _addresses(engine, internal[internal["kind"].isin(BEHAVIOURAL)])
    in_cand = np.isin(membership, candidates)
    people = pd.Series(persons[in_cand]).groupby(membership[in_cand]).agg(set)
    findings = []
    for comm, grp in internal.groupby("ca", sort=True):
        members = people[comm] - covered  # what the detectors did not say
        if len(members) < p.min_size:
            continue
        grp = grp[grp["a"].isin(members) & grp["b"].isin(members)]
        kinds = sorted(set(grp["kind"]), key=KINDS.index)
        if sum(k in SIGNALS for k in kinds) < p.min_signal_kinds:
            continue
        acts = grp[grp["kind"].isin(BEHAVIOURAL)]
        # persons of one address going out together (a family, a care home) is no ring
        same_home = acts["a"].map(address) == acts["b"].map(address)
        acting = set(acts.loc[~same_home, "a"]) | set(acts.loc[~same_home, "b"])
        if len(acting) < max(p.min_size, p.behaviour_share * len(members)):
            continue
        findings.append(_finding(engine, members, grp, kinds, p))
    return CommunityResult(findings, partition, p.leiden.record())


def _partition(
    persons: np.ndarray, membership: np.ndarray, min_size: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The communities of ``min_size`` or more persons as (person_id, community_id, size)
    rows, by community label, and those labels."""
    sizes = np.bincount(membership)
    keep = sizes[membership] >= min_size
    labels = membership[keep]
    names = persons[keep]
    # by label, then person id: each community's members sorted, as its id hashes them
    order = np.lexsort((names.astype(str), labels))
    labels, names = labels[order], names[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]]) if len(labels) else labels
    bounds = np.r_[starts, len(labels)]
    ids = [_community_id_sorted(names[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    counts = np.diff(bounds)
    partition = pd.DataFrame(
        {
            "person_id": names,
            "community_id": np.repeat(np.asarray(ids, dtype=object), counts),
            "size": np.repeat(counts, counts),
        }
    )
    return partition, labels[starts]


def _community_id_sorted(members: Sequence[str]) -> str:
    """A stable community id from its members, given sorted."""
    h = hashlib.sha256("\x1f".join(members).encode()).hexdigest()
    return "C" + h[:12].upper()


def _addresses(engine: EmbeddedEngine, edges: pd.DataFrame) -> pd.Series:
    """person_id -> address for the persons of ``edges`` (however many share it)."""
    persons = sorted(set(edges["a"]) | set(edges["b"]))
    if not persons:
        return pd.Series(dtype=object)
    rows = engine.sql(
        "SELECT person_id, address FROM persons "
        "WHERE address IS NOT NULL AND person_id IN (SELECT unnest($p))",
        {"p": persons},
    ).fetchall()
    return pd.Series(dict(rows), dtype=object)


def find_communities(
    engine: EmbeddedEngine,
    params: CommunityParams | None = None,
    prior: Sequence[Finding] = (),
) -> list[Finding]:
    """Only the findings of :func:`detect_communities`."""
    return detect_communities(engine, params, prior).findings


def _finding(
    engine: EmbeddedEngine,
    members: set[str],
    grp: pd.DataFrame,
    kinds: list[str],
    p: CommunityParams,
) -> Finding:
    by_kind = grp.groupby("kind").agg(pairs=("a", "size"), days=("days", "sum"))
    tied = set(grp["a"]) | set(grp["b"])
    # share of members tied by two or more kinds: rings are tied many ways, crowds one way
    multi = grp.melt(id_vars=["kind"], value_vars=["a", "b"]).groupby("value")["kind"].nunique()
    mixed = float((multi >= 2).sum()) / max(len(tied), 1)
    signals = sum(k in SIGNALS for k in kinds)
    strength = min(0.9, 0.35 + 0.15 * (signals - 1) + 0.3 * mixed)
    reasons = [
        Reason(
            "community.ties",
            {"persons": len(members), "kinds": len(kinds), "kind_list": kinds, "edges": len(grp)},
        )
    ]
    for kind in kinds:
        row = by_kind.loc[kind]
        figures = {"pairs": int(row["pairs"]), "days": int(row["days"])}
        if kind == "card_burst":
            figures["minutes"] = p.burst_minutes
        reasons.append(Reason(f"community.{kind}", figures))
    reasons.append(Reason("community.settings", dict(p.leiden.record())))
    evidence = _evidence(engine, sorted(members), kinds, p)
    return Finding(
        "community",
        strength,
        persons=members,
        claims=evidence,
        reasons=reasons,
        figures={"kinds": kinds, "mixed_share": round(mixed, 3), "leiden": p.leiden.record()},
    )


def _evidence(
    engine: EmbeddedEngine, persons: list[str], kinds: list[str], p: CommunityParams
) -> set[str]:
    """Claims and reimbursements that tie members together (not their other claims)."""
    ids: set[str] = set()
    if "co_admission" in kinds:
        ids |= {
            r[0]
            for r in engine.sql(
                """WITH m AS (SELECT unnest($p) AS person_id),
                   c AS (SELECT claim_id, provider_id, CAST(start_time AS DATE) d
                         FROM claims JOIN m USING (person_id) WHERE visit_type = 'inpatient')
                   SELECT claim_id FROM c WHERE (provider_id, d) IN (
                       SELECT provider_id, d FROM c GROUP BY ALL HAVING count(*) >= 2)""",
                {"p": persons},
            ).fetchall()
        }
    if "card_burst" in kinds:
        ids |= {
            r[0]
            for r in engine.sql(
                """WITH m AS (SELECT unnest($p) AS person_id),
                   c AS (SELECT claim_id, terminal_id t,
                         CAST(floor(epoch(start_time) / ($min * 60)) AS BIGINT) w
                         FROM claims JOIN m USING (person_id) WHERE terminal_id IS NOT NULL)
                   SELECT claim_id FROM c WHERE (t, w) IN (
                       SELECT t, w FROM c GROUP BY ALL HAVING count(*) >= 2)""",
                {"p": persons, "min": p.burst_minutes},
            ).fetchall()
        }
    if "agent" in kinds:
        ids |= {
            r[0]
            for r in engine.sql(
                """SELECT reimbursement_id FROM reimbursements r JOIN persons ps USING (person_id)
                   WHERE person_id IN (SELECT unnest($p)) AND (
                     r.submitter_phone IS DISTINCT FROM ps.phone
                     OR r.payee_account IS DISTINCT FROM ps.bank_account)""",
                {"p": persons},
            ).fetchall()
        }
    return ids
