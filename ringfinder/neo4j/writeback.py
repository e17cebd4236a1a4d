"""Write leads and communities back to Neo4j so Bloom can colour and filter by them.

``(:Lead {lead_id, pattern, score, amount_total, fund_amount, first_seen, last_seen,
reasons})-[:INVOLVES {role}]->(member)`` for every member; members carry
``risk_score`` (the best score of the leads they are in) and persons carry
``community_id``; ``(:Person)-[:MEMBER_OF]->(:Community {community_id, size})``.
Rewriting is idempotent: a lead's old INVOLVES are replaced, scores of nodes no
longer in any lead are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from ringfinder import i18n
from ringfinder.duck import one
from ringfinder.leads import Lead

#: memberships per transaction when the communities are written
COMMUNITY_BATCH = 10_000
#: Member kind in leads.jsonl -> (label, key property, role shown in Bloom)
MEMBER_LABELS = {
    "persons": ("Person", "person_id", "claimant"),
    "cards": ("Card", "card_id", "card"),
    "doctors": ("Doctor", "doctor_id", "doctor"),
    "institutions": ("Institution", "institution_id", "institution"),
    "pharmacies": ("Pharmacy", "pharmacy_id", "pharmacy"),
}


def lead_rows(leads: Sequence[Lead], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "lead_id": lead.lead_id,
            "props": {
                "pattern": lead.pattern,
                "score": lead.score,
                "amount_total": float(lead.amount_total),
                "fund_amount": float(lead.fund_amount),
                "first_seen": lead.first_seen,
                "last_seen": lead.last_seen,
                "reasons": [i18n.render(r, lang) for r in lead.reasons],
                "evidence": len(lead.claims),
            },
        }
        for lead in leads
    ]


def write_leads(driver: Any, database: str, leads: Sequence[Lead], lang: str = "zh") -> None:
    """Lead nodes, INVOLVES relationships and member risk scores."""

    def work(tx: Any) -> None:
        tx.run(
            "UNWIND $rows AS row MERGE (l:Lead {lead_id: row.lead_id}) SET l += row.props "
            "WITH l OPTIONAL MATCH (l)-[old:INVOLVES]->() DELETE old",
            rows=lead_rows(leads, lang),
        ).consume()
        for kind, (label, key, role) in MEMBER_LABELS.items():
            rows = [
                {"lead_id": lead.lead_id, "id": m, "score": lead.score}
                for lead in leads
                for m in lead.members[kind]
            ]
            tx.run(
                f"UNWIND $rows AS row MATCH (l:Lead {{lead_id: row.lead_id}}) "
                f"MATCH (m:`{label}` {{`{key}`: row.id}}) "
                f"MERGE (l)-[r:INVOLVES]->(m) SET r.role = $role "
                f"SET m.risk_score = CASE WHEN m.risk_score IS NULL OR m.risk_score < row.score "
                f"THEN row.score ELSE m.risk_score END",
                rows=rows,
                role=role,
            ).consume()
        tx.run(
            "MATCH (l:Lead) WHERE NOT l.lead_id IN $ids DETACH DELETE l",
            ids=[lead.lead_id for lead in leads],
        ).consume()
        tx.run(
            "MATCH (m) WHERE m.risk_score IS NOT NULL AND NOT (m)<-[:INVOLVES]-(:Lead) "
            "REMOVE m.risk_score"
        ).consume()

    with driver.session(database=database) as session:
        session.execute_write(work)


def write_communities(driver: Any, database: str, con: duckdb.DuckDBPyConnection) -> int:
    """Community nodes and ids from the workspace's latest partition."""
    exists = one(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'person_communities'"
        )
    )
    if not exists or not exists[0]:
        return 0
    rows = [
        {"person_id": p, "community_id": c, "size": s}
        for p, c, s in con.execute(
            "SELECT person_id, community_id, size FROM person_communities ORDER BY person_id"
        ).fetchall()
    ]

    # A city's partition does not fit one transaction (the server caps transaction
    # memory; 300k persons overran 512 MiB): the old one is removed and the new one
    # written in batches. Rerunning the write-back repairs an interrupted one.
    with driver.session(database=database) as session:
        session.run(
            "MATCH (c:Community) CALL (c) { DETACH DELETE c } "
            f"IN TRANSACTIONS OF {COMMUNITY_BATCH} ROWS"
        ).consume()
        session.run(
            "MATCH (p:Person) WHERE p.community_id IS NOT NULL "
            f"CALL (p) {{ REMOVE p.community_id }} IN TRANSACTIONS OF {COMMUNITY_BATCH} ROWS"
        ).consume()
        for start in range(0, len(rows), COMMUNITY_BATCH):
            batch = rows[start : start + COMMUNITY_BATCH]
            session.execute_write(
                lambda tx, batch=batch: tx.run(
                    "UNWIND $rows AS row MATCH (p:Person {person_id: row.person_id}) "
                    "MERGE (c:Community {community_id: row.community_id}) SET c.size = row.size "
                    "MERGE (p)-[:MEMBER_OF]->(c) SET p.community_id = row.community_id",
                    rows=batch,
                ).consume()
            )
    return len(rows)
