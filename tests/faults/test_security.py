"""Hostile or careless inputs: exposed servers, models carrying code, secrets, paths outside the project.

Decisions these tests hold the code to:

* Every server the project starts (``fashiongan ui``, the test fixtures' MLflow and PostgreSQL)
  listens on 127.0.0.1 only.
* Models are loaded in Keras safe mode; one with a ``Lambda`` layer is refused on every load path
  (the evaluate stage's file, the registry's ``models:/`` URIs), before any of its code runs.
* Values whose names look secret (TOKEN, PASSWORD, SECRET, KEY) and passwords inside URIs never
  reach the tracking store.
* Where files go: every stage writes fixed paths relative to the project root (``fashiongan.paths``);
  params choose only where stores live (``tracking.uri``, ``search.storage``: the user's call) and
  names that become folders (``search.study_name``) are validated (see test_bad_inputs). A mirror
  folder (``data.source``) is only read. ``fashiongan sample --out`` writes where the user asks:
  that is a path typed on the command line, not something a params file can redirect.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from fashiongan.fetch import OFFICIAL_FILES, sample_folder

from .conftest import Tally, cli, clone, inside, kill, ok, one_line_error, popen, wait_for, write_params

pytestmark = pytest.mark.faults


def listeners(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.mark.slow
@pytest.mark.server
def test_every_server_listens_on_loopback_only(tmp_path: Path, mlflow_server: str, postgres_url: str,
                                               tally: Tally) -> None:
    from fashiongan import tracking
    from fashiongan.params_file import load_params

    handled = False
    try:
        write_params(tmp_path)
        (tmp_path / "mlruns").mkdir()
        with inside(tmp_path):
            command = tracking.ui_command(load_params(Path("params.yaml")), port=_free_port())
        port = int(command[command.index("--port") + 1])
        assert command[command.index("--host") + 1] == "127.0.0.1"
        ui = popen(command, tmp_path, env=tracking.ui_env({}), log=tmp_path / "ui.log")
        wait_for(lambda: bool(listeners(port)), "the MLflow UI to listen", ui)
        served = {"ui": listeners(port)}
        kill(ui)
        served["mlflow fixture"] = listeners(int(mlflow_server.rsplit(":", 1)[1]))
        served["postgres fixture"] = listeners(int(postgres_url.rsplit(":", 1)[1].split("/")[0]))
        assert all(addresses == {"127.0.0.1"} for addresses in served.values()), served
        handled = True
    finally:
        tally.bad_input(handled)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lambda_generator(marker: Path):
    """A generator-shaped model whose Lambda layer (a Python lambda, saved as bytecode) writes ``marker``
    whenever its code runs."""
    import keras

    payload = keras.layers.Lambda(lambda x, path=str(marker): (__import__("pathlib").Path(path).write_text("ran"), x)[1])
    return keras.Sequential([
        keras.Input((16,)),
        keras.layers.Dense(28 * 28, activation="tanh"),
        payload,
        keras.layers.Reshape((28, 28, 1)),
    ])


@pytest.mark.slow
def test_a_model_carrying_code_is_refused_on_every_load_path(prepared: Path, tmp_path: Path, tally: Tally) -> None:
    import mlflow

    from fashiongan import tracking
    from fashiongan.params_file import load_params
    from fashiongan.errors import FashionGanError
    from fashiongan.models import load_generator

    marker = tmp_path / "payload-ran"
    model = lambda_generator(marker)
    marker.unlink(missing_ok=True)  # building the model called the layer once
    project = clone(prepared, tmp_path / "project")
    write_params(project, tracking={"uri": f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"})
    model.save(project / "models" / "generator.keras")

    handled = False
    try:  # the evaluate stage's path: models/generator.keras
        with pytest.raises(FashionGanError) as refused:
            load_generator(project / "models" / "generator.keras")
        assert "refused: it carries Python code (a Lambda layer)" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert not marker.exists()
        handled = True
    finally:
        tally.bad_input(handled)

    handled = False
    try:  # the registry's path: `fashiongan sample --model models:/...@champion`
        params = load_params(project / "params.yaml")
        with inside(project):
            tracking.activate(params)
            with tracking.new_run(params, "crafted") as run:
                mlflow.keras.log_model(model, name="generator", pip_requirements=["keras"])  # no inference subprocess
            version = tracking.register_model(f"runs:/{run.run_id}/generator", "crafted", tags={})
            tracking.client().set_registered_model_alias("crafted", "champion", version)
        marker.unlink(missing_ok=True)  # logging may have called the model in this (trusted) process
        line = one_line_error(cli(["sample", "--model", "models:/crafted@champion", "--out", "grid.png"], project))
        assert "model models:/crafted@champion refused: it carries Python code (a Lambda layer)" in line, line
        assert not marker.exists() and not (project / "grid.png").exists()
        handled = True
    finally:
        tally.bad_input(handled)


SECRETS = {
    "FASHIONGAN_API_TOKEN": "tok-9f8e7d",
    "MLFLOW_TRACKING_PASSWORD": "pw-1a2b3c",
    "TF_SECRET_KEY": "key-4d5e6f",
}


def test_secret_looking_values_never_reach_the_tracking_store(prepared: Path, tmp_path: Path, tally: Tally,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from fashiongan.params_file import load_params
    from fashiongan.stages.train import train_stage

    handled = False
    try:
        project = clone(prepared, tmp_path / "project")
        store = project / "mlruns"
        write_params(project, train={"epochs": 1, "eval_every": 0},
                     search={"storage": "postgresql://sweeper:db-7g8h9i@db.example/optuna"},
                     tracking={"uri": f"sqlite:///{store / 'mlflow.db'}", "log_model": False})
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FASHIONGAN_NOTE", "harmless")
        with inside(project):
            summary = train_stage(load_params(Path("params.yaml")))
        blob = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
        leaked = [s for s in [*SECRETS.values(), "db-7g8h9i"] if s.encode() in blob]
        assert not leaked, f"secrets in the tracking store: {leaked}"
        assert b"sweeper:***@db.example" in blob and b"harmless" in blob  # the scan sees what was logged
        assert summary["mlflow_run_id"]
        handled = True
    finally:
        tally.bad_input(handled)


def _snapshot(folder: Path, skip: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in folder.rglob("*")
        if p.is_file() and skip not in p.parents
    }


def test_a_mirror_is_only_read_and_fetch_writes_only_inside_the_project(tmp_path: Path, tally: Tally) -> None:
    handled = False
    try:
        mirror = tmp_path / "mirror"
        mirror.mkdir()
        for spec in OFFICIAL_FILES:
            (mirror / spec.name).write_bytes((sample_folder() / spec.name).read_bytes())
        project = tmp_path / "project"
        project.mkdir()
        write_params(project, data={"source": os.path.relpath(mirror, project)})
        before = _snapshot(tmp_path, project)
        ok(cli(["fetch"], project))
        assert _snapshot(tmp_path, project) == before, "fetch wrote outside the project or into the mirror"
        assert sorted(p.name for p in (project / "data" / "raw").iterdir()) == sorted(
            [spec.name for spec in OFFICIAL_FILES] + ["manifest.json"]
        )
        handled = True
    finally:
        tally.bad_input(handled)

