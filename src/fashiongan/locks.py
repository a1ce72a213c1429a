"""Inter-process locks on files: wait for the holder, or fail naming it (pid and command).

``flock`` locks are released by the kernel when the holder dies, so a killed process never leaves
a lock behind; the file keeps the last holder's pid and command only for the message.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class Held(Exception):
    """The lock is taken; ``holder`` says by whom (``pid 123: fashiongan train``)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path, self.holder = path, holder


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    return fh.read().strip() or "another process"


@contextmanager
def file_lock(path: str | Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block; ``wait=False`` raises :class:`Held` if taken."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Held(path, _holder(fh)) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
