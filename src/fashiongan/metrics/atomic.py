"""Write-then-rename helpers: a reader (dvc, the registry, a parallel sweep) never sees half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def temporary_sibling(path: Path) -> Path:
    """A hidden name beside ``path``: same folder, so the rename is atomic; same suffix, for Keras/numpy/Pillow."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def write_json_atomic(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` as indented JSON through a temporary file and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # left only when the write failed (disk full, ...)
    return path
