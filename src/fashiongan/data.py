"""The processed Fashion-MNIST splits: preprocess the fetched raw files into ``train.npz`` / ``test.npz``, load them.

Images are scaled to float32 [-1, 1] with a channel axis (the generator's tanh range); the
training split may join train and test, keep only some classes and be capped, in a seeded order.
Fetching and checking the raw files is :mod:`fashiongan.fetch`'s job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan.config import DataParams
from fashiongan.errors import FashionGanError
from fashiongan.fetch import load_manifest, load_raw
from fashiongan.fileio import write_json, write_npz
from fashiongan.paths import META_NAME, PROCESSED_DIR, RAW_DIR

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] → float32 [-1, 1] with a channel axis (the generator's tanh range)."""
    return (images.astype(np.float32) / 127.5 - 1.0)[..., None]


def select(images: np.ndarray, labels: np.ndarray, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the listed classes."""
    if classes is None:
        return images, labels
    keep = np.isin(labels, classes)
    return images[keep], labels[keep]


def preprocess(params: DataParams, raw_dir: Path = RAW_DIR, out_dir: Path = PROCESSED_DIR) -> dict[str, Any]:
    """Write ``train.npz`` (what the GAN trains on) and ``test.npz`` (held-out real images)."""
    raw = load_raw(raw_dir)
    train_x = np.concatenate([raw[s][0] for s in params.splits])
    train_y = np.concatenate([raw[s][1] for s in params.splits])
    train_x, train_y = select(train_x, train_y, params.classes)
    order = np.random.default_rng(params.seed).permutation(len(train_x))
    if params.max_images is not None:
        order = order[: params.max_images]
    train_x, train_y = train_x[order], train_y[order]
    test_x, test_y = select(*raw["test"], params.classes)
    if len(train_x) == 0:
        raise FashionGanError(f"no training images left after data.classes={params.classes}; widen the class filter")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "source": load_manifest(raw_dir)["source"],
        "splits": list(params.splits),
        "test_in_training": "test" in params.splits,
        "classes": params.classes,
        "seed": params.seed,
    }
    for split, (x, y) in {"train": (train_x, train_y), "test": (test_x, test_y)}.items():
        scaled = scale(x)
        path = out_dir / f"{split}.npz"
        write_npz(path, x=scaled, y=y.astype(np.int64))
        meta[split] = {
            "count": int(len(y)),
            "class_counts": np.bincount(y, minlength=10).tolist(),
            "sha256": hashlib.sha256(scaled.tobytes() + y.astype(np.int64).tobytes()).hexdigest(),
        }
    write_json(out_dir / META_NAME, meta, sort_keys=True)
    return meta


def load_split(split: str, processed_dir: Path = PROCESSED_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed images (float32 N×28×28×1 in [-1, 1]) and int64 labels of one split."""
    path = Path(processed_dir) / f"{split}.npz"
    if not path.is_file():
        raise FashionGanError(f"{path} missing: run `dvc repro preprocess` first")
    try:
        with np.load(path) as data:
            return data["x"], data["y"]
    except (OSError, ValueError, KeyError) as exc:
        raise FashionGanError(f"{path} is corrupt ({exc}); run `dvc repro preprocess` again") from None
