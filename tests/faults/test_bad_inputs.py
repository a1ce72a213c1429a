"""Table of bad inputs: each gives one 'error:' line naming the problem, a non-zero exit, and no
output left behind as if it were valid."""

from __future__ import annotations

import gzip
import json
import math
import shutil
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fashiongan.fetch import OFFICIAL_FILES, sample_folder

from .conftest import (
    TINY,
    Tally,
    clone,
    cli,
    inject,
    inside,
    local_store,
    ok,
    one_line_error,
    running_runs,
    store_runs,
    write_params,
)

pytestmark = pytest.mark.faults


def mirror(root: Path) -> Path:
    folder = root / "mirror"
    folder.mkdir()
    for spec in OFFICIAL_FILES:
        shutil.copy(sample_folder() / spec.name, folder / spec.name)
    return folder


def truncate_gzip(root: Path) -> None:
    path = mirror(root) / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])


def wrong_magic(root: Path) -> None:
    path = mirror(root) / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[:4] = struct.pack(">I", 1234)
    path.write_bytes(gzip.compress(bytes(raw)))


def count_mismatch(root: Path) -> None:
    path = mirror(root) / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(struct.pack(">II", 2049, 1999) + raw[8:-1]))


def checksum_mismatch(root: Path) -> None:
    folder = mirror(root)
    shutil.copy(sample_folder() / "SHA256SUMS", folder / "SHA256SUMS")
    raw = gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-1] + b"\x07"))


def empty_mirror(root: Path) -> None:
    (root / "mirror").mkdir()


def garbage_generator(root: Path) -> None:
    (root / "models" / "generator.keras").write_bytes(b"PK\x03\x04 not really a keras zip" * 100)


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    params: dict
    expect: str
    prepare: Callable[[Path], None] | None = None
    must_not_exist: tuple[str, ...] = ()
    start: str = "empty"  # or "prepared": data fetched and preprocessed, classifier trained (tiny params)
    secret: str | None = None  # must not appear anywhere in the output
    slow: bool = False  # the command starts TensorFlow (seconds, not milliseconds)


MIRROR = {"data": {"source": "mirror"}}
CASES = [
    Case("truncated gzip", ["fetch"], MIRROR, "corrupt or truncated gzip", truncate_gzip, ("data/raw/manifest.json",)),
    Case("wrong idx magic", ["fetch"], MIRROR, "bad idx magic number", wrong_magic, ("data/raw/manifest.json",)),
    Case("image/label count mismatch", ["fetch"], MIRROR, "2000 images but 1999 labels", count_mismatch,
         ("data/raw/manifest.json",)),
    Case("checksum mismatch", ["fetch"], MIRROR, "does not match SHA256SUMS", checksum_mismatch,
         ("data/raw/manifest.json",)),
    Case("empty mirror folder", ["fetch"], MIRROR, "lacks train-images-idx3-ubyte.gz", empty_mirror,
         ("data/raw/manifest.json",)),
    Case("unknown params key", ["fetch"], {"model": {"widht": 3}}, "unknown key 'model.widht'",
         must_not_exist=("data/raw",)),
    Case("wrong params type", ["train"], {"train": {"epochs": "ten"}}, "train.epochs='ten'", must_not_exist=("models",)),
    Case("dropout out of range", ["train"], {"model": {"dropout": 1.2}}, "model.dropout=1.2", must_not_exist=("models",)),
    Case("width out of range", ["train"], {"model": {"first_layer_width": 0}}, "model.first_layer_width=0",
         must_not_exist=("models",)),
    Case("unknown preset", ["train"], {"model": {"preset": "stylegan"}}, "model.preset='stylegan'",
         must_not_exist=("models",)),
    Case("unknown backend", ["check"], {"search": {"backend": "hyperopt"}}, "search.backend='hyperopt'"),
    Case("preprocess before fetch", ["preprocess"], {}, "run `dvc repro fetch`", must_not_exist=("data/processed",)),
    Case("corrupt .keras generator", ["evaluate"], {}, "generator models/generator.keras cannot be loaded",
         garbage_generator, ("metrics/evaluate.json", "plots/eval_grid.png"), start="prepared", slow=True),
    Case("missing champion alias", ["sample", "--model", "models:/fashion-dcgan@champion", "--out", "grid.png"], {},
         "model models:/fashion-dcgan@champion not found", must_not_exist=("grid.png",), slow=True),
    Case("unreachable tracking server", ["train"], {"tracking": {"uri": "http://127.0.0.1:CLOSED"}},
         "tracking server http://127.0.0.1:CLOSED unreachable (connection refused)",
         must_not_exist=("checkpoints", "plots/samples", "models/generator.keras", "metrics/train.json"), start="prepared",
         slow=True),
    Case("unreachable study storage", ["sweep"], {"search": {"storage": "postgresql://u:hunter2@127.0.0.1:CLOSED/db"}},
         "cannot open the Optuna storage postgresql://u:***@127.0.0.1:CLOSED/db", must_not_exist=("sweeps/best.json",
         "sweeps/trials.csv", "metrics/sweep.json"), start="prepared", secret="hunter2", slow=True),
    Case("study name escaping sweeps/", ["sweep"], {"search": {"study_name": "../../escape"}},
         "search.study_name='../../escape'", must_not_exist=("sweeps",)),
]


# What a failing command may write: the MLflow store (a run that ended FAILED) and its migrations, and the
# workspace lock's file (an empty file the OS locks; it holds no result and is git-ignored).
ALLOWED_WRITES = {"mlruns/mlflow.db", "mlruns/mlflow.db-wal", "mlruns/mlflow.db-shm", ".fashiongan/train.lock"}


def files_of(project: Path) -> dict[str, tuple[int, int]]:
    """Every file of ``project`` with its size and modification time, to see what a command wrote."""
    return {p.relative_to(project).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in project.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]
)
def test_bad_input(case: Case, tmp_path: Path, tally: Tally, request: pytest.FixtureRequest) -> None:
    handled = False
    try:
        port = str(closed_port())
        params = yaml.safe_load(yaml.safe_dump(case.params).replace("CLOSED", port))
        if params.get("data", {}).get("source") == "mirror":
            params["data"]["source"] = str(tmp_path / "mirror")
        if case.start == "prepared":
            tmp_path = clone(request.getfixturevalue("prepared"), tmp_path / "project")
            params = {name: {**TINY.get(name, {}), **params.get(name, {})} for name in {*TINY, *params}}
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        if case.prepare:
            case.prepare(tmp_path)
        before = files_of(tmp_path)
        result = cli(case.command, tmp_path)
        line = one_line_error(result)
        assert case.expect.replace("CLOSED", port) in line, line
        if case.secret:
            assert case.secret not in result.stdout + result.stderr, "a secret was printed"
        for rel in case.must_not_exist:
            assert not (tmp_path / rel).exists(), f"{rel} was left behind"
        changed = {p for p in {*before, *files_of(tmp_path)} if before.get(p) != files_of(tmp_path).get(p)}
        assert not changed - ALLOWED_WRITES, f"a failed command wrote {sorted(changed)}"  # also in a prepared project
        assert not list(tmp_path.rglob("*.part")), "temporary files left behind"
        handled = True
    finally:
        tally.bad_input(handled)


@pytest.mark.slow
def test_nan_losses_stop_training_as_diverged_not_a_crash(prepared: Path, tmp_path: Path, tally: Tally) -> None:
    """Decided behaviour: a diverged run is a recorded result, like a stalled or collapsed one.

    ``train`` stops at the first NaN batch, writes its outputs with ``stop_reason: diverged: ...``,
    tags the MLflow run ``diverged=true`` (FINISHED) and exits 0; the checkpoint keeps the reason,
    so a re-run does not train again. The next stage, ``evaluate``, refuses the NaN generator in one
    line (exit 2), so ``dvc repro`` stops there and ``promote`` never sees the model.
    """
    from fashiongan.params_file import load_params
    from fashiongan.errors import FashionGanError
    from fashiongan.stages.evaluate import evaluate_stage

    handled = False
    try:
        project = clone(prepared, tmp_path / "project")
        write_params(project, train={"epochs": 3})
        ok(inject(["train"], project, ["diverge"]))
        summary = json.loads((project / "metrics" / "train.json").read_text())
        assert summary["stop_reason"].startswith("diverged: ") and "nan" in summary["stop_reason"], summary
        assert summary["epochs_trained"] < 3
        (run,) = store_runs(local_store(project))
        assert run.info.status == "FINISHED" and run.data.tags["diverged"] == "true"
        with inside(project), pytest.raises(FashionGanError) as refused:
            evaluate_stage(load_params(Path("params.yaml")))
        assert "NaN" in str(refused.value) and "diverge" in str(refused.value) and "\n" not in str(refused.value)
        assert not (project / "metrics" / "evaluate.json").exists()
        tally.lost(running_runs=running_runs(local_store(project)))
        handled = True
    finally:
        tally.bad_input(handled)


def test_fewer_evaluation_samples_than_feature_dims_warn_and_are_recorded(trained: Path, tmp_path: Path,
                                                                          tally: Tally) -> None:
    """The metrics code decides: fewer samples than the 128 feature dims is a warning, not an error;
    the FID is still computed and the sample count is in the protocol, so the registry never
    compares it with an FID of another sample count."""
    from fashiongan.params_file import load_params
    from fashiongan.stages.evaluate import evaluate_stage
    from fashiongan.metrics.frechet import SmallSampleWarning

    handled = False
    try:
        project = clone(trained, tmp_path / "project")
        write_params(project, evaluate={"n_samples": 100}, tracking={"enabled": False})
        with inside(project), pytest.warns(SmallSampleWarning, match="100 samples for 128 feature dims"):
            evaluate_stage(load_params(Path("params.yaml")))
        metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
        assert metrics["protocol"]["n_samples"] == 100 and math.isfinite(metrics["fid_fashion"])
        handled = True
    finally:
        tally.bad_input(handled)
