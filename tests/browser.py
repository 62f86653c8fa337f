"""A real browser for the tests: headless Chromium (Debian's ``chromium``, installed by
scripts/install_test_programs.sh) driven through the DevTools protocol over a WebSocket.

    with Browser(tmp_path) as browser:
        browser.open(page.as_uri())
        browser.evaluate("window.berg.seek(2.5)")     # promises are awaited
        browser.screenshot(tmp_path / "after.png")
        assert not browser.errors                      # console errors and exceptions

WebGL2 works headless through ANGLE on SwiftShader (the flags below). The network is cut
(``Network.emulateNetworkConditions`` offline) before any page loads.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--allow-file-access-from-files",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--disable-extensions",
    "--window-size=1400,900",
    "--remote-debugging-port=0",
]


def chromium() -> str:
    """The Chromium program, or the test is skipped with how to get it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.skip("Chromium is not installed (bash scripts/install_test_programs.sh)")


class Browser:
    """One headless Chromium with one page, closed on exit."""

    def __init__(self, profile: Path, timeout: float = 60.0):
        websocket = pytest.importorskip("websocket")
        self.timeout = timeout
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._process = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = self._port()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as reply:
                    pages = [t for t in json.load(reply) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium opened no page")
            time.sleep(0.1)
        self._socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
        )
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Network.emulateNetworkConditions",
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )

    def _port(self) -> int:
        for line in self._process.stderr:
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if found:
                return int(found.group(1))
        raise RuntimeError("Chromium did not start its DevTools server")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._socket.close()
        finally:
            self._process.kill()
            self._process.wait(timeout=30)

    def call(self, method: str, **params):
        """Send one DevTools command and return its result (events meanwhile are read:
        console errors and exceptions are kept in ``errors``)."""
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description", details["text"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a)) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def open(self, url: str, ready: str = "document.body?.dataset.ready === 'yes'") -> None:
        """Load ``url`` and wait until ``ready`` (a JavaScript expression) holds."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while not self.evaluate(f"Boolean({ready})", awaited=False):
            if self.errors:
                raise AssertionError(f"the page failed: {self.errors}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not get ready")
            time.sleep(0.2)

    def evaluate(self, expression: str, awaited: bool = True):
        """The value of ``expression`` in the page (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=awaited,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the page as it is now."""
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
