"""What the sweep benchmarks share: a throwaway workspace, the data choice, cells, seeds and printed tables.

The benchmarks never touch the project's outputs: each builds a workspace in a temporary folder
(fetch, preprocess, train_classifier on ``--data``) and works there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

N = TypeVar("N", int, float)

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"
GRID_CELLS = [{"dropout": d, "first_layer_width": w} for d in (0.1, 0.3, 0.5) for w in (64, 128, 256)]


def project_params() -> Any:
    """The project's params.yaml: the benchmarks' default budgets are the project's own."""
    from fashiongan.params_file import load_params

    return load_params(ROOT / "params.yaml")


def fail(message: str) -> NoReturn:
    """Bad input: one line naming the problem and the fix, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def default_data() -> str:
    """The shared genuine subset when this checkout has one, else the bundled sample."""
    return str(SHARED_SUBSET) if SHARED_SUBSET.is_dir() else "sample"


def check_data(data: str) -> str:
    """``sample`` or an existing mirror folder (absolute, since the workspace changes directory)."""
    if data in ("sample", "auto", "official"):
        return data
    if not Path(data).is_dir():
        fail(f"--data {data}: no such folder; pass a Fashion-MNIST mirror folder or 'sample'")
    return str(Path(data).resolve())


def number_list(text: str, flag: str, kind: Callable[[str], N] = int) -> list[N]:
    """``"1,2,3"`` -> [1, 2, 3] (``kind`` int or float); anything else ends the benchmark with one line."""
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        fail(f"{flag} {text!r}: expected comma-separated {kind.__name__} values, e.g. {flag} 1,2,3")
    return values


def parse_cells(text: str | None) -> list[dict[str, Any]]:
    """``"0.1x64,0.3x128"`` (dropout x width) -> cells; None -> the 9 grid cells."""
    if text is None:
        return list(GRID_CELLS)
    cells = []
    for part in text.split(","):
        dropout, _, width = part.strip().partition("x")
        try:
            cell = {"dropout": float(dropout), "first_layer_width": int(width)}
        except ValueError:
            fail(f"--cells {text!r}: expected DROPOUTxWIDTH items, e.g. --cells 0.1x64,0.3x128")
        if not 0 <= cell["dropout"] < 1 or cell["first_layer_width"] < 1:
            fail(f"--cells {part!r}: dropout must be in [0, 1) and width >= 1")
        cells.append(cell)
    if len(cells) < 2:
        fail(f"--cells {text!r}: compare at least 2 configurations")
    return cells


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Data, preset, scoring and output flags shared by the sweep benchmarks."""
    parser.add_argument("--data", default=default_data(), help="mirror folder or 'sample' (default: the shared subset if present)")
    parser.add_argument("--preset", default="tutorial", choices=("compact", "tutorial", "modern"))
    parser.add_argument("--batch-size", type=int, default=64)
    train = project_params().train
    parser.add_argument("--steps-per-epoch", type=int, default=train.steps_per_epoch or 0,
                        help="generator steps per epoch (default params.yaml's train.steps_per_epoch; 0 = one pass over the images)")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=train.jit_compile,
                        help="XLA-compile the training step; without either flag params.yaml's train.jit_compile (auto: see the README)")
    parser.add_argument("--n-samples", type=int, default=1000, help="generated images per FID")
    parser.add_argument("--classifier-epochs", type=int, default=8, help="epochs of the scoring classifier")
    parser.add_argument("--json", type=lambda p: Path(p).resolve(), default=None, help="also write the numbers as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace (sweeps/*/report.html)")


def base_params(args: argparse.Namespace, **search: Any) -> dict[str, Any]:
    """The params every benchmark run shares (tracking off, no checkpoints), as a params.yaml dict."""
    return {
        "data": {"source": args.data},
        "model": {"preset": args.preset},
        "train": {"batch_size": args.batch_size, "steps_per_epoch": args.steps_per_epoch or None, "jit_compile": args.jit_compile, "checkpoint_every": 1000},
        "evaluate": {"classifier": {"epochs": args.classifier_epochs}},
        "search": {"n_samples": args.n_samples, "report_every": 1, **search},
        "tracking": {"enabled": False},
    }


def prepare_workspace(root: Path, params: Any) -> None:
    """fetch -> preprocess -> train_classifier into ``root`` (the benchmark's working directory)."""
    from fashiongan.data import preprocess
    from fashiongan.fetch import fetch
    from fashiongan.stages.train_classifier import train_classifier_stage

    os.chdir(root)
    fetch(params.data)
    preprocess(params.data)
    summary = train_classifier_stage(params)
    print(f"workspace {root}: classifier test accuracy {summary['test_accuracy']:.3f} on {summary['n_test']} images")


def workspace_inputs(params: Any) -> tuple[np.ndarray, Any]:
    """The workspace's training images and the evaluator the sweep scores with."""
    from fashiongan.data import load_split
    from fashiongan.metrics.evaluator import FashionEvaluator

    x, _ = load_split("train")
    return x, FashionEvaluator.load(eval_params=params.evaluate)


def cell_name(cell: dict[str, Any]) -> str:
    """``d=0.1 w=64``."""
    return f"d={cell['dropout']:.3g} w={cell['first_layer_width']}"


def pm(mean: float, std: float) -> str:
    """``12.34 ± 0.41`` (``± ?`` when the spread is unknown): two decimals, since regrets can be small."""
    return f"{mean:.2f} ± {'?' if std is None or math.isnan(std) else f'{std:.2f}'}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table on stdout (pastes into the README as is)."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


def finish(args: argparse.Namespace, root: Path, started: float, payload: dict[str, Any]) -> None:
    """The run's wall time and load, the workspace kept (``--keep``) or removed, the JSON (``--json``) written."""
    print(f"total {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs (load {os.getloadavg()[0]:.1f})")
    if args.keep:
        print(f"workspace kept: {root}")
    else:
        shutil.rmtree(root)
    if args.json:
        args.json.write_text(json.dumps({**payload, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2, default=str))


def epoch_words(args: argparse.Namespace) -> str:
    """How long an epoch is: ``50 steps`` or ``one pass over the images``."""
    return f"{args.steps_per_epoch} steps of batch {args.batch_size}" if args.steps_per_epoch else f"one pass over the images, batch {args.batch_size}"
