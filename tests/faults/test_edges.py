"""Faults at the edges of the MLOps promises: damaged checkpoints, racing promotions, two trainers in
one workspace, a busy SQLite store, signals. Each case counts in the suite's table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashiongan.checkpoints import CheckpointState, load_checkpoint, save_checkpoint
from fashiongan.errors import FashionGanError
from fashiongan.params_file import parse_params
from fashiongan.paths import CHECKPOINT_NAME

from .conftest import Tally

pytestmark = pytest.mark.faults


def tiny_gan(width: int = 8):
    from fashiongan.training import build_gan

    params = parse_params({"model": {"preset": "compact", "first_layer_width": width, "latent_dim": 16},
                           "train": {"hparams": "params", "batch_size": 8, "jit_compile": False}})
    return build_gan(params)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def _bad_meta(path: Path) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["meta"] = np.array(json.dumps({"epoch": 1, "fingerprint": "fp", "unexpected": 1}))
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def _shape_changed(path: Path) -> None:
    save_checkpoint(tiny_gan(width=12), CheckpointState(epoch=1, fingerprint="fp"), path.parent)


@pytest.mark.parametrize("damage", [_truncate, _bad_meta, _shape_changed], ids=["truncated", "bad-meta", "shape-changed"])
def test_an_unusable_checkpoint_is_one_line_and_moved_aside(damage, tmp_path: Path, tally: Tally) -> None:
    recovered = False
    try:
        gan = tiny_gan()
        save_checkpoint(gan, CheckpointState(epoch=1, fingerprint="fp"), tmp_path)
        before = [v.numpy().copy() for v in gan.generator.weights]
        damage(tmp_path / CHECKPOINT_NAME)
        with pytest.raises(FashionGanError) as err:
            load_checkpoint(gan, tmp_path, "fp")
        message = str(err.value)
        assert "\n" not in message and str(tmp_path / CHECKPOINT_NAME) in message and "re-run" in message, message
        assert not (tmp_path / CHECKPOINT_NAME).exists()
        aside = list(tmp_path.glob(f"{CHECKPOINT_NAME}.unusable-*"))
        assert len(aside) == 1 and aside[0].name in message
        for kept, now in zip(before, gan.generator.weights, strict=True):  # nothing half-restored
            np.testing.assert_array_equal(kept, now.numpy())
        assert load_checkpoint(gan, tmp_path, "fp") is None  # the re-run starts from epoch 0
        recovered = True
    finally:
        tally.fault(recovered)
