"""Fault-suite bookkeeping: every case records what it tried, and the run ends with one table."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from fashiongan.errors import EXIT_USER_ERROR

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
STORE_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")  # never inherited by the commands run


@dataclass
class Tally:
    """What the suite tried and how it ended; printed as the closing table."""

    counts: Counter = field(default_factory=Counter)

    def bad_input(self, handled: bool) -> None:
        self.counts["bad inputs tried"] += 1
        self.counts["bad inputs handled cleanly"] += handled

    def fault(self, recovered: bool) -> None:
        self.counts["faults injected"] += 1
        self.counts["faults recovered"] += recovered

    def race(self, won_by_better: bool) -> None:
        self.counts["promote races"] += 1
        self.counts["promote races won by the worse"] += not won_by_better

    def lost(self, trials: int = 0, running_runs: int = 0) -> None:
        self.counts["trials lost"] += trials
        self.counts["runs left RUNNING"] += running_runs


TALLY = Tally()


@pytest.fixture()
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.counts:
        return
    keys = ["bad inputs tried", "bad inputs handled cleanly", "faults injected", "faults recovered",
            "trials lost", "runs left RUNNING", "promote races", "promote races won by the worse"]
    terminalreporter.section("fault suite")
    width = max(map(len, keys))
    for key in keys:
        terminalreporter.write_line(f"{key:<{width}}  {TALLY.counts.get(key, 0)}")


def cli(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None,
        patches: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``fashiongan`` command the way a user would (``patches``: through inject.py)."""
    full_env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TF_CPP_MIN_LOG_LEVEL="2")
    for name in STORE_VARIABLES:
        full_env.pop(name, None)
    full_env.update(env or {})
    command = [str(BIN / "fashiongan")]
    if patches is not None:
        command = [sys.executable, str(INJECT), *(f"--patch={p}" for p in patches), "--"]
    return subprocess.run([*command, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line, after checking it is one line, starts with 'error:', and the exit code is 2 (README)."""
    assert result.returncode == EXIT_USER_ERROR, f"expected exit {EXIT_USER_ERROR}, got {result.returncode}: {result.stderr[-500:]}"
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, f"expected one 'error:' line, got:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


# ---------------------------------------------------------------------------- tiny projects

INJECT = Path(__file__).with_name("inject.py")
TESTS = ROOT / "tests"

# Small enough that each command takes seconds: 256 images, the tutorial preset with a 16-wide first
# layer (an epoch is under a second on 2 cores), 1 classifier epoch. No stall or collapse stop: tests
# count epochs, and 4 steps an epoch leave the generator drawing blobs of one class.
TINY = {
    "data": {"source": "sample", "max_images": 256},
    "model": {"preset": "tutorial", "first_layer_width": 16, "latent_dim": 16},
    "train": {"hparams": "params", "epochs": 2, "batch_size": 64, "jit_compile": False, "eval_samples": 128,
              "grid_size": 2, "stall_patience": 100, "collapse_min_classes": 0},
    "evaluate": {"n_samples": 200, "batch_size": 100, "kid_subsets": 2, "kid_subset_size": 50,
                 "classifier": {"epochs": 1}},
    "search": {"n_samples": 128, "max_images": 128},
}


def write_params(project: Path, **sections: dict) -> dict:
    """params.yaml of ``project``: the tiny defaults with ``sections`` merged in (one level deep)."""
    params = yaml.safe_load(yaml.safe_dump(TINY))
    for name, values in sections.items():
        params.setdefault(name, {}).update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return params


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def clone(src: Path, dst: Path) -> Path:
    """A copy of a prepared project without its MLflow store (stores pin absolute artifact folders)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("mlruns"))
    return dst


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Work in ``folder`` (stages read and write relative to the project root)."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fetched, preprocessed, classifier trained: what train, evaluate and sweeps start from.

    The classifier is trained in this process: the suite's faults are in the commands it runs later,
    and one TensorFlow start-up fewer keeps the suite inside its CI budget.
    """
    from fashiongan.params_file import load_params
    from fashiongan.stages.train_classifier import train_classifier_stage

    project = tmp_path_factory.mktemp("prepared")
    write_params(project)
    for command in (["fetch"], ["preprocess"]):
        ok(cli(command, project))
    with inside(project):
        train_classifier_stage(load_params(Path("params.yaml")))
    return project


@pytest.fixture(scope="session")
def trained(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prepared`` plus a 2-epoch generator and its checkpoint (trained in this process, without tracking)."""
    from fashiongan.params_file import load_params
    from fashiongan.stages.train import train_stage

    project = clone(prepared, tmp_path_factory.mktemp("trained") / "project")
    params = load_params(project / "params.yaml")
    with inside(project):
        train_stage(params.model_copy(update={"tracking": params.tracking.model_copy(update={"enabled": False})}))
    return project


def inject(args: list[str], cwd: Path, patches: list[str], timeout: float = 600,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``fashiongan args`` with test-only fault patches applied first (see inject.py)."""
    return cli(args, cwd, timeout, env, patches=patches)


def popen(command: list[str], cwd: Path, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start a command in its own process group (so a kill reaches its children), output to ``log``."""
    full_env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TF_CPP_MIN_LOG_LEVEL="2",
                    PYTHONPATH=str(TESTS))
    for name in STORE_VARIABLES:
        full_env.pop(name, None)
    full_env.update(env or {})
    out = open(log or os.devnull, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_handle = out  # type: ignore[attr-defined]
    _started.append(proc)
    return proc


_started: list[subprocess.Popen] = []


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    proc.log_handle.close()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_mlflow_globals() -> Iterator[None]:
    """A stage run in this process points mlflow at its store and exports the store variables;
    the next test must resolve its own store as a fresh process would."""
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for name in STORE_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def _reap_started() -> Iterator[None]:
    """No process a test started outlives it, whatever the test's outcome."""
    yield
    while _started:
        kill(_started.pop())


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen | None = None,
             limit_s: float = 300) -> None:
    """Poll until ``condition`` holds; fail if ``proc`` exits first (a safety limit, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if proc is not None and proc.poll() is not None:
            log = Path(proc.log_handle.name).read_text()[-3000:] if proc.log_handle.name != os.devnull else ""
            raise AssertionError(f"process exited ({proc.returncode}) before {what}:\n{log}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def store_runs(uri: str) -> list:
    """Every run of every experiment in an MLflow store."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, max_results=5000) if ids else []


def running_runs(uri: str) -> int:
    return sum(run.info.status == "RUNNING" for run in store_runs(uri))


def local_store(project: Path) -> str:
    return f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"


def stray_temp_files(project: Path) -> list[Path]:
    """Half-written files a failed write may leave: our temp names (``.*.part``, ``.*tmp*``)."""
    return [p for p in project.rglob(".*") if p.is_file() and (".part" in p.name or "tmp" in p.name)]
