"""Statistics of the real images, computed once and cached in ``models/real_stats.npz``.

Every FID compares against the same mean and covariance, so they are computed once per
(real data, classifier) pair. The pair's content hash travels with every score, so the registry
can refuse to compare numbers measured under different protocols.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_npz
from fashiongan.metrics.frechet import feature_statistics

MAX_STORED_FEATURES = 10_000
_FORMAT_VERSION = 1


def data_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the real images (float32) and labels (int64)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class RealStats:
    """Feature statistics of one real split under one classifier."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    class_counts: np.ndarray
    label_counts: np.ndarray
    n: int
    split: str
    data_hash: str
    classifier_hash: str

    @property
    def protocol_hash(self) -> str:
        """Short id of (real data, classifier): equal ids mean comparable fid_fashion values."""
        return hashlib.sha256(f"{self.data_hash}:{self.classifier_hash}".encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """Write the npz through a temporary file and rename."""
        return write_npz(
            path,
            version=_FORMAT_VERSION,
            mu=self.mu,
            sigma=self.sigma,
            features=self.features,
            class_counts=self.class_counts,
            label_counts=self.label_counts,
            n=self.n,
            split=self.split,
            data_hash=self.data_hash,
            classifier_hash=self.classifier_hash,
        )

    @classmethod
    def load(cls, path: str | Path) -> RealStats:
        """Read a file written by :meth:`save`; a missing or damaged file is a one-line error."""
        path = Path(path)
        if not path.is_file():
            raise FashionGanError(f"real statistics {path} not found: run `dvc repro train_classifier` first")
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["version"]) != _FORMAT_VERSION:
                    raise ValueError("format version")
                return cls(
                    mu=data["mu"].astype(np.float64),
                    sigma=data["sigma"].astype(np.float64),
                    features=data["features"].astype(np.float32),
                    class_counts=data["class_counts"].astype(np.int64),
                    label_counts=data["label_counts"].astype(np.int64),
                    n=int(data["n"]),
                    split=str(data["split"]),
                    data_hash=str(data["data_hash"]),
                    classifier_hash=str(data["classifier_hash"]),
                )
        except Exception as exc:  # zip, key and value errors all mean "recompute"
            raise FashionGanError(
                f"real statistics {path} are unreadable ({type(exc).__name__}): run `dvc repro train_classifier`"
            ) from None


def compute_real_stats(
    features: np.ndarray,
    probs: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    classifier_hash: str,
    split: str,
    max_features: int = MAX_STORED_FEATURES,
    seed: int = 0,
) -> RealStats:
    """Mean/covariance over all real features; a fixed subset of at most ``max_features`` kept for KID and PR."""
    mu, sigma = feature_statistics(features, f"real {split} features")
    n, n_classes = probs.shape
    keep = np.arange(n)
    if n > max_features:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_features, replace=False))
    return RealStats(
        mu=mu,
        sigma=sigma,
        features=np.asarray(features, np.float32)[keep],
        class_counts=np.bincount(np.argmax(probs, axis=1), minlength=n_classes).astype(np.int64),
        label_counts=np.bincount(np.asarray(labels, np.int64), minlength=n_classes).astype(np.int64),
        n=int(n),
        split=split,
        data_hash=data_digest(images, labels),
        classifier_hash=classifier_hash,
    )
