"""The idx file format of (Fashion-)MNIST: decode one file, checking magic number, dimensions and length.

A gzipped or plain idx file becomes a uint8 array (N×28×28 images or N labels in 0..9); any damage
(bad gzip, wrong magic, wrong image size, a length that disagrees with the header) is a
:class:`~fashiongan.errors.FashionGanError` that says to fetch the file again.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from fashiongan.errors import FashionGanError

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049


def read_idx(path: Path) -> np.ndarray:
    """Decode an idx file (gzipped or not), checking magic number, dimensions and length."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise FashionGanError(f"{path}: corrupt or truncated gzip ({exc}); delete it and fetch again") from None
    if len(raw) < 8:
        raise FashionGanError(f"{path}: too short for an idx header; delete it and fetch again")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise FashionGanError(f"{path}: truncated idx image header; delete it and fetch again")
        rows, cols = struct.unpack(">II", raw[8:16])
        if (rows, cols) != (28, 28):
            raise FashionGanError(f"{path}: images are {rows}x{cols}, Fashion-MNIST needs 28x28; wrong file?")
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise FashionGanError(
            f"{path}: bad idx magic number {magic:#010x} (expected {IMAGE_MAGIC:#010x} images or "
            f"{LABEL_MAGIC:#010x} labels); not a Fashion-MNIST idx file"
        )
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise FashionGanError(
            f"{path}: idx header says {count} items ({expected} bytes) but the file holds "
            f"{len(raw) - offset} bytes; the file is truncated or padded, fetch it again"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    if magic == LABEL_MAGIC and data.size and data.max() > 9:
        raise FashionGanError(f"{path}: label {int(data.max())} outside 0..9; not Fashion-MNIST labels")
    return data
