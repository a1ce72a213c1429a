"""``MlflowMetricsCallback``: a training's per-epoch metrics and sample grids, live in MLflow, and its stop reason.

Place it after the callbacks that add ``fid_fashion`` to the logs and write the grid PNG.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from PIL import Image

from fashiongan.tracking.artifacts import to_float
from fashiongan.tracking.runs import active_run_id
from fashiongan.tracking.store import StoreBusy, TrackingUnavailable, lost_message, retry_busy

DETECTORS = ("stalled", "diverged", "collapsed")


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
        if active_run_id() is None or self.failure is not None:
            return
        try:
            retry_busy(lambda: self._log_epoch(epoch + 1, logs), f"at epoch {epoch + 1}")
        except StoreBusy as exc:
            self.failure = exc
            self.model.stop_training = True
        except (MlflowException, OSError) as exc:
            self.failure = TrackingUnavailable(lost_message(mlflow.get_tracking_uri(), exc, f"at epoch {epoch + 1}"))
            self.model.stop_training = True

    def _log_epoch(self, step: int, logs: dict[str, Any] | None) -> None:
        metrics = {k: v for k, v in ((k, to_float(v)) for k, v in (logs or {}).items()) if v is not None}
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
        if active_run_id() is None:
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
