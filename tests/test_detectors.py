"""The failure detectors catch the reference write-ups' own failures, on synthetic histories and for real.

The numbers in ``WRITEUP_STALL`` are the compact write-up's sigmoid variant as reproduced by
``model.d_output: sigmoid_as_logits`` on the 8,226-image subset: g_loss flat at ln 2 while
d_loss sits at 0.503 and the discriminator is saturated (d_real 0.9999, d_fake 0.00001).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from detector_support import Dummy

from fashiongan.callbacks import EpochEvaluator
from fashiongan.detectors import CollapseDetector, FidRiseDetector, StallDetector, detectors
from fashiongan.params_file import parse_params
from fashiongan.training import train_gan

LN2 = math.log(2)
WRITEUP_STALL = {"d_loss": 0.5032, "g_loss": 0.6931, "d_real": 0.9999, "d_fake": 0.00001}
HEALTHY = [
    {"d_loss": 0.62 - 0.02 * i, "g_loss": 0.85 + 0.05 * i, "d_real": 0.6 + 0.01 * i, "d_fake": 0.4 - 0.01 * i,
     "fid_fashion": 150.0 / (1 + i), "classes_covered": 9}
    for i in range(10)
]  # fmt: skip


def feed(callback, rows, start: int = 0) -> Dummy:
    """Epoch-end ``rows`` (the first is epoch ``start``, 0-based) through ``callback`` until it stops; the model."""
    model = Dummy()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, row in enumerate(rows, start):
        callback.on_epoch_end(epoch, dict(row))
        if model.stop_training:
            break
    return model


# ---------------------------------------------------------------------------- stall


def test_the_writeup_stall_is_caught_although_d_loss_is_far_from_ln2():
    model = feed(StallDetector(patience=5, tolerance=0.005), HEALTHY[:1] + [WRITEUP_STALL] * 5)
    assert model.stop_training
    assert model.stop_reason.startswith("stalled: g_loss=0.6931 within 0.005 of ln 2 (d_loss=0.5032)")
    assert model.stop_reason.endswith("for 5 epochs")
    assert not feed(StallDetector(patience=6, tolerance=0.005), HEALTHY[:1] + [WRITEUP_STALL] * 5).stop_training


def test_both_losses_at_ln2_still_stall():
    both = {"d_loss": LN2 + 0.001, "g_loss": LN2 - 0.002, "d_real": 0.5, "d_fake": 0.5}
    model = feed(StallDetector(patience=3, tolerance=0.005), HEALTHY[:2] + [both] * 3)
    assert model.stop_reason == "stalled: d_loss=0.6941, g_loss=0.6911 within 0.005 of ln 2 for 3 epochs"


def test_a_saturated_discriminator_stalls_whatever_the_loss():
    """The hinge case: no ln 2 rule, the probabilities alone tell the generator is lost."""
    hinge = {"d_loss": 0.01, "g_loss": 3.2, "d_real": 0.9999, "d_fake": 0.00001}
    model = feed(StallDetector(patience=3, tolerance=0.005, ln2_rule=False), [hinge] * 3)
    assert model.stop_reason == (
        "stalled: discriminator saturated (d_real=0.9999, d_fake=1e-05, limit 0.01) for 3 epochs"
    )
    one_sided = {"d_loss": 0.1, "g_loss": 2.9, "d_real": 0.965, "d_fake": 0.005}  # compact's healthy d_real peak
    assert not feed(StallDetector(patience=3, tolerance=0.005), [one_sided] * 3).stop_training
    writeup = feed(StallDetector(patience=2, tolerance=0.005, ln2_rule=False), [WRITEUP_STALL] * 2)
    assert writeup.stop_reason.startswith("stalled: discriminator saturated")


def test_ln2_rule_off_ignores_the_losses():
    at_ln2 = {"d_loss": LN2, "g_loss": LN2, "d_real": 0.5, "d_fake": 0.5}
    assert not feed(StallDetector(patience=2, tolerance=0.005, ln2_rule=False), [at_ln2] * 4).stop_training
    assert feed(StallDetector(patience=2, tolerance=0.005), [at_ln2] * 4).stop_training


def test_stall_needs_consecutive_epochs_and_leaves_healthy_runs_alone():
    broken = [WRITEUP_STALL] * 2 + [HEALTHY[3]] + [WRITEUP_STALL] * 2
    assert not feed(StallDetector(patience=3, tolerance=0.005), broken).stop_training
    assert not feed(StallDetector(patience=1, tolerance=0.005), HEALTHY).stop_training
    edge = {"d_loss": 0.06, "g_loss": 2.9, "d_real": 0.9648, "d_fake": 0.0681}  # a healthy compact epoch on the sample
    assert not feed(StallDetector(patience=1, tolerance=0.005), [edge] * 5).stop_training
    with pytest.raises(ValueError, match="saturation must be within"):
        StallDetector(patience=1, tolerance=0.005, saturation=0.5)


# ---------------------------------------------------------------------------- collapse and FID rise


def test_collapse_waits_for_warmup_and_patience():
    rows = [{"classes_covered": 1}, {"classes_covered": 2}, {"d_loss": 0.5}, {"classes_covered": 2}]
    model = feed(CollapseDetector(min_classes=3, patience=2, warmup=1), rows)
    assert model.stop_reason == "collapsed: 2 classes covered < 3 in 2 scored epochs up to epoch 4"
    assert not feed(CollapseDetector(min_classes=3, patience=2, warmup=2), rows).stop_training
    recovered = [{"classes_covered": 2}, {"classes_covered": 6}, {"classes_covered": 2}]
    assert not feed(CollapseDetector(min_classes=3, patience=2), recovered).stop_training
    assert not feed(CollapseDetector(min_classes=3, patience=1), HEALTHY).stop_training


def test_a_collapse_during_a_stall_is_reported_as_the_stall():
    """The write-up's stalled generator also covers 1 class; the stall is the cause to report."""
    stall = StallDetector(patience=5, tolerance=0.005)
    collapse = CollapseDetector(min_classes=3, patience=2, warmup=1, stall=stall)
    model = Dummy()
    for callback in (stall, collapse):
        callback.set_model(model)
        callback.on_train_begin()
    for epoch, row in enumerate([HEALTHY[0]] + [WRITEUP_STALL] * 2):
        for callback in (stall, collapse):
            callback.on_epoch_end(epoch, row | {"classes_covered": 1})
    assert model.stop_reason == (
        "stalled: g_loss=0.6931 within 0.005 of ln 2 (d_loss=0.5032): the generator gets no gradient for 2 epochs, "
        "and collapsed: 1 classes covered < 3 in 2 scored epochs up to epoch 3"
    )


def test_fid_rise_counts_consecutive_rises_above_the_noise_margin():
    fids = [200.0, 120.0, 130.0, 140.0, 150.0]  # +8 %, +7.7 %, +7.1 %
    rows = [{"fid_fashion": f} for f in fids]
    model = feed(FidRiseDetector(patience=3, margin=0.05), rows)
    assert model.stop_reason == "diverged: fid_fashion rose 3 scored epochs in a row by > 5% (120 -> 150) up to epoch 5"
    assert not feed(FidRiseDetector(patience=3, margin=0.08), rows).stop_training  # rises within the margin
    noisy = [{"fid_fashion": f} for f in (120.0, 130.0, 128.0, 140.0, 150.0)]  # a fall ends the streak
    assert not feed(FidRiseDetector(patience=3), noisy).stop_training
    gaps = [{"fid_fashion": 100.0}, {"d_loss": 0.5}, {"fid_fashion": 110.0}, {"fid_fashion": float("nan")},
            {"fid_fashion": 121.0}]  # fmt: skip
    assert feed(FidRiseDetector(patience=2), gaps).stop_reason.startswith("diverged: fid_fashion rose 2")
    assert not feed(FidRiseDetector(patience=1), HEALTHY).stop_training


def test_a_fid_rise_during_a_stall_is_reported_as_the_stall():
    """The write-up's FID climbed every epoch while g_loss sat at ln 2 (here from the reproduction: 370 -> 525 -> ...)."""
    chain = detectors(5, 0.005, 100, 0, fid_rise_patience=2)
    model = Dummy()
    for callback in chain:
        callback.set_model(model)
        callback.on_train_begin()
    for epoch, fid in enumerate((370.2, 524.8, 600.0)):
        row = (HEALTHY[0] if epoch == 0 else WRITEUP_STALL) | {"fid_fashion": fid}
        for callback in chain:
            callback.on_epoch_end(epoch, row)
    assert model.stop_reason.startswith("stalled: g_loss=0.6931 within 0.005 of ln 2 (d_loss=0.5032)")
    assert model.stop_reason.endswith("for 2 epochs, and diverged: fid_fashion rose 2 scored epochs in a row by > 5% "
                                      "(370.2 -> 600) up to epoch 3")  # fmt: skip


def test_restored_epochs_carry_the_streaks_over_a_resume():
    stalled = [{"epoch": 1, **HEALTHY[0]}, {"epoch": 2, **WRITEUP_STALL}, {"epoch": 3, **WRITEUP_STALL}]
    stall = detectors(4, 0.005, 100, 0, history=stalled)[0]
    assert feed(stall, [WRITEUP_STALL] * 2, start=3).stop_reason.endswith("for 4 epochs")  # 2-3 restored, 4-5 live
    worse = [{"epoch": e, **HEALTHY[0], "fid_fashion": 100.0 * e, "classes_covered": 1} for e in (1, 2, 3)]
    _, _, collapse, fid = detectors(5, 0.005, 100, 3, collapse_patience=3, collapse_warmup=1, fid_rise_patience=3,
                                    history=worse)  # fmt: skip
    live = [HEALTHY[0] | {"fid_fashion": 400.0, "classes_covered": 1}]
    assert feed(collapse, live, start=3).stop_reason == "collapsed: 1 classes covered < 3 in 3 scored epochs up to epoch 4"
    assert feed(fid, live, start=3).stop_reason == (
        "diverged: fid_fashion rose 3 scored epochs in a row by > 5% (100 -> 400) up to epoch 4"
    )
    assert not feed(detectors(5, 0.005, 100, 3, collapse_patience=3, collapse_warmup=1)[2], live, start=3).stop_training


def test_the_factory_builds_what_params_turn_on():
    names = [type(d).__name__ for d in detectors(5, 0.005, 100, 3, collapse_patience=2, fid_rise_patience=3)]
    assert names == ["StallDetector", "DivergenceDetector", "CollapseDetector", "FidRiseDetector"]
    stall = detectors(5, 0.005, 100, 0, saturation=0.02, ln2_rule=False)[0]
    assert (stall.saturation, stall.ln2_rule) == (0.02, False)
    t = parse_params({}).train
    assert (t.collapse_min_classes, t.collapse_patience, t.stall_saturation) == (3, 2, 0.01)


class OneClass:
    """FashionEvaluator's interface: every sample in one class, FID flat."""

    def score_generator(self, generator, n_samples, seed, batch_size):
        return {"fid_fashion": 100.0, "classes_covered": 1.0}


def test_the_collapse_warmup_counts_training_images_whatever_the_epoch_size(sample_x):
    """64 images an epoch and a 128-image warm-up: epochs 1-2 are not checked, epochs 3-4 stop the run."""
    params = parse_params(
        {
            "model": {"preset": "tutorial", "first_layer_width": 8, "latent_dim": 8},
            "train": {"hparams": "params", "epochs": 6, "batch_size": 32, "collapse_warmup_images": 128},
        }
    )
    scoring = EpochEvaluator(OneClass(), every=1, n_samples=2, seed=0, batch_size=2)
    result = train_gan(params, sample_x[:70], callbacks=[scoring])  # 70 // 32 batches: 64 images an epoch
    assert result.stop_reason == "collapsed: 1 classes covered < 3 in 2 scored epochs up to epoch 4"


# ---------------------------------------------------------------------------- for real, on the bundled sample


def writeup_stall_params(**train):
    """The compact write-up's sigmoid variant, narrow and on a fast clock.

    ``d_learning_rate`` 0.01 and 16 steps an epoch only bring the saturation forward: on the
    8,226-image subset at the defaults the same numbers appear from epoch 2 on.
    """
    return parse_params(
        {
            "model": {"preset": "compact", "first_layer_width": 8, "latent_dim": 16, "d_output": "sigmoid_as_logits"},
            "train": {"hparams": "params", "epochs": 4, "batch_size": 8, "d_learning_rate": 0.01, "grid_size": 2,
                      "stall_patience": 2, **train},
            "tracking": {"log_model": False},
        }
    )  # fmt: skip


@pytest.mark.slow
def test_a_real_sigmoid_as_logits_run_stops_as_stalled_and_says_so_everywhere(sample_x, local_store, tmp_path):
    """Cut after epoch 2 and resumed, it stops at epoch 3 like an uninterrupted run (stalled at 2 and 3)."""
    import csv
    import json

    from mlflow import MlflowClient

    from fashiongan.config import DataParams
    from fashiongan.fetch import fetch
    from fashiongan.stages.train import train_stage

    fetch(DataParams(source="sample"), raw_dir=tmp_path / "data" / "raw")
    (tmp_path / "data" / "processed").mkdir()
    np.savez(tmp_path / "data" / "processed" / "train.npz", x=sample_x[:128], y=np.zeros(128, np.int64))
    cut = train_stage(writeup_stall_params(epochs=2), root=tmp_path)
    assert cut["stop_reason"] is None and cut["g_loss"] == pytest.approx(LN2, abs=0.005)
    params = writeup_stall_params()
    summary = train_stage(params, root=tmp_path)

    reason = summary["stop_reason"]
    assert (summary["resumed_from_epoch"], summary["epochs_trained"]) == (2, params.train.stall_patience + 1), reason
    assert reason.endswith("for 2 epochs")
    assert reason.startswith("stalled: g_loss=0.69") and "ln 2 (d_loss=0.50" in reason, reason
    assert abs(summary["g_loss"] - LN2) < 0.005 and summary["d_loss"] == pytest.approx(0.503, abs=0.005)
    assert summary["d_real"] > 0.99 and summary["d_fake"] < 0.01  # the write-up's table, for real
    rows = list(csv.DictReader(open(tmp_path / "plots" / "train_history.csv")))
    assert rows[-1]["stop_reason"] == reason and json.loads((tmp_path / "metrics/train.json").read_text())["stop_reason"] == reason

    again = train_stage(params, root=tmp_path)  # the checkpoint already says stalled: no training, same tags
    client = MlflowClient()
    for run_id in (summary["mlflow_run_id"], again["mlflow_run_id"]):
        tags = client.get_run(run_id).data.tags
        assert (tags["stalled"], tags["collapsed"], tags["diverged"], tags["stop_reason"]) == ("true", "false", "false", reason)
    assert again["mlflow_run_id"] != summary["mlflow_run_id"] and again["epochs_trained"] == summary["epochs_trained"]


@pytest.fixture(scope="module")
def evaluator():
    """The project's evaluator with the session's briefly trained classifier, on a small protocol."""
    from metrics_support import sample_real_stats, trained_classifier

    from fashiongan.config import EvaluateParams
    from fashiongan.metrics.evaluator import FashionEvaluator

    return FashionEvaluator(trained_classifier(), sample_real_stats(), EvaluateParams(kid_subsets=2, kid_subset_size=100))


@pytest.mark.slow
def test_a_generator_that_outruns_its_discriminator_collapses_and_stops_as_collapsed(sample_x, evaluator):
    """A 1-d latent and a generator learning 500x faster than the discriminator: one mode fools D."""
    params = parse_params(
        {
            "model": {"preset": "tutorial", "first_layer_width": 16, "latent_dim": 1},
            "train": {"hparams": "params", "epochs": 4, "batch_size": 32, "g_learning_rate": 0.005,
                      "d_learning_rate": 0.00001, "collapse_warmup_images": 256, "stall_patience": 2},
        }
    )  # fmt: skip
    scoring = EpochEvaluator(evaluator, every=1, n_samples=200, seed=1234, batch_size=200)
    result = train_gan(params, sample_x[:256], callbacks=[scoring])
    assert result.stop_reason == "collapsed: 1 classes covered < 3 in 2 scored epochs up to epoch 3", result.history
    assert [row["classes_covered"] for row in result.history][-2:] == [1, 1]  # the two epochs that stopped it
    assert all(row["classes_covered"] < 3 for row in result.history)  # one mode from the start
    assert all(row["d_fake"] > row["d_real"] for row in result.history)  # fooled, not saturated: no stall


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["modern", "tutorial"])
def test_a_healthy_run_of_the_default_and_the_tutorial_preset_triggers_nothing(sample_x, evaluator, preset):
    """The default preset under the failure tests' sensitive settings, same epochs: no detector fires.

    The collapse detector keeps its default warm-up: a generator this young draws one blob for
    every z whatever its settings (see README), so coverage is only checked after 20,000 images.
    """
    params = parse_params(
        {
            "model": {"preset": preset},
            "train": {"hparams": "params", "epochs": 3, "batch_size": 16, "stall_patience": 2,
                      "fid_rise_patience": 2},
        }
    )  # fmt: skip
    assert parse_params({}).model.preset == "modern" and params.train.collapse_min_classes == 3
    scoring = EpochEvaluator(evaluator, every=1, n_samples=200, seed=1234, batch_size=200)
    result = train_gan(params, sample_x[:128], callbacks=[scoring])
    assert result.stop_reason is None and result.epochs_trained == 3
    for row in result.history:
        assert 0.05 < row["d_fake"] < row["d_real"] < 0.95 and abs(row["g_loss"] - LN2) > 0.005, row


@pytest.mark.slow
def test_a_sweep_trial_the_stall_detector_stops_is_pruned_with_the_stall_as_reason(sample_x, tmp_path):
    """The pruner asks to stop at the same epoch: the detector's diagnosis is the reason kept."""
    import json

    from metrics_support import sample_real_stats, trained_classifier

    from fashiongan.search.gan_objective import GanObjective
    from fashiongan.search.objective import run_objective
    from fashiongan.search.types import TrialContext

    np.savez(tmp_path / "train.npz", x=sample_x[:128], y=np.zeros(128, np.int64))
    trained_classifier().save(tmp_path / "classifier.keras")
    sample_real_stats().save(tmp_path / "real_stats.npz")
    params = writeup_stall_params().model_dump()
    params["search"] = {"epochs": 4, "max_images": None, "n_samples": 128}
    params["evaluate"] = {"batch_size": 128, "kid_subsets": 2, "kid_subset_size": 64}
    params = parse_params(params)
    pruned_at: list[int] = []

    def report(epoch: int, value: float) -> bool:
        if epoch >= params.train.stall_patience + 1:
            pruned_at.append(epoch)
        return bool(pruned_at)

    ctx = TrialContext(0, params, tmp_path / "trial", report, pruned_at=pruned_at)
    outcome = run_objective(GanObjective(tmp_path, tmp_path / "classifier.keras", tmp_path / "real_stats.npz"), ctx)
    assert outcome.state == "pruned" and outcome.reason.startswith("stalled: g_loss=0.69"), outcome
    assert json.loads((tmp_path / "trial" / "outcome.json").read_text())["reason"] == outcome.reason
