"""The case packet as JSON: the same facts as the other formats, for other tools."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ringfinder import __version__
from ringfinder.export.case import CaseData
from ringfinder.export.pictures import case_layout
from ringfinder.export.tables import TableSpec, plain
from ringfinder.triage import TRANSFER_THRESHOLD

FORMAT_VERSION = 1


def _plain_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_deep(v) for v in value]
    return plain(value)


def case_json(case: CaseData, tables: list[TableSpec], lang: str, generated: datetime) -> str:
    lead = case.lead
    pos = case_layout(case)
    doc = {
        "format": "ringfinder-case-packet",
        "format_version": FORMAT_VERSION,
        "ringfinder": __version__,
        "generated": generated.isoformat(),
        "lang": lang,
        "identities_revealed": case.revealed,
        "lead": lead.to_json(lang),
        "money": {
            "amount_total": f"{lead.amount_total:.2f}",
            "fund_amount": f"{lead.fund_amount:.2f}",
            "transfer_threshold": f"{TRANSFER_THRESHOLD:.2f}",
            "transfer_to_police": case.above_threshold,
            "evidence_now": {
                "claims_total": f"{case.claims_total:.2f}",
                "claims_fund": f"{case.claims_fund:.2f}",
                "reimbursed_claimed": f"{case.reimbursed_claimed:.2f}",
                "reimbursed_paid": f"{case.reimbursed_paid:.2f}",
                "consistent_with_run": case.consistent,
            },
        },
        "indicators": [
            {
                "code": i.code,
                "kind": i.kind,
                "text": i.text(lang),
                "figures": _plain_deep(i.figures),
                "records": i.records,
            }
            for i in case.indicators
        ],
        "identifiers": _plain_deep(case.identifiers),
        "tables": {
            s.key: {
                "title": s.title,
                "columns": [{"key": c.key, "label": c.label, "type": c.type} for c in s.columns],
                "rows": _plain_deep(s.rows),
                "totals": _plain_deep(s.totals),
            }
            for s in tables
        },
        "network": {
            "nodes": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "label": n.label,
                    "role": n.role,
                    "records": n.records,
                    "amount": plain(n.amount),
                    "flagged": n.flagged,
                    "x": pos[n.id][0],
                    "y": pos[n.id][1],
                }
                for n in case.nodes
            ],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "kind": e.kind,
                    "records": e.records,
                    "amount": plain(e.amount),
                }
                for e in case.edges
            ],
        },
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"
