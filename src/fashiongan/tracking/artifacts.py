"""What runs log besides metrics: the dataset, the generator as an MLflow model, files, the evaluation.

Also the model registry's two calls (register a version, load a model by URI), so that this
package stays the one place that imports mlflow.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.models.model import MLMODEL_FILE_NAME
from mlflow.types.schema import Schema, TensorSpec

from fashiongan.errors import FashionGanError
from fashiongan.fileio import load_keras
from fashiongan.images import latents
from fashiongan.tracking.runs import active_run_id, get_run, safe
from fashiongan.tracking.store import client, redact, short_reason, unreachable

if TYPE_CHECKING:  # Keras loads only where a model is logged or loaded: promoting needs neither
    import keras

GENERATOR_URI_TAG = "fashiongan.generator_uri"
GENERATOR_NAME = "generator"
_log = logging.getLogger(__name__)


def to_float(value: Any) -> float | None:
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
    if active_run_id() is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "source can be interpreted in multiple ways"
        source = resolve_dataset_source(redact(str(manifest.get("location") or manifest["source"])))
    files = manifest["files"]
    counts = {f"count.{k}": str(v["count"]) for k, v in files.items() if "count" in v}
    mlflow.log_input(MetaDataset(source=source, name=name, digest=digest), context=context, tags=counts or None)
    scalars = {f"dataset.{k}": v for k, v in manifest.items() if isinstance(v, str | int | float | bool)}
    mlflow.set_tags({**safe(scalars), "dataset.digest": digest}, synchronous=True)
    mlflow.log_dict(manifest, "dataset/manifest.json")


# pyproject.toml's split: the CPU build where PyPI has one, the full build elsewhere.
CPU_BUILD_MARKER = 'platform_machine == "x86_64" and sys_platform == "linux"'
FULL_BUILD_MARKER = 'platform_machine != "x86_64" or sys_platform != "linux"'


def _pip_requirements() -> list[str]:
    """Pinned keras and backend, so logging skips mlflow's slow requirement inference.

    For TensorFlow the pin names the build that loads the model on the target, not the one that
    trained it: ``tensorflow-cpu`` exists only for Linux x86-64, so other platforms get
    ``tensorflow``; a model trained with the CUDA build (``make repro GPU=1``) asks for
    ``tensorflow[and-cuda]`` on Linux x86-64, a CPU-trained one for the smaller CPU build.
    """
    import keras

    pins = [f"keras=={keras.__version__}"]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        version = _installed("tensorflow") or _installed("tensorflow-cpu")
        if version is None:
            return pins
        linux = "tensorflow[and-cuda]" if _installed("tensorflow") and not _installed("tensorflow-cpu") else "tensorflow-cpu"
        return pins + [f"{linux}=={version}; {CPU_BUILD_MARKER}", f"tensorflow=={version}; {FULL_BUILD_MARKER}"]
    for dist in (backend, f"{backend}-cpu"):
        if (version := _installed(dist)) is not None:
            return pins + [f"{dist}=={version}"]
    return pins


def _installed(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


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


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Hold stdout: mlflow checks the input example with a bare ``predict``, whose Keras progress bar lands in stage output.

    Turning Keras' interactive logging off was not enough: on JAX the bar still reached stdout.
    """
    with redirect_stdout(io.StringIO()):
        yield


def log_training_outputs(
    generator: keras.Model | None,
    discriminator_path: Path | None,
    artifacts: list[Path],
    *,
    log_model: bool = True,
    folder: str = "outputs",
) -> str | None:
    """Log the generator as an MLflow Keras model and the training files as artifacts.

    Returns the model URI (``models:/m-...``) that the registry registers, or None when no model
    was logged (``log_model=False``, where ``generator`` may be None). Missing artifact files are skipped with a warning so a lost plot cannot fail a
    finished training run.
    """
    if active_run_id() is None:
        return None
    files = [("models", discriminator_path)] if discriminator_path is not None else []
    files += [(folder, path) for path in artifacts]
    for into, path in files:
        path = Path(path)
        if path.is_file():
            mlflow.log_artifact(str(path), artifact_path=into)
        elif path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=f"{into}/{path.name}")
        else:
            _log.warning("artifact %s does not exist; not logged", path)
    if not log_model or generator is None:
        return None
    latent_dim = int(generator.input_shape[-1])
    example = latents(2, latent_dim, seed=0)
    with _no_progress_bars():
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
    run_id = active_run_id()
    if run_id is None:
        return
    numeric = {k: v for k, v in ((k, to_float(v)) for k, v in metrics.items()) if v is not None}
    model_uri = client().get_run(run_id).data.tags.get(GENERATOR_URI_TAG)
    model_id = model_uri.removeprefix("models:/") if model_uri and model_uri.startswith("models:/m-") else None
    for key, value in numeric.items():
        step = max((m.step for m in client().get_metric_history(run_id, key)), default=0)
        mlflow.log_metric(key, value, step=step, synchronous=True, model_id=model_id)
    mlflow.set_tags({f"protocol.{k}": v for k, v in safe(protocol).items()}, synchronous=True)
    mlflow.log_dict({"metrics": dict(metrics), "protocol": dict(protocol)}, "evaluation/evaluate.json")


def generator_uri(run_id: str) -> str | None:
    """Model URI of the generator a run logged (via its tag, else a search of its logged models)."""
    run = get_run(run_id)
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


def download_run_file(run_id: str, artifact_path: str, dst_dir: Path) -> Path:
    """Copy one artifact of a run into ``dst_dir`` (atomically: a cut download leaves nothing there)."""
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dst_dir) as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp))
        except MlflowException as exc:
            raise FashionGanError(
                f"run {run_id} has no artifact {artifact_path} in {redact(mlflow.get_tracking_uri())} "
                f"({short_reason(exc)}): re-run the sweep with one shared tracking server"
            ) from None
        target = dst_dir / local.name
        os.replace(local, target)
    return target


def load_generator(model_uri: str) -> keras.Model:
    """A Keras generator from any MLflow model URI (``models:/name@alias``, ``runs:/``, ``models:/m-``).

    The model's files are downloaded and its ``.keras`` file loaded by :func:`fileio.load_keras`,
    the one safe-mode loader: a model carrying code (a ``Lambda`` layer) is refused, and so is a
    TensorFlow SavedModel export (``save_exported_model``), which MLflow would load with
    ``tf.saved_model.load``, outside Keras safe mode. A URI that names nothing is a one-line error.
    """
    remedy = "register a plain Keras generator trained by `dvc repro train`"
    with tempfile.TemporaryDirectory(prefix="fashiongan-model-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
            flavor = Model.load(str(local / MLMODEL_FILE_NAME)).flavors.get("keras")
        except MlflowException as exc:
            if unreachable(exc):
                raise FashionGanError(
                    f"tracking store {redact(mlflow.get_tracking_uri())} unreachable ({short_reason(exc)}): start it or set tracking.uri"
                ) from None
            reason = " ".join(exc.message.split())[:160]
            missing = exc.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in exc.message
            raise FashionGanError(
                f"model {model_uri} {'not found' if missing else 'cannot be loaded'} in "
                f"{redact(mlflow.get_tracking_uri())} ({reason}): run `dvc repro promote` first, or pass --model "
                "with an existing URI"
            ) from None
        if flavor is None or flavor.get("save_exported_model"):
            kind = "a TensorFlow SavedModel export" if flavor else "not a Keras model"
            raise FashionGanError(f"model {model_uri} refused: it is {kind}, which loads outside Keras safe mode; {remedy}")
        data = local / flavor.get("data", "model")
        path = Path(f"{data / 'model' if data.is_dir() else data}.keras")  # as mlflow.keras names it
        return load_keras(path, "model", remedy, shown=model_uri)
