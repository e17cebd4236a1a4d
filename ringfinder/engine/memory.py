"""How much memory DuckDB may hold: ``--memory``, ``RINGFINDER_MEMORY`` or a share of RAM.

DuckDB's own default is 80 % of the machine, which it then fills with the working sets
of big joins and sorts instead of spilling them; the pandas and igraph steps of a run
(communities, blocks) need memory of their own beside it. At 3 M persons pharmacy_resale
peaked at 9.2 GB of RSS uncapped and 5.8 GB under a 5 GiB limit, and ran faster capped
(34.5 s against 38.1 s). A quarter of the machine keeps a city-year within 8 GB on a
24 GB laptop and grows with bigger machines.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SHARE = 0.25
MIN_BYTES = 1 << 30
ENV = "RINGFINDER_MEMORY"


def physical_memory() -> int | None:
    """Bytes of RAM this process may use (the cgroup limit when lower), or None."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    try:  # a container's limit (cgroup v2); "max" means none
        text = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        if text.isdigit():
            total = min(total, int(text))
    except OSError:
        pass
    return total


def default_memory_limit() -> str | None:
    """``RINGFINDER_MEMORY`` if set, else a quarter of the RAM (at least 1 GiB)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return env
    total = physical_memory()
    if total is None:
        return None
    return f"{max(MIN_BYTES, int(total * DEFAULT_SHARE)) >> 20}MiB"
