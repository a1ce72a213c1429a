"""End to end: ``dvc repro`` on a tiny budget in a temporary copy of the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TINY = {
    "data": {"source": "sample", "max_images": 256},
    "model": {"first_layer_width": 32},
    "train": {"hparams": "sweep", "epochs": 2, "steps_per_epoch": None, "batch_size": 64, "eval_samples": 200,
              "jit_compile": False},
    "evaluate": {"n_samples": 200, "batch_size": 100, "kid_subsets": 2, "kid_subset_size": 100,
                 "classifier": {"epochs": 1}},
    "search": {"n_trials": 2, "epochs": 1, "max_images": 128, "n_samples": 100, "heartbeat_s": 5},
    "tracking": {"log_model": True},
}


def merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for key, value in patch.items():
        out[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh git repository holding the tracked files, with tiny params committed."""
    dst = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny"]):
        subprocess.run(args, cwd=dst, check=True)
    return dst


@pytest.fixture(scope="module")
def first_repro(project: Path) -> subprocess.CompletedProcess:
    """The project's first ``dvc repro``, which every test here starts from."""
    return run(["dvc", "repro"], project)


@pytest.mark.slow
def test_dvc_repro_runs_every_stage_then_nothing(project: Path, first_repro: subprocess.CompletedProcess) -> None:
    stages = list(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])
    for stage in stages:
        assert f"Running stage '{stage}'" in first_repro.stdout
    manifest = json.loads((project / "data/raw/manifest.json").read_text())
    assert manifest["source"] == "sample"
    meta = json.loads((project / "data/processed/meta.json").read_text())
    assert meta["train"]["count"] == 256
    evaluation = json.loads((project / "metrics/evaluate.json").read_text())
    assert evaluation["protocol"]["n_samples"] == 200 and evaluation["fid_fashion"] > 0
    promotion = json.loads((project / "metrics/promote.json").read_text())
    assert promotion["promoted"] is True and promotion["alias"] == "champion"
    best = json.loads((project / "sweeps/best.json").read_text())
    train = json.loads((project / "metrics/train.json").read_text())
    assert train["dropout"] == best["params"]["model.dropout"]
    assert (project / "models/generator.keras").is_file() and (project / "plots/samples.gif").is_file()
    shown = run(["dvc", "metrics", "show"], project)
    assert "fid_fashion" in shown.stdout
    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second.stdout


@pytest.mark.slow
def test_param_change_reruns_only_downstream(project: Path, first_repro: subprocess.CompletedProcess) -> None:
    """A knob only the evaluate stage reads reruns evaluate and what depends on it, nothing upstream."""
    stages = list(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["kid_subsets"] = 3
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro"], project)
    ran = [stage for stage in stages if f"Running stage '{stage}'" in result.stdout]
    assert ran == ["evaluate", "promote"], ran
    diff = run(["dvc", "params", "diff"], project)
    assert "evaluate.kid_subsets" in diff.stdout
