"""Summarise a cProfile file as JSON: ``python -m benchmarks.pstats_summary PROF OUT``.

The top functions by cumulative and by own time, and the time under each of
ringfinder's own modules (own time summed per file).
"""

from __future__ import annotations

import json
import pstats
import sys
from pathlib import Path
from typing import Any

TOP = 30


def _name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.replace(str(Path.cwd()) + "/", "")
    return f"{path}:{line}({name})"


def summarise(prof: Path) -> dict[str, Any]:
    st = pstats.Stats(str(prof))
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append((func, nc, tt, ct))
    total = st.total_tt  # type: ignore[attr-defined]

    def top(key: int) -> list[dict[str, Any]]:
        best = sorted(rows, key=lambda r: -r[key])[:TOP]
        return [
            {"function": _name(f), "calls": nc, "own_s": round(tt, 3), "cumulative_s": round(ct, 3)}
            for f, nc, tt, ct in best
        ]

    # ringfinder's own functions by cumulative time, below the CLI's wrappers
    ours = [
        r
        for r in rows
        if "/ringfinder/" in r[0][0] and "/ringfinder/cli/" not in r[0][0] and r[0][2] != "<module>"
    ]
    ours_top = [
        {"function": _name(f), "calls": nc, "own_s": round(tt, 3), "cumulative_s": round(ct, 3)}
        for f, nc, tt, ct in sorted(ours, key=lambda r: -r[3])[:TOP]
    ]
    per_file: dict[str, float] = {}
    for (path, _line, _fn), _nc, tt, _ct in rows:
        if "/ringfinder/" in path:
            key = "ringfinder/" + path.split("/ringfinder/", 1)[1]
        elif path == "~":
            key = "built-ins (C functions: DuckDB execute/fetch, numpy, pandas internals)"
        else:
            key = "other Python"
        per_file[key] = per_file.get(key, 0.0) + tt
    return {
        "total_s": round(total, 3),
        "top_cumulative_ringfinder": ours_top,
        "top_cumulative": top(3),
        "top_own": top(2),
        "own_time_by_file": {
            k: round(v, 3) for k, v in sorted(per_file.items(), key=lambda kv: -kv[1])[:25]
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    prof, out = Path(args[0]), Path(args[1])
    out.write_text(json.dumps(summarise(prof), indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
