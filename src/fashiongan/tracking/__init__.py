"""MLflow tracking for every train, evaluate and sweep run; the one package that imports mlflow.

- ``store``: which tracking store (URI precedence), whether it answers, ``mlflow ui`` over it.
- ``runs``: :func:`new_run` and :func:`reopen_run`, ending runs a dead process left RUNNING.
- ``callback``: :class:`MlflowMetricsCallback`, per-epoch metrics and grids during ``fit``.
- ``artifacts``: the dataset, the generator model, files, evaluations; registering and loading models.

Callers use this facade (``from fashiongan import tracking``; ``tracking.new_run(...)``), so the
registry, the stages and the sweep never import mlflow themselves. Keras loads only with the
callback or a model (``promote`` registers and moves aliases without importing it).
"""

from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException

from fashiongan.tracking.artifacts import (
    GENERATOR_URI_TAG,
    download_run_file,
    generator_uri,
    load_generator,
    log_dataset_manifest,
    log_evaluation,
    log_training_outputs,
    manifest_digest,
    register_model,
)
from fashiongan.tracking.runs import TrackedRun, close_interrupted_run, end_run_as, log_effective_params, new_run, reopen_run
from fashiongan.tracking.store import (
    DEFAULT_URI,
    StoreBusy,
    TrackingUnavailable,
    UnknownRunError,
    activate,
    check_tracking,
    client,
    redact,
    registry_lock_path,
    resolve_uri,
    runs_link,
    ui_command,
    ui_env,
    ui_links,
)

if TYPE_CHECKING:
    from fashiongan.tracking.callback import MlflowMetricsCallback, tag_stop_reason


def __getattr__(name: str) -> Any:
    """The Keras callback module, imported on first use."""
    if name in ("MlflowMetricsCallback", "tag_stop_reason"):
        from fashiongan.tracking.callback import MlflowMetricsCallback, tag_stop_reason

        return {"MlflowMetricsCallback": MlflowMetricsCallback, "tag_stop_reason": tag_stop_reason}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "download_run_file",
    "DEFAULT_URI",
    "GENERATOR_URI_TAG",
    "MlflowException",
    "MlflowMetricsCallback",
    "StoreBusy",
    "TrackedRun",
    "TrackingUnavailable",
    "UnknownRunError",
    "activate",
    "check_tracking",
    "client",
    "close_interrupted_run",
    "end_run_as",
    "generator_uri",
    "load_generator",
    "log_dataset_manifest",
    "log_effective_params",
    "log_evaluation",
    "log_training_outputs",
    "manifest_digest",
    "new_run",
    "redact",
    "register_model",
    "registry_lock_path",
    "reopen_run",
    "resolve_uri",
    "runs_link",
    "tag_stop_reason",
    "ui_command",
    "ui_env",
    "ui_links",
]
