"""Pytest fixtures for MLflow stores: a sqlite store per test and one real ``mlflow server`` per session.

Import the fixtures where they are used (``from mlflow_server import local_store, mlflow_server``)
or from conftest. The server is started once per test session however many modules import it,
and stopped when the session ends.

Creating an MLflow sqlite database runs its migrations (seconds), so both fixtures copy one
migrated template instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT_S = 180.0
_QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrated_db(path: Path) -> Path:
    """An empty MLflow sqlite database with all migrations applied."""
    from mlflow import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments(max_results=1)
    return path


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 in its own process group, with proxied artifacts."""

    def __init__(self, root: Path, template_db: Path | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        db = root / "mlflow.db"
        if template_db is not None:
            shutil.copyfile(template_db, db)
        self.command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{db}",
            "--artifacts-destination", str(root / "artifacts"),
        ]  # fmt: skip

    def start(self) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")} | _QUIET_ENV
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {STARTUP_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the server's process group (uvicorn and its workers), then wait for it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


# Shared across modules: each module importing a fixture gets its own fixture definition.
_servers: dict[str, MlflowServer] = {}
_templates: dict[str, Path] = {}


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated sqlite database per session, copied by the store fixtures."""
    if "session" not in _templates:
        _templates["session"] = migrated_db(tmp_path_factory.mktemp("mlflow-template") / "mlflow.db")
    return _templates["session"]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, mlflow_db_template: Path) -> Iterator[str]:
    """URL of a real ``mlflow server`` (sqlite backend, proxied artifacts) shared by the session."""
    server = _servers.get("session")
    if server is None:
        server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), mlflow_db_template)
        server.start()
        _servers["session"] = server
    try:
        yield server.url
    finally:
        _servers.pop("session", None)
        server.stop()


@pytest.fixture
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db_template: Path) -> Iterator[Path]:
    """Run in ``tmp_path`` with the default store ``sqlite:///mlruns/mlflow.db`` resolved there.

    Yields the sqlite file. ``MLFLOW_TRACKING_URI`` is unset so the default applies.
    """
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name, value in _QUIET_ENV.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir()
    shutil.copyfile(mlflow_db_template, db)
    yield db
    while mlflow.active_run() is not None:
        mlflow.end_run()
        pytest.fail("a test left an MLflow run active")
    mlflow.set_tracking_uri(None)
