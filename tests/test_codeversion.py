"""The code digest: an edit of any source file changes it, nothing else does."""

from __future__ import annotations

import shutil
from pathlib import Path

from fashiongan.codeversion import PACKAGE_DIR, code_digest


def test_the_digest_follows_the_sources_only(tmp_path: Path) -> None:
    copy = tmp_path / "fashiongan"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "sample"))
    before = code_digest(copy)
    assert before == code_digest(PACKAGE_DIR) and len(before) == 12
    (copy / "notes.txt").write_text("not code")
    assert code_digest.__wrapped__(copy) == before
    with (copy / "models.py").open("a") as fh:
        fh.write("\n# a changed model\n")
    assert code_digest.__wrapped__(copy) != before
