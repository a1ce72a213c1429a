"""Running one objective call safely: crashes and non-finite values become failed outcomes with a reason.

Whatever the backend, a trial's objective runs through :func:`run_objective`, which also frees
the trial's TensorFlow graphs afterwards so a worker's memory stays flat across trials.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_json
from fashiongan.paths import OUTCOME_NAME
from fashiongan.search.types import Objective, TrialContext, TrialOutcome


def _one_line(exc: BaseException) -> str:
    """The exception as one line of at most 300 characters, for trials.csv and the run's tags."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]


def _clear_keras() -> None:
    """Free the previous trial's graphs so one process's memory stays flat across trials.

    ``clear_session`` ends with a full ``gc.collect()`` itself; a second one costs as much again
    (about a second in a process holding TensorFlow and MLflow) and frees nothing more.
    """
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=True)


def _gradient_registry() -> dict[str, Any] | None:
    """TensorFlow's global table of gradient functions, if TensorFlow is loaded (private API)."""
    ops = sys.modules.get("tensorflow.python.framework.ops")
    table = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return table if isinstance(table, dict) else None


@contextlib.contextmanager
def _releasing_graphs() -> Iterator[None]:
    """Let a trial's TensorFlow graphs be freed when it ends, so trials in one process stay flat.

    ``clear_session`` alone leaks the whole training graph of every trial (~30 MiB each with the
    compact preset): in a traced function ``tf.custom_gradient`` (which the optimizer's gradient
    all-reduce uses) registers its gradient closure in TensorFlow's global registry and never
    removes it, and the closure holds the graph (tensorflow/tensorflow#97697). Those entries are
    only read while tracing, so the ones a trial added are dropped with the trial's graphs.
    """
    before = set(_gradient_registry() or ())
    try:
        yield
    finally:
        table = _gradient_registry()
        for name in [n for n in (table or ()) if n not in before and n.startswith("CustomGradient-")]:
            del table[name]
        _clear_keras()


class TrialTimeout(BaseException):
    """Raised inside a trial that ran past ``search.trial_timeout_s``; a BaseException so the objective cannot swallow it."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeout` in this thread once ``seconds`` have passed.

    The exception arrives at the thread's next Python instruction (CPython's asynchronous
    exceptions), so a trial stuck in a Python loop or between TensorFlow steps stops; one stuck
    inside a single native call stops when it returns, and meanwhile its heartbeat has stopped
    (:class:`fashiongan.search.claiming.Heartbeat`) so other workers see it stale.
    """
    if seconds is None:
        yield
        return
    target, guard, state = threading.get_ident(), threading.Lock(), {"done": False}

    def expire() -> None:
        with guard:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(TrialTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with guard:
            state["done"] = True
        timer.cancel()


def run_objective(objective: Objective, ctx: TrialContext) -> TrialOutcome:
    """Call the objective and turn crashes, time-outs and non-finite values into failed outcomes with a reason."""
    _clear_keras()
    started = time.perf_counter()
    limit = ctx.params.search.trial_timeout_s
    try:
        with deadline(limit), _releasing_graphs():
            outcome = objective(ctx)
    except TrialTimeout:  # counted, not retried: it would run out of time again
        outcome = TrialOutcome(None, 0, time.perf_counter() - started, "failed",
                               f"timed out: ran past search.trial_timeout_s={limit} s")  # fmt: skip
    except FashionGanError:
        raise
    except Exception as exc:  # noqa: BLE001 - one broken trial must not end the sweep
        outcome = TrialOutcome(None, 0, time.perf_counter() - started, "failed", _one_line(exc))
    if ctx.pruned_at and outcome.state in ("complete", "pruned"):
        outcome.state = "pruned"
        outcome.reason = outcome.reason or f"pruned by the {ctx.params.search.pruner} pruner at epoch {ctx.pruned_at[-1]}"
    if outcome.state == "complete" and (outcome.value is None or not math.isfinite(outcome.value)):
        outcome.state, outcome.reason = "failed", outcome.reason or f"non-finite {ctx.params.search.metric}: {outcome.value}"
    if outcome.state != "complete":
        outcome.value = outcome.value if outcome.value is not None and math.isfinite(outcome.value) else None
    write_json(ctx.out_dir / OUTCOME_NAME, asdict(outcome))
    return outcome
