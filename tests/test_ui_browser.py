"""The link `fashiongan ui` prints lands on the Runs table in a real browser (headless Chromium).

MLflow 3's UI opens an experiment in its GenAI overview (traces, token usage) unless the URL asks
for the Model training view; the link carries ``workflowType=machine_learning`` for that. The
test serves a local store with ``mlflow ui`` exactly as ``fashiongan ui`` does (127.0.0.1), opens the
printed link and waits for the run's name to appear in the table; the same experiment opened
without the query is the control showing that the query is what lands on the runs.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import browser  # noqa: F401 - fixture
from mlflow_server import free_port, local_store, mlflow_db_template  # noqa: F401 - fixtures

from fashiongan import tracking
from fashiongan.params_file import parse_params

RUN_NAME = "landing-check-run"


def wait_for_health(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"mlflow ui exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise AssertionError(f"mlflow ui did not answer at {url} within {seconds} s")


def text_appears(browser, needle: str, seconds: float) -> bool:  # noqa: F811
    """Whether ``needle`` shows in the rendered page within ``seconds`` (the UI renders asynchronously)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if needle in browser.run("return document.body ? document.body.innerText : ''"):
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
@pytest.mark.server
def test_the_printed_link_opens_the_runs_table(local_store: Path, browser) -> None:  # noqa: F811
    params = parse_params({"tracking": {"experiment": "landing"}})
    with tracking.new_run(params, RUN_NAME):
        pass
    port = free_port()
    links = tracking.ui_links(params, port=port)
    assert set(links) == {"landing"} and links["landing"].endswith("?workflowType=machine_learning")
    proc = subprocess.Popen(tracking.ui_command(params, port=port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=tracking.ui_env(os.environ))
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc)
        browser.open(links["landing"].split("?")[0])  # control: the bare experiment URL
        assert not text_appears(browser, RUN_NAME, 20), "the bare URL already lists the runs: the query is not needed"
        browser.open(links["landing"])
        assert text_appears(browser, RUN_NAME, 60), "the printed link did not show the run in the Runs table"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
