"""What a sweep searches and how its study is named: the space, a trial's params, the study's fingerprint.

A study is keyed by what its trials depend on: ``<search.study_name>-<backend>-<fingerprint>``,
the fingerprint hashing the search settings, the other model/train/data params, the
objective's input files and the package's code (:func:`code_digest`), so a change of any of them
starts a new study instead of mixing incomparable FIDs or reporting a stale study's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import optuna

from fashiongan.codeversion import code_digest
from fashiongan.config import Params
from fashiongan.paths import SWEEPS_DIR
from fashiongan.search.storage import storage_url
from fashiongan.search.types import Objective, SweepPlan


def total_trials(params: Params) -> int:
    """The study's total: every grid cell, or ``search.n_trials``."""
    s = params.search
    return len(grid_cells(params)) if s.backend == "grid" else s.n_trials


def grid_cells(params: Params) -> list[dict[str, float | int]]:
    """The grid backend's cells, dropout-major, duplicates removed."""
    s = params.search
    cells = [{"dropout": float(d), "first_layer_width": int(w)} for d in s.grid_dropout for w in s.grid_width]
    return [c for i, c in enumerate(cells) if c not in cells[:i]]


def trial_params(params: Params, dropout: float, width: int) -> Params:
    """The full params one trial trains with: the two searched values and the sweep's budget."""
    return params.model_copy(
        update={
            "model": params.model.model_copy(update={"dropout": float(dropout), "first_layer_width": int(width)}),
            "train": params.train.model_copy(update={"epochs": params.search.epochs}),
            "data": params.data.model_copy(update={"max_images": params.search.max_images}),
        }
    )


def _digest(path: Path) -> str:
    if not path.is_file():
        return "absent"
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


# Train settings a trial ignores (the sweep sets its own epochs and evaluation cadence).
TRAIN_KEYS_NOT_IN_TRIALS = {"epochs", "hparams", "checkpoint_every", "eval_every", "eval_samples", "grid_size", "log_system_metrics"}


def fingerprint(params: Params, objective: Objective) -> dict[str, Any]:
    """What a trial's result depends on, apart from the two searched values and the study size."""
    search = params.search.model_dump(
        mode="json",
        exclude={"n_trials", "storage", "study_name", "workers", "heartbeat_s", "trial_timeout_s", "confirm_top_k", "confirm_seeds"},
    )
    if params.search.backend != "grid":
        search.pop("grid_dropout"), search.pop("grid_width")
    inputs = getattr(objective, "input_files", ())
    return {
        "search": search,
        "model": params.model.model_dump(mode="json", exclude={"dropout", "first_layer_width"}),
        "train": params.train.model_dump(mode="json", exclude=TRAIN_KEYS_NOT_IN_TRIALS),
        "data": params.data.model_dump(mode="json", exclude={"timeout_s", "retries", "max_images"}),
        "evaluate": {"seed": params.evaluate.seed, "real_split": params.evaluate.real_split},
        "objective": getattr(objective, "name", getattr(objective, "__qualname__", type(objective).__name__)),
        "inputs": {str(p): _digest(Path(p)) for p in inputs},
        "code": code_digest(),
    }


def code_change(plan: SweepPlan, earlier: dict[str, dict[str, Any]]) -> str | None:
    """A one-line notice when an earlier study (name -> fingerprint) differs from ``plan``'s only in the code."""
    mine = {k: v for k, v in plan.fingerprint.items() if k != "code"}
    for name, fp in earlier.items():
        if name != plan.study_name and fp.get("code") != plan.fingerprint.get("code") and {
            k: v for k, v in fp.items() if k != "code"
        } == mine:
            return (
                f"notice: the code changed since study {name} (digest {fp.get('code')} -> {plan.fingerprint.get('code')}): "
                f"starting study {plan.study_name}; the old study's trials are kept in its storage"
            )
    return None


def study_name_for(params: Params, fp: dict[str, Any]) -> str:
    key = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:8]
    return f"{params.search.study_name}-{params.search.backend}-{key}"


def suggest(trial: optuna.Trial, params: Params) -> tuple[float, int]:
    """The trial's dropout and first-layer width, within the grid's or the search's bounds."""
    s = params.search
    if s.backend == "grid":
        d_lo, d_hi = min(s.grid_dropout), max(s.grid_dropout)
        w_lo, w_hi = min(s.grid_width), max(s.grid_width)
    else:
        d_lo, d_hi, w_lo, w_hi = s.dropout_low, s.dropout_high, s.width_low, s.width_high
    dropout = trial.suggest_float("dropout", d_lo, d_hi)
    width = trial.suggest_int("first_layer_width", w_lo, w_hi, log=True)
    return dropout, width


def make_plan(params: Params, objective: Objective, out_dir: Path = SWEEPS_DIR) -> SweepPlan:
    """Resolve the storage, the study's total and its fingerprinted name."""
    fp = fingerprint(params, objective)
    return SweepPlan(
        params=params,
        out_dir=Path(out_dir),
        storage_url=storage_url(params, out_dir),
        study_name=study_name_for(params, fp),
        n_trials=total_trials(params),
        objective=objective,
        fingerprint=fp,
    )
