"""Faults, for real: SIGKILL the Neo4j JVM or the loader mid-load, restart, rerun; two runs on
one workspace; half-written outputs; outages ridden out by retries; credentials and TLS URIs.

Every test runs the installed ``ringfinder`` console script as a subprocess against a Neo4j
server of this module's own (its home in tmp, authentication on), so killing it leaves the
session's server alone. Kill points come from a seeded random generator spread over the
measured length of a clean load. ``RINGFINDER_FAULT_ROUNDS`` (default 10) sets how many
rounds each kill test runs; ``docs/faults.md`` says how to rerun them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringfinder.neo4j.model import KEYS, NODES, RELS
from ringfinder.neo4j.server import Neo4jServer
from tests.neo4j_fixture import clear_database, start_or_skip

RF = shutil.which("ringfinder") or str(Path(sys.executable).with_name("ringfinder"))
DB = "neo4j"
PASSWORD = "fault-test-pw"  # the test server's own (auth on, so credentials are exercised)
ROUNDS = int(os.environ.get("RINGFINDER_FAULT_ROUNDS", "10"))
SEED = 20261204
BATCH = "2000"  # many small transactions: many points to be killed between and inside


# --------------------------------------------------------------------------- helpers


def rf_env(uri: str, **extra: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "NEO4J_URI": uri,
        "NEO4J_USER": "neo4j",
        "NEO4J_PASSWORD": PASSWORD,
        "RINGFINDER_NEO4J_CONFIG": "/nonexistent/neo4j.toml",
        "RINGFINDER_KEY": "test-key-0123456789abcdef",
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "COLUMNS": "200",
    }
    for var in ("NEO4J_USERNAME", "NEO4J_DATABASE", "RINGFINDER_NEO4J_RETRY_SECONDS"):
        env.pop(var, None)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def rf(
    *args: str, uri: str = "bolt://127.0.0.1:1", **extra: str | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RF, *args],
        capture_output=True,
        text=True,
        env=rf_env(uri, **extra),
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def rf_start(
    *args: str, uri: str = "bolt://127.0.0.1:1", **extra: str | None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [RF, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=rf_env(uri, **extra),
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(res: subprocess.CompletedProcess[str] | Any, *needles: str) -> None:
    """Exit != 0, no traceback, and the error is one line naming what went wrong."""
    assert res.returncode != 0, res.stderr
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def count(driver: Any, query: str, **params: Any) -> int:
    records, _, _ = driver.execute_query(query, params, database_=DB)
    return int(records[0][0])


def expected_from(workspace: Path) -> tuple[dict[str, int], dict[str, int]]:
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.neo4j.writer import expected_counts

    with EmbeddedEngine(workspace) as engine:
        return expected_counts(engine.con)


def assert_graph_exact(driver: Any, want: tuple[dict[str, int], dict[str, int]]) -> None:
    """Counts per label and type equal the workspace's rows, and nothing is duplicated."""
    from ringfinder.neo4j.writer import actual_counts

    want_nodes, want_rels = want
    have_nodes, have_rels = actual_counts(driver, DB)
    assert {k: v for k, v in have_nodes.items() if v or k in want_nodes} == want_nodes
    assert {k: v for k, v in have_rels.items() if v or k in want_rels} == want_rels
    for label in sorted({s.label for s in NODES}):
        key = KEYS[label]
        n, distinct = (
            driver.execute_query(
                f"MATCH (n:`{label}`) RETURN count(n) AS n, count(DISTINCT n.`{key}`) AS d",
                database_=DB,
            )
            .records[0]
            .values()
        )
        assert n == distinct, f"{label}: {n} nodes but {distinct} distinct keys"
    rel_keys: dict[str, str | None] = {}
    for rel in RELS:
        rel_keys[rel.type] = rel_keys.get(rel.type) or rel.rel_key
    for rel_type, rkey in sorted(rel_keys.items()):
        ident = (
            f"[elementId(a), elementId(b), r.`{rkey}`]" if rkey else "[elementId(a), elementId(b)]"
        )
        n, distinct = (
            driver.execute_query(
                f"MATCH (a)-[r:`{rel_type}`]->(b) "
                f"RETURN count(r) AS n, count(DISTINCT {ident}) AS d",
                database_=DB,
            )
            .records[0]
            .values()
        )
        assert n == distinct, f"{rel_type}: {n} relationships but {distinct} distinct"


def kill_points(name: str, span: float, rounds: int = ROUNDS) -> list[float]:
    """Seeded delays spread over ``span`` seconds (one per round, sorted low to high)."""
    rng = random.Random(f"{SEED}-{name}")
    return sorted(span * rng.uniform(0.1, 0.95) for _ in range(rounds))


def wait(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# --------------------------------------------------------------------------- fixtures


class ServerBox:
    """The module's server; replaced by a new process (same home) after each JVM kill."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.server: Neo4jServer = start_or_skip(home, password=PASSWORD)

    @property
    def uri(self) -> str:
        return self.server.uri

    def driver(self) -> Any:
        return self.server.driver()

    def kill(self) -> None:
        """SIGKILL the JVM: no shutdown hook, no checkpoint (a crash, as far as Neo4j knows)."""
        drv = self.server._driver  # noqa: SLF001 - close our client end without a clean stop
        self.server._driver = None  # noqa: SLF001
        proc = self.server.process
        proc.kill()
        proc.wait(60)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if drv is not None:
            drv.close()

    def restart(self, port: int = 0) -> None:
        """Start Neo4j again on the same home: it recovers the killed store from its log."""
        if self.server.running:
            self.server.stop()
        self.server = start_or_skip(self.home, password=PASSWORD, port=port)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerBox]:
    b = ServerBox(tmp_path_factory.mktemp("neo4j-faults"))
    try:
        yield b
    finally:
        b.server.stop()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ringfinder.synth import synthesize

    out = tmp_path_factory.mktemp("fault_city") / "city"
    synthesize(out, persons=1000, seed=21)
    return out


@pytest.fixture(scope="module")
def baseline(
    box: ServerBox, city: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One clean ``neo4j load``: its length sets the kill points; its counts are the truth."""
    ws = tmp_path_factory.mktemp("fault_ws")
    clear_database(box.driver())
    t0 = time.monotonic()
    res = rf("neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri)
    seconds = time.monotonic() - t0
    print(f"baseline load {seconds:.1f} s; server start {box.server.startup_seconds:.1f} s")
    assert res.returncode == 0, res.stderr
    want = expected_from(ws)
    assert_graph_exact(box.driver(), want)
    assert "differs" not in res.stdout
    # the server's notifications on a graph still empty are no business of the user's
    assert "neo4j.notifications" not in res.stderr, res.stderr[:300]
    # a pipe, not a terminal: no progress bar and no stray blank line from it
    assert "\n\n" not in res.stderr and not res.stderr.startswith("\n"), repr(res.stderr[:300])
    return {"workspace": ws, "seconds": seconds, "want": want}


# --------------------------------------------------------------------------- 1a: Neo4j killed


NEO4J_KILLS = kill_points("neo4j", 1.0)


@pytest.mark.neo4j
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_neo4j_killed_mid_load_then_restarted_and_rerun_gives_exact_counts(
    box: ServerBox, city: Path, baseline: dict[str, Any], round_: int
) -> None:
    ws = baseline["workspace"]
    clear_database(box.driver(), schema=round_ % 2 == 0)  # every other round rebuilds the schema
    delay = NEO4J_KILLS[round_] * baseline["seconds"]
    # no retry budget: the loader fails as soon as Neo4j goes (the rerun must repair it)
    proc = rf_start(
        "neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH,
        uri=box.uri, RINGFINDER_NEO4J_RETRY_SECONDS="0",
    )  # fmt: skip
    time.sleep(delay)
    box.kill()
    code, out, err = wait(proc)
    if code != 0:  # it noticed: a one-line error, no traceback
        assert_one_line_error(subprocess.CompletedProcess([], code, out, err))
    t0 = time.monotonic()
    box.restart()
    t1 = time.monotonic()
    res = rf("neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri)
    assert res.returncode == 0, res.stderr
    assert_graph_exact(box.driver(), baseline["want"])
    print(f"killed at {delay:.1f} s (exit {code}); restart {t1 - t0:.1f} s, rerun "
          f"{time.monotonic() - t1:.1f} s")  # fmt: skip


# --------------------------------------------------------------------------- 1a: loader killed


LOADER_KILLS = kill_points("loader", 1.0)


@pytest.mark.neo4j
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_loader_killed_mid_load_then_rerun_gives_exact_counts(
    box: ServerBox, city: Path, baseline: dict[str, Any], round_: int
) -> None:
    ws = baseline["workspace"]
    clear_database(box.driver(), schema=False)
    proc = rf_start(
        "neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri
    )
    time.sleep(LOADER_KILLS[round_] * baseline["seconds"])
    proc.kill()
    wait(proc)
    res = rf("neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri)
    assert res.returncode == 0, res.stderr
    assert_graph_exact(box.driver(), baseline["want"])


# --------------------------------------------------------------------------- 2: retries


@pytest.mark.neo4j
def test_load_rides_out_a_frozen_server(
    box: ServerBox, city: Path, baseline: dict[str, Any]
) -> None:
    """SIGSTOP the JVM for a few seconds mid-load, then SIGCONT: the load completes exactly."""
    ws = baseline["workspace"]
    clear_database(box.driver(), schema=False)
    proc = rf_start(
        "neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri
    )
    time.sleep(0.5 * baseline["seconds"])
    os.kill(box.server.pid, signal.SIGSTOP)
    try:
        time.sleep(4)
    finally:
        os.kill(box.server.pid, signal.SIGCONT)
    code, _out, err = wait(proc)
    assert code == 0, err
    assert_graph_exact(box.driver(), baseline["want"])


@pytest.mark.neo4j
def test_load_rides_out_a_server_restart_with_backoff(
    box: ServerBox, city: Path, baseline: dict[str, Any]
) -> None:
    """Kill the JVM mid-load and start it again on the same port: the running loader's
    retries (exponential backoff, logged without data) carry it through, counts exact."""
    ws = baseline["workspace"]
    clear_database(box.driver(), schema=False)
    port = box.server.port
    proc = rf_start(
        "neo4j", "load", str(city), "--workspace", str(ws), "--batch-rows", BATCH, uri=box.uri
    )
    # wait until Claims are being written (so the kill lands mid-write, not before it)
    deadline = time.monotonic() + 120
    while count(box.driver(), "MATCH (c:Claim) RETURN count(c)") < 2000:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    box.kill()
    box.restart(port=port)
    code, _out, err = wait(proc)
    assert code == 0, err
    # ours (ringfinder.neo4j.retry) or, for outages under 30 s, the driver's managed retries
    retries = [
        line
        for line in err.splitlines()
        if "retr" in line and ("ringfinder.neo4j" in line or "neo4j.session" in line)
    ]
    assert retries, err
    for line in retries:  # the error's class and timings only: no query, no parameters
        assert "UNWIND" not in line and "row" not in line.lower(), line
    assert_graph_exact(box.driver(), baseline["want"])


# --------------------------------------------------------------------------- 1b: embedded load


@pytest.fixture(scope="module")
def bigger_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ringfinder.synth import synthesize

    out = tmp_path_factory.mktemp("fault_city8k") / "city"
    synthesize(out, persons=8000, seed=22)
    return out


def csv_rows(path: Path) -> int:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def assert_workspace_exact(ws: Path, city: Path, report: dict[str, Any]) -> None:
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.schema import TABLES

    with EmbeddedEngine(ws) as engine:
        for t in report["tables"]:
            name = t["table"]
            assert t["read"] == t["loaded"] + t["rejected"], t  # reconciliation
            assert t["rejected"] == 0, t
            rows = csv_rows(city / t["source"])
            n = engine.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[index]
            assert n == rows == t["read"], (name, n, rows, t["read"])
            key = ", ".join(f'"{k}"' for k in TABLES[name].key)
            distinct = engine.con.execute(
                f'SELECT count(*) FROM (SELECT DISTINCT {key} FROM "{name}")'
            ).fetchone()[0]  # type: ignore[index]
            assert distinct == n, (name, distinct, n)


@pytest.mark.parametrize("point", [0.3, 0.55, 0.8, 0.95])
def test_embedded_load_killed_then_rerun_gives_exact_workspace(
    bigger_city: Path, tmp_path: Path, point: float
) -> None:
    ws = tmp_path / "ws"
    t0 = time.monotonic()
    first = rf("load", str(bigger_city), "--workspace", str(tmp_path / "ref"), "--json")
    span = time.monotonic() - t0
    assert first.returncode == 0, first.stderr
    proc = rf_start("load", str(bigger_city), "--workspace", str(ws), "--json")
    time.sleep(point * span)
    proc.kill()
    wait(proc)
    res = rf("load", str(bigger_city), "--workspace", str(ws), "--json")
    assert res.returncode == 0, res.stderr
    assert_workspace_exact(ws, bigger_city, json.loads(res.stdout))
    again = rf("load", str(bigger_city), "--workspace", str(ws), "--json")  # and once more
    assert again.returncode == 0, again.stderr
    assert_workspace_exact(ws, bigger_city, json.loads(again.stdout))


# --------------------------------------------------------------------------- 1c: two runs


def wait_for_lock(ws: Path, proc: subprocess.Popen[str]) -> None:
    lock = ws / ".ringfinder.lock"
    deadline = time.monotonic() + 60
    while not (lock.is_file() and "pid" in lock.read_text(encoding="utf-8", errors="replace")):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_second_run_on_a_busy_workspace_is_refused_and_the_first_completes(
    city: Path, tmp_path: Path
) -> None:
    ref = rf("run", str(city), "--out", str(tmp_path / "ref"), "--lang", "en")
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "out"
    first = rf_start("run", str(city), "--out", str(out), "--lang", "en")
    wait_for_lock(out / "workspace", first)
    second = rf("run", str(city), "--out", str(out), "--lang", "en")
    assert_one_line_error(second, "in use by another ringfinder process", f"pid {first.pid}")
    load = rf("load", str(city), "--workspace", str(out / "workspace"))
    assert_one_line_error(load, "in use by another ringfinder process", "ringfinder run")
    # triage and export readers and writers are refused the same way (the flock, not
    # DuckDB's own lock, which cannot say who holds it)
    ref_lead = json.loads((tmp_path / "ref" / "leads.jsonl").read_text().splitlines()[0])
    for args in (
        ("leads", "list", "--from", str(out)),
        ("leads", "mark", ref_lead["lead_id"], "--status", "dismissed", "--from", str(out)),
    ):
        assert_one_line_error(rf(*args), "in use by another ringfinder process", f"pid {first.pid}")
    code, _o, err = wait(first)
    assert code == 0, err
    assert (out / "leads.jsonl").read_bytes() == (tmp_path / "ref" / "leads.jsonl").read_bytes()
    json.loads((out / "run.json").read_text(encoding="utf-8"))
    # free again once the first run is done
    assert rf("load", str(city), "--workspace", str(out / "workspace")).returncode == 0


def test_a_killed_run_leaves_no_stale_lock(city: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = rf_start("load", str(city), "--workspace", str(ws))
    wait_for_lock(ws, proc)
    proc.kill()
    wait(proc)
    res = rf("load", str(city), "--workspace", str(ws))  # no "in use", no manual clean-up
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------- 1d: atomic outputs


def test_outputs_are_written_by_the_atomic_helpers() -> None:
    """leads.jsonl, summary.md, run.json, packets, reports: temp file + fsync + os.replace."""
    import inspect

    from ringfinder import leads, pipeline
    from ringfinder.export import manifest, packet

    helper = inspect.getsource(leads.atomic_write_text)
    assert "os.replace" in helper and "fsync" in helper
    assert "atomic_write_text(path" in inspect.getsource(leads.write_leads)
    run_job = inspect.getsource(pipeline)
    assert 'atomic_write_text(result.outputs["summary"]' in run_job
    assert 'atomic_write_text(result.outputs["run"]' in run_job
    assert "os.replace" in inspect.getsource(packet._write_bytes)  # noqa: SLF001
    assert "atomic_write_text" in inspect.getsource(manifest)
    root = Path(leads.__file__).parent
    for path in sorted(root.rglob("*.py")):  # no output file opened for writing in place
        text = path.read_text(encoding="utf-8")
        for bad in ('.open("w"', ".open('w'", 'open("w"', ".write_text(", ".write_bytes("):
            if bad in text and path.name not in _WRITES_IN_PLACE:
                pytest.fail(f"{path.relative_to(root)} writes a file in place ({bad})")


#: Files allowed to write in place: inputs and scratch, not outputs a reader may see half of.
_WRITES_IN_PLACE = {
    "server.py",  # the Neo4j runtime's own log, pid file and fetch marker
    "writer.py",  # synth: a generated city (the input side), truth.json
    "docs.py",  # a developer script regenerating docs/input-tables.md
    "store.py",  # the loader's scratch files inside the workspace
    "encoding.py",  # the loader's transcoded scratch copy
    "pseudonym.py",  # the key file, created O_EXCL with mode 0600
    "bulk.py",  # CSV headers for neo4j-admin import, scratch in the import folder
}


def test_a_killed_run_never_leaves_a_half_written_leads_file(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = rf("run", str(city), "--out", str(out), "--lang", "en")
    assert first.returncode == 0, first.stderr
    complete = {n: (out / n).read_bytes() for n in ("leads.jsonl", "summary.md", "run.json")}
    assert complete["leads.jsonl"].count(b"\n") >= 1
    t0 = time.monotonic()
    assert rf("run", str(city), "--out", str(tmp_path / "timing"), "--lang", "en").returncode == 0
    span = time.monotonic() - t0
    caught = 0
    for delay in kill_points("leads", span, 5):
        proc = rf_start("run", str(city), "--out", str(out), "--lang", "en")
        t_start = time.monotonic()
        # kill the moment a temp file of an output shows up, else at the seeded delay
        while time.monotonic() - t_start < delay and proc.poll() is None:
            if any(
                p.name.startswith((".leads.jsonl.", ".summary.md.", ".run.json."))
                for p in out.iterdir()
            ):
                caught += 1
                break
        proc.kill()
        wait(proc)
        leads = (out / "leads.jsonl").read_bytes()
        assert leads == complete["leads.jsonl"]  # the previous complete file, never a part
        for line in leads.decode("utf-8").splitlines():
            json.loads(line)
        json.loads((out / "run.json").read_text(encoding="utf-8"))
        assert (out / "summary.md").read_bytes().endswith(b"\n")
    print(f"killed while an output's temp file existed: {caught} of 5")


# --------------------------------------------------------------------------- 3: credentials


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["neo4j+s", "bolt+s", "neo4j+ssc", "bolt+ssc"])
def test_tls_uris_pass_through_and_fail_in_one_line(
    scheme: str, city: Path, tmp_path: Path
) -> None:
    from ringfinder.neo4j.connect import resolve_settings

    uri = f"{scheme}://127.0.0.1:{free_port()}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEO4J_URI", uri)
        mp.setenv("RINGFINDER_NEO4J_CONFIG", "/nonexistent/neo4j.toml")
        assert resolve_settings().uri == uri  # not rejected, not rewritten
    res = rf("neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"), uri=uri)
    assert_one_line_error(res, f"cannot connect to Neo4j at {uri}")
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_a_bad_uri_scheme_is_one_line(city: Path, tmp_path: Path) -> None:
    res = rf("neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"), uri="http://x:7474")
    assert_one_line_error(res, "bad Neo4j URI", "neo4j+s://")
    res = rf("neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"), uri="no-scheme")
    assert_one_line_error(res, "bad Neo4j URI")


def test_no_password_option_and_no_terminal_is_one_line(city: Path, tmp_path: Path) -> None:
    helps = rf("neo4j", "load", "--help").stdout + rf("run", "--help").stdout
    assert "--password" not in helps
    res = rf("neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"), NEO4J_PASSWORD=None)
    assert_one_line_error(res, "NEO4J_PASSWORD is not set", "no terminal")


@pytest.mark.neo4j
def test_credentials_from_a_private_config_file(box: ServerBox, city: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "neo4j.toml"
    cfg.write_text(f'[neo4j]\nuri = "{box.uri}"\nuser = "neo4j"\npassword = "{PASSWORD}"\n')
    cfg.chmod(0o644)
    env = {"RINGFINDER_NEO4J_CONFIG": str(cfg), "NEO4J_URI": None, "NEO4J_USER": None,
           "NEO4J_PASSWORD": None}  # fmt: skip
    shown = rf("neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"), **env)
    assert_one_line_error(shown, "readable by others", "chmod 600")
    cfg.chmod(0o600)
    from ringfinder.neo4j.connect import open_driver, resolve_settings

    with pytest.MonkeyPatch.context() as mp:
        for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_USERNAME", "NEO4J_PASSWORD"):
            mp.delenv(var, raising=False)
        mp.setenv("RINGFINDER_NEO4J_CONFIG", str(cfg))
        settings = resolve_settings()
        assert (settings.uri, settings.user, settings.password) == (box.uri, "neo4j", PASSWORD)
        open_driver(settings).close()
    wrong = rf(
        "neo4j", "load", str(city), "--workspace", str(tmp_path / "ws"),
        uri=box.uri, NEO4J_PASSWORD="not-the-password",
    )  # fmt: skip
    assert_one_line_error(wrong, "refused user 'neo4j'")
    assert "not-the-password" not in wrong.stderr + wrong.stdout


def run_in_pty(
    args: list[str], env: dict[str, str], answer: str, timeout: float = 300
) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal, type ``answer`` at the password prompt.

    click echoes "Neo4j password:" itself, then getpass turns echo off, flushes
    pending input (TCSAFLUSH) and writes the final space; typing before that space
    would be echoed and then thrown away, leaving getpass waiting for ever.
    """
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(args[0], args, env)
    buf, sent = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if not sent and b"Neo4j password: " in buf:
                os.write(fd, answer.encode() + b"\r")
                sent = True
    else:
        os.kill(pid, signal.SIGKILL)  # never hang the suite on a stuck child
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), buf.decode("utf-8", "replace")


@pytest.mark.neo4j
def test_password_prompt_on_a_terminal_hides_what_is_typed(
    box: ServerBox, city: Path, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = rf_env(box.uri, NEO4J_PASSWORD=None)
    args = [RF, "neo4j", "load", str(city), "--workspace", str(baseline["workspace"])]
    code, text = run_in_pty(args, env, "wrong-password-typed")
    assert "Neo4j password" in text
    assert "wrong-password-typed" not in text  # hidden input: no echo
    assert code == 1 and "refused user 'neo4j'" in text and "Traceback" not in text, text
    clear_database(box.driver(), schema=False)
    code, text = run_in_pty(args, env, PASSWORD)
    assert code == 0, text
    assert PASSWORD not in text
    assert_graph_exact(box.driver(), baseline["want"])
    # no user named and no password: the server refuses, and the prompt is offered then
    env = rf_env(box.uri, NEO4J_PASSWORD=None, NEO4J_USER=None)
    code, text = run_in_pty(args, env, PASSWORD)
    assert "Neo4j password" in text and code == 0, text
