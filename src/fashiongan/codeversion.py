"""The code's identity: one digest of the package's source files, joined to every result's key.

A sweep's study name and a checkpoint's fingerprint hash the params and the input data; without
the code they would hand back results of a model that no longer exists after an edit of
``models.py``. Hashing the sources (not the git commit) also covers uncommitted edits and
installs without git.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def code_digest(package: Path = PACKAGE_DIR) -> str:
    """A short sha256 of every ``*.py`` under ``package``: relative path and bytes, in path order."""
    sha = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        sha.update(path.relative_to(package).as_posix().encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]
