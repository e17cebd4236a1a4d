"""What a detector declares: its name, the tables it needs, its parameters and its logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.findings import Finding


@dataclass(frozen=True)
class Detector:
    """A scheme detector.

    ``params_type`` is a frozen dataclass whose defaults are the domain figures
    (documented in its docstring). ``run_embedded`` holds the embedded engine's
    logic; other engines find their version by ``name`` (e.g. ``cypher/detectors/``).
    """

    name: str
    requires: tuple[str, ...]
    params_type: type
    run_embedded: Callable[[EmbeddedEngine, Any], list[Finding]]
    summary: str = ""
    uses: tuple[str, ...] = ()  # optional tables that sharpen it when present

    def default_params(self) -> Any:
        return self.params_type()
