"""After the last trial: the sweep's outputs, the best model re-scored, and the parent run's summary.

Writes ``trials.csv``, ``best.json``, ``report.html`` and the Optuna plots into the sweep's folder
(with ``search.confirm_top_k`` > 0, after retraining the top trials with new seeds: see
:mod:`fashiongan.search.confirm`),
and ``metrics/sweep.json`` (the best trial's scores on the evaluate protocol, for ``promote`` with
``registry.candidate: sweep``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from fashiongan.errors import FashionGanError
from fashiongan.fileio import load_keras, write_json
from fashiongan.paths import (
    BEST_JSON_NAME,
    KERAS_TUNER_DIR_NAME,
    REPORT_HTML_NAME,
    SWEEP_METRICS,
    SWEEP_PLOTS_DIR_NAME,
    TRIALS_CSV_NAME,
)
from fashiongan.search.confirm import confirm_top
from fashiongan.search.report import best_row, write_plot_pngs, write_report_html, write_trials_csv
from fashiongan.search.runs import SweepRuns
from fashiongan.search.storage import redact
from fashiongan.search.types import SweepPlan, TrialRow


def where(plan: SweepPlan) -> str:
    """Where the study lives, for messages and best.json: the tuner's folder or the redacted storage URL."""
    if plan.params.search.backend == "keras_tuner":
        return str(plan.out_dir / KERAS_TUNER_DIR_NAME)
    return redact(plan.storage_url)


def finish_sweep(
    plan: SweepPlan, rows: list[TrialRow], study: optuna.Study, metrics_path: Path | None = None
) -> dict[str, Any]:
    """Write the outputs, re-score the best model if the objective can, and log it all to the parent run."""
    params, metric = plan.params, plan.params.search.metric
    out = plan.out_dir
    write_trials_csv(rows, out / TRIALS_CSV_NAME, metric)
    best = best_row(rows)
    plots = write_plot_pngs(study, out / SWEEP_PLOTS_DIR_NAME)
    counts = {state: sum(r.state == state for r in rows if r.counted) for state in ("complete", "pruned", "failed")}
    summary: dict[str, Any] = {
        "study": plan.study_name,
        "backend": params.search.backend,
        "storage": where(plan),
        "metric": metric,
        "n_trials": plan.n_trials,
        **{f"n_{k}": v for k, v in counts.items()},
        "epochs_total": sum(r.epochs_trained or 0 for r in rows),
    }
    evaluation: dict[str, Any] | None = None
    tracker = SweepRuns(params)
    if best is not None and best.model_path:  # the best trial may have run on another machine
        best.model_path = str(tracker.trial_model(best.run_id, best.model_path, plan.trial_dir(best.number) / "models"))
    if best is not None:
        confirmation = confirm_top(plan, rows, best)
        if confirmation is not None:  # the pick is the lowest mean over seeds, not the luckiest single score
            best = next(r for r in rows if r.number == confirmation["best_trial"] and r.counted)
            summary["confirmation"] = confirmation
            summary["confidence"] = confirmation["confidence"]
        summary |= {
            "value": best.value,
            "trial": best.number,
            "params": {"model.dropout": best.dropout, "model.first_layer_width": best.first_layer_width},
            "model_path": best.model_path,
            "mlflow_run_id": best.run_id,
            # writes the pick into params.yaml (train.hparams=params), so a plain `dvc repro` keeps training it
            "apply": (
                f"dvc exp run -S train.hparams=params -S model.dropout={best.dropout:.4g} "
                f"-S model.first_layer_width={best.first_layer_width}"
            ),
        }
        scorer = getattr(plan.objective, "final_scores", None)
        if scorer is not None and best.model_path:
            evaluation = scorer(Path(best.model_path), params)
            summary["evaluation"] = evaluation
    write_json(out / BEST_JSON_NAME, summary, default=str)
    write_report_html(rows, study, out / REPORT_HTML_NAME, summary)
    if best is not None and evaluation is not None and best.run_id and params.tracking.log_model:
        summary["model_uri"] = tracker.log_generator(best.run_id, lambda: load_keras(best.model_path, "generator", "re-run the sweep"))
        write_json(out / BEST_JSON_NAME, summary, default=str)
    metrics_path = metrics_path or Path(plan.out_dir).parent / SWEEP_METRICS
    if evaluation is not None:
        write_json(metrics_path, {"mlflow_run_id": best.run_id, **evaluation["metrics"], "protocol": evaluation["protocol"]}, default=str)
    else:
        write_json(metrics_path, {"mlflow_run_id": None, "best_trial": None if best is None else best.number}, default=str)
    tracker.finish(
        plan.parent_run_id,
        {"sweep.best_trial": best.number if best else "none", "sweep.study": plan.study_name},
        {f"best_{metric}": best.value if best else None, **{f"n_{k}": v for k, v in counts.items()}, "epochs_total": summary["epochs_total"],
         "confirm_p_value": summary.get("confidence", {}).get("p_value")},  # fmt: skip
        tracker.protocol(),
    )
    tracker.log_files(plan.parent_run_id, [out / REPORT_HTML_NAME, out / TRIALS_CSV_NAME, out / BEST_JSON_NAME, *plots])
    if best is None:
        first = next((r.reason for r in rows if r.reason), "no reason recorded")
        raise FashionGanError(
            f"no trial of study {plan.study_name} completed ({len(rows)} trials; first reason: {first}): "
            f"see {out / TRIALS_CSV_NAME} and fix the params before re-running"
        )
    return summary
