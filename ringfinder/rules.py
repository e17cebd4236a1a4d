"""The regulators' screening rules (the baseline ringfinder is measured against).

The campaign documents screen single records and single persons, not groups:
- any single window reimbursement of 10,000 yuan or more (单笔报销 ≥ 1 万元);
- any person with 4 or more window reimbursements in a year (一年报销 ≥ 4 次);
- the top 100 persons by inpatient cost and the top 100 by special-outpatient
  (门诊慢特病) cost;
- 15 or more visits by one person in a calendar month (月就诊 ≥ 15 次).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ringfinder.engine.embedded import EmbeddedEngine


@dataclass(frozen=True)
class RuleParams:
    """Defaults are the figures in the documents (see shared/domain/schemes.md)."""

    single_reimbursement_yuan: Decimal = Decimal("10000")
    reimbursements_per_year: int = 4
    top_n_inpatient: int = 100
    top_n_special_outpatient: int = 100
    visits_per_month: int = 15


@dataclass
class RuleHits:
    """Persons flagged by each rule (ids as in the input)."""

    by_rule: dict[str, set[str]] = field(default_factory=dict)

    @property
    def persons(self) -> set[str]:
        return set().union(*self.by_rule.values()) if self.by_rule else set()

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.by_rule.items()}


def _ids(engine: EmbeddedEngine, query: str, params: Sequence[Any]) -> set[str]:
    return {r[0] for r in engine.sql(query, list(params)).fetchall()}


def screen(engine: EmbeddedEngine, params: RuleParams | None = None) -> RuleHits:
    """Run the four screening rules over the loaded tables."""
    p = params or RuleParams()
    present = engine.tables()
    hits = RuleHits()
    if "reimbursements" in present:
        hits.by_rule["single_reimbursement_ge_10000"] = _ids(
            engine,
            "SELECT DISTINCT person_id FROM reimbursements WHERE amount_claimed >= ?",
            [p.single_reimbursement_yuan],
        )
        hits.by_rule["reimbursements_ge_4_a_year"] = _ids(
            engine,
            """SELECT person_id FROM reimbursements
               GROUP BY person_id, year(submitted_date) HAVING count(*) >= ?""",
            [p.reimbursements_per_year],
        )
    if "claims" in present:
        # both top-N lists from one scan: rank each visit type's persons by cost
        # (ties by person id, as ORDER BY cost DESC, person_id LIMIT n would)
        rules = {
            "inpatient": ("top_inpatient_cost", p.top_n_inpatient),
            "chronic_outpatient": ("top_special_outpatient_cost", p.top_n_special_outpatient),
        }
        for rule, _ in rules.values():
            hits.by_rule[rule] = set()
        rows = engine.sql(
            """WITH s AS (
                   SELECT visit_type, person_id, sum(total_amount) AS cost FROM claims
                   WHERE visit_type IN ('inpatient', 'chronic_outpatient') GROUP BY ALL
               ), r AS (
                   SELECT visit_type, person_id, row_number() OVER (
                       PARTITION BY visit_type ORDER BY cost DESC, person_id) AS rk
                   FROM s
               )
               SELECT visit_type, person_id FROM r
               WHERE rk <= CASE visit_type WHEN 'inpatient' THEN ? ELSE ? END""",
            [p.top_n_inpatient, p.top_n_special_outpatient],
        ).fetchall()
        for visit_type, person in rows:
            hits.by_rule[rules[visit_type][0]].add(person)
        hits.by_rule["visits_ge_15_a_month"] = _ids(
            engine,
            """SELECT DISTINCT person_id FROM claims
               GROUP BY person_id, date_trunc('month', start_time) HAVING count(*) >= ?""",
            [p.visits_per_month],
        )
    return hits


@dataclass(frozen=True)
class Coverage:
    """How many leads the rules alone would have caught."""

    leads: int
    caught: int  # at least half of the lead's persons flagged by some rule
    touched: int  # at least one of the lead's persons flagged


def coverage(lead_persons: Sequence[Sequence[str]], hits: RuleHits) -> Coverage:
    """Compare leads with the rule hits: the graph's added value in one figure."""
    flagged = hits.persons
    caught = touched = 0
    for persons in lead_persons:
        n = sum(1 for p in persons if p in flagged)
        if persons and n * 2 >= len(persons):
            caught += 1
        if n:
            touched += 1
    return Coverage(len(lead_persons), caught, touched)
