"""Scheme detectors, one module each, registered by name."""

from __future__ import annotations

import importlib

from ringfinder.detectors.base import Detector

#: Registered detectors, in the order they run.
DETECTOR_MODULES: tuple[str, ...] = (
    "shared_card",
    "co_admission",
    "fake_invoice",
    "pharmacy_resale",
    "referral_loop",
)


def all_detectors() -> list[Detector]:
    """Every registered detector."""
    out = []
    for name in DETECTOR_MODULES:
        module = importlib.import_module(f"ringfinder.detectors.{name}")
        out.append(module.DETECTOR)
    return out


__all__ = ["DETECTOR_MODULES", "Detector", "all_detectors"]
