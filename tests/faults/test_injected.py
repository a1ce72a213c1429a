"""Faults injected into running commands: each asserts recovery and that nothing was lost.

A process is killed (SIGKILL: no handler runs) during a download, a training run, a sweep trial
and a promotion; a tracking server is killed under a training run; the disk fills while training
writes its outputs. After each fault: nothing half-written sits at a final path, and re-running the
same command finishes the work, resuming where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from fashiongan.fetch import OFFICIAL_FILES, sample_folder

from .conftest import (
    BIN,
    Tally,
    clone,
    inject,
    inside,
    kill,
    local_store,
    ok,
    one_line_error,
    popen,
    running_runs,
    store_runs,
    stray_temp_files,
    wait_for,
    write_params,
)
from .sweep_helpers import progress

pytestmark = pytest.mark.faults

SWEEP = [sys.executable, "-c", "from faults.sweep_helpers import main; main()"]


def rerun_train(project: Path) -> dict:
    """The re-run after a fault: the train stage, in this process (one TensorFlow start-up fewer)."""
    from fashiongan.params_file import load_params
    from fashiongan.stages.train import train_stage

    with inside(project):
        return train_stage(load_params(Path("params.yaml")))


def checkpoint_epoch(project: Path) -> int:
    """Epochs held by checkpoints/last.npz (0 if none); loading it proves it is whole."""
    path = project / "checkpoints" / "last.npz"
    if not path.is_file():
        return 0
    with np.load(path) as data:
        return json.loads(str(data["meta"]))["epoch"]


# ---------------------------------------------------------------------------- fetch


class _SlowFiles(BaseHTTPRequestHandler):
    """Serves the bundled sample files in 16 KiB pieces, ``server.delay`` seconds apart."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = sample_folder() / Path(self.path).name
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 1 << 14):
            self.wfile.write(body[start : start + (1 << 14)])
            self.wfile.flush()
            time.sleep(self.server.delay)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


class _Host(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # the killed client hangs up mid-file
        pass


@pytest.fixture
def slow_host() -> Iterator[_Host]:
    """A stand-in for the dataset's host on 127.0.0.1."""
    host = _Host(("127.0.0.1", 0), _SlowFiles)
    host.delay = 0.05  # type: ignore[attr-defined]
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.shutdown()
        host.server_close()


def test_fetch_killed_mid_download_leaves_no_file_at_the_final_path(slow_host: _Host, tmp_path: Path,
                                                                   tally: Tally) -> None:
    recovered = False
    try:
        url = f"http://127.0.0.1:{slow_host.server_address[1]}/"
        write_params(tmp_path, data={"source": "official", "retries": 1})
        raw = tmp_path / "data" / "raw"
        proc = popen([str(BIN / "python"), str(Path(__file__).with_name("inject.py")), f"--patch=official-url={url}",
                      "--", "fetch"], tmp_path)
        wait_for(lambda: any(p.stat().st_size > 0 for p in raw.glob(".*.part")), "a partial download", proc)
        kill(proc)
        assert list(raw.glob(".*.part")), "the download was not interrupted"
        assert not (raw / OFFICIAL_FILES[0].name).exists() and not (raw / "manifest.json").exists()

        slow_host.delay = 0.0  # type: ignore[attr-defined]
        ok(inject(["fetch"], tmp_path, [f"official-url={url}"]))
        for spec in OFFICIAL_FILES:
            got = hashlib.sha256((raw / spec.name).read_bytes()).hexdigest()
            assert got == hashlib.sha256((sample_folder() / spec.name).read_bytes()).hexdigest(), spec.name
        assert json.loads((raw / "manifest.json").read_text())["counts"] == {"train": 2000, "test": 1000}
        assert not list(raw.glob(".*.part")), "the interrupted download's temporary file was not cleaned"
        recovered = True
    finally:
        tally.fault(recovered)


# ---------------------------------------------------------------------------- train


@pytest.mark.slow
def test_train_killed_after_a_checkpoint_resumes_to_the_same_final_epoch(prepared: Path, tmp_path: Path,
                                                                         tally: Tally) -> None:
    recovered = False
    try:
        project = clone(prepared, tmp_path / "project")
        write_params(project, train={"epochs": 6})
        proc = popen([str(BIN / "fashiongan"), "train"], project, log=tmp_path / "train.log")
        wait_for(lambda: (project / "checkpoints" / "last.npz").is_file(), "the first checkpoint", proc)
        kill(proc)
        done = checkpoint_epoch(project)
        assert 1 <= done < 6, f"killed too late to test a resume ({done} epochs done)"
        assert not (project / "models" / "generator.keras").exists() and not (project / "metrics" / "train.json").exists()
        store = local_store(project)
        (orphan,) = store_runs(store)
        assert orphan.info.status == "RUNNING"  # SIGKILL gave it no chance to end

        summary = rerun_train(project)
        assert (summary["resumed_from_epoch"], summary["epochs_trained"]) == (done, 6)
        rows = (project / "plots" / "train_history.csv").read_text().splitlines()[1:]
        assert [int(r.split(",")[0]) for r in rows] == list(range(1, 7))
        runs = {r.info.run_id: r for r in store_runs(store)}
        closed = runs[orphan.info.run_id]
        assert closed.info.status == "KILLED" and closed.data.tags["fashiongan.resumed_by"] == summary["mlflow_run_id"]
        assert runs[summary["mlflow_run_id"]].info.status == "FINISHED"
        left = running_runs(store)
        tally.lost(running_runs=left)
        assert left == 0
        recovered = True
    finally:
        tally.fault(recovered)


# ---------------------------------------------------------------------------- sweep


@pytest.mark.slow
def test_sweep_worker_killed_mid_trial_finishes_the_study_once(tmp_path: Path, tally: Tally) -> None:
    import optuna
    from optuna.trial import TrialState

    from fashiongan.params_file import load_params
    from fashiongan.search.claiming import counted_trials
    from fashiongan.search.space import make_plan
    from fashiongan.search.storage import open_storage
    from fashiongan.stages.sweep import sweep_stage

    from .sweep_helpers import paced

    recovered = False
    n_trials = 4
    try:
        write_params(tmp_path, search={"n_trials": n_trials, "epochs": 4, "heartbeat_s": 1, "pruner": "none"})
        proc = popen(SWEEP, tmp_path, log=tmp_path / "sweep1.log")
        wait_for(lambda: any(t == 1 and e >= 2 for t, e, _ in progress(tmp_path)), "trial 1 midway", proc)
        kill(proc)

        plan = make_plan(load_params(tmp_path / "params.yaml"), paced, tmp_path / "sweeps")
        storage = open_storage(plan.storage_url, 1)

        def trials() -> list:
            return optuna.load_study(study_name=plan.study_name, storage=storage).get_trials()

        first = trials()[0]
        assert first.state == TrialState.COMPLETE and trials()[1].state == TrialState.RUNNING
        store = local_store(tmp_path)

        def trial_runs() -> dict[int, list]:
            found: dict[int, list] = {}
            for run in store_runs(store):
                if "sweep.trial" in run.data.tags:
                    found.setdefault(int(run.data.tags["sweep.trial"]), []).append(run)
            return found

        first_run = trial_runs()[0][0]

        with inside(tmp_path):  # the re-run, in this process
            sweep_stage(load_params(Path("params.yaml")), objective=paced)
        after = trials()
        counted = counted_trials(after)
        tally.lost(trials=n_trials - sum(t.state == TrialState.COMPLETE for t in counted))
        assert len(counted) == n_trials and all(t.state == TrialState.COMPLETE for t in counted)
        assert (after[0].datetime_complete, after[0].value) == (first.datetime_complete, first.value)
        retry = next(t for t in after if t.system_attrs.get("retry_history") == [1])
        assert retry.params == after[1].params and after[1].state == TrialState.FAIL

        runs = trial_runs()
        assert runs[0][0].info.end_time == first_run.info.end_time and len(runs[0]) == 1  # untouched
        assert all(len(runs[t.number]) == 1 and runs[t.number][0].info.status == "FINISHED" for t in counted)
        left = running_runs(store)
        tally.lost(running_runs=left)
        (killed,) = runs[1]
        assert killed.info.status == "FAILED", f"the killed trial's run is {killed.info.status}"
        assert left == 0
        recovered = True
    finally:
        tally.fault(recovered)


# ---------------------------------------------------------------------------- promotion

PROTOCOL = {"n_samples": 200, "real_stats_hash": "0123456789abcdef"}
REGISTERED = "fashion-dcgan"


def logged_generator_runs(params, count: int) -> list[str]:
    """``count`` MLflow runs, each logging a small real Keras generator (latent 16 -> 28x28x1)."""
    import keras

    from fashiongan import tracking

    ids = []
    for i in range(count):
        generator = keras.Sequential(
            [keras.Input((16,)), keras.layers.Dense(28 * 28, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
        )
        with tracking.new_run(params, f"candidate-{i}") as run:
            tracking.log_training_outputs(generator, None, [], log_model=True)
        ids.append(run.run_id)
    return ids


@pytest.mark.slow
def test_promotion_killed_midway_never_leaves_the_alias_missing(tmp_path: Path, tally: Tally) -> None:
    """Killed after registering, after moving ``previous``, after moving ``champion``: each time the
    champion is a complete version (old or new), and a re-run completes the promotion."""
    from fashiongan import registry, tracking
    from fashiongan.stages.promote import promote_stage
    from fashiongan.params_file import load_params

    write_params(tmp_path, tracking={"uri": local_store(tmp_path)})
    params = load_params(tmp_path / "params.yaml")
    kill_points = [
        "fashiongan.tracking:register_model:1",
        "mlflow.tracking.client:MlflowClient.set_registered_model_alias:1",
        "mlflow.tracking.client:MlflowClient.set_registered_model_alias:2",
    ]
    runs = logged_generator_runs(params, len(kill_points) + 1)
    registry.promote(params, runs[0], {"fid_fashion": 10.0}, PROTOCOL)
    client = tracking.client()
    for i, (point, run_id) in enumerate(zip(kill_points, runs[1:], strict=True), start=1):
        recovered = False
        try:
            (tmp_path / "metrics").mkdir(exist_ok=True)
            (tmp_path / "metrics" / "train.json").write_text(json.dumps({"mlflow_run_id": run_id}))
            better = {"fid_fashion": 10.0 - i, "protocol": PROTOCOL}  # the gate's input: this one wins
            (tmp_path / "metrics" / "evaluate.json").write_text(json.dumps(better))
            killed = inject(["promote"], tmp_path, [f"kill-after={point}"])
            assert killed.returncode == -9, killed.stderr[-2000:]
            champion = client.get_model_version_by_alias(REGISTERED, "champion")
            assert str(champion.version) in (str(i), str(i + 1)) and champion.status == "READY"
            assert tracking.load_generator(f"models:/{REGISTERED}@champion").output_shape == (None, 28, 28, 1)

            with inside(tmp_path):  # the re-run (in this process: one TensorFlow start-up fewer)
                promote_stage(params)
            decision = json.loads((tmp_path / "metrics" / "promote.json").read_text())
            assert decision["promoted"] and decision["version"] == str(i + 1), decision
            assert str(client.get_model_version_by_alias(REGISTERED, "champion").version) == str(i + 1)
            assert str(client.get_model_version_by_alias(REGISTERED, "previous").version) == str(i)
            assert client.get_model_version(REGISTERED, str(i + 1)).tags["promotion"] == "champion"
            recovered = True
        finally:
            tally.fault(recovered)
    versions = client.search_model_versions(f"name = '{REGISTERED}'")
    assert sorted(int(v.version) for v in versions) == list(range(1, len(runs) + 1))  # none registered twice
    tally.lost(running_runs=running_runs(local_store(tmp_path)))


# ---------------------------------------------------------------------------- tracking server


@pytest.mark.slow
@pytest.mark.server
def test_tracking_server_killed_mid_run_fails_in_one_line_and_the_rerun_resumes(
    prepared: Path, tmp_path: Path, mlflow_db_template: Path, tally: Tally
) -> None:
    from mlflow_server import MlflowServer

    recovered = False
    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server", mlflow_db_template)
    try:
        url = server.start()
        project = clone(prepared, tmp_path / "project")
        write_params(project, train={"epochs": 10}, tracking={"uri": url})
        # Fail fast instead of mlflow's default minutes of retries (the server is not coming back).
        quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
        proc = popen([str(BIN / "fashiongan"), "train"], project, env=quick, log=tmp_path / "train.log")
        wait_for(lambda: (project / "checkpoints" / "last.npz").is_file(), "the first checkpoint", proc)
        os.killpg(server._proc.pid, 9)  # the server dies without a goodbye
        server._proc.wait()
        proc.wait(timeout=300)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, "", (tmp_path / "train.log").read_text())
        line = one_line_error(result)
        assert f"tracking store {url} stopped answering" in line and "re-run resumes" in line, line
        done = checkpoint_epoch(project)
        assert 1 <= done < 10
        assert not (project / "models" / "generator.keras").exists() and not (project / "metrics" / "train.json").exists()

        server.start()  # same port, same database
        summary = rerun_train(project)
        assert (summary["resumed_from_epoch"], summary["epochs_trained"]) == (done, 10)
        runs = {r.info.run_id: r for r in store_runs(url)}
        assert runs[summary["mlflow_run_id"]].info.status == "FINISHED"
        (lost,) = [r for r in runs.values() if r.info.run_id != summary["mlflow_run_id"]]
        assert lost.info.status == "KILLED" and lost.data.metrics, "the first run's epochs were not kept"
        left = sum(r.info.status == "RUNNING" for r in runs.values())
        tally.lost(running_runs=left)
        assert left == 0
        recovered = True
    finally:
        server.stop()
        tally.fault(recovered)


# ---------------------------------------------------------------------------- disk full


def _mount_tmpfs(folder: Path, size: int) -> bool:
    if os.environ.get("FASHIONGAN_FAULTS_NO_MOUNT"):
        return False
    folder.mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return result.returncode == 0


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_disk_full_while_training_fails_cleanly_and_keeps_the_checkpoint(prepared: Path, trained: Path,
                                                                         tmp_path: Path, tally: Tally) -> None:
    """A small tmpfs holds the project (room for one checkpoint, not the second one's temporary file);
    without permission to mount, a file-size limit (RLIMIT_FSIZE) stands in: the first checkpoint fails."""
    recovered = False
    disk = tmp_path / "disk"
    needed = ["data/processed", "data/raw/manifest.json", "models/classifier.keras", "models/real_stats.npz"]
    used = sum(f.stat().st_size for rel in needed for f in ([prepared / rel] if (prepared / rel).is_file()
                                                           else (prepared / rel).rglob("*")) if f.is_file())
    checkpoint = (trained / "checkpoints" / "last.npz").stat().st_size  # same params: the same size
    mounted = _mount_tmpfs(disk, used + checkpoint * 3 // 2 + 300_000)
    try:
        project = disk / "project" if mounted else tmp_path / "project"
        for rel in needed:
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (prepared / rel).is_dir() else shutil.copy2
            copy(prepared / rel, project / rel)
        store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the tracking store lives elsewhere
        write_params(project, train={"epochs": 3}, tracking={"uri": store})
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TF_CPP_MIN_LOG_LEVEL="2")
        limit = None if mounted else _limit_file_size(checkpoint // 2)
        failed = subprocess.run([str(BIN / "fashiongan"), "train"], cwd=project, env=env, capture_output=True,
                                text=True, timeout=600, preexec_fn=limit)
        line = one_line_error(failed)
        assert ("No space left on device" if mounted else "File too large") in line, line
        assert "writing checkpoints/last.npz: free disk space" in line, line
        done = checkpoint_epoch(project)
        assert done == (1 if mounted else 0)  # the checkpoint is whole (or absent), never torn
        assert not stray_temp_files(project), stray_temp_files(project)
        for rel in ("models/generator.keras", "metrics/train.json"):
            assert not (project / rel).exists(), f"{rel} written by a failed run"
        live = project / "plots" / "train_history.csv"  # the per-epoch progress log (dvc plots): whole rows only
        if live.exists():
            header, *rows = live.read_text().splitlines()
            assert rows and all(row.count(",") == header.count(",") for row in rows), rows
        assert [r.info.status for r in store_runs(store)] == ["FAILED"]

        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        summary = rerun_train(project)
        assert (summary["resumed_from_epoch"], summary["epochs_trained"]) == (done, 3)
        tally.lost(running_runs=running_runs(store))
        recovered = True
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)
        tally.fault(recovered)
