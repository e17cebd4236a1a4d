"""The offline HTML report in a real headless Chromium: open it, click a lead, look.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
fd 3 in, fd 4 out, NUL-separated JSON), so the test needs no Python package, no
browser download and no port: Debian's ``/usr/bin/chromium`` (``scripts/setup-system``)
is all. Without Chromium the test is skipped, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ringfinder.cli import export_cmd
from tests.test_export_data import city  # noqa: F401 - fixture

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
    "--window-size=1400,900",
]
#: Where screenshots are kept for a person to look at (RINGFINDER_SCREENSHOTS=dir).
SHOTS = os.environ.get("RINGFINDER_SCREENSHOTS")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if CI:
        pytest.fail("chromium missing in CI: scripts/setup-system installs it")
    pytest.skip("chromium not installed (scripts/setup-system installs it)")


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def fds() -> None:
            # copy both ends out of the way first: a pipe may itself be fd 3 or 4
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3, inheritable=True)
            os.dup2(high_w, 4, inheritable=True)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=fds,  # noqa: PLW1509 - single-threaded test process
            close_fds=False,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe: " + self._stderr())
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _stderr(self) -> str:
        self.proc.kill()
        return (self.proc.stderr.read() if self.proc.stderr else b"").decode()[-2000:]

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 20,
    ) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()


class Page:
    def __init__(self, browser: Browser, url: str) -> None:
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.b.send(method, params, session=self.s)

    def eval(self, expr: str) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def wait_for(self, expr: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expr)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(expr)

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element (through the input pipeline)."""
        box = self.eval(
            f"(function(){{var r=document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect();return [r.x+r.width/2, r.y+r.height/2];})()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))


@pytest.fixture(scope="module")
def report_file(city, tmp_path_factory) -> Path:  # noqa: ANN001, F811
    _, ws, _ = city
    out = tmp_path_factory.mktemp("report") / "report.html"
    app = typer.Typer()
    app.command("report")(export_cmd.report)
    app.command("other")(lambda: None)
    res = CliRunner().invoke(app, ["report", "--out", str(out), "--workspace", str(ws)])
    assert res.exit_code == 0, res.output
    return out


def test_report_is_one_self_contained_file(report_file: Path, city) -> None:  # noqa: ANN001, F811
    html = report_file.read_text(encoding="utf-8")
    _, _, leads = city
    for lead in leads:
        assert lead.lead_id in html
    lowered = html.lower()
    # nothing to fetch: no external references (data may mention URLs as plain text)
    assert not re.search(
        r"""(src|href|action)\s*=|url\(|@import|<link|<iframe|fetch\(|xmlhttp""", lowered
    )
    assert "content-security-policy" in lowered and "default-src 'none'" in html
    # data cannot break out of its script element
    assert html.count("</script>") == 2


def test_report_in_headless_chromium(report_file: Path, city, tmp_path: Path) -> None:  # noqa: ANN001, F811
    exe = chromium()
    _, _, leads = city
    t0 = time.monotonic()
    browser = Browser(exe, tmp_path / "profile")
    try:
        page = Page(browser, report_file.resolve().as_uri())
        page.wait_for("document.body && document.body.getAttribute('data-ready') === '1'")
        assert page.eval("document.querySelectorAll('.lead').length") == len(leads)
        assert page.eval("document.getElementById('detail').hidden") is True
        # click the second lead (the fake-invoice ring)
        target = leads[1].lead_id
        page.click(f'.lead[data-id="{target}"]')
        page.wait_for("!document.getElementById('detail').hidden")
        assert page.eval("document.getElementById('d-id').textContent").startswith(target)
        assert page.eval("document.querySelector('.lead.sel').getAttribute('data-id')") == target
        n_nodes = page.eval("document.querySelectorAll('#net .node').length")
        n_edges = page.eval("document.querySelectorAll('#net .edge').length")
        data = json.loads(page.eval("document.getElementById('rf-data').textContent"))
        lead_data = next(x for x in data["leads"] if x["id"] == target)
        assert (n_nodes, n_edges) == (len(lead_data["nodes"]), len(lead_data["edges"])) > (4, 4)
        reasons = page.eval(
            "Array.from(document.querySelectorAll('#reasons li'), x => x.textContent)"
        )
        assert reasons == lead_data["reasons"] and "代办" in reasons[0]
        facts = page.eval("document.getElementById('facts').textContent")
        assert "48,006.00" in facts and "移送" in facts
        # click a node: its neighbours stay, the rest dims, and it is described
        page.click('#net .node[data-id^="x:agent_phone"]')
        page.wait_for("document.getElementById('nodeinfo').textContent.length > 0")
        assert page.eval("document.querySelectorAll('#net .node.dim').length") > 0
        assert "代办电话" in page.eval("document.getElementById('nodeinfo').textContent")
        shot = tmp_path / "report.png"
        page.screenshot(shot)
        assert shot.stat().st_size > 20_000
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(SHOTS) / "report-click.png")
        # the page fetched nothing but itself, and threw nothing
        urls = [
            e["params"]["request"]["url"]
            for e in browser.events
            if e.get("method") == "Network.requestWillBeSent"
        ]
        assert all(u.startswith(("file://", "data:", "about:")) for u in urls), urls
        errors = [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
        errors += [
            e
            for e in browser.events
            if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
        ]
        assert not errors, errors
    finally:
        browser.close()
    assert time.monotonic() - t0 < 30
