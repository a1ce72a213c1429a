"""What a user reads: stage output without TensorFlow's start-up noise, and --help with the values in effect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Lines TensorFlow's C++ runtime and absl print on start-up or from grappler, none of them ours.
NOISE = ("absl::InitializeLog", "cpu_feature_guard", "oneDNN custom operations", "E0000", "I0000", "W0000")


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user who set nothing: no TF_CPP_MIN_LOG_LEVEL (conftest sets one for pytest)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra)
    for name in ("TF_CPP_MIN_LOG_LEVEL", "FASHIONGAN_VERBOSE"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=user_env(**extra), capture_output=True, text=True, timeout=300)


EVALUATE = [sys.executable, str(ROOT / "pipelines" / "evaluate.py")]
NO_GENERATOR = "error: generator models/generator.keras not found: rerun `dvc repro train`"


@pytest.mark.slow
def test_a_stage_prints_only_its_own_line_and_verbose_brings_the_library_output_back(tmp_path: Path) -> None:
    quiet = run(["fashiongan", "evaluate"], tmp_path)
    loud = run(["fashiongan", "evaluate", "--verbose"], tmp_path)  # the flag exists; this command fails before TF loads
    assert quiet.returncode == loud.returncode == 2
    assert loud.stderr.splitlines()[-1] == quiet.stderr.splitlines()[-1]  # the same run, only louder
    (tmp_path / "params.yaml").write_text("{}\n")  # now the stage loads TensorFlow, then finds no generator to score
    quiet, loud = run(EVALUATE, tmp_path), run(EVALUATE, tmp_path, FASHIONGAN_VERBOSE="1")
    assert quiet.returncode == loud.returncode == 2
    assert (quiet.stdout + quiet.stderr).splitlines() == [NO_GENERATOR]
    assert any(word in loud.stderr for word in NOISE), loud.stderr
    assert loud.stderr.splitlines()[-1] == NO_GENERATOR


def test_help_shows_the_value_in_params_yaml_beside_the_default(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("search:\n  epochs: 3\n")
    shown = run(["fashiongan", "sweep", "--help"], tmp_path, COLUMNS="200")
    assert shown.returncode == 0
    assert "search.epochs = 3 (default 2)" in shown.stdout
    assert "search.n_trials = 4:" in shown.stdout  # not in the file: the default is in effect


NATIVE_WRITES = """
import os, sys
from fashiongan.logs import startup_noise_held
with startup_noise_held():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1.0 7 port.cc:153] oneDNN custom operations are on. You may see ...\\n")
    os.write(2, b"a native error line\\n")
    print("a python warning line", file=sys.stderr)
print("after", file=sys.stderr)
"""


@pytest.mark.parametrize("verbose", ["", "1"])
def test_startup_notices_that_ignore_the_log_level_are_held_back_and_nothing_else(verbose: str) -> None:
    """absl's pre-initialisation lines bypass TF_CPP_MIN_LOG_LEVEL (AVX-512 CPUs print them at every import)."""
    done = subprocess.run([sys.executable, "-c", NATIVE_WRITES], env=user_env(FASHIONGAN_VERBOSE=verbose),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    kept = ["a native error line", "a python warning line", "after"]
    assert [line for line in done.stderr.splitlines() if "port.cc" not in line and "absl" not in line] == kept
    assert (len(done.stderr.splitlines()) == 3) == (not verbose)
