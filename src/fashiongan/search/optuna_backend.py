"""The Optuna backend (``search.backend: optuna`` or ``grid``): workers that claim and run trials of one study.

The storage is the single source of truth: every worker, on this machine or another, claims a
trial under the study lock (:mod:`fashiongan.search.claiming`), runs it with a heartbeat, reports
intermediate scores to the pruner and records the outcome in the study, so a re-run continues it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import shutil
import signal
import threading
import time

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from fashiongan.devices import visible_gpus, worker_env
from fashiongan.environ import environment
from fashiongan.errors import FashionGanError, raise_on_sigterm
from fashiongan.keras_backend import select_backend
from fashiongan.progress import log
from fashiongan.search.claiming import (
    POLL_S,
    Heartbeat,
    NoTrial,
    claim_trial,
    close_dead_runs,
    counted_trials,
    prepare_study,
)
from fashiongan.search.objective import run_objective
from fashiongan.search.runs import SweepRuns
from fashiongan.search.space import suggest, trial_params
from fashiongan.search.storage import StudyLock, open_storage
from fashiongan.search.types import SweepPlan, TrialContext, TrialRow


def _state_name(state: TrialState) -> str:
    """The row's state word for an Optuna trial state."""
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}.get(
        state, state.name.lower()
    )


def _run_optuna_trial(plan: SweepPlan, storage: RDBStorage, study: optuna.Study, trial: optuna.Trial) -> TrialState:
    """Run one claimed trial with a heartbeat; report, prune and record the outcome in the study."""
    study_id = storage.get_study_id_from_name(plan.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    history = storage.get_trial(trial_id).system_attrs.get("retry_history", [])
    # A retry works in its original trial's folder, so the objective can resume from its checkpoint.
    origin = history[0] if history else trial.number
    out_dir = plan.trial_dir(origin)
    if not history and out_dir.exists():
        shutil.rmtree(out_dir)  # left by an older study of the same name: never resume from it
    out_dir.mkdir(parents=True, exist_ok=True)
    tracker = SweepRuns(plan.params)
    with Heartbeat(storage, trial_id, plan.params.search.heartbeat_s, plan.params.search.trial_timeout_s):
        dropout, width = suggest(trial, plan.params)
        params = trial_params(plan.params, dropout, width)
        pruned_at: list[int] = []  # shared with the context

        def report(epoch: int, value: float) -> bool:
            if not math.isfinite(value):
                return False  # the final check fails the trial; a NaN must not steer the pruner
            trial.report(value, epoch)
            if trial.should_prune():
                pruned_at.append(epoch)
                return True
            return False

        log(f"sweep: trial {trial.number} dropout={dropout:.3f} first_layer_width={width}")
        with tracker.child(params, trial.number, plan.study_name, plan.parent_run_id) as run_id:
            if run_id:  # recorded now: if this worker dies, whoever retries the trial closes the run
                trial.set_user_attr("mlflow_run_id", run_id)
            ctx = TrialContext(trial.number, params, out_dir, report, run_id, bool(history), pruned_at)
            try:
                outcome = run_objective(plan.objective, ctx)
            except FashionGanError:
                # A problem the user must fix (missing classifier, ...): give the slot back, stop.
                RetryHeartbeatStaleTrialCallback()(study, storage.get_trial(trial_id))
                study.tell(trial, state=TrialState.FAIL)
                raise
        trial.set_user_attr("reason", outcome.reason)
        trial.set_user_attr(  # one write: a commit per attribute adds up over a sweep
            "outcome",
            {
                "epochs_trained": outcome.epochs_trained,
                "seconds": round(outcome.seconds, 3),
                "model_path": outcome.model_path,
                "grid_path": outcome.grid_path,
                "mlflow_run_id": run_id,
            },
        )
        state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(outcome.state, TrialState.FAIL)
        study.tell(trial, outcome.value if state == TrialState.COMPLETE else None, state=state)
    tracker.finish_trial(run_id, trial.number, outcome)
    return state


WORKER_STOP_S = 30  # how long a SIGTERMed worker gets to end its runs before SIGKILL


def run_worker(plan: SweepPlan) -> int:
    """Claim and run trials until the study has ``n_trials``; returns how many this worker ran."""
    storage = open_storage(plan.storage_url, plan.params.search.heartbeat_s)
    done = 0
    while True:
        claim = claim_trial(plan, storage)
        if claim is NoTrial.DONE:
            return done
        if claim is NoTrial.WAIT:
            time.sleep(min(POLL_S, plan.params.search.heartbeat_s))
            continue
        _run_optuna_trial(plan, storage, claim.study, claim.trial)
        done += 1


def _worker_process(backend: str, pickled_plan: bytes, threads: int) -> None:
    """Entry point of a spawned worker: split the cores, pick the Keras backend, then run trials.

    The plan arrives pickled: unpickling its objective imports keras, which must come after
    :func:`select_backend` (the backend, and the lean first import).
    """
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    select_backend(backend)
    plan: SweepPlan = pickle.loads(pickled_plan)
    raise_on_sigterm()
    _follow_parent()
    try:
        run_worker(plan)
    except FashionGanError as exc:
        log(f"error: {' '.join(str(exc).split())}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # its trial's run ended KILLED; the trial is retried when its heartbeat goes stale
        raise SystemExit(128 + signal.SIGTERM) from None


def _follow_parent() -> None:
    """SIGTERM this worker when its parent dies, even by SIGKILL, so no worker trains on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def run_workers(plan: SweepPlan, workers: int) -> None:
    """Run the study with N processes on this machine (inline when N is 1)."""
    if workers == 1:
        run_worker(plan)
        return
    ctx = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    args = (plan.params.train.backend, pickle.dumps(plan), threads)
    procs = [ctx.Process(target=_worker_process, args=args, name=f"sweep-worker-{i}") for i in range(workers)]
    gpus = visible_gpus()
    try:
        for i, proc in enumerate(procs):
            with environment(worker_env(i, gpus)):  # memory growth; one GPU each when there are several
                proc.start()
        for proc in procs:
            proc.join()
    except BaseException:  # SIGTERM/Ctrl-C of the parent (or an error): stop the workers with it
        _stop(procs)
        _end_stopped_trials(plan)
        raise
    failed = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if failed:
        listed = ", ".join(f"{name} exit {code}" for name, code in failed)
        raise FashionGanError(
            f"{len(failed)} of {workers} sweep workers failed ({listed}); fix the error printed above and re-run: "
            "finished trials are kept"
        )


def _stop(procs: list) -> None:
    """SIGTERM the workers (each ends its trial's run KILLED), SIGKILL those still alive after WORKER_STOP_S."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + WORKER_STOP_S
    for proc in procs:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()


def _end_stopped_trials(plan: SweepPlan) -> None:
    """End KILLED the runs of trials a stopped worker left RUNNING (it was SIGKILLed before it could)."""
    try:
        storage = open_storage(plan.storage_url, plan.params.search.heartbeat_s)
        trials = optuna.load_study(study_name=plan.study_name, storage=storage).get_trials(deepcopy=False)
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide the signal that brought us here
        log(f"sweep: runs of stopped workers not checked ({' '.join(str(exc).split())[:200]})")
        return
    runs = {t.user_attrs["mlflow_run_id"]: {"sweep.state": "killed", "sweep.reason": "sweep stopped by a signal"}
            for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("mlflow_run_id")}  # fmt: skip
    SweepRuns(plan.params).fail_dead_runs(runs, status="KILLED")


def optuna_rows(study: optuna.Study) -> list[TrialRow]:
    """Every trial of the study as a report row, retried stale trials marked as such."""
    trials = study.get_trials(deepcopy=False)
    counted = {t.number for t in counted_trials(trials)}
    retried_as = {t.system_attrs["retry_history"][-1]: t.number for t in trials if t.system_attrs.get("retry_history")}
    rows = []
    for t in trials:
        ua = t.user_attrs.get("outcome", {})
        reason = t.user_attrs.get("reason")
        if t.number in retried_as:
            reason = f"worker lost (heartbeat stale); retried as trial {retried_as[t.number]}"
        steps = sorted(t.intermediate_values)
        rows.append(
            TrialRow(
                number=t.number,
                dropout=t.params.get("dropout"),
                first_layer_width=t.params.get("first_layer_width"),
                value=t.value if t.state == TrialState.COMPLETE else None,
                state=_state_name(t.state),
                reason=reason,
                epochs_trained=ua.get("epochs_trained"),
                seconds=ua.get("seconds"),
                last_reported=t.intermediate_values[steps[-1]] if steps else None,
                model_path=ua.get("model_path"),
                grid_path=ua.get("grid_path"),
                run_id=ua.get("mlflow_run_id") or t.user_attrs.get("mlflow_run_id"),
                counted=t.number in counted,
            )
        )
    return rows


def open_parent(plan: SweepPlan, study: optuna.Study) -> str | None:
    """One parent run per study, kept across re-runs (its id lives in the study)."""
    tracker = SweepRuns(plan.params)
    with StudyLock(plan.storage_url, plan.study_name):
        run_id = tracker.open_parent(plan.study_name, study.user_attrs.get("mlflow_parent_run_id"))
        if run_id:
            study.set_user_attr("mlflow_parent_run_id", run_id)
    return run_id


def run_study(plan: SweepPlan, workers: int) -> tuple[list[TrialRow], optuna.Study]:
    """Create or resume the study, run it with ``workers`` processes, close dead workers' runs; its rows."""
    storage = open_storage(plan.storage_url, plan.params.search.heartbeat_s)
    study = prepare_study(plan, storage)
    plan.parent_run_id = open_parent(plan, study)
    run_workers(plan, workers)
    study = optuna.load_study(study_name=plan.study_name, storage=storage)
    close_dead_runs(plan, study)
    return optuna_rows(study), study


def join_study(plan: SweepPlan) -> int:
    """Add this process to a study (its parent run is the study's); the number of trials it ran."""
    storage = open_storage(plan.storage_url, plan.params.search.heartbeat_s)
    study = prepare_study(plan, storage)
    plan.parent_run_id = study.user_attrs.get("mlflow_parent_run_id")
    return run_worker(plan)
