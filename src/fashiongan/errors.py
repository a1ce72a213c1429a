"""One error type for everything a user can fix, and the wrapper that turns it into one line."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USER_ERROR = 2


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

    return wrapper
