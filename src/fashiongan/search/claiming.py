"""Which worker runs which trial: the study's sampler and pruner, trial claiming, heartbeats, dead workers.

``search.n_trials`` is the study's total. Counted: COMPLETE, PRUNED and FAIL trials, except a
FAIL that was retried (a worker lost mid-trial: its heartbeat went stale and the storage's
retry callback queued the same parameters again); the retry counts instead. A trial that fails
for a reason of its own (NaN, exception) counts: running it again would fail again. The grid is
enqueued, not sampled: its cells go into the study's queue once and workers pop them atomically,
so each cell runs exactly once even with parallel workers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from fashiongan.config import Params
from fashiongan.progress import log
from fashiongan.search.runs import SweepRuns
from fashiongan.search.space import code_change, grid_cells
from fashiongan.search.storage import RetryAndRemember, StudyLock, quiet
from fashiongan.search.types import SweepPlan

POLL_S = 2.0  # how often an idle worker looks for stale or new trials
STALE_REASON = "worker died (heartbeat stale)"


class Heartbeat:
    """Records the trial's heartbeat every interval, so a dead worker's trial is seen as stale.

    With ``limit_s`` the beats stop after that many seconds: a trial hung past its time limit in
    a way its own thread cannot notice goes stale, and another worker retries it (a bounded number
    of times, ``storage.MAX_RETRY``) instead of the study waiting forever.
    """

    def __init__(self, storage: RDBStorage, trial_id: int, interval: float, limit_s: float | None = None) -> None:
        self._stop = threading.Event()
        self._until = None if limit_s is None else time.monotonic() + limit_s
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id, interval), daemon=True)

    def _beat(self, storage: RDBStorage, trial_id: int, interval: float) -> None:
        while not self._stop.wait(interval):
            if self._until is not None and time.monotonic() > self._until:
                log(f"sweep: trial id {trial_id} ran past search.trial_timeout_s; its heartbeat stops")
                return
            try:
                storage.record_heartbeat(trial_id)
            except sqlalchemy.exc.SQLAlchemyError as exc:  # a hiccup; the next beat retries
                log(f"sweep: heartbeat of trial id {trial_id} not recorded ({type(exc).__name__})")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def sampler(params: Params, n_existing: int) -> optuna.samplers.BaseSampler:
    """TPE seeded per trial index, so a resumed or parallel sweep does not repeat its random start."""
    s = params.search
    if s.backend == "grid":
        return optuna.samplers.RandomSampler(seed=s.seed)  # never consulted: every cell is enqueued
    startup = min(10, max(2, s.n_trials // 2))
    return optuna.samplers.TPESampler(seed=s.seed * 100_003 + n_existing, n_startup_trials=startup)


def pruner(params: Params) -> optuna.pruners.BasePruner:
    """Median or Hyperband on the reported epochs; none for the grid (every cell runs to the end)."""
    s = params.search
    if s.backend == "grid" or s.pruner == "none":
        return optuna.pruners.NopPruner()
    if s.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=s.report_every, max_resource=s.epochs, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0, interval_steps=s.report_every)


def counted_trials(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials that count towards ``n_trials`` (a retried stale trial does not)."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.state.is_finished() and t.number not in retried]


def prepare_study(plan: SweepPlan, storage: RDBStorage) -> optuna.Study:
    """Create or load the study; the grid's cells are enqueued once (idempotent under the lock)."""
    with StudyLock(plan.storage_url, plan.study_name):
        earlier = {s.study_name: s.user_attrs.get("fingerprint", {}) for s in storage.get_all_studies()}
        if plan.study_name not in earlier and (notice := code_change(plan, earlier)):
            log(notice)
        study = optuna.create_study(
            study_name=plan.study_name,
            storage=storage,
            sampler=sampler(plan.params, 0),
            pruner=pruner(plan.params),
            direction="minimize",
            load_if_exists=True,
        )
        study.set_user_attr("metric", plan.params.search.metric)
        study.set_user_attr("fingerprint", plan.fingerprint)
        if plan.params.search.backend == "grid":
            for cell in grid_cells(plan.params):
                study.enqueue_trial(cell, skip_if_exists=True)
    return study


class NoTrial(Enum):
    """Why a worker got no trial to run."""

    WAIT = "other workers' trials are running; one may go stale and need a retry"
    DONE = "the study has its n_trials finished or running"


@dataclass(frozen=True)
class Claimed:
    """A trial this worker now runs (its heartbeat already recorded)."""

    study: optuna.Study
    trial: optuna.Trial


def claim_trial(plan: SweepPlan, storage: RDBStorage) -> Claimed | NoTrial:
    """Under the study lock: retry stale trials, then pop a queued trial or start a new one.

    The MLflow runs of trials found stale are ended FAILED after the lock is released.
    """
    claim: Claimed | NoTrial
    with StudyLock(plan.storage_url, plan.study_name), quiet():
        study = optuna.load_study(study_name=plan.study_name, storage=storage, pruner=pruner(plan.params))
        fail_stale_trials(study)
        callback = storage.get_heartbeat_stale_trial_callback()
        stale = callback.take() if isinstance(callback, RetryAndRemember) else []
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if len(counted_trials(trials)) + len(running) >= plan.n_trials:
            claim = NoTrial.WAIT if running else NoTrial.DONE
        else:
            study.sampler = sampler(plan.params, len(trials))
            trial = study.ask()
            study_id = storage.get_study_id_from_name(plan.study_name)
            storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))
            claim = Claimed(study, trial)
    if stale:
        SweepRuns(plan.params).fail_dead_runs(_dead_runs(stale, trials))
    return claim


def _dead_runs(dead: list[FrozenTrial], trials: list[FrozenTrial]) -> dict[str, dict[str, Any]]:
    """MLflow run id -> tags for trials whose worker died, naming the trial that retries each."""
    retried_as = {t.system_attrs["retry_history"][-1]: t.number for t in trials if t.system_attrs.get("retry_history")}
    runs = {}
    for t in dead:
        run_id = t.user_attrs.get("mlflow_run_id")
        if run_id:
            runs[run_id] = {"sweep.state": "failed", "sweep.reason": STALE_REASON,
                            "sweep.retried_as": retried_as.get(t.number, "none")}  # fmt: skip
    return runs


def close_dead_runs(plan: SweepPlan, study: optuna.Study) -> None:
    """End FAILED the MLflow run of every trial whose worker died without recording an outcome.

    The worker that retried a stale trial already did this; this catches the rest (a retry given up,
    a worker that died while closing runs) when the sweep finishes. Runs that ended are left alone.
    """
    trials = study.get_trials(deepcopy=False)
    dead = [t for t in trials if t.state == TrialState.FAIL and "outcome" not in t.user_attrs]
    SweepRuns(plan.params).fail_dead_runs(_dead_runs(dead, trials))
