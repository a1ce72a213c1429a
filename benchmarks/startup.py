"""A stage's start-up: CPU seconds to import it with the lean first keras import vs a plain one.

Every DVC stage, CLI command and sweep worker is a new Python process that imports keras (with
TensorFlow), MLflow and the stage's modules before it does any work. :func:`select_backend` makes
the first ``import keras`` skip what keras and TensorFlow import only for features the pipeline
never uses (scikit-learn, matplotlib.pyplot, JAX: :mod:`fashiongan.keras_backend`). Each repeat
starts one fresh process of each kind, alternating, and reads the child's own CPU time (user +
system), so a busy machine slows both alike; the medians and their ratio are printed.

Run: ``python benchmarks/startup.py [--stage train] [--repeats 5] [--backend tensorflow]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CHILD = """
import os, sys, time
lean, stage, backend = sys.argv[1] == "lean", sys.argv[2], sys.argv[3]
from fashiongan.keras_backend import select_backend
if lean:
    select_backend(backend)
else:
    os.environ["KERAS_BACKEND"] = backend
    import keras
import importlib
importlib.import_module(f"fashiongan.stages.{stage}")
import mlflow.keras
print(time.process_time(), " ".join(m for m in ("sklearn", "matplotlib.pyplot", "jax", "scipy.stats") if m in sys.modules))
"""


def start_once(kind: str, stage: str, backend: str) -> tuple[float, str]:
    """CPU seconds of one fresh process importing ``stage`` the ``kind`` way, and the optional packages it loaded."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", CHILD, kind, stage, backend], env=env, capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
    seconds, _, loaded = out.partition(" ")
    return float(seconds), loaded or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="train", help="module under fashiongan.stages (default train)")
    parser.add_argument("--repeats", type=int, default=5, help="processes of each kind (default 5)")
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax", "torch"))
    args = parser.parse_args()
    times: dict[str, list[float]] = {"plain": [], "lean": []}
    loaded: dict[str, str] = {}
    for _ in range(args.repeats):
        for kind in times:
            seconds, loaded[kind] = start_once(kind, args.stage, args.backend)
            times[kind].append(seconds)
    print(f"import fashiongan.stages.{args.stage} + mlflow.keras on {args.backend}, {args.repeats} processes each")
    print(f"{'import':<8}{'median CPU s':>14}{'min':>8}{'max':>8}  optional packages loaded")
    for kind, values in times.items():
        print(f"{kind:<8}{statistics.median(values):>14.2f}{min(values):>8.2f}{max(values):>8.2f}  {loaded[kind]}")
    ratio = statistics.median(times["plain"]) / statistics.median(times["lean"])
    print(f"lean start-up is {ratio:.2f}x faster (plain / lean median CPU seconds)")


if __name__ == "__main__":
    main()
