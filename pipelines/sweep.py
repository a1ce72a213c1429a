"""DVC stage ``sweep``: tune model.dropout and model.first_layer_width against search.metric.

Writes sweeps/trials.csv, sweeps/best.json, sweeps/report.html (and metrics/sweep.json for
``promote`` with ``registry.candidate: sweep``). Re-running continues the same study.

Run: ``python pipelines/sweep.py [--workers N]``, or ``python pipelines/sweep.py --worker`` to add
this machine's process to a study in a shared ``search.storage`` (postgresql://...).
"""

import argparse

from fashiongan.params_file import load_params
from fashiongan.errors import exit_on_error
from fashiongan.keras_backend import select_backend


@exit_on_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="worker processes on this machine (default: search.workers)")
    parser.add_argument("--worker", action="store_true", help="only run trials of the study, write no report")
    args = parser.parse_args()
    params = load_params()
    select_backend(params.train.backend)
    from fashiongan.stages.sweep import sweep_stage, worker_stage  # imports keras: after the backend is set

    if args.worker:
        print(f"trials run by this worker: {worker_stage(params)}")
        return
    best = sweep_stage(params, workers=args.workers)
    print(f"best {best['metric']} {best['value']:.4g} (trial {best['trial']}): {best['params']}")


if __name__ == "__main__":
    main()
