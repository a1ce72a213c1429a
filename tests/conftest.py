"""Shared fixtures: data locations, the training tests' images and a quiet TensorFlow."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_SUBSET = ROOT.parent / "shared" / "data" / "fashion-mnist-subset"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with the most slow test functions first, each file's tests kept in order.

    ``make test`` hands whole files to its workers (``--dist loadfile``) in this order; the long files
    started first overlap one another instead of one of them finishing the run alone on one core.
    """
    slow = Counter(path for path, _ in {(i.path, i.originalname) for i in items if i.get_closest_marker("slow")})
    first = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)
    items.sort(key=lambda item: (-slow[item.path], first[item.path]))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The genuine sample bundled in the package (always present)."""
    from fashiongan.fetch import sample_folder

    return sample_folder()


@pytest.fixture(scope="module")
def sample_x() -> np.ndarray:
    """The first 256 images of the bundled genuine sample, in [-1, 1] (one copy per test module)."""
    from fashiongan.data import scale
    from fashiongan.fetch import sample_folder
    from fashiongan.idx import read_idx

    return scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz")[:256])


@pytest.fixture(scope="session")
def mirror_dir(sample_dir: Path) -> Path:
    """A mirror folder: the shared genuine subset when this checkout has one, else the bundled sample."""
    return SHARED_SUBSET if SHARED_SUBSET.is_dir() else sample_dir


from mlflow_server import local_store, mlflow_db_template, mlflow_server  # noqa: E402,F401
from postgres_server import postgres_url  # noqa: E402,F401
