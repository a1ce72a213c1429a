"""Batched inference: padded fixed-shape batches give the model's own outputs, and the cache lets models go."""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest

from fashiongan.inference import predict_batches


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


@pytest.mark.parametrize("xla", [False, True])
def test_padded_batches_give_the_models_outputs_row_for_row(xla: bool) -> None:
    model = _model()
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    expected = np.asarray(model(x))
    np.testing.assert_allclose(predict_batches(model, x, batch_size=3, xla=xla), expected, rtol=1e-6)  # 3 + 3 + 1 padded
    np.testing.assert_allclose(predict_batches(model, x[:2], batch_size=50, xla=xla), expected[:2], rtol=1e-6)
    with pytest.raises(ValueError, match="at least one input"):
        predict_batches(model, x[:0], batch_size=3)


def test_a_model_with_two_outputs_gives_both_in_order() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4)(inputs)
    model = keras.Model(inputs, [hidden, keras.layers.Dense(2)(hidden)])
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    first, second = predict_batches(model, x, batch_size=2)
    expected = [np.asarray(y) for y in model(x)]
    np.testing.assert_allclose(first, expected[0], rtol=1e-6)
    np.testing.assert_allclose(second, expected[1], rtol=1e-6)


def test_the_cached_call_does_not_keep_a_model_alive() -> None:
    model = _model()
    predict_batches(model, np.zeros((2, 3), np.float32), batch_size=2)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


@pytest.mark.parametrize("faster", [True, False])
def test_generation_takes_xla_for_large_sets_only_where_it_is_the_faster_path(monkeypatch: pytest.MonkeyPatch, faster: bool) -> None:
    """With TensorFlow's oneDNN kernels the traced graph generated 1.5-1.75x faster than XLA (AMD EPYC)."""
    from fashiongan import images, inference, keras_backend

    calls = []
    monkeypatch.setattr(keras_backend, "xla_is_faster", lambda: faster)
    monkeypatch.setattr(inference, "predict_batches", lambda model, z, batch_size, xla: calls.append(xla) or np.zeros((len(z), 28, 28, 1)))
    generator = keras.Model(inp := keras.Input((4,)), keras.layers.Reshape((2, 2, 1))(inp))
    images.generate_images(generator, images.XLA_FROM_SAMPLES, seed=0)
    images.generate_images(generator, images.XLA_FROM_SAMPLES - 1, seed=0)
    assert calls == [faster, False]
