"""MLflow tracking: what a run logs, how it ends, and how an unusable store fails."""

from __future__ import annotations

import json
import math
import socket
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow_server import free_port, local_store, mlflow_db_template, mlflow_server  # noqa: F401
from PIL import Image

from fashiongan import tracking
from fashiongan.params_file import parse_params
from fashiongan.errors import FashionGanError

LATENT = 8
MANIFEST = {
    "source": "sample",
    "location": "sample",
    "files": {
        "train-images-idx3-ubyte.gz": {"sha256": "a" * 64, "count": 32},
        "train-labels-idx1-ubyte.gz": {"sha256": "b" * 64, "count": 32},
    },
}


@pytest.fixture(autouse=True)
def _store(local_store: Path) -> Path:  # noqa: F811
    return local_store


def params(**tracking_options: object):
    return parse_params({"tracking": {"experiment": "test", **tracking_options}, "model": {"dropout": 0.25}})


def tiny_generator(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((LATENT,)), keras.layers.Dense(28 * 28, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
    )


class FakeGanLogs(keras.callbacks.Callback):
    """Stands in for the training callbacks: adds GAN losses and fid to the logs, writes the grid."""

    def __init__(self, grid_dir: Path) -> None:
        super().__init__()
        self.grid_dir = grid_dir

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs.update({"d_loss": 0.5 + epoch, "g_loss": np.float32(1.5), "fid_fashion": 40.0 - epoch, "note": "text"})
        self.grid_dir.mkdir(exist_ok=True)
        Image.fromarray(np.full((56, 56), 40 * (epoch + 1), np.uint8)).save(self.grid_dir / f"epoch_{epoch + 1:03d}.png")


def tiny_training(tmp: Path, p) -> tuple[str, str, keras.Model]:
    """Two epochs of a tiny fit inside a tracked run, then the outputs; returns run id and model URI."""
    generator = tiny_generator()
    generator.compile(optimizer="adam", loss="mse")
    generator.stop_reason = "stalled: both losses at ln 2 for 5 epochs"
    (tmp / "history.json").write_text(json.dumps({"d_loss": [0.5, 1.5]}))
    discriminator = tmp / "discriminator.keras"
    discriminator.write_bytes(b"stand-in")
    x = np.random.default_rng(0).standard_normal((16, LATENT)).astype("float32")
    y = np.zeros((16, 28, 28, 1), "float32")
    with tracking.new_run(p, "tiny-train", tags={"stage": "train"}) as run:
        tracking.log_dataset_manifest(MANIFEST)
        callbacks = [FakeGanLogs(tmp / "grids"), tracking.MlflowMetricsCallback(grid_dir=tmp / "grids")]
        generator.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
        model_uri = tracking.log_training_outputs(generator, discriminator, [tmp / "history.json", tmp / "absent.gif"])
        tracking.log_evaluation({"fid_fashion": 38.5, "kid_fashion": 0.01}, {"n_samples": 200, "real_stats_hash": "abc"})
    return run.run_id, model_uri, generator


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("server", marks=pytest.mark.server)])
def test_tiny_run_lands_in_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str]
) -> None:
    uri = request.getfixturevalue("mlflow_server") if backend == "server" else None
    p = params(uri=uri, experiment=f"tiny-{backend}")
    run_id, model_uri, generator = tiny_training(tmp_path, p)
    assert "━" not in capfd.readouterr().out, "logging the model printed a Keras progress bar into the stage's output"

    client = MlflowClient(tracking.resolve_uri(p))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.dropout"] == "0.25"
    assert run.data.params["train.epochs"] == "5"
    assert len(run.data.params) == len(p.flat())
    for key in ("d_loss", "g_loss", "loss", "epoch_seconds"):
        assert [m.step for m in client.get_metric_history(run_id, key)] == [1, 2], key
    assert [m.value for m in client.get_metric_history(run_id, "d_loss")] == [0.5, 1.5]
    fid = client.get_metric_history(run_id, "fid_fashion")
    assert [(m.step, m.value) for m in fid] == [(1, 40.0), (2, 39.0), (2, 38.5)]
    assert run.data.metrics["fid_fashion"] == 38.5, "the final evaluation must be the run's latest value"
    assert "note" not in run.data.metrics
    assert run.data.metrics["kid_fashion"] == 0.01
    assert run.data.tags["protocol.real_stats_hash"] == "abc"
    assert (run.data.tags["stalled"], run.data.tags["diverged"], run.data.tags["collapsed"]) == ("true", "false", "false")

    images = [f.path for f in client.list_artifacts(run_id, "images")]
    assert sum(p.endswith(".png") and "samples+step+1+" in p for p in images) == 1
    assert sum(p.endswith(".png") and "samples+step+2+" in p for p in images) == 1
    outputs = {f.path for f in client.list_artifacts(run_id, "outputs")}
    assert outputs == {"outputs/history.json"}
    assert [f.path for f in client.list_artifacts(run_id, "models")] == ["models/discriminator.keras"]
    assert client.list_artifacts(run_id, "dataset")[0].path == "dataset/manifest.json"

    dataset = run.inputs.dataset_inputs[0].dataset
    assert dataset.digest == tracking.manifest_digest(MANIFEST) and dataset.name == "fashion-mnist"
    assert run.data.tags["dataset.source"] == "sample"

    assert model_uri.startswith("models:/m-")
    loaded = tracking.load_generator(model_uri)
    z = np.random.default_rng(1).standard_normal((3, LATENT)).astype("float32")
    np.testing.assert_allclose(loaded.predict(z, verbose=0), generator.predict(z, verbose=0), atol=1e-6)
    logged = client.get_logged_model(model_uri.removeprefix("models:/"))
    assert logged.source_run_id == run_id
    import mlflow
    from importlib.metadata import version

    requirements = Path(mlflow.artifacts.download_artifacts(f"{logged.artifact_location}/requirements.txt")).read_text().splitlines()
    tf = version("tensorflow-cpu")  # the build this environment has (Linux x86-64 CPU)
    # the target's build: tensorflow-cpu only exists for Linux x86-64, elsewhere the full tensorflow
    assert f'tensorflow-cpu=={tf}; platform_machine == "x86_64" and sys_platform == "linux"' in requirements
    assert f'tensorflow=={tf}; platform_machine != "x86_64" or sys_platform != "linux"' in requirements
    if backend == "sqlite":
        experiment = client.get_experiment(run.info.experiment_id)
        assert experiment.artifact_location == (tmp_path / "mlruns" / "artifacts").as_uri()
        assert (tmp_path / "mlruns" / "artifacts").is_dir()


def test_nan_losses_are_logged_and_text_is_not() -> None:
    p = params()
    callback = tracking.MlflowMetricsCallback()
    with tracking.new_run(p, "nan") as run:
        callback.on_epoch_begin(0)
        callback.on_epoch_end(0, {"d_loss": float("nan"), "g_loss": np.float64("inf"), "flag": True, "arr": np.ones(3)})
    history = MlflowClient().get_metric_history(run.run_id, "d_loss")
    assert [m.step for m in history] == [1] and math.isnan(history[0].value)
    metrics = MlflowClient().get_run(run.run_id).data.metrics
    assert set(metrics) == {"d_loss", "g_loss", "epoch_seconds"}


def test_crashing_run_ends_failed_and_interrupt_ends_killed() -> None:
    p = params()
    with pytest.raises(RuntimeError, match="boom"), tracking.new_run(p, "crash") as crashed:
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), tracking.new_run(p, "ctrl-c") as interrupted:
        raise KeyboardInterrupt
    client = MlflowClient()
    assert client.get_run(crashed.run_id).info.status == "FAILED"
    assert client.get_run(interrupted.run_id).info.status == "KILLED"
    import mlflow

    assert mlflow.active_run() is None


def test_nested_runs_share_the_parent_experiment() -> None:
    p = params(experiment="sweeps")
    with tracking.new_run(p, "sweep") as parent:
        with tracking.new_run(p, "trial-0", nested=True) as child:
            pass
    run = MlflowClient().get_run(child.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.run_id
    assert run.info.experiment_id == parent.experiment_id


def test_reopened_run_keeps_params_and_gets_evaluation() -> None:
    p = params()
    with tracking.new_run(p, "train") as first:
        pass
    changed = parse_params({"tracking": {"experiment": "test"}, "evaluate": {"n_samples": 99}})
    with tracking.reopen_run(changed, first.run_id):
        tracking.log_evaluation({"fid_fashion": 12.0}, {"n_samples": 99, "real_stats_hash": "h"})
    run = MlflowClient().get_run(first.run_id)
    assert run.data.params["evaluate.n_samples"] == "2000"
    assert run.data.tags["protocol.n_samples"] == "99" and run.data.metrics["fid_fashion"] == 12.0
    assert run.info.status == "FINISHED"
    with pytest.raises(tracking.UnknownRunError, match="run 0123456789abcdef is not in the tracking store sqlite:///"):
        with tracking.reopen_run(p, "0123456789abcdef"):
            pytest.fail("the body must not run for an unknown run")


def test_secret_looking_params_and_env_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2")
    monkeypatch.setenv("FASHIONGAN_API_TOKEN", "hunter2")
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    monkeypatch.setenv("FASHIONGAN_DB", "postgresql://optuna:hunter2@db:5432/optuna?sslkey=hunter2&x=1")
    p = parse_params({"search": {"storage": "postgresql://optuna:hunter2@db:5432/optuna"}})
    with tracking.new_run(p, "secrets", tags={"api_key": "hunter2", "link": "https://me:hunter2@host/x"}) as run:
        pass
    data = MlflowClient().get_run(run.run_id).data
    logged = {**data.params, **data.tags}
    assert not [k for k, v in logged.items() if "hunter2" in v or "hunter2" in k]
    assert data.params["search.storage"] == "postgresql://optuna:***@db:5432/optuna"
    assert data.tags["env.FASHIONGAN_DB"] == "postgresql://optuna:***@db:5432/optuna?sslkey=***&x=1"
    assert data.tags["link"] == "https://me:***@host/x"
    assert data.tags["env.TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert "env.MLFLOW_TRACKING_PASSWORD" not in data.tags and "api_key" not in data.tags


class CountingServer:
    """Accepts TCP connections and counts them; either hangs up at once or never answers."""

    def __init__(self, answer: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.hang_up = answer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)
            if self.hang_up:
                conn.close()

    def close(self) -> int:
        self.stop.set()
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()
        return len(self.accepted)


def test_refused_connection_fails_in_one_line() -> None:
    port = free_port()
    p = params(uri=f"http://user:hunter2@127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(FashionGanError) as err:
        with tracking.new_run(p, "never"):
            pytest.fail("the body must not run when the server is unreachable")
    assert str(err.value) == (
        f"tracking server http://user:***@127.0.0.1:{port} unreachable (connection refused): "
        "start it or set tracking.uri / MLFLOW_TRACKING_URI"
    )


def test_probe_does_not_retry_a_hanging_up_server() -> None:
    server = CountingServer(answer=True)
    p = params(uri=f"http://127.0.0.1:{server.port}", timeout_s=2)
    try:
        with pytest.raises(FashionGanError, match="unreachable"):
            tracking.check_tracking(p)
    finally:
        attempts = server.close()
    assert attempts == 1, f"the probe connected {attempts} times: mlflow's HTTP retries were not disabled"


def test_silent_server_times_out_once() -> None:
    server = CountingServer(answer=False)
    p = params(uri=f"http://127.0.0.1:{server.port}", timeout_s=1)
    try:
        with pytest.raises(FashionGanError, match=r"unreachable \(timed out after \d+ s\): start it"):
            tracking.check_tracking(p)
    finally:
        attempts = server.close()
    assert attempts == 1, f"the probe connected {attempts} times instead of giving up after one timeout"


def test_uri_precedence_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking.resolve_uri(params()) == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.resolve_uri(params()) == "http://tracking.example:5000"
    assert tracking.resolve_uri(params(uri="sqlite:///store/db.sqlite")) == f"sqlite:///{tmp_path}/store/db.sqlite"
    assert tracking.resolve_uri(params(uri="sqlite:////abs/db")) == "sqlite:////abs/db"
    assert tracking.resolve_uri(params(uri="runs-here")) == (tmp_path / "runs-here").as_uri()


def test_disabled_tracking_is_a_no_op(tmp_path: Path) -> None:
    p = params(enabled=False)
    callback = tracking.MlflowMetricsCallback(grid_dir=tmp_path)
    with tracking.new_run(p, "off") as run:
        callback.on_epoch_begin(0)
        callback.on_epoch_end(0, {"d_loss": 1.0})
        callback.on_train_end()
        tracking.log_dataset_manifest(MANIFEST)
        assert tracking.log_training_outputs(tiny_generator(), None, []) is None
        tracking.log_evaluation({"fid_fashion": 1.0}, {"n_samples": 2, "real_stats_hash": "h"})
    assert run.run_id is None
    assert MlflowClient(tracking.resolve_uri(p)).get_experiment_by_name("test") is None
    assert not (tmp_path / "mlruns" / "artifacts").exists()


def test_callback_and_manifest_validate_their_arguments() -> None:
    with pytest.raises(ValueError, match=r"received `grid_dir=3`"):
        tracking.MlflowMetricsCallback(grid_dir=3)
    with pytest.raises(ValueError, match=r"received `stop_reason='stalled'`"):
        tracking.MlflowMetricsCallback(stop_reason="stalled")
    with pytest.raises(ValueError, match=r"received keys \['files'\]"):
        tracking.manifest_digest({"files": {}})
    changed = {**MANIFEST, "files": {**MANIFEST["files"], "train-labels-idx1-ubyte.gz": {"sha256": "c" * 64}}}
    assert tracking.manifest_digest(changed) != tracking.manifest_digest(MANIFEST)


def test_ui_command_serves_the_local_store_on_localhost(tmp_path: Path) -> None:
    command = tracking.ui_command(params(), port=5001)
    assert command[1:4] == ["-m", "mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert command[command.index("--default-artifact-root") + 1] == (tmp_path / "mlruns" / "artifacts").as_uri()
    assert command[-6:] == ["--workers", "1", "--host", "127.0.0.1", "--port", "5001"]  # MLflow's default is 4 servers
    assert tracking.ui_env({"PATH": "/bin"}) == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PATH": "/bin"}
    assert tracking.ui_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"})["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"
    with pytest.raises(FashionGanError, match="is a server"):
        tracking.ui_command(params(uri="http://127.0.0.1:5000"))


def test_experiments_are_model_training_and_ui_links_land_on_their_runs() -> None:
    p = params(sweep_experiment="test-sweeps")
    assert tracking.ui_links(p, port=5001) == {}  # nothing logged yet: no link to a missing experiment
    with tracking.new_run(p, "train"):
        pass
    experiment = MlflowClient().get_experiment_by_name("test")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracking.ui_links(p, port=5001) == {
        "test": f"http://127.0.0.1:5001/#/experiments/{experiment.experiment_id}?workflowType=machine_learning"
    }


def test_system_metrics_are_logged_when_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")
    p = parse_params({"tracking": {"experiment": "test"}, "train": {"log_system_metrics": True}})
    with tracking.new_run(p, "train") as run:
        time.sleep(2)
    with tracking.new_run(params(), "train") as quiet:
        time.sleep(1)
    assert any(k.startswith("system/cpu_utilization") for k in MlflowClient().get_run(run.run_id).data.metrics)
    assert not any(k.startswith("system/") for k in MlflowClient().get_run(quiet.run_id).data.metrics)


def test_git_commit_and_dirty_flag_are_tags(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
        return subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "train.py").write_text("print(1)\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "init")
    with tracking.new_run(params(), "clean") as clean:
        pass
    (tmp_path / "train.py").write_text("print(2)\n")
    with tracking.new_run(params(), "dirty") as dirty:
        pass
    tags = {run.run_id: MlflowClient().get_run(run.run_id).data.tags for run in (clean, dirty)}
    assert tags[clean.run_id]["mlflow.source.git.commit"] == git("rev-parse", "HEAD")
    assert (tags[clean.run_id]["git_dirty"], tags[dirty.run_id]["git_dirty"]) == ("false", "true")


def test_local_store_resolves_to_the_project_root_from_a_dvc_temp_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    workspace = root / ".dvc" / "tmp" / "exps" / "tmpk2x9"
    for folder in (root / ".git", workspace / ".git", workspace / ".dvc"):
        folder.mkdir(parents=True)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.chdir(workspace)
    assert tracking.resolve_uri(params()) == f"sqlite:///{root}/mlruns/mlflow.db"
    assert tracking.resolve_uri(params(uri="runs-here")) == (root / "runs-here").as_uri()
    monkeypatch.chdir(root)
    assert tracking.resolve_uri(params()) == f"sqlite:///{root}/mlruns/mlflow.db"
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))  # what DVC sets for a stage it runs
    assert tracking.resolve_uri(params()) == f"sqlite:///{tmp_path}/elsewhere/mlruns/mlflow.db"


def test_runs_record_the_dvc_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "wispy-moor")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    with tracking.new_run(params(), "in-an-experiment") as run:
        pass
    tags = MlflowClient().get_run(run.run_id).data.tags
    assert (tags["dvc.exp_name"], tags["dvc.baseline_rev"]) == ("wispy-moor", "a" * 40)


@pytest.mark.slow
def test_a_temp_dvc_experiment_logs_to_the_project_store(tmp_path: Path, local_store: Path) -> None:  # noqa: F811
    """``dvc exp run --temp`` runs in a copy under .dvc/tmp/exps/ that DVC deletes; the run must outlive it."""
    import os
    import subprocess
    import sys

    src = Path(tracking.__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_TRACKING"))}
    env |= {"PYTHONPATH": str(src), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}

    def sh(*args: str) -> None:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args] if args[0] != "dvc" else list(args)
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    (tmp_path / "probe.py").write_text(
        "from fashiongan import tracking\nfrom fashiongan.params_file import parse_params\n"
        "with tracking.new_run(parse_params({'tracking': {'experiment': 'test'}}), 'probe'):\n    pass\n"
        "open('done.txt', 'w').write('ok')\n"
    )
    (tmp_path / "dvc.yaml").write_text("stages:\n  probe:\n    cmd: python probe.py\n    deps: [probe.py]\n    outs: [done.txt]\n")
    (tmp_path / ".gitignore").write_text("/mlruns\n/done.txt\n")
    sh("init", "-q")
    sh("dvc", "init", "-q")
    sh("add", ".")
    sh("commit", "-q", "-m", "init")
    sh("dvc", "exp", "run", "--temp", "-n", "probe-exp")
    runs = MlflowClient(f"sqlite:///{local_store}").search_runs(
        [MlflowClient(f"sqlite:///{local_store}").get_experiment_by_name("test").experiment_id]
    )
    assert [r.data.tags.get("dvc.exp_name") for r in runs] == ["probe-exp"]


def test_a_sqlite_store_in_wal_mode_lets_a_reader_and_a_writer_work_at_once(local_store: Path) -> None:  # noqa: F811
    import sqlite3

    import mlflow

    with tracking.new_run(params(), "first"):
        pass
    reader = sqlite3.connect(local_store, timeout=0.1, isolation_level=None)  # what `mlflow ui` does meanwhile
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        with tracking.new_run(params(), "while-reading") as run:
            mlflow.log_metric("d_loss", 0.5, step=1)  # in the old rollback journal: "database is locked" after 20 s
    finally:
        reader.close()
    assert MlflowClient().get_run(run.run_id).data.metrics == {"d_loss": 0.5}
    assert sqlite3.connect(local_store).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_busy_through_every_retry_is_busy_not_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    from fashiongan.tracking.store import retry_busy

    monkeypatch.setattr("fashiongan.tracking.store.time.sleep", lambda s: None)
    tracking.activate(params(busy_retries=2))
    calls = []

    def write(fail_times: int) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return "logged"

    assert retry_busy(lambda: write(2), "at epoch 3") == "logged" and len(calls) == 3
    calls.clear()
    with pytest.raises(tracking.StoreBusy) as err:
        retry_busy(lambda: write(99), "at epoch 3")
    assert len(calls) == 3
    message = str(err.value)
    assert "busy at epoch 3, after 3 tries" in message and "tracking.busy_retries" in message, message
    assert "stopped answering" not in message and "\n" not in message
    with pytest.raises(MlflowException, match="RESOURCE"):  # anything else is not retried
        retry_busy(lambda: (_ for _ in ()).throw(MlflowException("RESOURCE_DOES_NOT_EXIST")), "now")
