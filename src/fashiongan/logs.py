"""How loud the libraries are: quiet by default, everything back with ``--verbose`` or ``FASHIONGAN_VERBOSE=1``.

TensorFlow's C++ runtime writes its start-up banner (absl's "All log messages before
absl::InitializeLog()", the cpu_feature_guard and oneDNN lines) and grappler's non-fatal
``E0000 ... remapper failed`` lines straight to stderr, where users read the stages' results.
The C++ log level is read once, when TensorFlow loads, so :func:`quiet_libraries` runs from the
package's ``__init__`` before anything imports TensorFlow; a value the user set is kept.

That level does not reach what absl logs before ``absl::InitializeLog()`` (abseil/abseil-cpp#1957):
on CPUs where TensorFlow turns its oneDNN operations on (AVX-512 ones, e.g. AMD EPYC), every
``import tensorflow`` prints the oneDNN notice and absl's warning twice, whatever the level. So the
first import runs inside :func:`startup_noise_held`, which holds what native code writes to stderr
and writes back every line except those notices.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

VERBOSE_ENV = "FASHIONGAN_VERBOSE"
# 3 = FATAL only: grappler reports its optimiser failures at ERROR level although the graph then
# runs unoptimised but correct (a TensorFlow issue, tensorflow/tensorflow#61687 and #98985).
QUIET_TF_LEVEL = "3"
NOISY_LOGGERS = ("absl", "tensorflow", "h5py")
# TensorFlow's start-up notices that ignore TF_CPP_MIN_LOG_LEVEL (module docstring); nothing else is held back.
STARTUP_NOTICES = ("All log messages before absl::InitializeLog() is called", "] oneDNN custom operations are on.")


def verbose() -> bool:
    """True when the user asked for the libraries' full output."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def quiet_libraries() -> None:
    """Silence TensorFlow's C++ log and absl's Python warnings unless verbose; idempotent."""
    if verbose():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LEVEL)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def set_verbose() -> None:
    """Bring every library's output back, in this process and the ones it starts (call before TensorFlow loads)."""
    os.environ[VERBOSE_ENV] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


@contextlib.contextmanager
def startup_noise_held() -> Iterator[None]:
    """Hold stderr (the file descriptor, so native writes too) during the block; write it back without :data:`STARTUP_NOTICES`."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines(keepends=True)
                    if not any(notice in line for notice in STARTUP_NOTICES)]  # fmt: skip
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
