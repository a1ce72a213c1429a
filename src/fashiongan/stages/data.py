"""Stages ``fetch`` and ``preprocess``: the four Fashion-MNIST files into data/raw/, then data/processed/."""

from __future__ import annotations

from typing import Any

from fashiongan.config import Params
from fashiongan.data import preprocess
from fashiongan.fetch import fetch


def fetch_stage(params: Params) -> dict[str, Any]:
    """Fetch from ``data.source`` (official, a mirror folder or the bundled sample), verified; the manifest."""
    return fetch(params.data)


def preprocess_stage(params: Params) -> dict[str, Any]:
    """Decode, filter and scale data/raw/ into data/processed/{train,test}.npz; the meta it wrote."""
    return preprocess(params.data)
