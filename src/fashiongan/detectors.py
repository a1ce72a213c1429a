"""The failure detectors: Keras callbacks that stop a GAN that stalled, diverged or collapsed, and say why.

A detector that fires sets ``model.stop_training = True`` and ``model.stop_reason`` to
``"<kind>: <detail>"`` with kind ``stalled``, ``diverged`` or ``collapsed``. The first reason
wins; :func:`fashiongan.training.train_gan` copies it into the epoch's history row and into
``TrainResult.stop_reason``. Run :class:`fashiongan.callbacks.EpochEvaluator` before the
detectors (``train_gan`` does) so the collapse and FID-rise detectors see its scores in ``logs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

LN2 = math.log(2.0)
LOSS_KEYS = ("d_loss", "g_loss")


def request_stop(model: Any, reason: str) -> None:
    """Stop ``fit`` after this step/epoch and keep the first reason given."""
    model.stop_training = True
    if getattr(model, "stop_reason", None) is None:
        model.stop_reason = reason


class StreakDetector(keras.callbacks.Callback):
    """A detector that counts consecutive epochs; subclasses say what an epoch adds and when to stop.

    ``history`` holds the epochs restored from a checkpoint: they are replayed at the start of
    ``fit`` so a resumed run stops at the epoch, and with the reason, of an uninterrupted one.
    """

    def __init__(self, patience: int) -> None:
        super().__init__()
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.history: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        """Forget every epoch seen."""

    def observe(self, epoch: int, logs: dict) -> None:
        """Take in one epoch's logs (``epoch`` 0-based)."""

    def verdict(self, epoch: int, logs: dict) -> str | None:
        """The stop reason after this epoch, or None."""
        return None

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Start from the restored epochs, not from zero."""
        self.reset()
        for row in self.history:
            self.observe(int(row["epoch"]) - 1, row)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Observe the epoch; stop training when the verdict says so."""
        logs = logs or {}
        self.observe(epoch, logs)
        reason = self.verdict(epoch, logs)
        if reason:
            request_stop(self.model, reason)


class StallDetector(StreakDetector):
    """The generator gets no useful gradient any more, for ``patience`` consecutive epochs.

    Two rules, each with its own streak:

    * ``g_loss`` within ``tolerance`` of ln 2 whatever ``d_loss`` is (``ln2_rule``): the compact
      report's sigmoid variant sat at exactly 0.6931 with d_loss 0.503, because a sigmoid fed
      to a from-logits loss reads softplus(0) once D(G(z)) is ~0. Only meaningful for the
      cross-entropy losses, so a hinge loss switches it off.
    * the discriminator saturated: mean D(G(z)) <= ``saturation`` and mean D(x) >= 1 - ``saturation``,
      a perfect separation. ``d_real``/``d_fake`` are mean sigmoid probabilities whatever the loss;
      healthy runs keep their epoch means within 0.06..0.97.
    """

    def __init__(self, patience: int, tolerance: float, saturation: float = 0.01, ln2_rule: bool = True):
        if tolerance <= 0:
            raise ValueError(f"tolerance must be > 0, got {tolerance}")
        if not 0 < saturation < 0.5:
            raise ValueError(f"saturation must be within (0, 0.5), got {saturation}")
        self.tolerance, self.saturation, self.ln2_rule = tolerance, saturation, ln2_rule
        super().__init__(patience)

    def reset(self) -> None:
        """No stalled epochs seen."""
        self.streaks = {"ln2": 0, "saturated": 0}
        self.longest = 0
        self.evidence: str | None = None  # this epoch's longest stall streak, before patience runs out

    def _at_ln2(self, logs: dict) -> str | None:
        d_loss, g_loss = (logs.get(key) for key in LOSS_KEYS)
        if not self.ln2_rule or g_loss is None or abs(g_loss - LN2) > self.tolerance:
            return None
        if d_loss is not None and abs(d_loss - LN2) <= self.tolerance:
            return f"d_loss={d_loss:.4f}, g_loss={g_loss:.4f} within {self.tolerance} of ln 2"
        shown = "" if d_loss is None else f" (d_loss={d_loss:.4f})"
        return f"g_loss={g_loss:.4f} within {self.tolerance} of ln 2{shown}: the generator gets no gradient"

    def _saturated(self, logs: dict) -> str | None:
        d_real, d_fake = logs.get("d_real"), logs.get("d_fake")
        if d_real is None or d_fake is None or d_real < 1 - self.saturation or d_fake > self.saturation:
            return None
        return f"discriminator saturated (d_real={d_real:.4g}, d_fake={d_fake:.4g}, limit {self.saturation})"

    def observe(self, epoch: int, logs: dict) -> None:
        """Count consecutive epochs per rule; the longest streak is this epoch's evidence."""
        self.evidence, self.longest = None, 0
        for rule, detail in (("ln2", self._at_ln2(logs)), ("saturated", self._saturated(logs))):
            self.streaks[rule] = self.streaks[rule] + 1 if detail else 0
            if detail and self.streaks[rule] > self.longest:
                self.evidence, self.longest = f"{detail} for {self.streaks[rule]} epochs", self.streaks[rule]

    def verdict(self, epoch: int, logs: dict) -> str | None:
        """Stalled once a rule's streak reaches ``patience``."""
        return f"stalled: {self.evidence}" if self.longest >= self.patience else None


def caused_by(stall: StallDetector | None, symptom: str) -> str:
    """``symptom`` as the stop reason, or the stall it follows from when ``stall`` has evidence this epoch.

    A generator that gets no gradient also collapses and its FID climbs, often before the
    stall's patience runs out; the stall is the cause worth reporting, and both kinds get tagged.
    """
    cause = stall.evidence if stall is not None else None
    return f"stalled: {cause}, and {symptom}" if cause else symptom


class DivergenceDetector(keras.callbacks.Callback):
    """A NaN/inf loss (checked after every batch) or |loss| above ``bound`` at an epoch's end."""

    # Batch checks run on Keras' callback thread, so they never stall the training loop;
    # setting ``stop_training`` from there stops ``fit`` a step or so later.
    async_safe = True

    def __init__(self, bound: float):
        super().__init__()
        if not bound > 0:
            raise ValueError(f"bound must be > 0, got {bound}")
        self.bound = bound

    def _check(self, logs: dict | None, where: str, with_bound: bool) -> None:
        for key in LOSS_KEYS:
            value = (logs or {}).get(key)
            if value is None:
                continue
            value = float(value)
            if not math.isfinite(value):
                request_stop(self.model, f"diverged: {key}={value} {where}")
                return
            if with_bound and abs(value) > self.bound:
                request_stop(self.model, f"diverged: |{key}|={abs(value):.4g} > {self.bound} {where}")
                return

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """NaN/inf only: the per-batch values are running means, the bound is for epochs."""
        self._check(logs, f"at batch {batch + 1}", with_bound=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """NaN/inf or above the bound."""
        self._check(logs, f"in epoch {epoch + 1}", with_bound=True)


class CollapseDetector(StreakDetector):
    """Fewer than ``min_classes`` classes covered for ``patience`` consecutive scored epochs.

    Needs EpochEvaluator scores; epochs without a ``classes_covered`` score neither count nor
    break a streak. The first ``warmup`` epochs are ignored: an untrained generator draws
    blobs the classifier files under one or two classes. With ``stall`` (run first) the reason
    names a stall in progress as the cause (see :func:`caused_by`).
    """

    def __init__(self, min_classes: int, patience: int = 1, warmup: int = 0, stall: StallDetector | None = None):
        if not 0 <= min_classes <= 10:
            raise ValueError(f"min_classes must be within 0..10 (0 = off), got {min_classes}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.min_classes, self.warmup, self.stall = min_classes, warmup, stall
        super().__init__(patience)

    def reset(self) -> None:
        """No collapsed epochs seen."""
        self.streak = 0

    def _checked(self, epoch: int, logs: dict) -> bool:
        return bool(self.min_classes) and logs.get("classes_covered") is not None and epoch + 1 > self.warmup

    def observe(self, epoch: int, logs: dict) -> None:
        """Count consecutive collapsed scored epochs after the warm-up."""
        if self._checked(epoch, logs):
            self.streak = self.streak + 1 if logs["classes_covered"] < self.min_classes else 0

    def verdict(self, epoch: int, logs: dict) -> str | None:
        """Collapsed once the streak reaches ``patience`` (a stall in progress is named as the cause)."""
        if not self._checked(epoch, logs) or self.streak < self.patience:
            return None
        span = f"epoch {epoch + 1}" if self.streak == 1 else f"{self.streak} scored epochs up to epoch {epoch + 1}"
        symptom = f"collapsed: {logs['classes_covered']:g} classes covered < {self.min_classes} in {span}"
        return caused_by(self.stall, symptom)


class FidRiseDetector(StreakDetector):
    """``fid_fashion`` rising by more than ``margin`` (relative) at ``patience`` consecutive scored epochs.

    Losses can look sane while the images get worse (the compact report's sigmoid variant:
    FID up every epoch). A rise within the margin is sampling noise and, like a fall, ends the
    streak. With ``stall`` (run first) the reason names a stall in progress as the cause.
    """

    def __init__(self, patience: int, margin: float = 0.05, stall: StallDetector | None = None):
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin, self.stall = margin, stall
        super().__init__(patience)

    def reset(self) -> None:
        """Forget the scores seen."""
        self.streak = 0
        self.start: float | None = None
        self.previous: float | None = None

    @staticmethod
    def _fid(logs: dict) -> float | None:
        fid = logs.get("fid_fashion")
        return float(fid) if fid is not None and math.isfinite(fid) else None

    def observe(self, epoch: int, logs: dict) -> None:
        """Compare this scored epoch's FID with the previous one."""
        fid = self._fid(logs)
        if fid is None:
            return
        if self.previous is not None and fid > self.previous * (1 + self.margin):
            self.streak += 1
        else:
            self.streak, self.start = 0, fid
        self.previous = fid

    def verdict(self, epoch: int, logs: dict) -> str | None:
        """Diverged after ``patience`` rises in a row (a stall in progress is named as the cause)."""
        fid = self._fid(logs)
        if fid is None or self.streak < self.patience:
            return None
        symptom = (
            f"diverged: fid_fashion rose {self.streak} scored epochs in a row by > {self.margin:.0%} "
            f"({self.start:.4g} -> {fid:.4g}) up to epoch {epoch + 1}"
        )
        return caused_by(self.stall, symptom)


def detectors(
    patience: int,
    tolerance: float,
    bound: float,
    min_classes: int,
    *,
    saturation: float = 0.01,
    ln2_rule: bool = True,
    collapse_patience: int = 1,
    collapse_warmup: int = 0,
    fid_rise_patience: int = 0,
    fid_rise_margin: float = 0.05,
    history: Sequence[dict[str, Any]] = (),
) -> list[keras.callbacks.Callback]:
    """The failure detectors, configured from ``params.train``; collapse and FID rise only when on.

    ``ln2_rule`` False (a hinge loss) keeps only the loss-independent saturation rule of the stall
    detector. ``history``: the epochs a resumed run restored, replayed into the streaks.
    """
    stall = StallDetector(patience, tolerance, saturation, ln2_rule)
    found: list[keras.callbacks.Callback] = [stall, DivergenceDetector(bound)]
    if min_classes:
        found.append(CollapseDetector(min_classes, collapse_patience, collapse_warmup, stall))
    if fid_rise_patience:
        found.append(FidRiseDetector(fid_rise_patience, fid_rise_margin, stall))
    for detector in found:
        if isinstance(detector, StreakDetector):
            detector.history = list(history)
    return found
