"""Grid versus Optuna-with-pruning on one fixed budget: best FID, epochs trained, memory per trial.

Both sweeps train on the same images for the same epochs per trial and are scored on the same
protocol (search.n_samples generated images, evaluate.seed); only the backend differs. The grid is
the tutorial's hand-tuning (dropout {0.1, 0.3, 0.5} x width {64, 128, 256}); the Optuna sweep
samples the same box (dropout 0.1-0.5, width 64-256 on a log scale) with TPE and prunes on the
intermediate FID.

Targets: Optuna's best FID within 5 % of the grid's, with at most 40 % of the grid's epochs; and,
with every trial in one process, peak RSS after the last trial at most 1.2x the peak after the first.
The first trial is the grid's smallest model (width 64): RSS steps up once at the first width-256
trial and once between the two sweeps (the grid's report and re-score), so the RSS after every
trial is printed too; a leak shows as a climb within a sweep (~30 MiB per trial before
:func:`fashiongan.search.objective.run_objective` released each trial's TensorFlow graphs).

Pruning can save at most the epochs after the first report of each pruned trial, so the epoch
target needs at least 3 epochs per trial (5 Optuna trials, 2 never pruned: >= 9 of the grid's 27).

It builds a throwaway workspace (fetch, preprocess, train_classifier on --data) so it never touches
the project's outputs. The defaults took 9.5 minutes on 2 CPU cores shared with other jobs (load
3-4); the grid is 80 % of that. Scale up with flags.

Run: ``python benchmarks/sweep_efficiency.py [--data sample|PATH] [--max-images 800] [--epochs 3]
[--n-samples 300] [--optuna-trials 5] [--pruner median|hyperband] [--preset compact]``; scale up with
e.g. ``--data ../shared/data/fashion-mnist-subset --max-images 6000 --epochs 5 --n-samples 1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fashiongan.params_file import parse_params  # noqa: E402
from fashiongan.search.gan_objective import GanObjective  # noqa: E402
from fashiongan.search.types import TrialContext, TrialOutcome  # noqa: E402
from fashiongan.stages.sweep import sweep_stage  # noqa: E402


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_per_trial(memory: list[tuple[str, int, float, float]]) -> str:
    """One line: the RSS after each trial, per sweep, in MiB."""
    labels = dict.fromkeys(label for label, *_ in memory)
    parts = [f"{label} " + " ".join(f"{rss:.0f}" for lab, _, rss, _ in memory if lab == label) for label in labels]
    return "RSS after each trial (MiB): " + " | ".join(parts)


class MeasuredObjective(GanObjective):
    """The GAN objective, recording memory after each trial (trials run in this process)."""

    def __init__(self) -> None:
        super().__init__()
        self.memory: list[tuple[str, int, float, float]] = []
        self.label = ""

    def __call__(self, ctx: TrialContext) -> TrialOutcome:
        outcome = super().__call__(ctx)
        self.memory.append((self.label, ctx.number, *rss_mib()))
        return outcome


def prepare_workspace(root: Path, data: str) -> None:
    """fetch -> preprocess -> train_classifier into ``root`` (the benchmark's working directory)."""
    from fashiongan.data import preprocess
    from fashiongan.fetch import fetch
    from fashiongan.stages.train_classifier import train_classifier_stage

    params = parse_params({"data": {"source": data}, "evaluate": {"classifier": {"epochs": 3}}})
    os.chdir(root)
    fetch(params.data)
    preprocess(params.data)
    summary = train_classifier_stage(params)
    print(f"workspace {root}: classifier test accuracy {summary['test_accuracy']:.3f} on {summary['n_test']} images")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="data.source for the workspace (sample or a mirror folder)")
    parser.add_argument("--max-images", type=int, default=800, help="training images per trial")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per trial (both sweeps)")
    parser.add_argument("--n-samples", type=int, default=300, help="generated images per FID")
    parser.add_argument("--optuna-trials", type=int, default=5, help="Optuna study size")
    parser.add_argument("--pruner", default="median", choices=("median", "hyperband"))
    parser.add_argument("--preset", default="compact", choices=("compact", "tutorial"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=7, help="TPE sampler seed")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (sweeps/*/report.html) instead of deleting it")
    args = parser.parse_args()
    out = args.out.resolve() if args.out else None

    started_all = time.perf_counter()
    load_before = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="fashiongan-sweep-bench-"))
    prepare_workspace(root, args.data)
    common = {
        "data": {"source": args.data},
        "model": {"preset": args.preset},
        "train": {"batch_size": args.batch_size, "jit_compile": False, "checkpoint_every": 1000},
        "search": {
            "epochs": args.epochs,
            "max_images": args.max_images,
            "n_samples": args.n_samples,
            "report_every": 1,
            "seed": args.seed,
            "dropout_low": 0.1,
            "dropout_high": 0.5,
            "width_low": 64,
            "width_high": 256,
            "pruner": args.pruner,
        },
        "tracking": {"enabled": False},
    }
    objective = MeasuredObjective()
    results = {}
    for label, search in (("grid", {"backend": "grid"}), ("optuna", {"backend": "optuna", "n_trials": args.optuna_trials})):
        params = parse_params({**common, "search": {**common["search"], **search}})
        objective.label = label
        started = time.perf_counter()
        summary = sweep_stage(params, objective=objective, out_dir=root / "sweeps" / label, metrics_path=root / f"{label}.json")
        results[label] = {
            "best_fid": summary["value"],
            "best_params": summary["params"],
            "epochs": summary["epochs_total"],
            "trials": summary["n_trials"],
            "pruned": summary["n_pruned"],
            "seconds": round(time.perf_counter() - started, 1),
        }

    grid, opt = results["grid"], results["optuna"]
    fid_ratio = opt["best_fid"] / grid["best_fid"]
    epoch_ratio = opt["epochs"] / grid["epochs"]
    first, last = objective.memory[0], objective.memory[-1]
    print(f"\nsame budget per trial: {args.epochs} epochs on {args.max_images} images, FID on {args.n_samples} samples, preset {args.preset}")
    for label, r in results.items():
        print(f"{label:7s} best fid_fashion {r['best_fid']:.3f} at {r['best_params']}  epochs {r['epochs']} "
              f"({r['trials']} trials, {r['pruned']} pruned)  {r['seconds']:.0f} s")  # fmt: skip
    print(f"optuna/grid best FID ratio {fid_ratio:.3f} (target <= 1.05): {'met' if fid_ratio <= 1.05 else 'missed'}")
    print(f"optuna/grid epochs ratio   {epoch_ratio:.3f} (target <= 0.40): {'met' if epoch_ratio <= 0.40 else 'missed'}")
    print(f"RSS after first trial {first[2]:.0f} MiB (peak {first[3]:.0f}), after last trial {last[2]:.0f} MiB "
          f"(peak {last[3]:.0f}); peak ratio {last[3] / first[3]:.3f} (target <= 1.2)")  # fmt: skip
    print(rss_per_trial(objective.memory))
    load_after = os.getloadavg()
    print(f"total {time.perf_counter() - started_all:.0f} s on {os.cpu_count()} CPUs; load average (1/5/15 min) "
          f"{' '.join(f'{x:.1f}' for x in load_before)} at start, {' '.join(f'{x:.1f}' for x in load_after)} at end")  # fmt: skip
    if args.keep:
        print(f"reports: {root / 'sweeps' / 'grid' / 'report.html'} and {root / 'sweeps' / 'optuna' / 'report.html'}")
    else:
        shutil.rmtree(root)
    if out:
        out.write_text(json.dumps({"results": results, "fid_ratio": fid_ratio, "epoch_ratio": epoch_ratio,
                                   "memory": objective.memory, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
