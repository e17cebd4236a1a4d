"""From findings to leads: merge findings that share members, score, explain, write.

A lead is what an investigator triages. Findings from several detectors that share
most of their defining members (persons and cards) merge into one lead; its score
combines the findings' calibrated strengths (noisy-or), so scores are comparable
across patterns; its money and dates are recomputed over the union of the evidence.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringfinder import i18n
from ringfinder.engine.base import Engine
from ringfinder.findings import MEMBER_KINDS, Finding, Reason

#: Two findings merge when the members they share are at least this share of the
#: smaller finding's persons and cards (overlap coefficient). Half keeps two rings
#: apart when one person happens to appear in both, and joins views of one ring.
MERGE_OVERLAP = 0.5


@dataclass
class Lead:
    lead_id: str
    pattern: str
    score: float
    members: dict[str, list[str]]
    claims: list[str]
    amount_total: str
    fund_amount: str
    first_seen: str
    last_seen: str
    reasons: list[Reason]
    findings: list[Finding] = field(default_factory=list, repr=False)

    def to_json(self, lang: str) -> dict[str, Any]:
        """The leads.jsonl object (field order as in the contract)."""
        return {
            "lead_id": self.lead_id,
            "pattern": self.pattern,
            "score": self.score,
            **{kind: self.members[kind] for kind in MEMBER_KINDS},
            "claims": self.claims,
            "amount_total": self.amount_total,
            "fund_amount": self.fund_amount,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "reasons": [i18n.render(r, lang) for r in self.reasons],
        }


def _defining(f: Finding) -> set[str]:
    return {f"p:{p}" for p in f.persons} | {f"c:{c}" for c in f.cards}


def merge_groups(findings: Sequence[Finding], overlap: float = MERGE_OVERLAP) -> list[list[int]]:
    """Indices of findings grouped by shared defining members (union-find)."""
    parent = list(range(len(findings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [_defining(f) for f in findings]
    index: dict[str, list[int]] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            index.setdefault(k, []).append(i)
    for i, ks in enumerate(keys):
        shared: dict[int, int] = {}
        for k in ks:
            for j in index[k]:
                if j > i:
                    shared[j] = shared.get(j, 0) + 1
        for j, n in shared.items():
            smaller = min(len(ks), len(keys[j])) or 1
            if n / smaller >= overlap:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(findings)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def lead_id_for(members: dict[str, list[str]]) -> str:
    """A stable id from the members: the same members give the same id on every run."""
    h = hashlib.sha256()
    for kind in MEMBER_KINDS:
        h.update(kind.encode())
        for m in members[kind]:
            h.update(b"\x1f" + m.encode())
        h.update(b"\x1e")
    return "L" + h.hexdigest()[:12].upper()


def combine_strength(strengths: Iterable[float]) -> float:
    """Noisy-or: independent pieces of evidence against the same group add up."""
    miss = 1.0
    for s in strengths:
        miss *= 1.0 - min(max(s, 0.0), 1.0)
    return 1.0 - miss


def build_leads(
    findings: Sequence[Finding], engine: Engine, *, min_strength: float = 0.0
) -> list[Lead]:
    """Merge, score and summarise findings into leads, best first."""
    kept = [f for f in findings if f.strength >= min_strength]
    leads = []
    groups = [sorted((kept[i] for i in g), key=lambda f: -f.strength) for g in merge_groups(kept)]
    evidence = [sorted(set().union(*(f.claims for f in parts))) for parts in groups]
    # one pass over the claims for every group, not one scan per group
    summaries = engine.evidence_summaries(evidence)
    for parts, claims, ev in zip(groups, evidence, summaries, strict=True):
        members = {k: sorted(set().union(*(f.members(k) for f in parts))) for k in MEMBER_KINDS}
        patterns = []
        for f in parts:
            if f.pattern not in patterns:
                patterns.append(f.pattern)
        reasons = [r for f in parts for r in f.reasons]
        leads.append(
            Lead(
                lead_id=lead_id_for(members),
                pattern="+".join(patterns),
                score=round(100.0 * combine_strength(f.strength for f in parts), 2),
                members=members,
                claims=claims,
                amount_total=f"{ev.amount_total:.2f}",
                fund_amount=f"{ev.fund_amount:.2f}",
                first_seen=ev.first_seen.isoformat() if ev.first_seen else "",
                last_seen=ev.last_seen.isoformat() if ev.last_seen else "",
                reasons=reasons,
                findings=parts,
            )
        )
    leads.sort(key=lambda lead: (-lead.score, -float(lead.amount_total), lead.lead_id))
    return leads


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # the new content is on disk before the name points to it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_leads(leads: Sequence[Lead], path: Path, lang: str) -> None:
    """``leads.jsonl``: one object per line, best lead first."""
    lines = [json.dumps(lead.to_json(lang), ensure_ascii=False) for lead in leads]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
