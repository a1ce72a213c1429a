"""How loud the libraries are: quiet by default, everything back with ``--verbose`` or ``FASHIONGAN_VERBOSE=1``.

TensorFlow's C++ runtime writes its start-up banner (absl's "All log messages before
absl::InitializeLog()", the cpu_feature_guard and oneDNN lines) and grappler's non-fatal
``E0000 ... remapper failed`` lines straight to stderr, where users read the stages' results.
The C++ log level is read once, when TensorFlow loads, so :func:`quiet_libraries` runs from the
package's ``__init__`` before anything imports TensorFlow; a value the user set is kept.
"""

from __future__ import annotations

import logging
import os

VERBOSE_ENV = "FASHIONGAN_VERBOSE"
# 3 = FATAL only: grappler reports its optimiser failures at ERROR level although the graph then
# runs unoptimised but correct (a TensorFlow issue, tensorflow/tensorflow#61687 and #98985).
QUIET_TF_LEVEL = "3"
NOISY_LOGGERS = ("absl", "tensorflow", "h5py")


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
