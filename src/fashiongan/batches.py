"""The training data stream: seeded shuffled passes over the images, cut into epochs of fixed steps.

Pass p over the data is a shuffle seeded by ``(seed, p)``; the stream is the passes one after
another, cut into epochs of ``steps_per_epoch`` batches (None: one pass, i.e.
``len(x) // batch_size``). So a run resumed at epoch k sees exactly the batches an
uninterrupted run would have seen, and an epoch costs the same on 2,000 or 60,000 images when
``steps_per_epoch`` is set. The last partial batch of each pass is dropped (fixed shapes for XLA).

:func:`make_dataset` builds that one stream two ways: ``tf.data`` on TensorFlow (stateless TF
shuffle, parallel gather, prefetch; TensorFlow is imported only there) and a numpy generator on
every other backend (``numpy.random.default_rng((seed, p))``).
The two draw different permutations from the same seed, so a run's batches depend on the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def make_dataset(
    x: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int = 0,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    backend: str = "tensorflow",
) -> Any:
    """Batches of ``x`` for epochs ``first_epoch`` .. ``epochs - 1``: ``tf.data`` on TensorFlow, numpy elsewhere."""
    n = len(x)
    if n < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} images, got {n}")
    per_pass = n // batch_size
    per_epoch = steps_per_epoch or per_pass
    stream = _tf_stream if backend == "tensorflow" else _numpy_stream
    return stream(np.asarray(x, dtype=np.float32), batch_size, seed, per_pass, first_epoch * per_epoch, epochs * per_epoch)


def _tf_stream(x: np.ndarray, batch_size: int, seed: int, per_pass: int, first_step: int, last_step: int) -> Any:
    """Steps ``first_step`` .. ``last_step - 1`` as a ``tf.data.Dataset``; the images sit in memory once, only indices are shuffled."""
    import tensorflow as tf

    n = len(x)
    first_pass, last_pass = first_step // per_pass, -(-last_step // per_pass)
    images = tf.constant(x)

    def one_pass(p):
        key = tf.stack([tf.constant(seed, tf.int64), p])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    batches = tf.data.Dataset.range(first_pass, last_pass).flat_map(one_pass)
    batches = batches.skip(first_step - first_pass * per_pass).take(last_step - first_step)
    ds = batches.map(lambda idx: tf.gather(images, idx), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _numpy_stream(
    x: np.ndarray, batch_size: int, seed: int, per_pass: int, first_step: int, last_step: int
) -> Iterator[tuple[np.ndarray]]:
    """The same steps as numpy batches (1-tuples, as Keras wants from a generator), without TensorFlow."""
    for step in range(first_step, last_step):
        p, i = divmod(step, per_pass)
        if i == 0 or step == first_step:
            order = np.random.default_rng((seed, p)).permutation(len(x))
        yield (x[order[i * batch_size : (i + 1) * batch_size]],)
