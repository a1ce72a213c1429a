"""A small real sweep objective and a runner, for the sweep fault and concurrency tests.

The objective is a quadratic in dropout and log width that "trains" epoch by epoch at a fixed
pace, so these tests exercise the sweep machinery (claims, heartbeats, retries, MLflow runs), not
the GAN. Each epoch appends ``<trial> <epoch> <pid>`` to ``progress.log`` in the working folder,
so a test can see which process runs which trial and how far it got.

    PYTHONPATH=tests python -c "from faults.sweep_helpers import main; main()" [--workers N]

runs ``sweep_stage`` on ./params.yaml with this objective (the module path keeps the objective
importable by spawned workers).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

from fashiongan.search.types import TrialContext, TrialOutcome

EPOCH_S = 0.3


def paced(ctx: TrialContext) -> TrialOutcome:
    """Minimum at dropout 0.3, width 128; falls with each epoch like a loss would."""
    m = ctx.params.model
    base = (m.dropout - 0.3) ** 2 + (math.log(m.first_layer_width) - math.log(128)) ** 2
    value = math.inf
    epochs = ctx.params.train.epochs
    for epoch in range(1, epochs + 1):
        time.sleep(EPOCH_S)
        value = base + 1.0 / epoch
        with Path("progress.log").open("a") as fh:
            fh.write(f"{ctx.number} {epoch} {os.getpid()}\n")
        ctx.report(epoch, value)
    return TrialOutcome(value, epochs, EPOCH_S * epochs)


def progress(folder: Path) -> list[tuple[int, int, int]]:
    """(trial, epoch, pid) lines written so far."""
    path = Path(folder) / "progress.log"
    if not path.is_file():
        return []
    return [tuple(int(v) for v in line.split()) for line in path.read_text().splitlines() if line.count(" ") == 2]


def main() -> None:
    from fashiongan.errors import exit_on_error
    from fashiongan.keras_backend import select_backend
    from fashiongan.params_file import load_params

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    def sweep() -> None:
        params = load_params()
        select_backend(params.train.backend)  # before keras, as pipelines/sweep.py does
        from fashiongan.stages.sweep import sweep_stage

        sweep_stage(params, workers=args.workers, objective=paced)

    exit_on_error(sweep)()
