"""Grid versus Optuna-with-pruning, judged where it matters: the final-budget FID of each sweep's pick.

For each seed s (``--seeds``, at least 3 for a verdict) both sweeps run at the sweep's budget
(``--epochs`` on ``--max-images``; sampler seed and trial training seed s): the grid over
``--grid-dropout`` x ``--grid-width`` (the tutorial's hand-tuning), Optuna with TPE and pruning on
the same box (dropout and log width between the grid's extremes). Each pick is then retrained to the
final budget (``--final-epochs`` on every image, training seed s) and scored with fid_fashion on
``--n-samples`` images per sampling seed. Every grid cell is also trained to the final budget with
every seed; the best cell (lowest mean) is the reference.

Printed per seed and as mean ± std over seeds: each pick's regret (its final FID minus the best
cell's mean final FID), Optuna's minus the grid's, and beside every difference the noise floor:
the std of the best cell's final FID over training seeds (a difference below it is not a finding).
Also each sweep's epochs (Optuna's pruning saving).

Training and scoring go through :mod:`fashiongan.search.fidelity` and the sweep stage itself; the
workspace is temporary (see ``_common.py``).

Run: ``python benchmarks/sweep_efficiency.py [--data DIR|sample] [--seeds 1,2,3] [--epochs 3
--max-images 2000] [--final-epochs 20] [--optuna-trials 5] [--pruner median|hyperband]
[--preset tutorial] [--json out.json]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _common import add_common_flags, base_params, cell_name, check_data, epoch_words, finish, number_list, pm, prepare_workspace, print_table, workspace_inputs  # noqa: E402

from fashiongan.params_file import parse_params  # noqa: E402
from fashiongan.search.fidelity import Budget, score_table  # noqa: E402
from fashiongan.search.gan_objective import GanObjective  # noqa: E402
from fashiongan.search.stats import noise_floor  # noqa: E402
from fashiongan.stages.sweep import sweep_stage  # noqa: E402


def run_sweeps(args: argparse.Namespace, root: Path, seed: int) -> dict[str, dict[str, Any]]:
    """The grid and the Optuna sweep at the sweep's budget with seed ``seed``: each one's pick and epochs."""
    dropouts, widths = number_list(args.grid_dropout, "--grid-dropout", float), number_list(args.grid_width, "--grid-width")
    box = {"dropout_low": min(dropouts), "dropout_high": max(dropouts), "width_low": min(widths), "width_high": max(widths),
           "grid_dropout": dropouts, "grid_width": widths}  # fmt: skip
    out = {}
    for label, search in (("grid", {"backend": "grid"}), ("optuna", {"backend": "optuna", "n_trials": args.optuna_trials, "pruner": args.pruner})):
        raw = base_params(args, epochs=args.epochs, max_images=args.max_images, seed=seed, **box, **search)
        params = parse_params({**raw, "train": {**raw["train"], "seed": seed}})
        summary = sweep_stage(params, objective=GanObjective(), out_dir=root / "sweeps" / f"{label}-{seed}", metrics_path=root / f"{label}-{seed}.json")
        cell = {"dropout": summary["params"]["model.dropout"], "first_layer_width": summary["params"]["model.first_layer_width"]}
        out[label] = {"cell": cell, "sweep_fid": summary["value"], "epochs": summary["epochs_total"], "pruned": summary["n_pruned"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_flags(parser)
    parser.add_argument("--max-images", type=int, default=2000, help="the sweep's budget: training images per trial")
    parser.add_argument("--epochs", type=int, default=3, help="the sweep's budget: epochs per trial (both sweeps)")
    parser.add_argument("--final-epochs", type=int, default=20, help="the final budget: epochs on every image")
    parser.add_argument("--final-max-images", type=int, default=0, help="the final budget: images (0 = all)")
    parser.add_argument("--grid-dropout", default="0.1,0.3,0.5")
    parser.add_argument("--grid-width", default="64,128,256")
    parser.add_argument("--optuna-trials", type=int, default=5, help="Optuna study size")
    parser.add_argument("--pruner", default="median", choices=("median", "hyperband"))
    parser.add_argument("--seeds", default="1,2,3", help="sweep and training seeds (>= 3 for a verdict)")
    parser.add_argument("--sampling-seeds", default="1234", help="latent seeds each final generator is scored with")
    args = parser.parse_args()
    args.data = check_data(args.data)
    seeds, sampling_seeds = number_list(args.seeds, "--seeds"), number_list(args.sampling_seeds, "--sampling-seeds")
    if len(seeds) < 3:
        print(f"warning: {len(seeds)} seed(s): the noise floor and the verdict need --seeds with at least 3", file=sys.stderr)

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="fashiongan-sweep-bench-"))
    params = parse_params(base_params(args, epochs=args.epochs, max_images=args.max_images))
    prepare_workspace(root, params)
    x, evaluator = workspace_inputs(params)
    final = Budget("final", args.final_epochs, args.final_max_images or None)
    cells = [{"dropout": d, "first_layer_width": w} for d in number_list(args.grid_dropout, "--grid-dropout", float) for w in number_list(args.grid_width, "--grid-width")]

    def final_fid(cell: dict[str, Any], seeds_: list[int]) -> Any:
        return score_table(params, x, evaluator, [cell], final, seeds_, sampling_seeds)[0]

    cell_tables = {cell_name(c): final_fid(c, seeds) for c in cells}  # [training seed, sampling seed] per cell
    best_name = min(cell_tables, key=lambda k: cell_tables[k].mean())
    best_mean, floor = float(cell_tables[best_name].mean()), noise_floor(cell_tables[best_name])
    print(f"best cell at the final budget: {best_name} {pm(best_mean, floor.total_std)} "
          f"(training seeds ± {floor.training_std:.2f}, sampling seeds ± {floor.sampling_std:.2f})")  # fmt: skip

    per_seed = []
    for j, seed in enumerate(seeds):
        picks = run_sweeps(args, root, seed)
        for label, pick in picks.items():
            name = cell_name(pick["cell"])
            fids = cell_tables[name][j] if name in cell_tables else final_fid(pick["cell"], [seed])[0]
            pick["final_fid"] = float(fids.mean())
            pick["regret"] = pick["final_fid"] - best_mean
        per_seed.append({"seed": seed, **picks})
        print(f"  seed {seed}: grid picks {cell_name(picks['grid']['cell'])}, optuna {cell_name(picks['optuna']['cell'])} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip

    noise = f"± {floor.total_std:.2f}"
    rows = [[r["seed"], cell_name(r["grid"]["cell"]), f"{r['grid']['regret']:+.2f}", cell_name(r["optuna"]["cell"]),
             f"{r['optuna']['regret']:+.2f}", f"{r['optuna']['regret'] - r['grid']['regret']:+.2f}", noise,
             f"{r['optuna']['epochs']}/{r['grid']['epochs']}"] for r in per_seed]  # fmt: skip
    diffs = [r["optuna"]["regret"] - r["grid"]["regret"] for r in per_seed]

    def mean_sd(values: list[float]) -> str:
        return pm(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else float("nan"))

    rows.append(["mean ± sd", "", mean_sd([r["grid"]["regret"] for r in per_seed]), "",
                 mean_sd([r["optuna"]["regret"] for r in per_seed]), mean_sd(diffs), noise, ""])  # fmt: skip
    print(f"\nsweep budget {args.epochs} epochs on {args.max_images} images; final budget {final.epochs} epochs on "
          f"{final.max_images or 'all'} images; epoch = {epoch_words(args)}; FID on {args.n_samples} samples; regret = pick's final FID - best cell's mean final FID")  # fmt: skip
    print_table(["seed", "grid pick", "grid regret", "optuna pick", "optuna regret", "optuna - grid", "noise floor", "epochs optuna/grid"], rows)
    finish(args, root, started, {"best_cell": best_name, "best_mean": best_mean, "noise_floor": vars(floor),
                                 "per_seed": per_seed, "cells": {k: v.tolist() for k, v in cell_tables.items()}})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
