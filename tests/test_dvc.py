"""dvc.yaml keeps its promises: every stage depends on all the code it runs, and every plot it declares exists once."""

from __future__ import annotations

from pathlib import Path

import yaml

from test_layers import PACKAGE, imports, modules

ROOT = PACKAGE.parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())


def closure(script: Path) -> set[Path]:
    """Every file of the package that running ``script`` can execute: its imports, lazy ones too, and their packages' ``__init__``."""
    known = modules()
    todo = [*imports(script, known), *imports(PACKAGE / "__init__.py", known)]  # every import runs the package's __init__
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a package's __init__ runs first
        todo += imports(known[name], known)
    return {known[name] for name in seen} | {PACKAGE / "__init__.py"}


def test_every_stage_depends_on_all_the_code_it_runs() -> None:
    missing = {}
    for name, stage in DVC["stages"].items():
        script = ROOT / stage["cmd"].split()[1]
        deps = [ROOT / d for d in stage["deps"]]
        code = closure(script) | {script}
        uncovered = sorted(str(f.relative_to(ROOT)) for f in code if not any(f == d or d in f.parents for d in deps))
        if uncovered:
            missing[name] = uncovered
    assert missing == {}, f"dvc.yaml deps miss code the stage runs: {missing}"


def test_dvc_plots_show_draws_each_chart_once_with_the_images_and_the_trials(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    dvc = str(Path(sys.executable).parent / "dvc")
    shutil.copy(ROOT / "dvc.yaml", tmp_path)
    for args in (["git", "init", "-q"], [dvc, "init", "-q"]):
        subprocess.run(args, cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "plots" / "samples").mkdir(parents=True)
    (tmp_path / "sweeps").mkdir()
    for name in ("samples/epoch_001.png", "samples/epoch_002.png", "eval_grid.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "plots" / name)
    (tmp_path / "plots" / "train_history.csv").write_text("epoch,d_loss,g_loss,fid_fashion\n1,1.0,2.0,\n2,0.9,1.8,40.0\n")
    (tmp_path / "sweeps" / "trials.csv").write_text("number,dropout,first_layer_width,fid_fashion\n0,0.1,64,50.0\n1,0.3,128,40.0\n")
    shown = subprocess.run([dvc, "plots", "show", "--json"], cwd=tmp_path, check=True, capture_output=True, text=True)
    kinds = {name: [p["type"] for p in plots] for name, plots in json.loads(shown.stdout)["data"].items()}
    assert kinds == {
        "plots/train_history.csv": ["vega"],  # once: not also as a stage plot with the default template
        "fid_during_training": ["vega"],
        "plots/samples/epoch_001.png": ["image"],
        "plots/samples/epoch_002.png": ["image"],
        "plots/eval_grid.png": ["image"],
        "fid_vs_dropout": ["vega"],
        "fid_vs_first_layer_width": ["vega"],
    }
