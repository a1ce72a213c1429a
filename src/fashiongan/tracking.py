"""MLflow tracking for every train, evaluate and sweep run; the one module that imports mlflow.

Where runs go (first match wins):

1. ``tracking.uri`` in params.yaml,
2. the ``MLFLOW_TRACKING_URI`` environment variable,
3. ``sqlite:///mlruns/mlflow.db`` with artifacts in ``mlruns/artifacts/``.

Relative sqlite and file paths are made absolute against the working directory (the project
root, where dvc.yaml lives), so a stage started from anywhere writes to the same store. A remote
server (``http://...``) is probed with a short timeout before any work starts, so a stopped server
fails in one line instead of after an hour of training. With ``tracking.enabled: false`` every
function here does nothing and :func:`start_run` yields a run without an id.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import keras
import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import RunStatus
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.types.schema import Schema, TensorSpec
from PIL import Image

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.images import latents
from fashiongan.paths import MLRUNS_DIR

__all__ = [
    "DEFAULT_URI",
    "GENERATOR_URI_TAG",
    "MlflowException",
    "MlflowMetricsCallback",
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
    "log_evaluation",
    "log_training_outputs",
    "redact",
    "register_model",
    "resolve_uri",
    "start_run",
    "tag_stop_reason",
    "ui_command",
]

DEFAULT_URI = f"sqlite:///{MLRUNS_DIR.as_posix()}/mlflow.db"
GENERATOR_URI_TAG = "fashiongan.generator_uri"
PARENT_RUN_TAG = "mlflow.parentRunId"
GENERATOR_NAME = "generator"
DETECTORS = ("stalled", "diverged", "collapsed")

_SECRET_NAME = re.compile(r"token|password|secret|key", re.IGNORECASE)
_ENV_PREFIXES = ("FASHIONGAN_", "MLFLOW_", "TF_", "KERAS_", "CUDA_", "XLA_")
_REMOTE_SCHEMES = ("http", "https")
_LOCAL_DB_SCHEME = "sqlite"
_log = logging.getLogger(__name__)


class UnknownRunError(FashionGanError):
    """A run id (from metrics/train.json, a study, ...) that the tracking store does not hold."""


class TrackingUnavailable(FashionGanError):
    """The tracking store stopped answering during a run (server stopped, network lost)."""


@dataclass(frozen=True)
class TrackedRun:
    """What :func:`start_run` yields: ``run_id`` is None when tracking is disabled."""

    run_id: str | None
    experiment_id: str | None
    uri: str | None


# ---------------------------------------------------------------------------- store and URI


def redact(value: str) -> str:
    """Hide the password in ``scheme://user:pass@host`` and secret-looking query values."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = "&".join(
        f"{k}=***" if _SECRET_NAME.search(k) else f"{k}={v}" if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def resolve_uri(params: Params) -> str:
    """The tracking URI after precedence (params, env, default) with local paths made absolute."""
    uri = params.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    scheme = urlsplit(uri).scheme
    if scheme == _LOCAL_DB_SCHEME:
        prefix = "sqlite:///"
        if not uri.startswith(prefix):
            raise FashionGanError(f"tracking URI {uri} is not a sqlite file URI: write sqlite:///path/to/mlflow.db")
        path = uri[len(prefix) :]
        if path and path != ":memory:" and not path.startswith("/"):
            return prefix + str(Path(path).absolute())
        return uri
    if scheme == "file":
        return Path(urlsplit(uri).path).absolute().as_uri()
    if not scheme:
        return Path(uri).absolute().as_uri()
    return uri


def _local_root(uri: str) -> Path | None:
    """Folder of a local store (sqlite file's folder or file-store root); None for remote stores."""
    scheme = urlsplit(uri).scheme
    if scheme == _LOCAL_DB_SCHEME:
        path = uri[len("sqlite:///") :]
        return Path(path).parent if path.startswith("/") else None
    if scheme == "file":
        return Path(urlsplit(uri).path)
    return None


def _artifact_location(uri: str) -> str | None:
    """Explicit artifact folder for new experiments in a local store: ``<store folder>/artifacts``."""
    root = _local_root(uri)
    return (root / "artifacts").as_uri() if root is not None else None


@contextmanager
def _fast_http(timeout_s: float) -> Iterator[None]:
    """Turn off mlflow's minutes-long HTTP retries for one probe."""
    names = (MLFLOW_HTTP_REQUEST_MAX_RETRIES.name, MLFLOW_HTTP_REQUEST_TIMEOUT.name)
    saved = {name: os.environ.get(name) for name in names}
    os.environ[MLFLOW_HTTP_REQUEST_MAX_RETRIES.name] = "0"
    os.environ[MLFLOW_HTTP_REQUEST_TIMEOUT.name] = str(max(1, math.ceil(timeout_s)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_REASONS = (
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Read timed out", "timed out"),
    ("Name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("Temporary failure in name resolution", "unknown host"),
    ("No route to host", "no route to host"),
)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    code = re.search(r"error code (\d{3})", text)
    if code:
        return f"HTTP {code.group(1)}"
    first = " ".join(text.split())
    return redact(first[:120]) or type(exc).__name__


_UNREACHABLE = {"connection refused", "timed out", "unknown host", "no route to host"}


def _unreachable(exc: BaseException) -> bool:
    """Whether an mlflow error means the store cannot be reached (not a bad request)."""
    return _reason(exc) in _UNREACHABLE or "Max retries exceeded" in str(exc)


def lost_message(uri: str, exc: BaseException, when: str) -> str:
    """One line for a store that went away mid-run."""
    return (
        f"tracking store {redact(uri)} stopped answering {when} ({_reason(exc)}): restart it and re-run; "
        "finished epochs are kept in checkpoints/ and the re-run resumes from them"
    )


def check_tracking(params: Params) -> str:
    """Resolve the tracking URI and prove the store answers; return the (redacted) URI.

    Remote servers get one request with ``tracking.timeout_s`` and no retries; local stores only
    need their folder. Raises :class:`FashionGanError` in one line otherwise.
    """
    uri = resolve_uri(params)
    scheme = urlsplit(uri).scheme
    root = _local_root(uri)
    if root is not None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FashionGanError(
                f"tracking store folder {root} cannot be created ({exc.strerror}): set tracking.uri or fix permissions"
            ) from None
        return uri
    started = time.monotonic()
    try:
        with _fast_http(params.tracking.timeout_s):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure of the probe means "unreachable"
        what = "tracking server" if scheme in _REMOTE_SCHEMES else "tracking store"
        waited = time.monotonic() - started
        reason = _reason(exc)
        if reason == "timed out":
            reason = f"timed out after {waited:.0f} s"
        raise FashionGanError(
            f"{what} {redact(uri)} unreachable ({reason}): start it or set tracking.uri / MLFLOW_TRACKING_URI"
        ) from None
    return redact(uri)


def activate(params: Params) -> str:
    """Probe the store and point mlflow (tracking and registry) at it; return the resolved URI."""
    check_tracking(params)
    uri = resolve_uri(params)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def client() -> MlflowClient:
    """Client for the store :func:`activate` selected (the registry uses it)."""
    return MlflowClient()


def _experiment_id(name: str, uri: str) -> str:
    """Get or create the experiment, with the artifact folder pinned for local stores."""
    found = client().get_experiment_by_name(name)
    if found is None:
        try:
            return client().create_experiment(name, artifact_location=_artifact_location(uri))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            found = client().get_experiment_by_name(name)
    if found is None or found.lifecycle_stage == "deleted":
        raise FashionGanError(
            f"MLflow experiment {name!r} is deleted: restore it (mlflow experiments restore) or set another tracking.experiment"
        )
    return found.experiment_id


# ---------------------------------------------------------------------------- runs


def _is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _safe(values: Mapping[str, Any]) -> dict[str, str]:
    """Drop secret-looking names and redact credentials inside URI-like values."""
    return {k: redact(str(v)) for k, v in values.items() if not _is_secret(k)}


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


def _env_tags() -> dict[str, str]:
    """Settings that change results (TF_*, CUDA_*, ...) so a run can be reproduced."""
    chosen = {f"env.{k}": v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    return _safe(chosen)


@contextmanager
def start_run(
    params: Params,
    run_name: str,
    *,
    experiment: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> Iterator[TrackedRun]:
    """Open a run with all params, git state and environment logged; always close it.

    The store is probed before the body runs. The run ends FINISHED, FAILED if the body raises,
    or KILLED on Ctrl-C. ``experiment`` defaults to ``tracking.experiment`` (or the parent's
    experiment for nested runs). ``run_id`` reopens an earlier run (the evaluate stage adds its
    metrics to the training run); params are then left as the training run logged them.
    ``parent_run_id`` nests a new run under a run of any process (the ``mlflow.parentRunId`` tag),
    where ``nested`` needs the parent active in this one.
    """
    if not params.tracking.enabled:
        yield TrackedRun(run_id=None, experiment_id=None, uri=None)
        return
    uri = activate(params)
    all_tags = {**_env_tags(), **_git_tags(), **_safe(tags or {})}
    if run_id is None:
        if parent_run_id:
            all_tags[PARENT_RUN_TAG] = parent_run_id
        parent = mlflow.active_run()
        if experiment is None and nested and parent is not None:
            experiment_id = parent.info.experiment_id
        else:
            experiment_id = _experiment_id(experiment or params.tracking.experiment, uri)
        active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested, tags=all_tags)
    else:
        try:
            active = mlflow.start_run(run_id=run_id, nested=nested)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise UnknownRunError(
                f"run {run_id} is not in the tracking store {redact(uri)}: rerun `dvc repro train` "
                "or set tracking.uri to the store it used"
            ) from None
    status = RunStatus.FAILED
    lost = False
    try:
        if run_id is None:
            mlflow.log_params(_safe(params.flat()), synchronous=True)
        else:
            mlflow.set_tags(all_tags, synchronous=True)
        yield TrackedRun(run_id=active.info.run_id, experiment_id=active.info.experiment_id, uri=redact(uri))
        status = RunStatus.FINISHED
    except KeyboardInterrupt:
        status = RunStatus.KILLED
        raise
    except TrackingUnavailable:
        lost = True
        raise
    except MlflowException as exc:
        if not _unreachable(exc):
            raise
        lost = True
        raise TrackingUnavailable(lost_message(uri, exc, "during the run")) from None
    finally:
        current = mlflow.active_run()
        if current is not None and current.info.run_id == active.info.run_id:
            try:  # a store already lost gets one quick try, not minutes of retries
                with _fast_http(params.tracking.timeout_s) if lost else nullcontext():
                    mlflow.end_run(RunStatus.to_string(status))
            except MlflowException as exc:  # the store is gone: keep the error that brought us here
                if status == RunStatus.FINISHED:
                    raise TrackingUnavailable(lost_message(uri, exc, "at the end of the run")) from None
                _log.warning("run %s not closed: %s", active.info.run_id, _reason(exc))


def end_run_as(run_id: str, status: str, tags: Mapping[str, Any] | None = None) -> bool:
    """Set ``tags`` and end a run that is still RUNNING as ``status``; True if it was ended.

    For a run whose process died (a SIGKILLed sweep worker): nobody else can end it. A run that
    already ended is left as it is, so calling this again, or for a run that ended well, is harmless.
    """
    if status not in ("FINISHED", "FAILED", "KILLED"):
        raise ValueError(f"status must be 'FINISHED', 'FAILED' or 'KILLED', received status={status!r}")
    try:
        run = client().get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise UnknownRunError(
            f"run {run_id} is not in the tracking store {redact(mlflow.get_tracking_uri())}: "
            "set tracking.uri to the store the sweep used"
        ) from None
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
        return False
    for key, value in _safe(tags or {}).items():
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


def _active_run_id() -> str | None:
    run = mlflow.active_run()
    return run.info.run_id if run is not None else None


# ---------------------------------------------------------------------------- what runs log


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """Short hash of the file checksums: equal digests mean byte-identical training data."""
    files = manifest.get("files")
    if not isinstance(manifest.get("source"), str) or not isinstance(files, Mapping) or not files:
        raise ValueError(
            "manifest must look like {'source': str, 'files': {name: {'sha256': ..., 'count': ...}}}, "
            f"received keys {sorted(manifest)} with files={type(files).__name__}"
        )
    missing = [name for name, info in files.items() if not isinstance(info, Mapping) or "sha256" not in info]
    if missing:
        raise ValueError(f"manifest files {missing} have no sha256, received {dict(files)}")
    joined = "\n".join(f"{name}:{files[name]['sha256']}" for name in sorted(files))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def log_dataset_manifest(manifest: dict[str, Any], *, name: str = "fashion-mnist", context: str = "training") -> None:
    """Record the training data as an MLflow dataset input (digest of the checksums) and a json artifact.

    The dataset source is the manifest's ``location`` (mirror folder or URL) or else its
    ``source``; scalar manifest entries become ``dataset.*`` run tags.
    """
    digest = manifest_digest(manifest)
    if _active_run_id() is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "source can be interpreted in multiple ways"
        source = resolve_dataset_source(redact(str(manifest.get("location") or manifest["source"])))
    files = manifest["files"]
    counts = {f"count.{k}": str(v["count"]) for k, v in files.items() if "count" in v}
    mlflow.log_input(MetaDataset(source=source, name=name, digest=digest), context=context, tags=counts or None)
    scalars = {f"dataset.{k}": v for k, v in manifest.items() if isinstance(v, str | int | float | bool)}
    mlflow.set_tags({**_safe(scalars), "dataset.digest": digest}, synchronous=True)
    mlflow.log_dict(manifest, "dataset/manifest.json")


def _numeric(value: Any) -> float | None:
    """A float for scalars (Python, numpy, 0-d tensors); None for anything else, bools included."""
    if isinstance(value, bool | np.bool_ | str | bytes):
        return None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array.reshape(()))


class MlflowMetricsCallback(keras.callbacks.Callback):
    """Logs each epoch's numeric logs (``step=epoch+1``), the epoch's sample grid and the detectors.

    Place it after the callbacks that add ``fid_fashion`` to the logs and write the grid PNG.
    NaN and infinite losses are logged as they are: a diverging run should show it in the UI.
    Outside an active run (or with tracking disabled) it does nothing.

    Args:
        grid_dir: folder holding ``epoch_{epoch+1:03d}.png`` grids, logged as image key ``samples``.
        stop_reason: callable returning why training stopped (``"stalled: ..."``); defaults to
            ``model.stop_reason``.
        image_key: image key of the grids in the MLflow UI.
    """

    def __init__(
        self,
        grid_dir: Path | str | None = None,
        stop_reason: Callable[[], str | None] | None = None,
        image_key: str = "samples",
    ) -> None:
        super().__init__()
        if grid_dir is not None and not isinstance(grid_dir, str | os.PathLike):
            raise ValueError(f"`grid_dir` must be a path or None, received `grid_dir={grid_dir!r}`.")
        if stop_reason is not None and not callable(stop_reason):
            raise ValueError(f"`stop_reason` must be callable or None, received `stop_reason={stop_reason!r}`.")
        if not isinstance(image_key, str) or not image_key:
            raise ValueError(f"`image_key` must be a non-empty string, received `image_key={image_key!r}`.")
        self.grid_dir = Path(grid_dir) if grid_dir is not None else None
        self.stop_reason = stop_reason
        self.image_key = image_key
        self._epoch_started = 0.0
        self.failure: TrackingUnavailable | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Start the epoch clock."""
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Log numeric metrics and this epoch's sample grid at step ``epoch + 1``.

        If the store stops answering, training stops after this epoch (whose checkpoint is still
        written) and ``fit`` ends with :class:`TrackingUnavailable`, so a re-run resumes here.
        """
        if _active_run_id() is None or self.failure is not None:
            return
        try:
            self._log_epoch(epoch + 1, logs)
        except (MlflowException, OSError) as exc:
            self.failure = TrackingUnavailable(lost_message(mlflow.get_tracking_uri(), exc, f"at epoch {epoch + 1}"))
            self.model.stop_training = True

    def _log_epoch(self, step: int, logs: dict[str, Any] | None) -> None:
        metrics = {k: v for k, v in ((k, _numeric(v)) for k, v in (logs or {}).items()) if v is not None}
        metrics.setdefault("epoch_seconds", time.perf_counter() - self._epoch_started)
        mlflow.log_metrics(metrics, step=step, synchronous=True)
        if self.grid_dir is not None:
            grid = self.grid_dir / f"epoch_{step:03d}.png"
            if grid.is_file():
                with Image.open(grid) as image:
                    mlflow.log_image(image.convert("RGB"), key=self.image_key, step=step, synchronous=True)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Tag which detector (if any) stopped training; raise a tracking failure seen during training."""
        if self.failure is not None:
            raise self.failure
        if _active_run_id() is None:
            return
        reason = self.stop_reason() if self.stop_reason is not None else getattr(self.model, "stop_reason", None)
        tag_stop_reason(reason)


def tag_stop_reason(reason: str | None) -> None:
    """Tag the active run with the detectors named in ``reason`` (``stalled=true``, ...) and the reason itself.

    A reason can name two detectors ("stalled: ..., and collapsed: ..."); both tags are true.
    """
    text = str(reason).lower() if reason else ""
    tags = {name: str(f"{name}:" in text).lower() for name in DETECTORS}
    tags["stop_reason"] = str(reason) if reason else "none"
    mlflow.set_tags(tags, synchronous=True)


def _pip_requirements() -> list[str]:
    """Pinned keras and backend, so logging skips mlflow's slow requirement inference."""
    pins = [f"keras=={keras.__version__}"]
    backend = keras.backend.backend()
    for dist in (backend, f"{backend}-cpu"):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
            break
        except metadata.PackageNotFoundError:
            continue
    return pins


class _KerasFlavor:
    """``mlflow.keras`` with the model folder created first.

    mlflow.keras.save_model writes the input example before creating the folder
    (mlflow/mlflow#16183, still in 3.x), so logging with an input example fails without this.
    """

    __name__ = "mlflow.keras"

    @staticmethod
    def save_model(path: str, **kwargs: Any) -> None:
        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(path=path, **kwargs)


def generator_signature(generator: keras.Model) -> ModelSignature:
    """latent float32 (-1, latent_dim) -> image float32 (-1, 28, 28, 1)."""
    latent_dim = int(generator.input_shape[-1])
    image_shape = tuple(int(d) for d in generator.output_shape[1:])
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, latent_dim))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *image_shape))]),
    )


def log_training_outputs(
    generator: keras.Model | None,
    discriminator_path: Path | None,
    artifacts: list[Path],
    *,
    log_model: bool = True,
) -> str | None:
    """Log the generator as an MLflow Keras model and the training files as artifacts.

    Returns the model URI (``models:/m-...``) that the registry registers, or None when no model
    was logged (``log_model=False``, where ``generator`` may be None). Missing artifact files are skipped with a warning so a lost plot cannot fail a
    finished training run.
    """
    if _active_run_id() is None:
        return None
    files = [("models", discriminator_path)] if discriminator_path is not None else []
    files += [("outputs", path) for path in artifacts]
    for folder, path in files:
        path = Path(path)
        if path.is_file():
            mlflow.log_artifact(str(path), artifact_path=folder)
        elif path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=f"{folder}/{path.name}")
        else:
            _log.warning("artifact %s does not exist; not logged", path)
    if not log_model or generator is None:
        return None
    latent_dim = int(generator.input_shape[-1])
    example = latents(2, latent_dim, seed=0)
    info = Model.log(
        artifact_path=None,
        name=GENERATOR_NAME,
        flavor=_KerasFlavor,
        flavor_name="keras",
        model=generator,
        signature=generator_signature(generator),
        input_example=example,
        pip_requirements=_pip_requirements(),
    )
    mlflow.set_tag(GENERATOR_URI_TAG, info.model_uri, synchronous=True)
    return info.model_uri


def log_evaluation(metrics: Mapping[str, Any], protocol: Mapping[str, Any]) -> None:
    """Final metrics, plus the protocol (n_samples, real split, real_stats hash) as tags beside them.

    Each metric is logged at the last step its key already has (the final epoch, 0 if none), so
    the evaluation, logged later, is what the UI shows as the run's value of that key. Tags rather
    than params: the evaluate stage may rerun on the same run with a new protocol. Metrics are
    linked to the run's generator model when it has one, so the Logged Models page shows them too.
    """
    run_id = _active_run_id()
    if run_id is None:
        return
    numeric = {k: v for k, v in ((k, _numeric(v)) for k, v in metrics.items()) if v is not None}
    model_uri = client().get_run(run_id).data.tags.get(GENERATOR_URI_TAG)
    model_id = model_uri.removeprefix("models:/") if model_uri and model_uri.startswith("models:/m-") else None
    for key, value in numeric.items():
        step = max((m.step for m in client().get_metric_history(run_id, key)), default=0)
        mlflow.log_metric(key, value, step=step, synchronous=True, model_id=model_id)
    mlflow.set_tags({f"protocol.{k}": v for k, v in _safe(protocol).items()}, synchronous=True)
    mlflow.log_dict({"metrics": dict(metrics), "protocol": dict(protocol)}, "evaluation/evaluate.json")


def generator_uri(run_id: str) -> str | None:
    """Model URI of the generator a run logged (via its tag, else a search of its logged models)."""
    try:
        run = client().get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise UnknownRunError(
            f"run {run_id} is not in the tracking store {redact(mlflow.get_tracking_uri())}: "
            "rerun `dvc repro train` or set tracking.uri to the store it used"
        ) from None
    tagged = run.data.tags.get(GENERATOR_URI_TAG)
    if tagged:
        return tagged
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{GENERATOR_NAME}'",
        output_format="list",
    )
    return f"models:/{models[0].model_id}" if models else None


def register_model(model_uri: str, name: str, *, tags: Mapping[str, str]) -> str:
    """Create a model version (and the registered model on first use); return its version number."""
    version = mlflow.register_model(model_uri, name, tags=dict(tags))
    return str(version.version)


def load_generator(model_uri: str) -> keras.Model:
    """A Keras generator from any MLflow model URI (``models:/name@alias``, ``runs:/``, ``models:/m-``).

    Loaded in Keras safe mode: a model carrying code (a ``Lambda`` layer) is refused, not run.
    A URI that names nothing, or a model that cannot be loaded, is a one-line error.
    """
    try:
        return mlflow.keras.load_model(model_uri, load_model_kwargs={"safe_mode": True, "compile": False})
    except MlflowException as exc:
        if _unreachable(exc):
            raise FashionGanError(
                f"tracking store {redact(mlflow.get_tracking_uri())} unreachable ({_reason(exc)}): start it or set tracking.uri"
            ) from None
        reason = " ".join(exc.message.split())[:160]
        missing = exc.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in exc.message
        raise FashionGanError(
            f"model {model_uri} {'not found' if missing else 'cannot be loaded'} in "
            f"{redact(mlflow.get_tracking_uri())} ({reason}): run `dvc repro promote` first, or pass --model "
            "with an existing URI"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a refused (unsafe), damaged or incompatible model raises many types
        if "safe_mode" in str(exc):
            raise FashionGanError(
                f"model {model_uri} refused: it carries Python code (a Lambda layer), which safe mode never runs; "
                "register a generator trained by `dvc repro train`"
            ) from None
        reason = " ".join(str(exc).split())[:160]
        raise FashionGanError(
            f"model {model_uri} cannot be loaded safely ({type(exc).__name__}: {reason}): "
            "models with Lambda layers or custom code are refused; register a plain Keras generator"
        ) from None


# ---------------------------------------------------------------------------- UI


def ui_command(params: Params, port: int = 5000) -> list[str]:
    """``mlflow ui`` over the local store, bound to 127.0.0.1 (the CLI/Makefile execs it)."""
    uri = resolve_uri(params)
    root = _local_root(uri)
    if root is None:
        raise FashionGanError(
            f"tracking URI {redact(uri)} is a server, not a local store: open it in a browser instead of `mlflow ui`"
        )
    if not 0 < port < 65536:
        raise FashionGanError(f"port {port} is not a TCP port: pass 1-65535")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
    artifacts = _artifact_location(uri)
    if artifacts is not None:
        command += ["--default-artifact-root", artifacts]
    return command + ["--host", "127.0.0.1", "--port", str(port)]
