"""One error type for everything a user can fix, and the wrapper that turns it into one line."""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USER_ERROR = 2
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class FashionGanError(Exception):
    """A problem the user can fix; ``str(err)`` is one line naming the problem and the fix."""


def exit_on_error(func: Callable[P, R]) -> Callable[P, R]:
    """Print ``error: <one line>`` and exit non-zero instead of a traceback for user errors."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
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
