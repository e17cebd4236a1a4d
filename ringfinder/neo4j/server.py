"""A real Neo4j Community server for development and CI, without Docker or a tarball.

The jars come from Maven Central (``launcher/pom.xml`` pins one Neo4j 5.26 LTS version,
the last line that runs on Java 17); ``launcher/Launcher.java`` starts the embedded
DBMS with its Bolt listener, by Java's single-file source launch (no compile step)::

    runtime = fetch_runtime()                 # once: mvn dependency:copy-dependencies
    with start_server(home=tmp) as server:    # java -cp 'lib/*' Launcher.java <home> <port>
        driver = server.driver()              # bolt://127.0.0.1:<port>, no auth

The server listens on 127.0.0.1 only, with authentication **disabled** unless a
``password`` is given (then user ``neo4j`` has that password). It is for local
development and tests, never for real data. Its memory is capped (heap, page cache,
transaction memory); its output goes to ``<home>/neo4j.log`` and Neo4j's own logs to
``<home>/logs/``. It shuts down cleanly on ``stop()``, when the Python process that
started it dies (its stdin closes), or on SIGTERM.

Command line (``scripts/neo4j-fetch``, ``scripts/neo4j-start``)::

    python -m ringfinder.neo4j.server fetch [--dest DIR]
    python -m ringfinder.neo4j.server start [--home DIR] [--port N] [--detach] ...
    python -m ringfinder.neo4j.server stop  [--home DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ringfinder.errors import EngineError

log = logging.getLogger(__name__)

#: The Neo4j version pinned in launcher/pom.xml (a test keeps the two in step).
NEO4J_VERSION = "5.26.30"
LAUNCHER_DIR = Path(__file__).resolve().parent / "launcher"
POM = LAUNCHER_DIR / "pom.xml"
LAUNCHER = LAUNCHER_DIR / "Launcher.java"

HOME_ENV = "RINGFINDER_NEO4J_HOME"  # where the runtime (lib/) is fetched to
JAVA_ENV = "RINGFINDER_JAVA"  # a java executable to use instead of $JAVA_HOME/bin/java or PATH
MVN_ENV = "RINGFINDER_MVN"  # an mvn executable to use instead of the one on PATH
PASSWORD_ENV = "RINGFINDER_NEO4J_PASSWORD"  # how the password reaches the launcher (not argv)

MARKER = ".ringfinder-complete"
PID_FILE = "neo4j.pid"
LOG_FILE = "neo4j.log"
READY = re.compile(r"^NEO4J_READY (bolt://\S+)\s*$", re.MULTILINE)
FAILED = "NEO4J_FAILED"
SUPPORTED_JAVA = (17, 21)  # Neo4j 5.26's supported JVMs

#: JVM flags from the 5.26 server's default neo4j.conf that matter embedded.
JVM_FLAGS = (
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


class RuntimeUnavailable(EngineError):
    """Java or Maven is missing, or the jars could not be downloaded (nothing to start)."""


# --------------------------------------------------------------------------- helpers


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def parse_size(size: str | int) -> int:
    """``"512m"`` → bytes (k, m, g suffixes, 1024-based); ints pass through."""
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+)\s*([kmgKMG]?)[bB]?\s*", size)
    if not m:
        raise EngineError(f"not a memory size: {size!r} (use e.g. 512m or 2g)")
    return int(m.group(1)) * 1024 ** " kmg".index(m.group(2).lower() or " ")


def _jvm_size(size: str | int) -> str:
    return f"{parse_size(size) // (1024 * 1024)}m"


def default_runtime_dir() -> Path:
    """``$RINGFINDER_NEO4J_HOME``, else ``~/.cache/ringfinder/neo4j-<version>``."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "ringfinder" / f"neo4j-{NEO4J_VERSION}"


def find_java(java: str | None = None) -> tuple[str, int]:
    """The java executable and its major version; RuntimeUnavailable if none fits."""
    candidates = [java, os.environ.get(JAVA_ENV)]
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    candidates.append(shutil.which("java"))
    exe = next((c for c in candidates if c and Path(c).is_file()), None)
    if exe is None:
        raise RuntimeUnavailable(
            f"no java found (need Java {SUPPORTED_JAVA[0]} or {SUPPORTED_JAVA[1]}): install "
            f"OpenJDK 17, or set {JAVA_ENV} / JAVA_HOME"
        )
    try:
        out = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=60, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeUnavailable(f"{exe} -version failed: {exc}") from None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise RuntimeUnavailable(f"cannot read the version of {exe}: {out.strip()[:200]}")
    major = int(m.group(2)) if m.group(1) == "1" else int(m.group(1))
    if major < SUPPORTED_JAVA[0]:
        raise RuntimeUnavailable(f"{exe} is Java {major}; Neo4j {NEO4J_VERSION} needs 17 or 21")
    if major not in SUPPORTED_JAVA:
        log.warning("%s is Java %d; Neo4j %s supports only 17 and 21", exe, major, NEO4J_VERSION)
    return exe, major


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _marker_text() -> str:
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    return f"neo4j {NEO4J_VERSION} pom {digest}\n"


def runtime_ready(dest: Path | None = None) -> bool:
    """True if ``dest/lib`` holds a complete fetch of the pinned version."""
    marker = (dest or default_runtime_dir()) / "lib" / MARKER
    try:
        return marker.read_text(encoding="utf-8") == _marker_text()
    except OSError:
        return False


# --------------------------------------------------------------------------- fetch


def fetch_runtime(dest: Path | str | None = None, *, timeout: float = 1800) -> Path:
    """Download the Neo4j jars into ``dest/lib`` (once) and return ``dest``.

    Runs ``mvn -q -B -f launcher/pom.xml dependency:copy-dependencies`` into a scratch
    folder and renames it to ``lib`` only when Maven succeeded, then writes a marker;
    a later call with the marker in place returns at once. Concurrent callers wait on a
    lock file. Raises :class:`RuntimeUnavailable` (an ``EngineError``) if ``mvn`` is
    missing or the download fails, with the last lines of Maven's output.
    """
    dest = Path(dest).expanduser().resolve() if dest else default_runtime_dir()
    if runtime_ready(dest):
        return dest
    with _locked(dest / ".fetch.lock"):
        if runtime_ready(dest):  # another process finished while we waited
            return dest
        mvn = os.environ.get(MVN_ENV) or shutil.which("mvn")
        if not mvn:
            raise RuntimeUnavailable(
                "Maven (mvn) not found: it fetches the Neo4j jars from Maven Central. "
                f"Install maven (apt-get install maven) or set {MVN_ENV}"
            )
        find_java()  # Maven needs a JDK too; fail with the clearer message first
        partial = dest / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        log.info("fetching Neo4j %s jars into %s", NEO4J_VERSION, dest / "lib")
        started = time.monotonic()
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeUnavailable(f"Maven did not finish in {timeout:.0f} s") from None
        except OSError as exc:
            raise RuntimeUnavailable(f"cannot run {mvn}: {exc}") from None
        output = (done.stdout + done.stderr).strip()
        jars = sorted(partial.glob("*.jar"))
        if done.returncode != 0 or not (partial / f"neo4j-{NEO4J_VERSION}.jar").is_file():
            tail = "\n".join(output.splitlines()[-25:]) or "(no output)"
            raise RuntimeUnavailable(
                f"fetching the Neo4j {NEO4J_VERSION} jars failed (mvn exit {done.returncode}, "
                f"{len(jars)} jars). Maven Central must be reachable, or ~/.m2 "
                f"must already hold them.\n{' '.join(cmd)}\n--- Maven output (tail) ---\n{tail}"
            )
        size = sum(j.stat().st_size for j in jars)
        (partial / MARKER).write_text(_marker_text(), encoding="utf-8")
        lib = dest / "lib"
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
        log.info(
            "fetched %d jars, %.0f MB, in %.1f s",
            len(jars),
            size / 1e6,
            time.monotonic() - started,
        )
    return dest


# --------------------------------------------------------------------------- server


class Neo4jServer:
    """A running launcher process. Use as a context manager, or call :meth:`stop`."""

    def __init__(
        self,
        *,
        uri: str,
        home: Path,
        process: subprocess.Popen[bytes],
        auth: tuple[str, str] | None,
        startup_seconds: float,
    ) -> None:
        self.uri = uri
        self.home = home
        self.log_path = home / LOG_FILE
        self.process = process
        self.auth = auth
        self.startup_seconds = startup_seconds
        self._driver: Any = None

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.process.returncode}"
        return f"<Neo4jServer {self.uri} pid={self.pid} {state} home={self.home}>"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.uri.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def driver(self) -> Any:
        """A shared ``neo4j.Driver`` for this server, closed by :meth:`stop`."""
        if self._driver is None:
            from neo4j import GraphDatabase

            self._driver = GraphDatabase.driver(self.uri, auth=self.auth)
        return self._driver

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 60) -> int:
        """Shut down cleanly and return the exit code (0 = clean shutdown via STOP).

        Sends ``STOP`` on the launcher's stdin; if it has not exited after ``timeout``
        seconds, SIGTERM (the shutdown hook still closes the stores), then SIGKILL.
        """
        if self._driver is not None:
            with contextlib.suppress(Exception):
                self._driver.close()
            self._driver = None
        proc = self.process
        if proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(b"STOP\n")
                proc.stdin.flush()
        if proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("Neo4j (pid %d) ignored STOP for %.0f s: SIGTERM", proc.pid, timeout)
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                log.warning("Neo4j (pid %d) ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
        pid_file = self.home / PID_FILE
        with contextlib.suppress(OSError):
            if json.loads(pid_file.read_text(encoding="utf-8")).get("pid") == proc.pid:
                pid_file.unlink()
        return proc.returncode

    def __enter__(self) -> Neo4jServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    *,
    home: Path | str | None = None,
    port: int = 0,
    heap: str = "512m",
    pagecache: str = "256m",
    tx_memory: str | None = None,
    password: str | None = None,
    runtime: Path | str | None = None,
    plugins: Path | str | None = None,
    java: str | None = None,
    timeout: float = 180,
    watch_stdin: bool = True,
) -> Neo4jServer:
    """Start Neo4j on ``127.0.0.1:port`` and return once a Bolt query has run.

    ``home`` is the database home (``data/``, ``logs/``, ``neo4j.log``), reused across
    restarts; default ``<runtime>/home``. ``port=0`` lets the OS pick a free port (no
    race: the launcher reports the port it bound). ``runtime`` holds ``lib/`` and is
    fetched first if needed (:func:`fetch_runtime`). Memory: ``-Xmx{heap}``, page cache
    ``pagecache``, all transactions together ``tx_memory`` (default half the heap).
    ``password``: enable authentication for user ``neo4j`` (8+ characters); default off.
    ``plugins``: a folder of plugin jars (e.g. APOC) put on the classpath and in
    ``plugin_dir``; default ``<runtime>/plugins`` if it has jars. ``watch_stdin=False``
    lets the server outlive this process (stop it with :func:`stop_server`).

    Raises :class:`RuntimeUnavailable` if Java/Maven/jars are missing, or
    :class:`~ringfinder.errors.EngineError` with the tail of the log if it fails to start.
    """
    runtime_dir = fetch_runtime(runtime)
    exe, _major = find_java(java)
    home = Path(home).expanduser().resolve() if home else runtime_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    if password is not None and len(password) < 8:
        raise EngineError("the Neo4j password must have at least 8 characters")
    heap_bytes = parse_size(heap)
    tx_bytes = parse_size(tx_memory) if tx_memory else heap_bytes // 2
    classpath = [str(runtime_dir / "lib" / "*")]
    args = [f"pagecache={parse_size(pagecache)}", f"txmax={tx_bytes}"]
    plugin_dir = Path(plugins).resolve() if plugins else runtime_dir / "plugins"
    if plugins or any(plugin_dir.glob("*.jar")):
        classpath.append(str(plugin_dir / "*"))
        args.append(f"plugins={plugin_dir}")
    args.append(f"stdin={'watch' if watch_stdin else 'ignore'}")
    cmd = [
        exe,
        f"-Xmx{_jvm_size(heap)}",
        *JVM_FLAGS,
        "-cp",
        os.pathsep.join(classpath),
        str(LAUNCHER),
        str(home),
        str(int(port)),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    if password:
        env[PASSWORD_ENV] = password
    log_path = home / LOG_FILE
    if log_path.exists():
        log_path.replace(home / f"{LOG_FILE}.1")
    log.info("starting Neo4j %s: %s", NEO4J_VERSION, " ".join(cmd))
    started = time.monotonic()
    with log_path.open("wb") as out:
        out.write(f"# {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if watch_stdin else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=home,
                env=env,
                start_new_session=True,  # Ctrl-C reaches Python, which stops the server
            )
        except OSError as exc:
            raise RuntimeUnavailable(f"cannot run {exe}: {exc}") from None
    auth = ("neo4j", password) if password else None
    server = Neo4jServer(uri="", home=home, process=proc, auth=auth, startup_seconds=0.0)

    def fail(why: str) -> EngineError:
        server.stop(timeout=20)  # also closes our end of its stdin
        return EngineError(
            f"Neo4j {NEO4J_VERSION} did not start: {why}\n"
            f"log: {log_path}\n--- log tail ---\n{_tail(log_path)}"
        )

    deadline = started + timeout
    uri = None
    while uri is None:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        m = READY.search(text)
        if m:
            uri = m.group(1)
        elif FAILED in text or proc.poll() is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)  # let it finish writing why
            text = log_path.read_text(encoding="utf-8", errors="replace")
            cause = re.findall(rf"^{FAILED} (.*)$", text, re.MULTILINE)
            raise fail(cause[-1] if cause else f"the launcher exited with code {proc.returncode}")
        elif time.monotonic() > deadline:
            raise fail(f"no ready line within {timeout:.0f} s")
        else:
            time.sleep(0.1)
    server.uri = uri
    try:
        server.driver().verify_connectivity()
        records, _, _ = server.driver().execute_query("RETURN 1 AS one", database_="neo4j")
        if records[0]["one"] != 1:
            raise EngineError(f"RETURN 1 gave {records!r}")
    except Exception as exc:  # the driver's errors are many; all mean "not usable"
        raise fail(f"{uri} is not answering Bolt queries: {exc}") from None
    server.startup_seconds = time.monotonic() - started
    (home / PID_FILE).write_text(
        json.dumps({"pid": proc.pid, "uri": uri, "version": NEO4J_VERSION}), encoding="utf-8"
    )
    log.info("Neo4j %s ready at %s in %.1f s", NEO4J_VERSION, uri, server.startup_seconds)
    return server


def _launcher_alive(pid: int, home: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return LAUNCHER.name.encode() in b" ".join(cmdline) and str(home).encode() in cmdline


def stop_server(home: Path | str | None = None, *, timeout: float = 60) -> bool:
    """Stop the server recorded in ``home/neo4j.pid`` (SIGTERM, then SIGKILL).

    For a server started by another process (``start --detach`` or a running ``start``).
    Returns False if none was running.
    """
    home = Path(home).expanduser().resolve() if home else default_runtime_dir() / "home"
    pid_file = home / PID_FILE
    try:
        pid = int(json.loads(pid_file.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return False
    if not _launcher_alive(pid, home):
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _launcher_alive(pid, home):
        if time.monotonic() > deadline:
            log.warning("Neo4j (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    pid_file.unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------- command line


def _say(text: str, stream: Any = None) -> None:
    (stream or sys.stderr).write(text + "\n")
    (stream or sys.stderr).flush()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ringfinder.neo4j.server",
        description=f"A local Neo4j {NEO4J_VERSION} Community server for development and CI "
        "(127.0.0.1 only, no authentication unless NEO4J_PASSWORD is set).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download the jars from Maven Central (once)")
    p_fetch.add_argument("--dest", type=Path, help=f"runtime folder (default ${HOME_ENV} or cache)")
    p_start = sub.add_parser("start", help="start a server; prints its Bolt URI on stdout")
    p_start.add_argument("--home", type=Path, help="database home (default <runtime>/home)")
    p_start.add_argument("--runtime", type=Path, help="runtime folder holding lib/")
    p_start.add_argument("--port", type=int, default=7687, help="Bolt port (0 = any free one)")
    p_start.add_argument("--heap", default="512m", help="JVM heap, -Xmx (default 512m)")
    p_start.add_argument("--pagecache", default="256m", help="page cache (default 256m)")
    p_start.add_argument("--tx-memory", default=None, help="default: half the heap")
    p_start.add_argument("--timeout", type=float, default=180)
    p_start.add_argument(
        "--detach", action="store_true", help="return once ready; stop it with `stop`"
    )
    p_stop = sub.add_parser("stop", help="stop the server of a home (from its pid file)")
    p_stop.add_argument("--home", type=Path, help="database home (default <runtime>/home)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("neo4j").setLevel(logging.WARNING)
    try:
        if args.command == "fetch":
            _say(str(fetch_runtime(args.dest)), sys.stdout)
            return 0
        if args.command == "stop":
            stopped = stop_server(args.home)
            _say("stopped" if stopped else "no server was running")
            return 0
        server = start_server(
            home=args.home,
            runtime=args.runtime,
            port=args.port,
            heap=args.heap,
            pagecache=args.pagecache,
            tx_memory=args.tx_memory,
            password=os.environ.get("NEO4J_PASSWORD") or None,
            timeout=args.timeout,
            watch_stdin=not args.detach,
        )
    except EngineError as exc:
        _say(f"error: {exc}")
        return 1
    _say(server.uri, sys.stdout)
    _say(f"pid {server.pid}, home {server.home}, log {server.log_path}")
    if args.detach:
        server.driver().close()
        return 0
    _say("Ctrl-C to stop")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # even where a parent shell ignored SIGINT
    try:
        code = server.process.wait()
        _say(f"Neo4j exited with code {code}")
        server.stop()
        return 0 if code in (0, 128 + signal.SIGTERM, -signal.SIGTERM) else 1
    except KeyboardInterrupt:
        code = server.stop()
        _say(f"stopped (exit code {code})")
        return 0


if __name__ == "__main__":
    sys.exit(main())
