"""What detectors produce: findings with their members, evidence and measured figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Member kinds, in the order the leads contract lists them.
MEMBER_KINDS = ("persons", "cards", "doctors", "institutions", "pharmacies")


@dataclass(frozen=True)
class Reason:
    """One reason, rendered from a message template with measured figures.

    ``code`` names a template in :mod:`ringfinder.i18n`; ``figures`` fills it.
    Every figure must be checkable against the finding's evidence.
    """

    code: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finding:
    """One suspicious group found by one detector.

    ``strength`` is the detector's calibrated evidence strength in [0, 1]: how far the
    group's measured figures stand beyond what honest behaviour produces. Scoring turns
    strengths into scores comparable across patterns.
    """

    pattern: str
    strength: float
    persons: set[str] = field(default_factory=set)
    cards: set[str] = field(default_factory=set)
    doctors: set[str] = field(default_factory=set)
    institutions: set[str] = field(default_factory=set)
    pharmacies: set[str] = field(default_factory=set)
    claims: set[str] = field(default_factory=set)  # claim_ids and/or reimbursement_ids
    reasons: list[Reason] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def members(self, kind: str) -> set[str]:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def member_keys(self) -> set[tuple[str, str]]:
        """All members as (kind, id) pairs, for merging findings that share members."""
        return {(k, m) for k in MEMBER_KINDS for m in self.members(k)}
