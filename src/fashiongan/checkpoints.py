"""Resumable training state in one ``.npz`` file, written atomically (temp file, then rename).

A checkpoint holds every variable of both networks (BatchNorm statistics and Dropout seeds included), the
averaged generator's when the GAN keeps one, both
optimizers' variables (iteration counters and Adam moments), the noise generator's state,
the epochs done, the history so far, the stop reason (if a detector ended the run) and the
fingerprint of what determines the training trajectory (params, data and the code's digest).
A damaged checkpoint is moved aside with a one-line error. A checkpoint whose fingerprint differs from the current run's belongs to other params, data or
code and is ignored with a one-line warning naming which (the run starts fresh and overwrites
it), so a ``dvc repro`` after a params or code change just works.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan.codeversion import code_digest
from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_npz
from fashiongan.paths import CHECKPOINT_NAME

_GROUPS = ("generator", "ema_generator", "discriminator", "g_optimizer", "d_optimizer", "seed")


@dataclass
class CheckpointState:
    """What a checkpoint restores besides the variables."""

    epoch: int
    fingerprint: str
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    code: str = field(default_factory=code_digest)  # the package's digest when the checkpoint was written


def fingerprint(trajectory: dict[str, Any], x: np.ndarray) -> str:
    """Hash of the values that shape training (architecture, optimiser, seed, batch) and of the data."""
    digest = hashlib.sha256(json.dumps(trajectory, sort_keys=True).encode())
    digest.update(str(x.shape).encode())
    digest.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def _variables(gan) -> dict[str, list]:
    """Every variable a resumed run needs; ``variables``, not ``weights``: they also hold the Dropout
    layers' seed states, without which a resumed run draws other dropout masks than a straight one."""
    return {
        "generator": gan.generator.variables,
        "ema_generator": gan.ema_generator.variables if gan.ema_generator is not None else [],
        "discriminator": gan.discriminator.variables,
        "g_optimizer": gan.g_optimizer.variables,
        "d_optimizer": gan.d_optimizer.variables,
        "seed": [gan.seed_generator.state],
    }


def save_checkpoint(gan, state: CheckpointState, directory: Path) -> Path:
    """Write ``directory/last.npz`` atomically; ``gan`` must have built optimizers."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(state.__dict__))}
    for group, variables in _variables(gan).items():
        for i, var in enumerate(variables):
            arrays[f"{group}/{i:04d}"] = np.asarray(var.numpy())
    return write_npz(Path(directory) / CHECKPOINT_NAME, **arrays)


def load_checkpoint(gan, directory: Path, expected_fingerprint: str) -> CheckpointState | None:
    """Restore ``gan`` from ``directory/last.npz``; None (and a warning) if written for another run.

    A damaged checkpoint, or one whose variables no longer fit the model, is moved aside (DVC's
    ``persist: true`` would otherwise hand it to every re-run) and raised as one line.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        return _restore(gan, path, expected_fingerprint)
    except Exception as exc:  # a truncated zip, bad json, a missing key, a variable of another shape
        aside = path.with_name(f"{path.name}.unusable-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(path, aside)
        reason = " ".join(str(exc).split())[:120]
        raise FashionGanError(
            f"checkpoint {path} cannot be restored ({type(exc).__name__}: {reason}): moved it to {aside.name}; "
            "re-run to train from epoch 0"
        ) from None


def _restore(gan, path: Path, expected_fingerprint: str) -> CheckpointState | None:
    """:func:`load_checkpoint` once the file exists; any damage raises."""
    with np.load(path, allow_pickle=False) as data:
        state = CheckpointState(**json.loads(str(data["meta"])))
        if state.fingerprint != expected_fingerprint:
            code = code_digest()
            other = f"by other code (digest {state.code} != {code})" if state.code != code else "for other params or data"
            warnings.warn(
                f"ignoring checkpoint {path}: it was written {other} "
                f"({state.fingerprint} != {expected_fingerprint}); training starts from epoch 0",
                stacklevel=3,
            )
            return None
        stored = {g: sorted(k for k in data.files if k.startswith(f"{g}/")) for g in _GROUPS}
        variables = _variables(gan)
        for group in _GROUPS:
            if len(stored[group]) != len(variables[group]):
                warnings.warn(f"ignoring checkpoint {path}: {group} variables do not match", stacklevel=3)
                return None
        pairs = [(key, var) for g in _GROUPS for key, var in zip(stored[g], variables[g], strict=True)]
        for key, var in pairs:  # check every shape before assigning any, so nothing is half-restored
            if data[key].shape != tuple(var.shape):
                raise ValueError(f"{key} has shape {data[key].shape}, the model's variable {tuple(var.shape)}")
        for key, var in pairs:
            var.assign(data[key])
    return state
