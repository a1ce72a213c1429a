"""One error type for everything a user can fix, and the wrapper that turns it (and a signal) into one line.

SIGTERM (what ``kill``, CI systems and schedulers send) is raised as :class:`Terminated`, a
``KeyboardInterrupt`` like Ctrl-C, so ``finally`` blocks run: MLflow runs end KILLED and temporary
files are removed, as on Ctrl-C.
"""

from __future__ import annotations

import errno
import functools
import signal
import sys
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USER_ERROR = 2
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class FashionGanError(Exception):
    """A problem the user can fix; ``str(err)`` is one line naming the problem and the fix."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so cleanup runs as on Ctrl-C."""


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def raise_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in this process (only the main thread can install a handler)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_on_error(func: Callable[P, R]) -> Callable[P, R]:
    """Print ``error: <one line>`` and exit non-zero instead of a traceback for user errors and signals.

    Exit 2 for a user error, 128 + the signal's number for SIGINT (130) and SIGTERM (143).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        raise_on_sigterm()
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt as exc:
            name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
            print(f"error: stopped by {name}: runs ended KILLED and temporary files removed; re-run to resume",
                  file=sys.stderr)
            raise SystemExit(128 + (signal.SIGTERM if name == "SIGTERM" else signal.SIGINT)) from None
        except FashionGanError as exc:
            message = " ".join(str(exc).split())
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except Exception as exc:
            full = _no_space(exc)
            if full is None:
                raise
            where = f" writing {full.filename}" if full.filename else ""
            print(
                f"error: {full.strerror}{where}: free disk space (or raise the file-size limit) and re-run; "
                "outputs are written to temporary files first, so finished files and checkpoints are intact",
                file=sys.stderr,
            )
            raise SystemExit(EXIT_USER_ERROR) from None

    return wrapper


def _no_space(exc: BaseException) -> OSError | None:
    """The disk-full (or file-too-large) OSError behind ``exc``, following its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in NO_SPACE_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None
