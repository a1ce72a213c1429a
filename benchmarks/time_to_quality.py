"""Time to quality: which generator is best after the same minutes of training on this machine.

Every contestant trains on the same images for the same wall-clock budget (tracing included),
and is then scored with one protocol: fid_fashion of 10,000 generated images against the
10,000 test images, in the feature space of a classifier trained on the whole training split,
plus classes covered, class_kl, precision and recall (k = 3). Each contestant's generator is
also snapshotted at half the budget and scored the same way, so the curve's shape is visible.

Contestants (``--contestants``):

* ``peer``: the TensorFlow DCGAN tutorial's own model and loop, written out below as a user
  would copy it (batch 256, Adam 1e-4, two discriminator calls per step): what a user would
  otherwise run;
* ``tutorial``, ``compact``, ``modern``: the presets trained by :func:`fashiongan.training.train_gan`
  with params.yaml's training settings, every model field at the preset's reference;
* ``--ablation`` replaces the list by ``modern`` and ``modern`` with each of its switches flipped.

Data: the shared full set (../shared/data/fashion-mnist-reconstructed) when present, else the
bundled 2,000/1,000 sample; the header says which. The classifier is cached under
benchmarks/.cache/ (keyed by data and epochs), so a second run does not retrain it.

Run: ``python benchmarks/time_to_quality.py [--budget 240] [--ablation] [--json out.json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fashiongan.config import ClassifierParams, EvaluateParams  # noqa: E402
from fashiongan.params_file import load_params, parse_params  # noqa: E402
from fashiongan.data import scale  # noqa: E402
from fashiongan.fetch import sample_folder  # noqa: E402
from fashiongan.idx import read_idx  # noqa: E402
from fashiongan.metrics.classifier import FeatureExtractor, accuracy, train_classifier, weights_digest  # noqa: E402
from fashiongan.metrics.evaluator import FashionEvaluator  # noqa: E402
from fashiongan.metrics.real_stats import compute_real_stats  # noqa: E402
from fashiongan.training import train_gan  # noqa: E402
from tutorial_step import tutorial_train_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_FULL = ROOT.parent / "shared" / "data" / "fashion-mnist-reconstructed"
CACHE = ROOT / "benchmarks" / ".cache"

PRESETS = {"tutorial": {}, "compact": {}, "modern": {}}
ABLATION = {  # modern, then each of its switches flipped on its own
    "modern": {},
    "+ spectral norm": {"model.spectral_norm": True},
    "+ hinge loss": {"train.loss": "hinge"},
    "+ cutout": {"train.diffaugment": "translation,cutout"},
    "no DiffAugment": {"train.diffaugment": "off"},
    "no EMA": {"train.ema_decay": 0.0},
    "no TTUR": {"train.d_learning_rate": 2e-4},
    "resize-conv (nearest)": {"model.upsampling": "nearest"},
}


def load_data(folder: Path) -> dict[str, np.ndarray]:
    """Train and test images in [-1, 1] and their labels."""
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        out[f"x_{split}"] = scale(read_idx(folder / f"{prefix}-images-idx3-ubyte.gz"))
        out[f"y_{split}"] = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return out


def cached_classifier(data: dict[str, np.ndarray], epochs: int) -> keras.Model:
    """The scoring classifier, trained once per (data, epochs) and kept in benchmarks/.cache/."""
    key = hashlib.sha256(data["x_train"].tobytes() + data["y_train"].tobytes() + str(epochs).encode()).hexdigest()[:12]
    path = CACHE / f"classifier-{key}.keras"
    if path.is_file():
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    classifier = train_classifier(data["x_train"], data["y_train"], ClassifierParams(epochs=epochs))
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    classifier.save(tmp)
    os.replace(tmp, path)
    return classifier


class Clock:
    """Wall-clock budget of one contestant, with a snapshot of its sampler at the halfway mark."""

    def __init__(self, budget: float, weights: Callable[[], list[np.ndarray]]):
        self.budget, self.weights = budget, weights
        self.started = time.perf_counter()
        self.half: list[np.ndarray] | None = None
        self.steps = self.half_steps = 0

    def tick(self) -> bool:
        """Count a step; True when the budget is spent."""
        self.steps += 1
        elapsed = time.perf_counter() - self.started
        if self.half is None and elapsed >= self.budget / 2:
            self.half, self.half_steps = [np.array(w) for w in self.weights()], self.steps
        return elapsed >= self.budget


class _BudgetCallback(keras.callbacks.Callback):
    def __init__(self, budget: float):
        super().__init__()
        self.budget = budget
        self.clock: Clock | None = None

    def on_train_begin(self, logs=None):
        self.clock = Clock(self.budget, lambda: [w.numpy() for w in self.model.sampler.weights])

    def on_train_batch_end(self, batch, logs=None):
        if self.clock.tick():
            self.model.stop_training = True


def train_preset(preset: str, overrides: dict[str, Any], x: np.ndarray, budget: float) -> dict[str, Any]:
    """A fashiongan preset through train_gan, stopped by the clock; generators at half and full budget."""
    raw = load_params(ROOT / "params.yaml").model_dump(mode="json")
    raw["model"].update({"preset": preset, "first_layer_width": None, "dropout": None})
    raw["train"].update({"hparams": "params", "epochs": 100_000, "eval_every": 0})
    for key, value in overrides.items():
        section, name = key.split(".")
        raw[section][name] = value
    params = parse_params(raw)
    budget_cb = _BudgetCallback(budget)
    result = train_gan(params, x, callbacks=[budget_cb])
    half = keras.models.clone_model(result.generator)
    half.set_weights(budget_cb.clock.half or result.generator.get_weights())
    return {
        "generators": {"half": half, "full": result.generator},
        "steps": {"half": budget_cb.clock.half_steps, "full": budget_cb.clock.steps},
        "batch_size": params.train.batch_size,
        "stop_reason": result.stop_reason,
        "seconds": time.perf_counter() - budget_cb.clock.started,
    }


def _peer_generator() -> keras.Model:
    """make_generator_model() of the TensorFlow DCGAN tutorial."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((100,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"),
        ]
    )


def _peer_discriminator() -> keras.Model:
    """make_discriminator_model() of the TensorFlow DCGAN tutorial."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )


def train_peer(x: np.ndarray, budget: float, seed: int = 42) -> dict[str, Any]:
    """The tutorial's loop: BUFFER_SIZE = all images, BATCH_SIZE = 256, Adam(1e-4), until the clock stops it."""
    keras.utils.set_random_seed(seed)
    generator, discriminator = _peer_generator(), _peer_discriminator()
    g_opt, d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    batch_size = 256
    train_step = tutorial_train_step(generator, discriminator, g_opt, d_opt, batch_size, latent_dim=100)

    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(batch_size, drop_remainder=True)
    clock = Clock(budget, generator.get_weights)
    done = False
    while not done:
        for image_batch in dataset:
            train_step(image_batch)
            if clock.tick():
                done = True
                break
    half = keras.models.clone_model(generator)
    half.set_weights(clock.half)
    return {
        "generators": {"half": half, "full": generator},
        "steps": {"half": clock.half_steps, "full": clock.steps},
        "batch_size": batch_size,
        "stop_reason": None,
        "seconds": time.perf_counter() - clock.started,
    }


def score(evaluator: FashionEvaluator, generator: keras.Model, n: int) -> dict[str, float]:
    """The one protocol: n generated images with the evaluation seed against the test statistics."""
    p = evaluator.params
    return evaluator.score_generator(generator, n, p.seed, p.batch_size)


def print_table(title: str, rows: list[dict[str, Any]], at: str, reference: str | None) -> None:
    print(f"\n{title}")
    print("| contestant | steps | images/s | fid_fashion | / peer | classes | class_kl | precision | recall | stop |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ref = next((r[at]["fid_fashion"] for r in rows if r["name"] == reference), None)
    for r in rows:
        s = r[at]
        ratio = f"{s['fid_fashion'] / ref:.2f}" if ref else "-"
        steps = r["steps"][at]
        print(
            f"| {r['name']} | {steps} | {r['images_per_s']:.0f} | {s['fid_fashion']:.1f} | {ratio} | "
            f"{s['classes_covered']:.0f} | {s['class_kl']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | "
            f"{r['stop_reason'] or '-'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds per contestant (default 240)")
    parser.add_argument("--contestants", nargs="+", default=["peer", "tutorial", "compact", "modern"])
    parser.add_argument("--ablation", action="store_true", help="modern with each of its switches flipped instead")
    parser.add_argument("--data", type=Path, default=None, help="mirror folder (default: shared full set, else sample)")
    parser.add_argument("--n", type=int, default=10_000, help="generated images per score (default 10000)")
    parser.add_argument("--classifier-epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    folder = args.data or (SHARED_FULL if SHARED_FULL.is_dir() else sample_folder())
    data = load_data(folder)
    classifier = cached_classifier(data, args.classifier_epochs)
    features, probs = FeatureExtractor(classifier)(data["x_test"])
    stats = compute_real_stats(features, probs, data["x_test"], data["y_test"], weights_digest(classifier), split="test")
    evaluator = FashionEvaluator(classifier, stats, EvaluateParams(n_samples=args.n))
    print(
        f"data: {folder} ({len(data['x_train'])} train / {len(data['x_test'])} test); classifier test accuracy "
        f"{accuracy(classifier, data['x_test'], data['y_test']):.4f}; budget {args.budget:.0f} s per contestant; "
        f"{os.cpu_count()} CPUs; fid_fashion on {args.n} generated vs {len(data['x_test'])} test images"
    )

    plan = {name: ("modern", o) for name, o in ABLATION.items()} if args.ablation else {
        name: (name, PRESETS[name]) for name in args.contestants if name != "peer"
    }
    rows = []
    if not args.ablation and "peer" in args.contestants:
        rows.append({"name": "peer", **train_peer(data["x_train"], args.budget)})
    for name, (preset, overrides) in plan.items():
        rows.append({"name": name, **train_preset(preset, overrides, data["x_train"], args.budget)})
        print(f"trained {name}: {rows[-1]['steps']['full']} steps in {rows[-1]['seconds']:.0f} s", flush=True)
    for r in rows:
        r["images_per_s"] = r["steps"]["full"] * r["batch_size"] / r["seconds"]
        for at, generator in r.pop("generators").items():
            r[at] = score(evaluator, generator, args.n)
    reference = "modern" if args.ablation else "peer"
    label = "ablation of modern" if args.ablation else "time to quality"
    print_table(f"{label} at half the budget ({args.budget / 2:.0f} s)", rows, "half", reference)
    print_table(f"{label} at the full budget ({args.budget:.0f} s)", rows, "full", reference)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
