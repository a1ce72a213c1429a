"""The machine's peak, measured: a square float32 and a bfloat16 matmul timed with TensorFlow in the same run.

A nominal peak (cores x lanes x FMA units x a clock) is a guess: a VM reports its base clock, turbo runs
higher, and a share of such a figure can exceed 100 %. A large matmul is the fastest thing oneDNN does
on this CPU, so what a network reaches is printed as a share of what a matmul reaches here and now,
under the same load. The bfloat16 figure says what bfloat16 can gain on this machine: on a CPU without
AVX512_BF16 or AMX oneDNN emulates it, and it is slower than float32.

Wall time over all the cores this process may use; the median of ``repeats`` timed products after
``warmup`` untimed ones.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

DTYPES = ("float32", "bfloat16")


def matmul_gflops(n: int, seconds: float) -> float:
    """GFLOP/s of one n x n by n x n product that took ``seconds``: 2 n^3 flops (a multiply and an add each)."""
    return 2.0 * n**3 / seconds / 1e9


def matmul_seconds(dtype: str, n: int, warmup: int, repeats: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median wall seconds of one n x n ``dtype`` matmul with TensorFlow."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((n, n), seed=(1, 2), minval=-1, maxval=1), dtype)
    b = tf.cast(tf.random.stateless_uniform((n, n), seed=(3, 4), minval=-1, maxval=1), dtype)

    def product() -> None:
        c = tf.linalg.matmul(a, b)
        c[0, 0].numpy()  # wait for it

    for _ in range(warmup):
        product()
    seconds = []
    for _ in range(repeats):
        started = clock()
        product()
        seconds.append(clock() - started)
    return statistics.median(seconds)


@dataclass(frozen=True)
class Peaks:
    """Measured GFLOP/s of a float32 and a bfloat16 n x n matmul, and whether bfloat16 is native here."""

    gflops: dict[str, float]
    n: int
    bf16_native: bool
    bf16_why: str

    def share(self, flops_per_second: float, dtype: str = "float32") -> float:
        """``flops_per_second`` as a share of the measured ``dtype`` peak."""
        return flops_per_second / (self.gflops[dtype] * 1e9)

    def describe(self) -> str:
        f32, bf16 = self.gflops["float32"], self.gflops["bfloat16"]
        kind = "native" if self.bf16_native else "emulated"
        return (
            f"measured peak ({self.n}x{self.n} matmul, TensorFlow): float32 {f32:.0f} GFLOP/s, "
            f"bfloat16 {bf16:.0f} GFLOP/s ({bf16 / f32:.2f}x float32; bfloat16 {kind}: {self.bf16_why})"
        )


def measure_peaks(n: int = 2048, warmup: int = 2, repeats: int = 3) -> Peaks:
    """Time both matmuls now (a few seconds at n=2048 on 2 cores; longer where bfloat16 is emulated)."""
    from fashiongan.devices import bfloat16_native

    native, why = bfloat16_native()
    gflops = {dtype: matmul_gflops(n, matmul_seconds(dtype, n, warmup, repeats)) for dtype in DTYPES}
    return Peaks(gflops, n, native, why)
