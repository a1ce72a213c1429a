"""Hyperparameter sweeps over ``model.dropout`` and ``model.first_layer_width``.

The tutorial's author tried dropout {0.1, 0.3, 0.5} x width {64, 128, 256} by hand and judged
images by eye; here a sweep does it against one objective (``search.metric``, minimised).

Why it is built this way:

* **The Optuna storage is the single source of truth** (``backend: optuna`` and ``grid``). Every
  worker, on this machine or another, claims its next trial under a storage-wide lock (a file
  lock for SQLite, an advisory lock for PostgreSQL) and only while fewer than ``n_trials`` are
  finished or running, so a study never runs more trials than asked, and a re-run continues it.
* **``search.n_trials`` is the study's total.** Counted: COMPLETE, PRUNED and FAIL trials, except
  a FAIL that was retried (a worker lost mid-trial: its heartbeat went stale and
  ``RetryHeartbeatStaleTrialCallback`` queued the same parameters again); the retry counts
  instead. A trial that fails for a reason of its own (NaN, exception) counts: running the same
  configuration again would fail again.
* **The grid is enqueued, not sampled.** Its cells go into the study's queue once, and workers pop
  them atomically, so the grid runs each cell exactly once even with parallel workers
  (``GridSampler`` picks cells by trial number and can repeat one when workers race).
* **No MLflow run is left RUNNING by a dead worker.** A trial stores its run id (user attr
  ``mlflow_run_id``) as soon as its run starts; the worker that finds the trial stale ends that run
  FAILED (tag ``sweep.reason`` "worker died (heartbeat stale)", ``sweep.retried_as``), and the
  sweep closes any still open when it finishes.
* **A study is keyed by what its trials depend on.** The effective study name is
  ``<search.study_name>-<backend>-<fingerprint>``, the fingerprint hashing the search settings, the other
  model/train/data params and the objective's input files; change any of them and the sweep starts
  a new study in the same storage instead of mixing incomparable FIDs.

Run: ``python pipelines/sweep.py [--workers N]``; ``python pipelines/sweep.py --worker`` adds a
worker to a running sweep (e.g. on another machine sharing a PostgreSQL storage).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
import sqlalchemy
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from fashiongan import sweep_report
from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_json
from fashiongan.paths import BEST_JSON_NAME, OUTCOME_NAME, SWEEPS_DIR
from fashiongan.progress import log

optuna.logging.set_verbosity(optuna.logging.WARNING)

State = Literal["complete", "pruned", "failed"]
MAX_RETRY = 3  # a trial whose worker keeps dying is given up (FAIL, counted) after this many retries
POLL_S = 2.0  # how often an idle worker looks for stale or new trials


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
        return self.out_dir / "trials" / self.study_name


# --- study identity -------------------------------------------------------------------------


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
TRAIN_KEYS_NOT_IN_TRIALS = {"epochs", "hparams", "checkpoint_every", "eval_every", "eval_samples", "grid_size"}


def fingerprint(params: Params, objective: Objective) -> dict[str, Any]:
    """What a trial's result depends on, apart from the two searched values and the study size."""
    search = params.search.model_dump(
        mode="json", exclude={"n_trials", "storage", "study_name", "workers", "heartbeat_s"}
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
    }


def study_name_for(params: Params, fp: dict[str, Any]) -> str:
    key = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:8]
    return f"{params.search.study_name}-{params.search.backend}-{key}"


# --- storage ----------------------------------------------------------------------------------


def storage_url(params: Params, out_dir: Path = SWEEPS_DIR) -> str:
    """``search.storage``, or the SQLite file in the sweep folder."""
    return params.search.storage or f"sqlite:///{Path(out_dir) / 'optuna.db'}"


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url.split("@")[-1]


def with_driver(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 defaults to psycopg 3, we ship psycopg2."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.drivername == "postgresql":
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def _dialect(url: str) -> str:
    try:
        return sqlalchemy.engine.make_url(url).get_backend_name()
    except sqlalchemy.exc.ArgumentError:
        raise FashionGanError(
            f"search.storage {redact(url)!r} is not a database URL: use null (SQLite in sweeps/) "
            "or postgresql://user:password@host:5432/db"
        ) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Optuna's notes on the experimental heartbeat API and on ask() with heartbeats.

    Trials are claimed with ``ask()`` under the study lock and get a heartbeat thread of our own.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


def check_storage_url(url: str) -> str:
    """The URL's dialect, if the sweep can lock a study in it (sqlite or postgresql)."""
    dialect = _dialect(url)
    if dialect not in ("sqlite", "postgresql"):
        raise FashionGanError(
            f"search.storage {redact(url)}: only sqlite:/// and postgresql:// storages are supported "
            "(the sweep locks the study through them)"
        )
    return dialect


def open_storage(url: str, heartbeat_s: int) -> RDBStorage:
    """An RDB storage with heartbeats, or a one-line error naming the URL and the fix."""
    dialect = check_storage_url(url)
    engine_kwargs: dict[str, Any] = {}
    if dialect == "sqlite":
        database = sqlalchemy.engine.make_url(url).database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FashionGanError(
                    f"cannot create the folder of the Optuna storage {redact(url)} ({exc.strerror}): fix search.storage "
                    "or the folder's permissions"
                ) from None
        engine_kwargs["connect_args"] = {"timeout": 60}  # parallel workers wait for the write lock
    else:
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        # Two processes creating the tables of a fresh database at once would collide: serialise.
        with StudyLock(url, "storage-init"), _quiet():
            storage = RDBStorage(
                with_driver(url),
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_s,
                grace_period=2 * heartbeat_s,
                heartbeat_stale_trial_callback=_RetryAndRemember(max_retry=MAX_RETRY, inherit_intermediate_values=True),
            )
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise FashionGanError(
            f"cannot open the Optuna storage {redact(url)} ({first}): start the database server or "
            "fix search.storage (null = sqlite:///sweeps/optuna.db)"
        ) from None
    if dialect == "sqlite":
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_wal)
        storage.engine.dispose()  # reconnect with the pragmas
    return storage


class _RetryAndRemember(RetryHeartbeatStaleTrialCallback):
    """Optuna's retry of a stale trial, remembering the trial so the sweep can close its MLflow run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failed: list[FrozenTrial] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        super().__call__(study, trial)
        self.failed.append(trial)

    def take(self) -> list[FrozenTrial]:
        """The trials failed since the last call."""
        failed, self.failed = self.failed, []
        return failed


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """WAL journal: readers never block the writer, and a commit costs no fsync (survives SIGKILL)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class StudyLock:
    """A lock every worker of a study takes to claim a trial: flock for SQLite, advisory for PostgreSQL.

    Both are released by the operating system or the server when the holder dies, so a killed
    worker never leaves the study locked.
    """

    def __init__(self, url: str, study_name: str) -> None:
        self._url = url
        self._key = zlib.crc32(study_name.encode())
        self._dialect = _dialect(url)
        self._engine: sqlalchemy.Engine | None = None
        self._conn: sqlalchemy.Connection | None = None
        self._fh: Any = None
        self._local = threading.Lock()

    def __enter__(self) -> StudyLock:
        self._local.acquire()
        if self._dialect == "sqlite":
            database = sqlalchemy.engine.make_url(self._url).database or ""
            if database and database != ":memory:":
                self._fh = open(f"{database}.lock", "a")  # noqa: SIM115 - held until __exit__
                fcntl.flock(self._fh, fcntl.LOCK_EX)
        else:
            if self._engine is None:
                self._engine = sqlalchemy.create_engine(
                    with_driver(self._url), poolclass=sqlalchemy.pool.NullPool, connect_args={"connect_timeout": 10}
                )
            self._conn = self._engine.connect()
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fh is not None:
                fcntl.flock(self._fh, fcntl.LOCK_UN)
                self._fh.close()
                self._fh = None
            if self._conn is not None:
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._conn.close()
                self._conn = None
        finally:
            self._local.release()


class _Heartbeat:
    """Records the trial's heartbeat every interval, so a dead worker's trial is seen as stale."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id, interval), daemon=True)

    def _beat(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        while not self._stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except sqlalchemy.exc.SQLAlchemyError as exc:  # a hiccup; the next beat retries
                log(f"sweep: heartbeat of trial id {trial_id} not recorded ({type(exc).__name__})")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the study --------------------------------------------------------------------------------


def _sampler(params: Params, n_existing: int) -> optuna.samplers.BaseSampler:
    """TPE seeded per trial index, so a resumed or parallel sweep does not repeat its random start."""
    s = params.search
    if s.backend == "grid":
        return optuna.samplers.RandomSampler(seed=s.seed)  # never consulted: every cell is enqueued
    startup = min(10, max(2, s.n_trials // 2))
    return optuna.samplers.TPESampler(seed=s.seed * 100_003 + n_existing, n_startup_trials=startup)


def _pruner(params: Params) -> optuna.pruners.BasePruner:
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
        study = optuna.create_study(
            study_name=plan.study_name,
            storage=storage,
            sampler=_sampler(plan.params, 0),
            pruner=_pruner(plan.params),
            direction="minimize",
            load_if_exists=True,
        )
        study.set_user_attr("metric", plan.params.search.metric)
        study.set_user_attr("fingerprint", plan.fingerprint)
        if plan.params.search.backend == "grid":
            for cell in grid_cells(plan.params):
                study.enqueue_trial(cell, skip_if_exists=True)
    return study


def _claim(plan: SweepPlan, storage: RDBStorage) -> tuple[optuna.Study, optuna.Trial] | Literal["wait", "done"]:
    """Under the study lock: retry stale trials, then pop a queued trial or start a new one.

    The MLflow runs of trials found stale are ended FAILED after the lock is released.
    """
    claim: tuple[optuna.Study, optuna.Trial] | Literal["wait", "done"]
    with StudyLock(plan.storage_url, plan.study_name), _quiet():
        study = optuna.load_study(study_name=plan.study_name, storage=storage, pruner=_pruner(plan.params))
        fail_stale_trials(study)
        callback = storage.get_heartbeat_stale_trial_callback()
        stale = callback.take() if isinstance(callback, _RetryAndRemember) else []
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if len(counted_trials(trials)) + len(running) >= plan.n_trials:
            claim = "wait" if running else "done"
        else:
            study.sampler = _sampler(plan.params, len(trials))
            trial = study.ask()
            study_id = storage.get_study_id_from_name(plan.study_name)
            storage.record_heartbeat(storage.get_trial_id_from_study_id_trial_number(study_id, trial.number))
            claim = study, trial
    if stale:
        _Tracking(plan.params).fail_dead_runs(_dead_runs(stale, trials))
    return claim


STALE_REASON = "worker died (heartbeat stale)"


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
    _Tracking(plan.params).fail_dead_runs(_dead_runs(dead, trials))


def _suggest(trial: optuna.Trial, params: Params) -> tuple[float, int]:
    s = params.search
    if s.backend == "grid":
        d_lo, d_hi = min(s.grid_dropout), max(s.grid_dropout)
        w_lo, w_hi = min(s.grid_width), max(s.grid_width)
    else:
        d_lo, d_hi, w_lo, w_hi = s.dropout_low, s.dropout_high, s.width_low, s.width_high
    dropout = trial.suggest_float("dropout", d_lo, d_hi)
    width = trial.suggest_int("first_layer_width", w_lo, w_hi, log=True)
    return dropout, width


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def _clear_keras() -> None:
    """Free the previous trial's graphs so one process's memory stays flat across trials."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
        gc.collect()


def _gradient_registry() -> dict[str, Any] | None:
    """TensorFlow's global table of gradient functions, if TensorFlow is loaded (private API)."""
    ops = sys.modules.get("tensorflow.python.framework.ops")
    table = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return table if isinstance(table, dict) else None


@contextlib.contextmanager
def _releasing_graphs() -> Iterator[None]:
    """Let a trial's TensorFlow graphs be freed when it ends, so trials in one process stay flat.

    ``clear_session`` alone leaks the whole training graph of every trial (~30 MiB each with the
    compact preset): in a traced function ``tf.custom_gradient`` (which the optimizer's gradient
    all-reduce uses) registers its gradient closure in TensorFlow's global registry and never
    removes it, and the closure holds the graph (tensorflow/tensorflow#97697). Those entries are
    only read while tracing, so the ones a trial added are dropped with the trial's graphs.
    """
    before = set(_gradient_registry() or ())
    try:
        yield
    finally:
        table = _gradient_registry()
        for name in [n for n in (table or ()) if n not in before and n.startswith("CustomGradient-")]:
            del table[name]
        _clear_keras()


def run_objective(
    objective: Objective, ctx: TrialContext, tracker: Any | None = None
) -> TrialOutcome:
    """Call the objective and turn crashes and non-finite values into failed outcomes with a reason."""
    _clear_keras()
    started = time.perf_counter()
    try:
        with _releasing_graphs():
            outcome = objective(ctx)
    except FashionGanError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken trial must not end the sweep
        outcome = TrialOutcome(None, 0, time.perf_counter() - started, "failed", _one_line(exc))
    if ctx.pruned_at and outcome.state in ("complete", "pruned"):
        outcome.state = "pruned"
        outcome.reason = outcome.reason or f"pruned by the {ctx.params.search.pruner} pruner at epoch {ctx.pruned_at[-1]}"
    if outcome.state == "complete" and (outcome.value is None or not math.isfinite(outcome.value)):
        outcome.state, outcome.reason = "failed", outcome.reason or f"non-finite {ctx.params.search.metric}: {outcome.value}"
    if outcome.state != "complete":
        outcome.value = outcome.value if outcome.value is not None and math.isfinite(outcome.value) else None
    write_json(ctx.out_dir / OUTCOME_NAME, asdict(outcome))
    return outcome


# --- tracking ---------------------------------------------------------------------------------


class _Tracking:
    """The sweep's use of :mod:`fashiongan.tracking` (the one module that imports mlflow).

    Runs are reopened by id to add what is known only later (a trial's state, the sweep's best),
    so no run has to stay open across worker processes. Child runs are nested under the sweep's
    run through the ``mlflow.parentRunId`` tag, which works from any process or machine.
    """

    def __init__(self, params: Params) -> None:
        self.params = params
        self.enabled = params.tracking.enabled

    def _mod(self) -> Any:
        from fashiongan import tracking

        return tracking

    def open_parent(self, study_name: str, run_id: str | None) -> str | None:
        """Reuse the study's parent run when the store still has it, else start one."""
        if not self.enabled:
            return None
        tracking = self._mod()
        experiment = self.params.tracking.sweep_experiment
        if run_id:
            try:
                with tracking.start_run(self.params, study_name, run_id=run_id):
                    return run_id
            except tracking.UnknownRunError:
                log(f"sweep: parent run {run_id} is gone from the tracking store; starting a new one")
        tags = {"sweep.study": study_name, "sweep.backend": self.params.search.backend}
        with tracking.start_run(self.params, study_name, experiment=experiment, tags=tags) as run:
            return run.run_id

    @contextlib.contextmanager
    def child(self, params: Params, number: int, study_name: str, parent_id: str | None) -> Iterator[str | None]:
        if not self.enabled:
            yield None
            return
        tags = {"sweep.study": study_name, "sweep.trial": number}
        with self._mod().start_run(
            params,
            f"{study_name}-trial-{number}",
            experiment=self.params.tracking.sweep_experiment,
            tags=tags,
            parent_run_id=parent_id,
        ) as run:
            yield run.run_id

    def fail_dead_runs(self, runs: dict[str, dict[str, Any]]) -> None:
        """End FAILED, with the given tags, the runs still RUNNING (their process died); never raises."""
        if not self.enabled or not runs:
            return
        tracking = self._mod()
        for run_id, tags in runs.items():
            try:
                tracking.activate(self.params)
                if tracking.end_run_as(run_id, "FAILED", tags):
                    log(f"sweep: MLflow run {run_id} of a dead worker ended FAILED ({tags.get('sweep.reason')})")
            except (FashionGanError, tracking.MlflowException) as exc:  # store down or run gone: a re-run retries
                log(f"sweep: MLflow run {run_id} of a dead worker not closed ({' '.join(str(exc).split())[:200]})")

    def finish(self, run_id: str | None, tags: dict[str, Any], metrics: dict[str, Any], protocol: dict[str, Any]) -> None:
        """Add final tags and metrics to an earlier run."""
        if not self.enabled or not run_id:
            return
        tracking = self._mod()
        finite = {k: v for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
        with tracking.start_run(self.params, "", run_id=run_id, tags=tags):
            tracking.log_evaluation(finite, protocol)

    def log_files(self, run_id: str | None, paths: list[Path]) -> None:
        """Attach files to an earlier run (under ``outputs/``)."""
        if not self.enabled or not run_id:
            return
        tracking = self._mod()
        with tracking.start_run(self.params, "", run_id=run_id):
            tracking.log_training_outputs(None, None, paths, log_model=False)

    def log_generator(self, run_id: str | None, load: Callable[[], Any]) -> str | None:
        """Log a generator model to an earlier run once (a re-run finds it); return its model URI."""
        if not self.enabled or not run_id:
            return None
        tracking = self._mod()
        tracking.activate(self.params)
        existing = tracking.generator_uri(run_id)
        if existing:
            return existing
        with tracking.start_run(self.params, "", run_id=run_id):
            return tracking.log_training_outputs(load(), None, [], log_model=True)


# --- one trial --------------------------------------------------------------------------------


def _state_name(state: TrialState) -> str:
    return {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}.get(
        state, state.name.lower()
    )


def _trial_dir(plan: SweepPlan, number: int) -> Path:
    return plan.trials_dir / f"{number:04d}"


def _run_optuna_trial(plan: SweepPlan, storage: RDBStorage, study: optuna.Study, trial: optuna.Trial) -> TrialState:
    """Run one claimed trial with a heartbeat; report, prune and record the outcome in the study."""
    study_id = storage.get_study_id_from_name(plan.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    history = storage.get_trial(trial_id).system_attrs.get("retry_history", [])
    # A retry works in its original trial's folder, so the objective can resume from its checkpoint.
    origin = history[0] if history else trial.number
    out_dir = _trial_dir(plan, origin)
    if not history and out_dir.exists():
        shutil.rmtree(out_dir)  # left by an older study of the same name: never resume from it
    out_dir.mkdir(parents=True, exist_ok=True)
    tracker = _Tracking(plan.params)
    with _Heartbeat(storage, trial_id, plan.params.search.heartbeat_s):
        dropout, width = _suggest(trial, plan.params)
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
    metric = plan.params.search.metric
    tracker.finish(
        run_id,
        {"sweep.state": outcome.state, "sweep.reason": outcome.reason or "none"},
        {metric: outcome.value, "epochs_trained": outcome.epochs_trained, "trial_seconds": outcome.seconds},
        {"metric": metric, "n_samples": plan.params.search.n_samples, "seed": plan.params.evaluate.seed},
    )
    log(f"sweep: trial {trial.number} {outcome.state} {metric}={outcome.value} ({outcome.reason or 'ok'})")
    return state


def run_worker(plan: SweepPlan) -> int:
    """Claim and run trials until the study has ``n_trials``; returns how many this worker ran."""
    storage = open_storage(plan.storage_url, plan.params.search.heartbeat_s)
    done = 0
    while True:
        claim = _claim(plan, storage)
        if claim == "done":
            return done
        if claim == "wait":  # other workers' trials are running; one may go stale and need a retry
            time.sleep(min(POLL_S, plan.params.search.heartbeat_s))
            continue
        study, trial = claim
        _run_optuna_trial(plan, storage, study, trial)
        done += 1


def _worker_process(plan: SweepPlan, threads: int) -> None:
    """Entry point of a spawned worker: split the cores, then run trials."""
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        run_worker(plan)
    except FashionGanError as exc:
        log(f"error: {' '.join(str(exc).split())}")
        raise SystemExit(2) from None


def run_workers(plan: SweepPlan, workers: int) -> None:
    """Run the study with N processes on this machine (inline when N is 1)."""
    if workers == 1:
        run_worker(plan)
        return
    ctx = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    procs = [ctx.Process(target=_worker_process, args=(plan, threads), name=f"sweep-worker-{i}") for i in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    failed = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if failed:
        listed = ", ".join(f"{name} exit {code}" for name, code in failed)
        raise FashionGanError(
            f"{len(failed)} of {workers} sweep workers failed ({listed}); fix the error printed above and re-run: "
            "finished trials are kept"
        )


# --- rows for the report ----------------------------------------------------------------------


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


# --- Keras Tuner ------------------------------------------------------------------------------


def _keras_tuner_class() -> type:
    """A Keras Tuner whose ``run_trial`` trains through the sweep's objective (defined lazily: TF import)."""
    import keras_tuner as kt

    class SweepTuner(kt.Tuner):
        def __init__(self, plan: SweepPlan, **kwargs: Any) -> None:
            self.plan = plan
            super().__init__(**kwargs)

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            plan = self.plan
            hp = trial.hyperparameters
            number = int(trial.trial_id)
            params = trial_params(plan.params, hp.get("dropout"), hp.get("first_layer_width"))
            out_dir = _trial_dir(plan, number)
            if out_dir.exists():
                shutil.rmtree(out_dir)
            out_dir.mkdir(parents=True)
            tracker = _Tracking(plan.params)
            log(f"sweep: trial {number} dropout={hp.get('dropout'):.3f} first_layer_width={hp.get('first_layer_width')}")
            with tracker.child(params, number, plan.study_name, plan.parent_run_id) as run_id:
                # Keras Tuner's BayesianOptimization has no pruning: every trial runs its epochs.
                outcome = run_objective(plan.objective, TrialContext(number, params, out_dir, lambda e, v: False, run_id))
            write_json(out_dir / OUTCOME_NAME, {**asdict(outcome), "run_id": run_id})
            metric = plan.params.search.metric
            tracker.finish(
                run_id,
                {"sweep.state": outcome.state, "sweep.reason": outcome.reason or "none"},
                {metric: outcome.value, "epochs_trained": outcome.epochs_trained, "trial_seconds": outcome.seconds},
                {"metric": metric, "n_samples": plan.params.search.n_samples, "seed": plan.params.evaluate.seed},
            )
            log(f"sweep: trial {number} {outcome.state} {metric}={outcome.value} ({outcome.reason or 'ok'})")
            if outcome.state != "complete":
                raise kt.errors.FailedTrialError(outcome.reason or outcome.state)
            return {metric: float(outcome.value)}

    return SweepTuner


def keras_tuner_search(plan: SweepPlan) -> list[TrialRow]:
    """BayesianOptimization over the same space; resumes from ``sweeps/keras_tuner/<study>``."""
    import keras_tuner as kt

    s = plan.params.search
    space = kt.HyperParameters()
    space.Float("dropout", s.dropout_low, s.dropout_high)
    space.Int("first_layer_width", s.width_low, s.width_high, sampling="log")
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=kt.Objective(s.metric, "min"),
        max_trials=plan.n_trials,
        seed=s.seed,
        hyperparameters=space,
        tune_new_entries=False,
        allow_new_entries=False,
        max_consecutive_failed_trials=plan.n_trials + 1,  # failed trials are recorded, never fatal
    )
    tuner = _keras_tuner_class()(
        plan, oracle=oracle, directory=str(plan.out_dir / "keras_tuner"), project_name=plan.study_name, overwrite=False
    )
    tuner.search(verbose=0)
    return keras_tuner_rows(tuner, plan)


def keras_tuner_rows(tuner: Any, plan: SweepPlan) -> list[TrialRow]:
    """The tuner's trials as report rows, with what each trial's outcome.json recorded."""
    states = {"COMPLETED": "complete", "FAILED": "failed", "INVALID": "failed", "RUNNING": "running"}
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda kv: int(kv[0])):
        number = int(trial_id)
        path = _trial_dir(plan, number) / "outcome.json"
        outcome = json.loads(path.read_text()) if path.is_file() else {}
        values = trial.hyperparameters.values
        state = states.get(str(trial.status), str(trial.status).lower())
        rows.append(
            TrialRow(
                number=number,
                dropout=values.get("dropout"),
                first_layer_width=values.get("first_layer_width"),
                value=float(trial.score) if state == "complete" and trial.score is not None else None,
                state=state,
                reason=outcome.get("reason") or _last_line(trial.message),
                epochs_trained=outcome.get("epochs_trained"),
                seconds=outcome.get("seconds"),
                model_path=outcome.get("model_path"),
                grid_path=outcome.get("grid_path"),
                run_id=outcome.get("run_id"),
            )
        )
    return rows


def _last_line(text: str | None) -> str | None:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else None


# --- the stage --------------------------------------------------------------------------------


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


def _open_parent(plan: SweepPlan, study: optuna.Study) -> str | None:
    """One parent run per study, kept across re-runs (its id lives in the study)."""
    tracker = _Tracking(plan.params)
    with StudyLock(plan.storage_url, plan.study_name):
        run_id = tracker.open_parent(plan.study_name, study.user_attrs.get("mlflow_parent_run_id"))
        if run_id:
            study.set_user_attr("mlflow_parent_run_id", run_id)
    return run_id


def _kt_parent(plan: SweepPlan) -> str | None:
    marker = plan.out_dir / "keras_tuner" / plan.study_name / "fashiongan.json"
    previous = json.loads(marker.read_text()).get("mlflow_parent_run_id") if marker.is_file() else None
    run_id = _Tracking(plan.params).open_parent(plan.study_name, previous)
    write_json(marker, {"mlflow_parent_run_id": run_id, "fingerprint": plan.fingerprint}, default=str)
    return run_id


def finish_sweep(
    plan: SweepPlan, rows: list[TrialRow], study: optuna.Study, metrics_path: Path | None = None
) -> dict[str, Any]:
    """Write the outputs, re-score the best model if the objective can, and log it all to the parent run."""
    params, metric = plan.params, plan.params.search.metric
    out = plan.out_dir
    sweep_report.write_trials_csv(rows, out / "trials.csv", metric)
    best = sweep_report.best_row(rows)
    plots = sweep_report.write_plot_pngs(study, out / "plots")
    counts = {state: sum(r.state == state for r in rows if r.counted) for state in ("complete", "pruned", "failed")}
    summary: dict[str, Any] = {
        "study": plan.study_name,
        "backend": params.search.backend,
        "storage": str(out / "keras_tuner") if params.search.backend == "keras_tuner" else redact(plan.storage_url),
        "metric": metric,
        "n_trials": plan.n_trials,
        **{f"n_{k}": v for k, v in counts.items()},
        "epochs_total": sum(r.epochs_trained or 0 for r in rows),
    }
    evaluation: dict[str, Any] | None = None
    if best is not None:
        summary |= {
            "value": best.value,
            "trial": best.number,
            "params": {"model.dropout": best.dropout, "model.first_layer_width": best.first_layer_width},
            "model_path": best.model_path,
            "mlflow_run_id": best.run_id,
            "apply": f"dvc exp run -S model.dropout={best.dropout:.4g} -S model.first_layer_width={best.first_layer_width}",
        }
        scorer = getattr(plan.objective, "final_scores", None)
        if scorer is not None and best.model_path:
            evaluation = scorer(Path(best.model_path), params)
            summary["evaluation"] = evaluation
    write_json(out / BEST_JSON_NAME, summary, default=str)
    sweep_report.write_report_html(rows, study, out / "report.html", summary)
    tracker = _Tracking(params)
    if best is not None and evaluation is not None and best.run_id and params.tracking.log_model:
        summary["model_uri"] = tracker.log_generator(best.run_id, lambda: _load_generator(best.model_path))
        write_json(out / BEST_JSON_NAME, summary, default=str)
    metrics_path = metrics_path or Path(plan.out_dir).parent / "metrics" / "sweep.json"
    if evaluation is not None:
        write_json(metrics_path, {"mlflow_run_id": best.run_id, **evaluation["metrics"], "protocol": evaluation["protocol"]}, default=str)
    else:
        write_json(metrics_path, {"mlflow_run_id": None, "best_trial": None if best is None else best.number}, default=str)
    tracker.finish(
        plan.parent_run_id,
        {"sweep.best_trial": best.number if best else "none", "sweep.study": plan.study_name},
        {f"best_{metric}": best.value if best else None, **{f"n_{k}": v for k, v in counts.items()}, "epochs_total": summary["epochs_total"]},
        {"metric": metric, "n_samples": params.search.n_samples, "seed": params.evaluate.seed},
    )
    tracker.log_files(plan.parent_run_id, [out / "report.html", out / "trials.csv", out / "best.json", *plots])
    if best is None:
        first = next((r.reason for r in rows if r.reason), "no reason recorded")
        raise FashionGanError(
            f"no trial of study {plan.study_name} completed ({len(rows)} trials; first reason: {first}): "
            f"see {out / 'trials.csv'} and fix the params before re-running"
        )
    return summary


def _load_generator(path: str) -> Any:
    import keras

    return keras.saving.load_model(path, compile=False)
