"""The sweep's data types, shared by every backend and by the objectives: context, outcome, row, plan.

They import nothing of the sweep machinery, so an objective (``gan_objective``, a test's quadratic)
can import them without pulling in storage, backends or MLflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fashiongan.config import Params
from fashiongan.paths import TRIALS_DIR_NAME

State = Literal["complete", "pruned", "failed"]


@dataclass(frozen=True)
class TrialContext:
    """What an objective gets: the trial's full params, a folder, and a pruning hook."""

    number: int
    params: Params
    out_dir: Path
    report: Callable[[int, float], bool]  # (epoch, value) -> True when the trial should stop (pruned)
    run_id: str | None = None
    resume: bool = False  # a retry of a trial whose worker died: its out_dir may hold a checkpoint
    pruned_at: list[int] = field(default_factory=list)  # epochs at which report() asked to stop


@dataclass
class TrialOutcome:
    """What an objective returns; ``value`` is the final ``search.metric`` (None if not measured)."""

    value: float | None
    epochs_trained: int
    seconds: float
    state: State = "complete"
    reason: str | None = None
    model_path: str | None = None
    grid_path: str | None = None


Objective = Callable[[TrialContext], TrialOutcome]


@dataclass
class TrialRow:
    """One line of ``trials.csv``, the same for every backend."""

    number: int
    dropout: float | None
    first_layer_width: int | None
    value: float | None
    state: str
    reason: str | None = None
    epochs_trained: int | None = None
    seconds: float | None = None
    last_reported: float | None = None
    model_path: str | None = None
    grid_path: str | None = None
    run_id: str | None = None
    counted: bool = True  # False for a stale trial that was retried under another number


@dataclass
class SweepPlan:
    """Everything a worker needs to find and run the study; picklable for spawned workers."""

    params: Params
    out_dir: Path
    storage_url: str
    study_name: str
    n_trials: int
    objective: Objective
    parent_run_id: str | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def trials_dir(self) -> Path:
        """Where the trials of this study keep their files: ``<out_dir>/trials/<study>``."""
        return self.out_dir / TRIALS_DIR_NAME / self.study_name

    def trial_dir(self, number: int) -> Path:
        """One trial's folder (a retried trial works in its original's, to resume its checkpoint)."""
        return self.trials_dir / f"{number:04d}"
