"""Run lifecycle: start a new run or reopen an earlier one, always end it, and end runs a dead process left.

:func:`new_run` logs every param, the git state and the environment; :func:`reopen_run` adds to
a run that already ended (the evaluate stage to the training run, a sweep to its trials' runs),
leaving its params as they were logged. Both probe the store first and end the run FINISHED,
FAILED if the body raises, or KILLED on Ctrl-C. With ``tracking.enabled: false`` both yield a
run without an id and log nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.entities import Run, RunStatus
from mlflow.exceptions import MlflowException

from fashiongan.config import Params
from fashiongan.tracking.store import (
    SECRET_NAME,
    TrackingUnavailable,
    UnknownRunError,
    activate,
    busy,
    client,
    experiment_id,
    fast_http,
    lost_message,
    redact,
    short_reason,
    unreachable,
)

PARENT_RUN_TAG = "mlflow.parentRunId"
_ENV_PREFIXES = ("FASHIONGAN_", "MLFLOW_", "TF_", "KERAS_", "CUDA_", "XLA_")
# What DVC sets in an experiment's stages (dvc/env.py): the experiment a run belongs to
_DVC_TAGS = {"DVC_EXP_NAME": "dvc.exp_name", "DVC_EXP_BASELINE_REV": "dvc.baseline_rev", "DVC_STAGE": "dvc.stage"}
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackedRun:
    """What :func:`new_run` and :func:`reopen_run` yield: ``run_id`` is None when tracking is disabled."""

    run_id: str | None
    experiment_id: str | None
    uri: str | None


NO_RUN = TrackedRun(run_id=None, experiment_id=None, uri=None)


def safe(values: Mapping[str, Any]) -> dict[str, str]:
    """Drop secret-looking names and redact credentials inside URI-like values."""
    return {k: redact(str(v)) for k, v in values.items() if not SECRET_NAME.search(k)}


def _git_tags() -> dict[str, str]:
    """Commit and dirty flag of the working tree, or nothing outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"mlflow.source.git.commit": commit, "git_dirty": str(bool(status.strip())).lower()}


def _run_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """The git state, the DVC experiment, the settings that change results (TF_*, ...) and ``tags``, secrets dropped."""
    chosen = {f"env.{k}": v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    dvc = {tag: os.environ[name] for name, tag in _DVC_TAGS.items() if os.environ.get(name)}
    return {**safe(chosen), **_git_tags(), **dvc, **safe(tags or {})}


@contextmanager
def new_run(
    params: Params,
    run_name: str,
    *,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    nested: bool = False,
) -> Iterator[TrackedRun]:
    """Start a run with all params, git state and environment logged; always end it.

    ``experiment`` defaults to ``tracking.experiment`` (or the parent's experiment for nested
    runs). ``parent_run_id`` nests the run under a run of any process (the ``mlflow.parentRunId``
    tag), where ``nested`` needs the parent active in this one.
    """
    if not params.tracking.enabled:
        yield NO_RUN
        return
    uri = activate(params)
    all_tags = _run_tags(tags)
    if parent_run_id:
        all_tags[PARENT_RUN_TAG] = parent_run_id
    parent = mlflow.active_run()
    if experiment is None and nested and parent is not None:
        experiment_id_ = parent.info.experiment_id
    else:
        experiment_id_ = experiment_id(experiment or params.tracking.experiment, uri)
    active = mlflow.start_run(
        experiment_id=experiment_id_, run_name=run_name, nested=nested, tags=all_tags,
        log_system_metrics=params.train.log_system_metrics,
    )
    with _ended(params, uri, active.info.run_id):
        mlflow.log_params(safe(params.flat()), synchronous=True)
        yield TrackedRun(run_id=active.info.run_id, experiment_id=active.info.experiment_id, uri=redact(uri))


@contextmanager
def reopen_run(params: Params, run_id: str, *, tags: Mapping[str, Any] | None = None) -> Iterator[TrackedRun]:
    """Reopen an earlier run to add metrics, tags or files; its params stay as first logged. Always end it.

    An id the store does not hold raises :class:`UnknownRunError` before the body runs.
    """
    if not params.tracking.enabled:
        yield NO_RUN
        return
    uri = activate(params)
    get_run(run_id)
    active = mlflow.start_run(run_id=run_id)
    with _ended(params, uri, run_id):
        mlflow.set_tags(_run_tags(tags), synchronous=True)
        yield TrackedRun(run_id=run_id, experiment_id=active.info.experiment_id, uri=redact(uri))


@contextmanager
def _ended(params: Params, uri: str, run_id: str) -> Iterator[None]:
    """End the active run FINISHED, FAILED if the body raises, KILLED on Ctrl-C; a lost store is one line."""
    status = RunStatus.FAILED
    lost = False
    try:
        yield
        status = RunStatus.FINISHED
    except KeyboardInterrupt:
        status = RunStatus.KILLED
        raise
    except TrackingUnavailable:
        lost = True
        raise
    except MlflowException as exc:
        if not (unreachable(exc) or busy(exc)):
            raise
        lost = True
        raise TrackingUnavailable(lost_message(uri, exc, "during the run")) from None
    finally:
        current = mlflow.active_run()
        if current is not None and current.info.run_id == run_id:
            try:  # a store already lost gets one quick try, not minutes of retries
                with fast_http(params.tracking.timeout_s) if lost else nullcontext():
                    mlflow.end_run(RunStatus.to_string(status))
            except MlflowException as exc:  # the store is gone or busy: keep the error that brought us here
                if status == RunStatus.FINISHED:
                    raise TrackingUnavailable(lost_message(uri, exc, "at the end of the run")) from None
                _log.warning("run %s not closed: %s", run_id, short_reason(exc))


def get_run(run_id: str, fix: str = "rerun `dvc repro train` or set tracking.uri to the store it used") -> Run:
    """The run with this id, or :class:`UnknownRunError` naming the store and ``fix``."""
    try:
        return client().get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise UnknownRunError(f"run {run_id} is not in the tracking store {redact(mlflow.get_tracking_uri())}: {fix}") from None


def active_run_id() -> str | None:
    """The id of the run open in this process, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run is not None else None


def log_effective_params(values: Mapping[str, Any]) -> None:
    """Log to the active run (if any) params known only once training ran, e.g. ``train.precision_effective``.

    A logged param cannot change: a sweep trial retried on other hardware keeps its first value, with a warning.
    """
    if active_run_id() is None:
        return
    try:
        mlflow.log_params(safe(values), synchronous=True)
    except MlflowException as exc:
        if unreachable(exc) or busy(exc):
            raise
        _log.warning("MLflow kept the params first logged for this run: %s", short_reason(exc))


def end_run_as(run_id: str, status: str, tags: Mapping[str, Any] | None = None) -> bool:
    """Set ``tags`` and end a run that is still RUNNING as ``status``; True if it was ended.

    For a run whose process died (a SIGKILLed sweep worker): nobody else can end it. A run that
    already ended is left as it is, so calling this again, or for a run that ended well, is harmless.
    """
    if status not in ("FINISHED", "FAILED", "KILLED"):
        raise ValueError(f"status must be 'FINISHED', 'FAILED' or 'KILLED', received status={status!r}")
    run = get_run(run_id, fix="set tracking.uri to the store the sweep used")
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
        return False
    for key, value in safe(tags or {}).items():
        client().set_tag(run_id, key, value)
    client().set_terminated(run_id, status)
    return True


def close_interrupted_run(run_id: str | None, successor: str | None) -> bool:
    """End as KILLED a run that an earlier, killed process left RUNNING; True if one was closed.

    A SIGKILL or a lost tracking server leaves no chance to end a run; the next run of the same
    stage calls this with the id it recorded, so the store never keeps a run RUNNING forever.
    """
    if not run_id or mlflow.get_tracking_uri() is None:
        return False
    try:
        run = client().get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False  # written for another store
        raise
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING) or run_id == successor:
        return False
    client().set_tag(run_id, "fashiongan.interrupted", "true")
    if successor:
        client().set_tag(run_id, "fashiongan.resumed_by", successor)
    client().set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED))
    return True
