"""Confirming a sweep's winner: the top-k trials retrained with new seeds, and ties with the best marked.

A single score per configuration cannot tell a 0.3 % lead from seed noise. With
``search.confirm_top_k`` k > 0, after the search the k best complete trials are each trained
``search.confirm_seeds`` more times, run i with ``train.seed + i`` and ``evaluate.seed + i``
(a new generator scored on new latent samples), on the same images and budget. Each trial then
has 1 + confirm_seeds scores; the trial with the lowest mean is the pick, and every other trial
is compared with it by Welch's t-test (:func:`fashiongan.search.stats.versus_best`).

Confirmation runs live in ``<trial folder>/confirm-<i>``; a finished one is read back, so
re-running the sweep stage does not retrain it. They are not tracked in MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fashiongan.paths import OUTCOME_NAME
from fashiongan.progress import log
from fashiongan.search.objective import run_objective
from fashiongan.search.space import trial_params
from fashiongan.search.stats import ALPHA, versus_best
from fashiongan.search.types import SweepPlan, TrialContext, TrialRow

TEST = f"Welch's t-test (two-sided, alpha={ALPHA}) of each trial's scores against the lowest mean's"


def _finished_value(folder: Path) -> float | None:
    """The value of a confirmation run that already completed in ``folder``, else None."""
    path = folder / OUTCOME_NAME
    if not path.is_file():
        return None
    outcome = json.loads(path.read_text())
    return float(outcome["value"]) if outcome.get("state") == "complete" and outcome.get("value") is not None else None


def confirmation_values(plan: SweepPlan, row: TrialRow) -> list[float]:
    """The trial's sweep score followed by the scores of its confirmation runs (failed runs left out)."""
    assert row.value is not None and row.dropout is not None and row.first_layer_width is not None
    base = trial_params(plan.params, row.dropout, row.first_layer_width)
    values = [row.value]
    for i in range(1, plan.params.search.confirm_seeds + 1):
        folder = plan.trial_dir(row.number) / f"confirm-{i}"
        value = _finished_value(folder)
        if value is None:
            params = base.model_copy(
                update={
                    "train": base.train.model_copy(update={"seed": base.train.seed + i}),
                    "evaluate": base.evaluate.model_copy(update={"seed": base.evaluate.seed + i}),
                }
            )
            outcome = run_objective(plan.objective, TrialContext(row.number, params, folder, lambda e, v: False))
            log(f"sweep: confirming trial {row.number}, seed +{i}: {outcome.state} {plan.params.search.metric}={outcome.value}")
            value = outcome.value if outcome.state == "complete" else None
        if value is not None:
            values.append(value)
    return values


def confirm_top(plan: SweepPlan, rows: list[TrialRow], best: TrialRow) -> dict[str, Any] | None:
    """Retrain the top ``search.confirm_top_k`` trials with new seeds; None when confirmation is off.

    Returns best.json's ``confirmation`` (each trial's scores, mean, std, p-value, verdict) with
    ``best_trial``, the trial of lowest mean, and ``confidence``: its p-value against the runner-up.
    """
    s = plan.params.search
    if s.confirm_top_k == 0:
        return None
    done = sorted((r for r in rows if r.counted and r.state == "complete" and r.value is not None), key=lambda r: (r.value, r.number))
    top = done[: s.confirm_top_k] or [best]
    scores = {r.number: confirmation_values(plan, r) for r in top}
    compared = versus_best(scores)
    by_number = {r.number: r for r in top}
    trials = [
        {"trial": c.key, "params": {"model.dropout": by_number[c.key].dropout, "model.first_layer_width": by_number[c.key].first_layer_width},
         "values": scores[c.key], **c.as_dict()}
        for c in compared
    ]  # fmt: skip
    runner_up = compared[1] if len(compared) > 1 else None
    confidence = {
        "test": TEST,
        "n_seeds": compared[0].n,
        "runner_up": runner_up.key if runner_up else None,
        "p_value": runner_up.p_value if runner_up else None,
        "verdict": runner_up.verdict if runner_up else "unknown",  # the runner-up's verdict against the pick
    }
    return {"test": TEST, "confirm_seeds": s.confirm_seeds, "trials": trials, "best_trial": compared[0].key, "confidence": confidence}
