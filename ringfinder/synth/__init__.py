"""The synthetic city generator: canonical tables with planted schemes and ``truth.json``.

>>> from ringfinder.synth import synthesize
>>> summary = synthesize(Path("city"), persons=20_000, seed=7)  # doctest: +SKIP
"""

from __future__ import annotations

from ringfinder.synth.core import SynthError, SynthSummary, synthesize

__all__ = ["SynthError", "SynthSummary", "synthesize"]
