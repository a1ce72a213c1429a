"""train_gan end to end on tiny data: determinism, outputs, checkpoint/resume and the detectors."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from detector_support import Dummy

from fashiongan import devices
from fashiongan.callbacks import EpochEvaluator
from fashiongan.detectors import CollapseDetector, DivergenceDetector, StallDetector, detectors
from fashiongan.checkpoints import CheckpointState, load_checkpoint, save_checkpoint
from fashiongan.params_file import parse_params
from fashiongan.paths import CHECKPOINT_NAME, HISTORY_CSV, TRAIN_METRICS
from fashiongan.stages.train import train_stage
from fashiongan.training import build_gan, effective_precision, summarize, train_gan

LN2 = math.log(2)


def tiny_params(**train):
    """Tutorial preset with a narrow first layer and a small latent: fast, but every training code path.

    Not compact: its fixed 128-channel 28x28 transposed conv costs ~5x the CPU per step (tests/test_gan.py
    runs compact's joint real+fake batch)."""
    return parse_params(
        {
            "model": {"preset": "tutorial", "first_layer_width": 8, "latent_dim": 16},
            "train": {"hparams": "params", "epochs": 1, "batch_size": 32, "jit_compile": False, "grid_size": 2, **train},
        }
    )


def _feed(callback, rows, batch_rows=()):
    model = Dummy()
    callback.set_model(model)
    callback.on_train_begin()
    for i, row in enumerate(batch_rows):
        callback.on_train_batch_end(i, dict(row))
    for epoch, row in enumerate(rows):
        callback.on_epoch_end(epoch, dict(row))
        if model.stop_training:
            break
    return model


HEALTHY = [{"d_loss": 0.6 - 0.05 * i, "g_loss": 0.9 + 0.1 * i, "classes_covered": 9} for i in range(8)]


def test_stall_detector_fires_after_patience_and_only_on_consecutive_epochs():
    stalled = [{"d_loss": LN2 + 0.001, "g_loss": LN2 - 0.002}] * 3
    model = _feed(StallDetector(patience=3, tolerance=0.005), HEALTHY[:2] + stalled)
    assert model.stop_training and model.stop_reason.startswith("stalled:")
    interrupted = stalled[:2] + [{"d_loss": LN2, "g_loss": 0.8}] + stalled[:2]
    assert not _feed(StallDetector(patience=3, tolerance=0.005), interrupted).stop_training
    assert not _feed(StallDetector(patience=3, tolerance=0.005), HEALTHY).stop_training
    one_at_ln2 = [{"d_loss": LN2, "g_loss": 2.0}] * 5  # only both losses at ln 2 count
    assert not _feed(StallDetector(patience=3, tolerance=0.005), one_at_ln2).stop_training


def test_divergence_detector_nan_in_batch_bound_at_epoch_end():
    model = _feed(DivergenceDetector(bound=100), [], batch_rows=[{"d_loss": 0.7, "g_loss": 0.7}, {"d_loss": 0.7, "g_loss": float("nan")}])
    assert model.stop_training and model.stop_reason == "diverged: g_loss=nan at batch 2"
    model = _feed(DivergenceDetector(bound=100), HEALTHY[:2] + [{"d_loss": 0.1, "g_loss": 250.0}])
    assert model.stop_reason.startswith("diverged: |g_loss|=250 > 100")
    model = _feed(DivergenceDetector(bound=100), [{"d_loss": float("inf"), "g_loss": 1.0}])
    assert model.stop_reason.startswith("diverged: d_loss=inf")
    big_batch = [{"d_loss": 500.0, "g_loss": 500.0}]  # running means inside an epoch: bound not applied
    assert not _feed(DivergenceDetector(bound=100), HEALTHY, batch_rows=big_batch).stop_training


def test_collapse_detector_and_first_reason_wins():
    collapsed = HEALTHY[:2] + [{"d_loss": 0.5, "g_loss": 1.0, "classes_covered": 3}]
    model = _feed(CollapseDetector(min_classes=5), collapsed)
    assert model.stop_reason == "collapsed: 3 classes covered < 5 in epoch 3"
    assert not _feed(CollapseDetector(min_classes=5), HEALTHY).stop_training
    assert not _feed(CollapseDetector(min_classes=0), collapsed).stop_training  # 0 = off
    assert [type(d).__name__ for d in detectors(5, 0.005, 100, 0)] == ["StallDetector", "DivergenceDetector"]
    model = Dummy()
    model.stop_reason = "stalled: earlier"
    detector = CollapseDetector(min_classes=5)
    detector.set_model(model)
    detector.on_epoch_end(0, {"classes_covered": 1})
    assert model.stop_training and model.stop_reason == "stalled: earlier"


class FakeScorer:
    """FashionEvaluator's interface with canned scores."""

    def __init__(self, classes_covered: float = 10):
        self.calls: list[tuple[int, int, int]] = []
        self.classes_covered = classes_covered

    def score_generator(self, generator, n_samples, seed, batch_size):
        images = np.asarray(generator(np.zeros((2, generator.input_shape[-1]), "float32")))
        assert images.shape == (2, 28, 28, 1)
        self.calls.append((n_samples, seed, batch_size))
        return {"fid_fashion": 123.0 - len(self.calls), "classes_covered": self.classes_covered}


class LogSpy(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(dict(logs))


@pytest.mark.slow
def test_same_seed_gives_the_same_losses(sample_x):
    params = tiny_params()
    first = train_gan(params, sample_x)
    second = train_gan(params, sample_x)
    assert first.epochs_trained == 1 and first.stop_reason is None
    keys = ("d_loss", "g_loss", "d_real", "d_fake")
    assert [first.history[0][k] for k in keys] == [second.history[0][k] for k in keys]
    for a, b in zip(first.generator.weights, second.generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_resume_continues_with_the_same_optimizer_state(sample_x, tmp_path):
    x = sample_x[:64]
    straight = train_gan(tiny_params(epochs=2), x, out_dir=tmp_path / "straight")
    interrupted = train_gan(tiny_params(epochs=1), x, out_dir=tmp_path / "resumed")
    resumed = train_gan(tiny_params(epochs=2), x, out_dir=tmp_path / "resumed")
    assert (interrupted.epochs_trained, resumed.resumed_from, resumed.epochs_trained) == (1, 1, 2)
    assert resumed.history[0] == interrupted.history[0]
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert resumed.history[1][key] == pytest.approx(straight.history[1][key], rel=1e-5)

    with np.load(tmp_path / "straight/checkpoints" / CHECKPOINT_NAME) as a, np.load(tmp_path / "resumed/checkpoints" / CHECKPOINT_NAME) as b:
        assert json.loads(str(a["meta"]))["epoch"] == json.loads(str(b["meta"]))["epoch"] == 2
        optimizer_keys = [k for k in a.files if "optimizer/" in k]
        assert len(optimizer_keys) > 4
        for key in optimizer_keys:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7)

    out = tmp_path / "resumed"
    for rel in ("models/generator.keras", "models/discriminator.keras", "plots/samples.gif", "plots/loss_curve.png",
                "plots/samples/epoch_001.png", "plots/samples/epoch_002.png"):  # fmt: skip
        assert (out / rel).is_file(), rel
    rows = list(csv.DictReader(open(out / "plots/train_history.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0])[:6] == ["epoch", "d_loss", "g_loss", "d_real", "d_fake", "seconds"]
    summary = json.loads((out / "metrics/train.json").read_text())
    assert summary["epochs_trained"] == 2 and summary["resumed_from_epoch"] == 1 and summary["model"]["g_width"] == 8
    generator = keras.models.load_model(out / "models/generator.keras")
    assert generator.output_shape == (None, 28, 28, 1)


def test_checkpoint_round_trip_restores_optimizer_slots(sample_x, tmp_path):
    params = tiny_params()
    gan = build_gan(params)
    for _ in range(3):
        gan.train_step(sample_x[:32])
    save_checkpoint(gan, CheckpointState(epoch=4, fingerprint="abc", history=[{"epoch": 4}]), tmp_path)
    fresh = build_gan(params)
    state = load_checkpoint(fresh, tmp_path, "abc")
    assert state.epoch == 4 and state.history == [{"epoch": 4}]
    assert int(fresh.g_optimizer.iterations) == int(gan.g_optimizer.iterations) == 3
    for saved, restored in zip(gan.d_optimizer.variables, fresh.d_optimizer.variables, strict=True):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    for saved, restored in zip(gan.generator.weights, fresh.generator.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    with pytest.warns(UserWarning, match="other params or data"):
        assert load_checkpoint(build_gan(params), tmp_path, "different") is None


def test_detector_stop_and_scores_reach_history_and_result(sample_x, tmp_path):
    scorer, spy = FakeScorer(classes_covered=2), LogSpy()
    params = tiny_params(epochs=3, collapse_min_classes=5, collapse_patience=1, collapse_warmup_images=0, eval_samples=10)
    callbacks = [spy, EpochEvaluator(scorer, every=1, n_samples=10, seed=5, batch_size=4)]  # evaluator is moved first
    result = train_gan(params, sample_x[:64], out_dir=tmp_path, callbacks=callbacks)
    assert result.epochs_trained == 1 and result.stop_reason == "collapsed: 2 classes covered < 5 in epoch 1"
    assert scorer.calls == [(10, 5, 4)]
    assert spy.seen[0]["fid_fashion"] == 122.0 and "seconds" in spy.seen[0]
    assert result.history[-1]["stop_reason"] == result.stop_reason
    rows = list(csv.DictReader(open(tmp_path / "plots/train_history.csv")))
    assert rows[0]["fid_fashion"] == "122.0" and rows[0]["stop_reason"].startswith("collapsed")
    assert json.loads((tmp_path / "metrics/train.json").read_text())["fid_fashion"] == 122.0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = train_gan(params, sample_x[:64], out_dir=tmp_path, callbacks=callbacks)
    assert not [w for w in caught if "checkpoint" in str(w.message)]  # same params: the checkpoint is used
    assert (again.epochs_trained, again.stop_reason, len(scorer.calls)) == (1, result.stop_reason, 1)


def test_train_stage_writes_standard_outputs_and_logs_the_run(sample_x, local_store: Path, tmp_path: Path):
    import json

    from mlflow import MlflowClient

    from fashiongan.config import DataParams
    from fashiongan.fetch import fetch

    root = tmp_path
    fetch(DataParams(source="sample"), raw_dir=root / "data" / "raw")
    processed = root / "data" / "processed"
    processed.mkdir(parents=True)
    np.savez(processed / "train.npz", x=sample_x[:64], y=np.zeros(64, np.int64))
    (root / "sweeps").mkdir()
    best = {"params": {"model.dropout": 0.25, "model.first_layer_width": 12}}
    (root / "sweeps" / "best.json").write_text(json.dumps(best))
    summary = train_stage(tiny_params(hparams="sweep"), root=root)
    assert summary["epochs_trained"] == 1 and summary["n_train_images"] == 64 and "fid_fashion" not in summary
    assert (summary["dropout"], summary["first_layer_width"]) == (0.25, 12)
    for rel in ("models/generator.keras", "models/discriminator.keras", "metrics/train.json", "checkpoints/last.npz"):
        assert (root / rel).is_file(), rel
    run = MlflowClient().get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.first_layer_width"] == "12" and "d_loss" in run.data.metrics
    assert run.data.params["train.precision"] == run.data.params["train.precision_effective"] == "float32"
    assert json.loads((root / "metrics" / "train.json").read_text())["mlflow_run_id"] == run.info.run_id


def test_hparams_from_sweep_needs_a_best_trial(tmp_path: Path):
    from fashiongan.errors import FashionGanError
    from fashiongan.stages.train import hparams_from_sweep

    with pytest.raises(FashionGanError, match="run `dvc repro sweep` first, or set train.hparams: params"):
        hparams_from_sweep(tiny_params(), tmp_path / "best.json")
    (tmp_path / "best.json").write_text('{"params": null}')
    with pytest.raises(FashionGanError, match="no best trial"):
        hparams_from_sweep(tiny_params(), tmp_path / "best.json")
    (tmp_path / "best.json").write_text('{"params": {"model.dropout": 0.1,')  # cut short by a killed sweep
    with pytest.raises(FashionGanError, match="best.json is not valid json .*run `dvc repro sweep` first"):
        hparams_from_sweep(tiny_params(), tmp_path / "best.json")


def test_the_apply_hint_is_read_only_from_a_readable_best_json(tmp_path: Path):
    """With train.hparams: params the sweep is advisory: a missing or damaged best.json must not stop training."""
    from fashiongan.stages.train import sweep_apply_hint

    best = tmp_path / "best.json"
    assert sweep_apply_hint(best) is None
    best.write_text('{"apply": "dvc exp run -S train.hparams=params')
    assert sweep_apply_hint(best) is None
    best.write_text('{"apply": "dvc exp run -S train.hparams=params -S model.dropout=0.3"}')
    assert sweep_apply_hint(best) == "dvc exp run -S train.hparams=params -S model.dropout=0.3"


def test_too_few_images_is_a_user_error(sample_x):
    from fashiongan.errors import FashionGanError

    with pytest.raises(FashionGanError, match="fewer than train.batch_size"):
        train_gan(tiny_params(batch_size=64), sample_x[:10])


def test_the_history_is_on_disk_while_training_runs_and_the_metrics_only_at_the_end(sample_x, tmp_path: Path):
    seen: list[tuple[str, bool]] = []

    class Watch(keras.callbacks.Callback):  # runs before the recorder: sees the previous epochs' files
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                seen.append(((tmp_path / HISTORY_CSV).read_text(), (tmp_path / TRAIN_METRICS).exists()))

    train_gan(tiny_params(epochs=3), sample_x[:64], out_dir=tmp_path, callbacks=[Watch()])
    history, metrics_written = seen[0]
    assert [line.split(",")[0] for line in history.splitlines()] == ["epoch", "1", "2"]
    assert not metrics_written  # a run killed now must not leave a metrics file that reads like a result
    assert json.loads((tmp_path / TRAIN_METRICS).read_text())["epochs_trained"] == 3


def test_output_dirs_are_relative_to_out_dir(sample_x, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a path written relative to the working directory would land here
    result = train_gan(tiny_params(), sample_x[:32], out_dir=None)
    assert result.epochs_trained == 1 and not any(tmp_path.iterdir())


def test_a_code_change_discards_the_checkpoint_with_a_notice(sample_x, tmp_path, monkeypatch):
    x = sample_x[:64]
    train_gan(tiny_params(epochs=1), x, out_dir=tmp_path)
    for module in ("fashiongan.training", "fashiongan.checkpoints"):  # as if models.py had been edited
        monkeypatch.setattr(f"{module}.code_digest", lambda: "edited0code0")
    with pytest.warns(UserWarning, match=r"written by other code \(digest \w+ != edited0code0\)"):
        again = train_gan(tiny_params(epochs=1), x, out_dir=tmp_path)
    assert (again.resumed_from, again.epochs_trained) == (0, 1)


def test_float32_is_the_default_and_mixed_float16_needs_a_gpu(monkeypatch):
    params = tiny_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert effective_precision(params.train.precision) == "float32"
    gan = build_gan(params)
    assert {layer.dtype_policy.name for net in (gan.generator, gan.discriminator) for layer in net.layers} == {"float32"}
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    monkeypatch.setattr("fashiongan.training.has_gpu", lambda: False)
    with pytest.warns(UserWarning, match="train.precision=mixed_float16 needs a GPU; training in float32 instead"):
        assert effective_precision("mixed_float16") == "float32"


def test_bfloat16_falls_back_to_float32_with_one_line_naming_the_missing_instruction(sample_x, monkeypatch):
    native, why = devices.bfloat16_native()
    if not native:  # this machine (e.g. a Xeon without AVX512_BF16) says so itself
        assert "lacks avx512_bf16 and amx_bf16" in why
    monkeypatch.setattr("fashiongan.keras_backend.has_gpu", lambda: False)
    detect = devices.bfloat16_native
    monkeypatch.setattr(devices, "bfloat16_native", lambda: detect("model name\t: Old CPU\nflags\t\t: fpu avx2 avx512f\n"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_gan(tiny_params(precision="bfloat16"), sample_x[:32])
    messages = [str(w.message) for w in caught if "precision" in str(w.message)]
    assert messages == [
        "train.precision=bfloat16: this CPU (Old CPU) lacks avx512_bf16 and amx_bf16 and no GPU is visible; "
        "training in float32 instead"
    ]
    assert result.precision == "float32" and summarize(result, 32)["precision"] == "float32"
    assert {layer.dtype_policy.name for layer in result.generator.layers} == {"float32"}


def test_bfloat16_where_the_hardware_has_it_and_a_float32_checkpoint_is_not_resumed_into_it(sample_x, tmp_path, monkeypatch):
    x = sample_x[:32]
    assert train_gan(tiny_params(), x, out_dir=tmp_path).precision == "float32"
    monkeypatch.setattr(devices, "bfloat16_native", lambda: (True, "this CPU has avx512_bf16"))
    with pytest.warns(UserWarning, match="other params or data"):
        result = train_gan(tiny_params(precision="bfloat16"), x, out_dir=tmp_path)
    assert (result.precision, result.resumed_from, result.epochs_trained) == ("bfloat16", 0, 1)
    generator = result.generator
    hidden = [layer for layer in generator.layers if layer.name not in ("z", "g_out")]
    assert hidden and {layer.compute_dtype for layer in hidden} == {"bfloat16"}
    assert generator.get_layer("g_out").compute_dtype == "float32" and generator.output.dtype == "float32"
    assert result.discriminator.output.dtype == "float32"
    assert np.isfinite(result.history[0]["d_loss"]) and np.isfinite(result.history[0]["g_loss"])
    assert json.loads((tmp_path / TRAIN_METRICS).read_text())["precision"] == "bfloat16"
