"""ringfinder: find organised fraud rings in medical-insurance (医保) data."""

from __future__ import annotations

__version__ = "0.1.0"
