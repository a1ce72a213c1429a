"""Sweep fidelity: does the sweep's short budget rank configurations as the final training budget does?

Trains each configuration (default the 9 grid cells, dropout {0.1, 0.3, 0.5} x width {64, 128, 256};
``--cells`` for a subset) once per training seed at the sweep's budget (``--sweep-epochs`` on
``--sweep-max-images``; several sweep budgets, each compared with the final one) and at the final budget (``--final-epochs`` on every training image), scores
each generator with fid_fashion on ``--n-samples`` images per sampling seed, and prints:

- both rankings with each cell's mean FID ± its seed-to-seed spread (the noise floor);
- Spearman's rho and Kendall's tau between the two budgets' mean FIDs, with 95 % Fisher-z intervals
  (Fieller's variances; Spearman needs >= 4 cells, Kendall >= 5);
- the regret: the final-budget FID of the sweep's pick minus the best final-budget FID (absolute, %).

Training is :func:`fashiongan.training.train_gan` and scoring the sweep's objective, through
:mod:`fashiongan.search.fidelity`. The workspace is temporary (see ``_common.py``).

Run: ``python benchmarks/sweep_fidelity.py [--data DIR|sample] [--cells 0.1x64,0.3x128]
[--sweep-epochs 2,6 --sweep-max-images 2000] [--final-epochs 30 --final-max-images 0]
[--train-seeds 1,2] [--final-train-seeds 1] [--sampling-seeds 1234,1235] [--preset modern]
[--[no-]jit-compile] [--json out.json]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _common import add_common_flags, base_params, cell_name, check_data, epoch_words, fail, finish, number_list, parse_cells, pm, prepare_workspace, print_table, project_params, workspace_inputs  # noqa: E402

from fashiongan.params_file import parse_params  # noqa: E402
from fashiongan.search.fidelity import Budget, fidelity, score_table  # noqa: E402


def print_fidelity(result: dict, budgets: dict[str, Budget]) -> None:
    """Both rankings with the noise floor, the rank correlations and the regret."""
    rows = []
    for i in sorted(range(len(result["cells"])), key=lambda i: result["final_rank"][i]):
        sweep, final = result["noise"]["sweep"][i], result["noise"]["final"][i]
        rows.append([cell_name(result["cells"][i]), result["sweep_rank"][i], pm(result["sweep"][i], sweep["total_std"]),
                     result["final_rank"][i], pm(result["final"][i], final["total_std"])])  # fmt: skip
    b = budgets
    print_table(["cell", "sweep rank", f"sweep FID ({b['sweep'].epochs} ep, {b['sweep'].max_images or 'all'} img)",
                 "final rank", f"final FID ({b['final'].epochs} ep, {b['final'].max_images or 'all'} img)"], rows)  # fmt: skip
    for name, c in result["correlation"].items():
        print(f"{name:8s} {c['value']:+.3f}  95% CI [{c['low']:+.3f}, {c['high']:+.3f}] (Fisher z)")
    r = result["regret"]
    print(f"regret: the sweep picks {cell_name(result['cells'][r['pick']])}, the final budget prefers "
          f"{cell_name(result['cells'][r['best']])}: +{r['absolute']:.2f} FID ({r['percent']:.1f} %)")  # fmt: skip
    floor = result["noise"]["final"][r["best"]]
    print(f"noise floor of the final best: training seeds ± {floor['training_std']:.2f}, sampling seeds ± {floor['sampling_std']:.2f}"
          f" ({floor['n_training']} x {floor['n_sampling']})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_flags(parser)
    parser.add_argument("--cells", default=None, help="DROPOUTxWIDTH,... (default: the 9 grid cells)")
    project = project_params()  # default budgets: the project's own
    parser.add_argument("--sweep-epochs", default=str(project.search.epochs),
                        help="the sweep's budget: epochs, or several to compare, e.g. 2,6 (default search.epochs)")
    parser.add_argument("--sweep-max-images", type=int, default=project.search.max_images or 0,
                        help="the sweep's budget: images (default search.max_images; 0 = all)")
    parser.add_argument("--final-epochs", type=int, default=project.train.epochs, help="the final budget: epochs (default train.epochs)")
    parser.add_argument("--final-max-images", type=int, default=0, help="the final budget: images (0 = all)")
    parser.add_argument("--train-seeds", default="42", help="training seeds of the sweep budgets, e.g. 1,2,3")
    parser.add_argument("--final-train-seeds", default=None, help="training seeds of the final budget (default --train-seeds)")
    parser.add_argument("--sampling-seeds", default="1234", help="latent seeds each generator is scored with")
    args = parser.parse_args()
    args.data = check_data(args.data)
    cells = parse_cells(args.cells)
    sweep_epochs = number_list(args.sweep_epochs, "--sweep-epochs")
    train_seeds, sampling_seeds = number_list(args.train_seeds, "--train-seeds"), number_list(args.sampling_seeds, "--sampling-seeds")
    final_seeds = number_list(args.final_train_seeds, "--final-train-seeds") if args.final_train_seeds else train_seeds
    if min(*sweep_epochs, args.final_epochs) < 1 or min(args.sweep_max_images, args.final_max_images) < 0:
        fail("budgets need >= 1 epoch and >= 0 images (0 means all): fix --*-epochs / --*-max-images")

    started = time.perf_counter()
    params = parse_params(base_params(args, epochs=sweep_epochs[0], max_images=args.sweep_max_images or None))
    params = params.model_copy(update={"train": params.train.model_copy(update={"epochs": args.final_epochs})})
    sweeps = {f"sweep {e} ep": Budget("sweep", e, args.sweep_max_images or None) for e in sweep_epochs}
    final = Budget("final", args.final_epochs, args.final_max_images or None)
    budgets = {**sweeps, "final": final}
    root = Path(tempfile.mkdtemp(prefix="fashiongan-fidelity-"))
    prepare_workspace(root, params)
    x, evaluator = workspace_inputs(params)
    print(f"{len(cells)} cells; training seeds {train_seeds} (sweep budgets) and {final_seeds} (final) x "
          f"{len(sampling_seeds)} sampling seeds; {len(x)} training images, FID on {args.n_samples} samples, "
          f"preset {args.preset}, epoch = {epoch_words(args)}, train.jit_compile {args.jit_compile}")  # fmt: skip
    tables = {}
    for name, budget in budgets.items():
        def progress(i: int, scores, name: str = name) -> None:
            print(f"  {name} {cell_name(cells[i])}: {scores.ravel().round(2).tolist()} ({time.perf_counter() - started:.0f} s)", flush=True)

        seeds = final_seeds if name == "final" else train_seeds
        tables[name] = score_table(params, x, evaluator, cells, budget, seeds, sampling_seeds, progress)
    results = {name: fidelity(cells, tables[name], tables["final"]) for name in sweeps}
    for name, budget in sweeps.items():
        print()
        print_fidelity(results[name], {"sweep": budget, "final": final})
    finish(args, root, started, {"results": results, "tables": {k: v.tolist() for k, v in tables.items()},
                                 "budgets": {k: vars(v) for k, v in budgets.items()}})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
