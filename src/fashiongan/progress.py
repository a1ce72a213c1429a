"""Progress bars on a terminal, plain lines elsewhere (CI logs stay readable)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def interactive() -> bool:
    """True when a person is watching a terminal."""
    return sys.stderr.isatty()


def log(message: str) -> None:
    """One status line on stderr, so stdout stays free for results."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def download_bar(name: str, total: int | None) -> Iterator[callable]:
    """Yield ``advance(n_bytes)``; draws a bar on a terminal and logs start/end otherwise."""
    if not interactive():
        log(f"downloading {name} ({total or '?'} bytes)")
        yield lambda n: None
        log(f"downloaded {name}")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(name, total=total)
        yield lambda n: bar.advance(task, n)
