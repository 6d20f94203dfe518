"""A headless Chromium driven through the DevTools protocol, for the dashboard's tests.

Debian's ``/usr/bin/chromium`` (package ``chromium``; ``./dev.sh test`` installs it) is
started with ``--remote-debugging-port=0``; the port it picked is read from
``DevToolsActivePort`` in its profile folder, and one page is driven over the browser's
WebSocket (``websocket-client``) with a flat session. Every console error, log entry of
level error and uncaught exception is kept in :attr:`Browser.problems`. The browser's
process group is killed by its id on every exit path.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-default-apps", "--disable-extensions",
         "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--metrics-recording-only", "--mute-audio", "--hide-scrollbars",
         "--window-size=1280,900", "--remote-debugging-port=0")


def available() -> bool:
    """Whether a Chromium can be run here."""
    return os.access(CHROMIUM, os.X_OK)


class BrowserError(Exception):
    """The browser did not start, or a DevTools command failed."""


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.problems: list[str] = []
        self._profile = Path(tempfile.mkdtemp(prefix="stocktaker-chromium-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: websocket.WebSocket | None = None
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._session = ""

    def __enter__(self) -> Browser:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        active = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        lines: list[str] = []
        while len(lines) < 2:
            if self._proc.poll() is not None:
                raise BrowserError(f"chromium ended at start (exit {self._proc.returncode})")
            if time.monotonic() > deadline:
                raise BrowserError("chromium wrote no DevToolsActivePort")
            time.sleep(0.05)
            if active.exists():
                lines = active.read_text().split()
        self._ws = websocket.create_connection(f"ws://127.0.0.1:{lines[0]}{lines[1]}",
                                               timeout=self.timeout, suppress_origin=True)
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target,
                                  flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.page(f"{domain}.enable")
        self.page("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        """Close the connection and kill the browser's process group (whatever state)."""
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                pass
            self._ws = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait(timeout=30)
            self._proc = None
        shutil.rmtree(self._profile, ignore_errors=True)

    # --- the protocol ------------------------------------------------------------------

    def send(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        """Send one command (to the page's session when ``session`` is given); its result."""
        assert self._ws is not None
        self._next_id += 1
        number = self._next_id
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            answer = json.loads(self._ws.recv())
            if answer.get("id") == number:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._event(answer)
        raise BrowserError(f"{method}: no answer in {self.timeout} s")

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.send(method, self._session, **params)

    def _event(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.problems.append("exception: " + str(
                details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert",
                                                                           "warning"):
            self.problems.append("console: " + " ".join(
                str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                "error", "warning"):
            self.problems.append("log: " + str(params["entry"].get("text")))
        self._events.append(event)

    def _wait_event(self, name: str) -> dict[str, Any]:
        assert self._ws is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self._events):
                if event.get("method") == name:
                    del self._events[: index + 1]
                    return event
            self._events.clear()
            self._event(json.loads(self._ws.recv()))
        raise BrowserError(f"no {name} in {self.timeout} s")

    # --- what the tests do -------------------------------------------------------------

    def headers(self, headers: dict[str, str]) -> None:
        """Send these headers with every request of the page (fetches included)."""
        self.page("Network.setExtraHTTPHeaders", headers=headers)

    def open(self, url: str) -> int:
        """Load ``url`` and wait for its load event; the HTTP status of the page."""
        self._events.clear()
        self.page("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired")
        return int(self.evaluate(
            "performance.getEntriesByType('navigation')[0].responseStatus"))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        answer = self.page("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails'].get('text')}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Evaluate ``expression`` until it is truthy (events are read meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG at ``path``."""
        size = self.page("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": max(size["width"], 1280),
                               "height": min(max(size["height"], 200), 6000), "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
