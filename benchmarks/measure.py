"""Run one child process and measure it: wall and CPU seconds, peak RSS, load average.

Standard library only: the orchestrator must stay small. A child's peak RSS
(``ru_maxrss`` from ``os.wait4``) includes the pages of the process that spawned it
(the kernel carries the parent's high-water mark across fork and exec), so a parent
that had imported pandas would lift every child's figure; this one stays at ~20 MB.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GB = 1024**3
#: Packages whose versions go into the report (absent ones are reported as null).
PACKAGES = (
    "ringfinder",
    "duckdb",
    "pyarrow",
    "numpy",
    "pandas",
    "igraph",
    "networkx",
    "scipy",
    "rgmining-fraudar",
    "neo4j",
)


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _rss_bytes(pid: int) -> int | None:
    """Current resident set of ``pid`` (Linux /proc; None elsewhere or when gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_measured(
    cmd: Sequence[str],
    *,
    log_prefix: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    rss_limit: int | None = None,
) -> dict[str, Any]:
    """Run ``cmd`` to completion and return its figures.

    stdout and stderr go to ``<log_prefix>.out`` / ``.err``. The child runs in its own
    session; when it passes ``timeout`` seconds or ``rss_limit`` bytes of resident
    memory, its process group (and only it) is killed and the figures say why.
    """
    log_prefix.parent.mkdir(parents=True, exist_ok=True)
    out_path = log_prefix.with_name(log_prefix.name + ".out")
    err_path = log_prefix.with_name(log_prefix.name + ".err")
    before = loadavg()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        killed: str | None = None
        delay = 0.01
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - t0
            if killed is None:
                if timeout is not None and elapsed > timeout:
                    killed = f"timeout after {timeout:.0f} s"
                elif rss_limit is not None and (_rss_bytes(proc.pid) or 0) > rss_limit:
                    killed = f"resident memory above {rss_limit / GB:.1f} GB"
                if killed is not None:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss * (1024 if sys.platform != "darwin" else 1)
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "user_s": round(usage.ru_utime, 3),
        "sys_s": round(usage.ru_stime, 3),
        "cpu_per_wall": round(cpu / wall, 3) if wall > 0 else None,
        "peak_rss_bytes": rss,
        "peak_rss_gb": round(rss / GB, 3),
        "returncode": proc.returncode,
        "ok": proc.returncode == 0 and killed is None,
        "killed": killed,
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        "log": str(log_prefix),
        "cmd": shlex.join(cmd),
    }


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log (for errors in the report)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable", "SwapTotal"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def package_versions(python: str) -> dict[str, str | None]:
    """Versions of :data:`PACKAGES` in the environment of ``python`` (a child process)."""
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        f"for name in {list(PACKAGES)!r}:\n"
        "    try:\n"
        "        out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[name] = None\n"
        "print(json.dumps(out))\n"
    )
    try:
        res = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        versions: dict[str, str | None] = json.loads(res.stdout)
        return versions
    except (subprocess.SubprocessError, ValueError):
        return dict.fromkeys(PACKAGES)


def machine_info(python: str) -> dict[str, Any]:
    mem = _meminfo()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "ram_bytes": mem.get("MemTotal"),
        "ram_gb": round(mem["MemTotal"] / GB, 2) if "MemTotal" in mem else None,
        "ram_available_gb_at_start": round(mem["MemAvailable"] / GB, 2)
        if "MemAvailable" in mem
        else None,
        "swap_gb": round(mem["SwapTotal"] / GB, 2) if "SwapTotal" in mem else None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(python),
        "loadavg_at_start": loadavg(),
    }
