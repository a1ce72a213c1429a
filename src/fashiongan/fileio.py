"""Writing and reading files safely: every output goes to a temporary sibling and is renamed into place.

A reader (dvc, the registry, a parallel sweep worker) never sees half a file, and a killed or
disk-full run leaves the previous file intact. The temporary name is ``.<name>.<pid>.<token>.part``
in the same folder (so the rename is atomic); ``fetch`` removes any a killed download left behind.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashiongan.errors import NO_SPACE_ERRNOS, FashionGanError

if TYPE_CHECKING:
    import keras
    from PIL import Image

TEMP_SUFFIX = ".part"


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it onto ``path`` if the block succeeds.

    ``suffix`` is appended to the temporary name for writers that insist on one (Keras: ``.keras``).
    An OSError about the temporary file (or a full disk while writing it) is re-raised naming
    ``path``, the file the user knows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}{TEMP_SUFFIX}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename == str(tmp) or (exc.filename is None and exc.errno in NO_SPACE_ERRNOS):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)  # left only when the write failed (disk full, killed writer, ...)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, data: Any, *, sort_keys: bool = False, default: Any = None) -> Path:
    """Write ``data`` as indented JSON with a final newline, atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys, default=default) + "\n")


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a header line and one line per row, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(path)


def write_image(path: str | Path, picture: Image.Image) -> Path:
    """Write a Pillow image atomically, in the format its suffix names (PNG when it names none)."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        picture.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


def write_npz(path: str | Path, **arrays: Any) -> Path:
    """Write numpy arrays into one uncompressed ``.npz`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def copy(src: str | Path, dst: str | Path) -> Path:
    """Copy a file's bytes to ``dst`` atomically."""
    with atomic_path(dst) as tmp, open(src, "rb") as source, open(tmp, "wb") as out:
        shutil.copyfileobj(source, out)
    return Path(dst)


def read_json(path: str | Path, hint: str) -> dict[str, Any]:
    """A JSON object from ``path``; missing, invalid or non-object files are one-line errors ending in ``hint``."""
    try:
        data = json.loads(Path(path).read_text())
    except (FileNotFoundError, IsADirectoryError):
        raise FashionGanError(f"{path} not found: {hint}") from None
    except json.JSONDecodeError as exc:
        raise FashionGanError(f"{path} is not valid json (line {exc.lineno}): {hint}") from None
    if not isinstance(data, dict):
        raise FashionGanError(f"{path} must hold a json object: {hint}")
    return data


def save_keras(model: keras.Model, path: str | Path) -> Path:
    """Save a Keras model atomically (the temporary name keeps the ``.keras`` suffix Keras requires)."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


def load_keras(path: str | Path, what: str, remedy: str, *, shown: str | None = None) -> keras.Model:
    """Load a ``.keras`` file in safe mode; missing, refused or damaged files become one-line errors.

    Safe mode never runs code stored in a file (a ``Lambda`` layer). Keras is imported here, not
    at the top, so the data stages never pay for TensorFlow. ``shown`` names the file in messages
    when ``path`` is a temporary copy (a model downloaded from MLflow).
    """
    import keras

    path = Path(path)
    name = shown or str(path)
    if not path.is_file():
        raise FashionGanError(f"{what} {name} not found: {remedy}")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # a damaged zip or config raises many types
        if "safe_mode" in str(exc):
            raise FashionGanError(
                f"{what} {name} refused: it carries Python code (a Lambda layer), which safe mode never runs; {remedy}"
            ) from None
        reason = " ".join(str(exc).split())[:120]
        raise FashionGanError(
            f"{what} {name} cannot be loaded ({type(exc).__name__}: {reason}): the file is corrupt or incompatible; {remedy}"
        ) from None
