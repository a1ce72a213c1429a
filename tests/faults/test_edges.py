"""Faults at the edges of the MLOps promises: damaged checkpoints, racing promotions, two trainers in
one workspace, a busy SQLite store, signals. Each case counts in the suite's table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashiongan.checkpoints import CheckpointState, load_checkpoint, save_checkpoint
from fashiongan.errors import FashionGanError
from fashiongan.params_file import parse_params
from fashiongan.paths import CHECKPOINT_NAME

from .conftest import Tally

pytestmark = pytest.mark.faults


def tiny_gan(width: int = 8):
    from fashiongan.training import build_gan

    params = parse_params({"model": {"preset": "compact", "first_layer_width": width, "latent_dim": 16},
                           "train": {"hparams": "params", "batch_size": 8, "jit_compile": False}})
    return build_gan(params)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def _bad_meta(path: Path) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["meta"] = np.array(json.dumps({"epoch": 1, "fingerprint": "fp", "unexpected": 1}))
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def _shape_changed(path: Path) -> None:
    save_checkpoint(tiny_gan(width=12), CheckpointState(epoch=1, fingerprint="fp"), path.parent)


@pytest.mark.parametrize("damage", [_truncate, _bad_meta, _shape_changed], ids=["truncated", "bad-meta", "shape-changed"])
def test_an_unusable_checkpoint_is_one_line_and_moved_aside(damage, tmp_path: Path, tally: Tally) -> None:
    recovered = False
    try:
        gan = tiny_gan()
        save_checkpoint(gan, CheckpointState(epoch=1, fingerprint="fp"), tmp_path)
        before = [v.numpy().copy() for v in gan.generator.weights]
        damage(tmp_path / CHECKPOINT_NAME)
        with pytest.raises(FashionGanError) as err:
            load_checkpoint(gan, tmp_path, "fp")
        message = str(err.value)
        assert "\n" not in message and str(tmp_path / CHECKPOINT_NAME) in message and "re-run" in message, message
        assert not (tmp_path / CHECKPOINT_NAME).exists()
        aside = list(tmp_path.glob(f"{CHECKPOINT_NAME}.unusable-*"))
        assert len(aside) == 1 and aside[0].name in message
        for kept, now in zip(before, gan.generator.weights, strict=True):  # nothing half-restored
            np.testing.assert_array_equal(kept, now.numpy())
        assert load_checkpoint(gan, tmp_path, "fp") is None  # the re-run starts from epoch 0
        recovered = True
    finally:
        tally.fault(recovered)


RACES = 20


@pytest.mark.slow
def test_racing_promotions_always_crown_the_better_model(local_store: Path, tmp_path: Path, tally: Tally) -> None:
    """Two processes promote a better (FID 10) and a worse (FID 20) run at the same moment, RACES times."""
    import os
    import subprocess
    import sys

    import keras
    from mlflow import MlflowClient

    import fashiongan
    from fashiongan import tracking

    from .conftest import running_runs

    uri = f"sqlite:///{local_store}"
    params = parse_params({"tracking": {"uri": uri, "experiment": "race"}})
    run_ids = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        generator = keras.Sequential([keras.Input((8,)), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
        with tracking.new_run(params, f"candidate-{seed}") as run:
            tracking.log_training_outputs(generator, None, [])
        run_ids.append(run.run_id)
    better, worse = run_ids
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    src = str(Path(fashiongan.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    script = Path(__file__).with_name("race_promote.py")
    sides = [
        subprocess.Popen([sys.executable, str(script), uri, run_id, fid, str(RACES), str(barrier), side], env=env,
                         stderr=subprocess.PIPE, text=True)
        for run_id, fid, side in ((better, "10", "better"), (worse, "20", "worse"))
    ]
    errors = [side.communicate(timeout=600)[1] for side in sides]
    assert [side.returncode for side in sides] == [0, 0], errors
    client = MlflowClient(uri)
    champions = [client.get_model_version_by_alias(f"race-{i}", "champion").run_id for i in range(RACES)]
    counts = [len(client.search_model_versions(f"name = 'race-{i}'")) for i in range(RACES)]
    for champion in champions:
        tally.race(won_by_better=champion == better)
    tally.lost(running_runs=running_runs(uri))
    assert champions == [better] * RACES and counts == [2] * RACES


def test_a_second_trainer_in_the_workspace_is_one_line_naming_the_first(tmp_path: Path, tally: Tally) -> None:
    import os
    import subprocess
    import sys

    import fashiongan
    from fashiongan.paths import CHECKPOINT_DIR, RUN_MARKER_NAME, TRAIN_LOCK
    from fashiongan.stages.train import train_stage

    handled = False
    try:
        src = str(Path(fashiongan.__file__).resolve().parents[1])
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from fashiongan.locks import file_lock\n"
             "with file_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)", str(tmp_path / TRAIN_LOCK)],
            env=dict(os.environ, PYTHONPATH=src), stdout=subprocess.PIPE, text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            (tmp_path / CHECKPOINT_DIR).mkdir()
            (tmp_path / CHECKPOINT_DIR / RUN_MARKER_NAME).write_text('{"run_id": "live"}')
            with pytest.raises(FashionGanError) as err:
                train_stage(parse_params({"train": {"hparams": "params"}}), root=tmp_path)
        finally:
            holder.kill()
            holder.wait()
        message = str(err.value)
        assert f"pid {holder.pid}" in message and "another trainer" in message and "\n" not in message, message
        assert (tmp_path / CHECKPOINT_DIR / RUN_MARKER_NAME).read_text() == '{"run_id": "live"}'  # untouched
        handled = True
    finally:
        tally.bad_input(handled)


HOLD_A_RUN = """
import time
from fashiongan import tracking
from fashiongan.errors import exit_on_error
from fashiongan.fileio import atomic_path
from fashiongan.params_file import parse_params

@exit_on_error
def main():
    with tracking.new_run(parse_params({"tracking": {"experiment": "signals"}}), "held") as run:
        with atomic_path("outputs/result.bin") as tmp:
            tmp.write_bytes(b"half")
            print(run.run_id, flush=True)
            time.sleep(300)

main()
"""


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_run_killed_and_removes_temporaries(signum: str, tmp_path: Path, tally: Tally) -> None:
    import os
    import signal
    import subprocess
    import sys

    from mlflow import MlflowClient

    import fashiongan

    from .conftest import local_store, stray_temp_files

    recovered = False
    try:
        src = str(Path(fashiongan.__file__).resolve().parents[1])
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")} | {"PYTHONPATH": src}
        # A job started with `&` by a non-interactive shell inherits SIGINT ignored (POSIX); the child must get Ctrl-C
        # as a terminal would give it, whatever the shell that started the test run did.
        proc = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            run_id = proc.stdout.readline().strip()
            assert run_id, proc.stderr.read()[-2000:]
            proc.send_signal(getattr(signal, signum))
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 128 + getattr(signal, signum), err[-2000:]
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert errors == [f"error: stopped by {signum}: runs ended KILLED and temporary files removed; re-run to resume"]
        assert MlflowClient(local_store(tmp_path)).get_run(run_id).info.status == "KILLED"
        assert stray_temp_files(tmp_path) == [] and not (tmp_path / "outputs" / "result.bin").exists()
        recovered = True
    finally:
        tally.fault(recovered)


@pytest.mark.slow
def test_sigterm_to_a_sweep_stops_its_workers_and_ends_every_run(tmp_path: Path, tally: Tally) -> None:
    import os
    import signal
    import time

    import fashiongan

    from .conftest import TESTS, local_store, popen, running_runs, wait_for, write_params
    from .sweep_helpers import progress

    recovered = False
    try:
        write_params(tmp_path, search={"n_trials": 4, "epochs": 200, "heartbeat_s": 1, "pruner": "none"})
        src = str(Path(fashiongan.__file__).resolve().parents[1])
        command = [sys_executable(), "-c", "from faults.sweep_helpers import main; main()", "--workers", "2"]
        proc = popen(command, tmp_path, env={"PYTHONPATH": os.pathsep.join([str(TESTS), src])}, log=tmp_path / "sweep.log")
        wait_for(lambda: len({pid for _, _, pid in progress(tmp_path)}) == 2, "both workers training", proc, limit_s=600)
        workers = {pid for _, _, pid in progress(tmp_path)}
        os.kill(proc.pid, signal.SIGTERM)  # the parent only, as `kill <pid>` or a scheduler would
        proc.wait(timeout=300)  # a safety limit: the workers get 30 s to end their runs
        log = (tmp_path / "sweep.log").read_text()
        assert proc.returncode == 128 + signal.SIGTERM, log[-2000:]
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), f"workers {workers} outlived their parent"
        left = running_runs(local_store(tmp_path))
        tally.lost(running_runs=left)
        assert left == 0
        recovered = True
    finally:
        tally.fault(recovered)


def sys_executable() -> str:
    import sys

    return sys.executable


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it only waits to be reaped
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_an_exported_savedmodel_is_refused_not_loaded_outside_safe_mode(local_store: Path, tally: Tally) -> None:
    import keras
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    from fashiongan import tracking

    handled = False
    try:
        params = parse_params({"tracking": {"experiment": "exported"}})
        generator = keras.Sequential([keras.Input((8,)), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
        z = np.zeros((2, 8), "float32")
        tracking.activate(params)
        with tracking.new_run(params, "exported") as run:
            # pip_requirements given: mlflow would otherwise infer them in a subprocess that imports TensorFlow (~15 s)
            info = mlflow.keras.log_model(generator, name="generator", save_exported_model=True, pip_requirements=["keras"],
                                          signature=infer_signature(z, generator.predict(z, verbose=0)))
            plain = mlflow.keras.log_model(generator, name="plain", pip_requirements=["keras"])
        with pytest.raises(FashionGanError) as err:
            tracking.load_generator(info.model_uri)
        assert str(err.value).startswith(f"model {info.model_uri} refused: it is a TensorFlow SavedModel export"), err.value
        assert tracking.load_generator(plain.model_uri).output_shape == (None, 28, 28, 1)
        assert tracking.load_generator(f"runs:/{run.run_id}/plain").output_shape == (None, 28, 28, 1)
        handled = True
    finally:
        tally.bad_input(handled)
