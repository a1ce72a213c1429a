"""The benchmarks' measured peak: the arithmetic of a matmul's GFLOP/s and both dtypes timed (no timed assertions)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _peak import Peaks, matmul_gflops, matmul_seconds  # noqa: E402


def test_a_matmul_of_side_n_is_2_n_cubed_flops_over_its_median_seconds() -> None:
    assert matmul_gflops(1000, 2.0) == pytest.approx(1.0)  # 2e9 flops in 2 s
    ticks = itertools.count(0.0, 0.25)  # every clock reading 0.25 s after the last: each product takes 0.25 s
    for dtype in ("float32", "bfloat16"):
        seconds = matmul_seconds(dtype, n=8, warmup=1, repeats=3, clock=lambda: next(ticks))
        assert seconds == 0.25
        assert matmul_gflops(8, seconds) == pytest.approx(2 * 8**3 / 0.25 / 1e9)


def test_shares_are_of_the_named_peak() -> None:
    peaks = Peaks({"float32": 200.0, "bfloat16": 400.0}, n=2048, bf16_native=False, bf16_why="this CPU lacks avx512_bf16")
    assert peaks.share(100e9) == pytest.approx(0.5) and peaks.share(100e9, "bfloat16") == pytest.approx(0.25)
    assert "float32 200 GFLOP/s, bfloat16 400 GFLOP/s (2.00x float32; bfloat16 emulated: this CPU lacks" in peaks.describe()


def test_flops_are_counted_from_each_layers_shapes() -> None:
    import keras
    from _flops import forward_flops

    image = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(image)  # 8x8 outputs x 4 filters x 3x3x2 taps
    x = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same")(x)  # 8x8 inputs x 4 channels x 4x4 taps x 1 filter
    x = keras.layers.Dense(5)(keras.layers.Flatten()(x))  # 256 inputs x 5 units
    assert forward_flops(keras.Model(image, x)) == 2 * (64 * 4 * 9 * 2 + 64 * 4 * 16 * 1 + 256 * 5)
