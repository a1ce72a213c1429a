"""A real headless Chromium for tests, driven through chromedriver's W3C WebDriver HTTP API.

WebDriver is plain JSON over HTTP, so the standard library's urllib drives it and no Python package
(selenium, playwright) is added. Needs the Debian packages ``chromium`` and ``chromium-driver``
(``.ci/run`` installs them); tests using :func:`browser` skip when they are missing. chromedriver
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow_server import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


class Browser:
    """One WebDriver session: open a URL, run JavaScript, click, read the console."""

    def __init__(self, base: str, session: str):
        self.url = f"{base}/session/{session}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return _request(method, f"{self.url}{path}", body)

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``return`` gives the value) in the page."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def click(self, css: str) -> None:
        element = self._call("POST", "/element", {"using": "css selector", "value": css})
        self._call("POST", f"/element/{next(iter(element.values()))}/click", {})

    def console(self) -> list[dict[str, Any]]:
        """The browser console's entries since the last call (chromedriver's log endpoint)."""
        return self._call("POST", "/se/log", {"type": "browser"})


def _request(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["value"]
    except urllib.error.HTTPError as exc:  # WebDriver errors carry their reason in the body
        raise RuntimeError(f"{method} {url}: {exc.code} {exc.read().decode(errors='replace')[:500]}") from None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium with no network but loopback (other host names fail to resolve): pages must work offline."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs the Debian packages chromium and chromium-driver (installed by .ci/run)")
    port = free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _request("GET", f"{base}/status")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        options = {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        }  # fmt: skip
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "ALL"}}
        session = _request("POST", f"{base}/session", {"capabilities": {"alwaysMatch": capabilities}})["sessionId"]
        try:
            yield Browser(base, session)
        finally:
            _request("DELETE", f"{base}/session/{session}")
    finally:
        driver.terminate()
        driver.wait(timeout=30)
