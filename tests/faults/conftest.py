"""Fault-suite bookkeeping: every case records what it tried, and the run ends with one table."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


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
            "trials lost", "runs left RUNNING"]
    terminalreporter.section("fault suite")
    width = max(map(len, keys))
    for key in keys:
        terminalreporter.write_line(f"{key:<{width}}  {TALLY.counts.get(key, 0)}")


def cli(args: list[str], cwd: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``fashiongan`` command the way a user would."""
    full_env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TF_CPP_MIN_LOG_LEVEL="2")
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    return subprocess.run([str(BIN / "fashiongan"), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line, after checking it is one line, starts with 'error:', and the exit is non-zero."""
    assert result.returncode != 0, f"expected failure, got exit 0: {result.stdout[-500:]}"
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, f"expected one 'error:' line, got:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]
