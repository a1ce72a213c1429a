"""Table of bad inputs: each gives one 'error:' line naming the problem, a non-zero exit, and no
output left behind as if it were valid."""

from __future__ import annotations

import gzip
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fashiongan.data import OFFICIAL_FILES, sample_folder

from .conftest import Tally, cli, one_line_error

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


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    params: dict
    expect: str
    prepare: Callable[[Path], None] | None = None
    must_not_exist: tuple[str, ...] = ()


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
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, tally: Tally) -> None:
    handled = False
    try:
        params = yaml.safe_load(yaml.safe_dump(case.params))
        if params.get("data", {}).get("source") == "mirror":
            params["data"]["source"] = str(tmp_path / "mirror")
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        if case.prepare:
            case.prepare(tmp_path)
        line = one_line_error(cli(case.command, tmp_path))
        assert case.expect in line, line
        for rel in case.must_not_exist:
            assert not (tmp_path / rel).exists(), f"{rel} was left behind"
        assert not list(tmp_path.rglob("*.part")), "temporary files left behind"
        handled = True
    finally:
        tally.bad_input(handled)
