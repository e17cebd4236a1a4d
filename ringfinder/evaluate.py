"""Score leads against a planted truth (``truth.json`` from ``ringfinder synth``).

A planted scheme counts as found when one lead covers at least half of the scheme's
defining members (persons, or cards for card schemes) and at least half of that
lead's members of that type are in the scheme. Precision at K counts the top-K leads
that match some planted scheme, with K = 2 × the number of planted schemes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Which member type defines each planted kind.
DEFINING = {
    "shared_card": "cards",
    "pharmacy_resale": "cards",
    "co_admission": "persons",
    "fake_invoice": "persons",
    "referral_loop": "persons",
}
MATCH_SHARE = 0.5


@dataclass
class EvalResult:
    schemes: int
    found: int
    per_kind: dict[str, tuple[int, int]]  # kind -> (found, planted)
    k: int
    true_in_top_k: int
    lookalikes_in_top_k: list[str]
    missed: list[str] = field(default_factory=list)
    leads: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.schemes if self.schemes else 1.0

    @property
    def precision_at_k(self) -> float:
        return self.true_in_top_k / min(self.k, self.leads) if self.leads else 0.0

    def kind_recall(self, kind: str) -> float:
        found, planted = self.per_kind[kind]
        return found / planted if planted else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "schemes": self.schemes,
            "found": self.found,
            "recall": round(self.recall, 4),
            "per_kind": {
                k: {"found": f, "planted": p, "recall": round(f / p, 4) if p else None}
                for k, (f, p) in sorted(self.per_kind.items())
            },
            "k": self.k,
            "leads": self.leads,
            "precision_at_k": round(self.precision_at_k, 4),
            "lookalikes_in_top_k": self.lookalikes_in_top_k,
            "missed": self.missed,
        }


def matches(lead: dict[str, Any], group: dict[str, Any], kind_type: str) -> bool:
    """The found-criterion between one lead and one planted group."""
    truth = set(group.get(kind_type, []))
    mine = set(lead.get(kind_type, []))
    if not truth or not mine:
        return False
    shared = len(truth & mine)
    return shared / len(truth) >= MATCH_SHARE and shared / len(mine) >= MATCH_SHARE


def _lookalike_hit(lead: dict[str, Any], group: dict[str, Any]) -> bool:
    for kind_type in ("persons", "cards"):
        members = set(group.get(kind_type, []))
        mine = set(lead.get(kind_type, []))
        if members and mine and len(members & mine) / len(mine) >= MATCH_SHARE:
            return True
    if not group.get("persons") and not group.get("cards"):
        places = set(group.get("institutions", [])) | set(group.get("pharmacies", []))
        mine = set(lead.get("institutions", [])) | set(lead.get("pharmacies", []))
        return bool(places and mine and mine <= places)
    return False


def evaluate(leads: Sequence[dict[str, Any]], truth: dict[str, Any]) -> EvalResult:
    """Recall (overall and per kind), precision at K, look-alikes in the top K."""
    schemes = truth.get("schemes", [])
    per_kind: dict[str, list[int]] = {}
    found = 0
    missed = []
    for s in schemes:
        kind_type = DEFINING.get(s["kind"], "persons")
        hit = any(matches(lead, s, kind_type) for lead in leads)
        counts = per_kind.setdefault(s["kind"], [0, 0])
        counts[1] += 1
        if hit:
            counts[0] += 1
            found += 1
        else:
            missed.append(f"{s['id']}:{s['kind']}")
    k = 2 * len(schemes)
    top = list(leads[:k])
    true_top = 0
    looks: list[str] = []
    for lead in top:
        if any(matches(lead, s, DEFINING.get(s["kind"], "persons")) for s in schemes):
            true_top += 1
            continue
        for group in truth.get("lookalikes", []):
            if _lookalike_hit(lead, group):
                looks.append(f"{group['id']}:{group['kind']}")
    return EvalResult(
        schemes=len(schemes),
        found=found,
        per_kind={k_: (v[0], v[1]) for k_, v in per_kind.items()},
        k=k,
        true_in_top_k=true_top,
        lookalikes_in_top_k=sorted(set(looks)),
        missed=missed,
        leads=len(leads),
    )


def read_leads(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_files(leads_path: Path, truth_path: Path) -> EvalResult:
    return evaluate(read_leads(leads_path), json.loads(truth_path.read_text(encoding="utf-8")))
