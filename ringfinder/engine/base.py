"""The engine interface every execution backend implements."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ringfinder.errors import EngineError

if TYPE_CHECKING:
    from pathlib import Path

    from ringfinder.community import CommunityResult
    from ringfinder.detectors.base import Detector
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.findings import Finding
    from ringfinder.leads import Lead
    from ringfinder.load import LoadOptions, LoadReport, ProgressCallback


@dataclass(frozen=True)
class EvidenceSummary:
    """Money and dates of a set of evidence ids (claims and reimbursements)."""

    amount_total: Decimal
    fund_amount: Decimal
    first_seen: date | None
    last_seen: date | None
    found: int


class Engine(ABC):
    """Runs detectors over the canonical tables held in some store.

    Orchestration (which detectors run, scoring, merging, writing) lives outside the
    engine; an engine only answers these few questions about its store.
    """

    name: str = "abstract"
    #: The workspace's DuckDB connection: validated tables as loaded, triage marks,
    #: the latest community partition (whichever engine runs the detectors).
    con: Any

    @abstractmethod
    def tables(self) -> dict[str, int]:
        """Canonical tables present in the store, with their row counts."""

    @abstractmethod
    def run_detector(self, detector: Detector, params: Any) -> list[Finding]:
        """Run one detector with its parameters and return its findings."""

    @abstractmethod
    def evidence_summary(self, ids: Iterable[str]) -> EvidenceSummary:
        """Total and fund money and first/last dates of the given evidence ids."""

    def evidence_summaries(self, groups: Sequence[Iterable[str]]) -> list[EvidenceSummary]:
        """:meth:`evidence_summary` of each group (engines may answer all in one pass)."""
        return [self.evidence_summary(ids) for ids in groups]

    # -- hooks the job (ringfinder.pipeline.run_job) calls; defaults for simple engines --
    def load(
        self,
        data_dir: Path,
        options: LoadOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> LoadReport:
        """Validate ``data_dir`` into the engine's store."""
        raise EngineError(f"engine {self.name!r} cannot load data")

    def relational(self) -> EmbeddedEngine:
        """A store that answers SQL over the canonical tables (rule baseline, communities)."""
        raise EngineError(f"engine {self.name!r} has no relational view")

    def communities(self, prior: Sequence[Finding] = ()) -> CommunityResult:
        """Leiden communities of the person graph (``community.detect_communities``)."""
        from ringfinder.community import detect_communities

        return detect_communities(self.relational(), prior=prior)

    def write_back(self, leads: Sequence[Lead], lang: str) -> dict[str, Any] | None:
        """Publish a run's leads and communities where the engine keeps its graph (if any)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Engine facts for run.json (no personal data)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and locks."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_ENGINES = {
    "embedded": ("ringfinder.engine.embedded", "EmbeddedEngine", "ringfinder"),
    "neo4j": ("ringfinder.engine.neo4j", "Neo4jEngine", "ringfinder[neo4j]"),
}


def get_engine(name: str, **kwargs: Any) -> Engine:
    """Construct an engine by name, loading optional engines lazily."""
    try:
        module_name, cls_name, extra = _ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(_ENGINES)}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"engine {name!r} needs: pip install '{extra}' ({exc})") from None
    engine: Engine = getattr(module, cls_name)(**kwargs)
    return engine
