"""FLOPs of one image through a Keras model, counted from its layer shapes (2 x multiply-adds).

Dense, Conv2D and Conv2DTranspose layers only: they are nearly all the work in these networks, so a
share of the measured peak computed from this count is a slight underestimate, never an overestimate.
"""

from __future__ import annotations

import keras


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one image through ``model``'s Dense, Conv2D and Conv2DTranspose layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.units
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, _ = layer.input.shape
            kh, kw, c_out, c_in = layer.kernel.shape
            total += 2 * kh * kw * c_in * c_out * h * w
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            kh, kw, c_in, c_out = layer.kernel.shape
            total += 2 * kh * kw * c_in * c_out * h * w
    return total
