"""The Optuna floor in pyproject.toml is tested, not assumed.

The sweep uses Optuna APIs that arrived late (``RetryHeartbeatStaleTrialCallback``, 4.9), so the
floor is the release the search tests pass on: this installs exactly that release beside the
project (``pip --target``, no other package changes) and runs the Optuna sweep and its killed-worker
retry against it. Needs the package registry, like ``make test``'s set-up.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def optuna_floor() -> str:
    """The lower bound of ``optuna`` in pyproject.toml's dependencies."""
    match = re.search(r'"optuna>=([0-9.]+)', (ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml must give optuna a floor"
    return match.group(1)


@pytest.mark.slow
def test_the_sweep_runs_on_the_lowest_optuna_pyproject_allows(tmp_path: Path) -> None:
    floor, target = optuna_floor(), tmp_path / "floor"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), f"optuna=={floor}"]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT / "tests")]))
    version = subprocess.run([sys.executable, "-c", "import optuna; print(optuna.__version__)"],
                             env=env, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert Version(version) == Version(floor)
    tests = "test_optuna_sweep_writes_outputs_and_resumes_to_the_total or test_a_killed_worker_trial_is_retried"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(ROOT / "tests" / "test_search.py"), "-k", tests],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"optuna {floor}:\n{result.stdout[-3000:]}"
    assert "2 passed" in result.stdout
