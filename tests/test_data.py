"""Fetch and preprocess: idx validation, checksums, atomic downloads, offline fallback, determinism."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import http.server
import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fashiongan import data, fetch, idx
from fashiongan.config import DataParams
from fashiongan.errors import FashionGanError


def write_idx(path: Path, magic: int, dims: tuple[int, ...], payload: bytes, compress: bool = True) -> Path:
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for spec in fetch.OFFICIAL_FILES:
        shutil.copy(src / spec.name, dst / spec.name)
    return dst


def test_read_idx_valid(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "i.gz", 2051, (2, 28, 28), bytes(range(256)) * 6 + bytes(32))
    labels = write_idx(tmp_path / "l.gz", 2049, (2,), bytes([3, 9]))
    assert idx.read_idx(images).shape == (2, 28, 28)
    assert idx.read_idx(labels).tolist() == [3, 9]
    plain = write_idx(tmp_path / "l.idx", 2049, (1,), bytes([4]), compress=False)
    assert idx.read_idx(plain).tolist() == [4]


@pytest.mark.parametrize(
    ("magic", "dims", "payload", "message"),
    [
        (2050, (2,), bytes(2), "bad idx magic number"),
        (2051, (2, 28, 28), bytes(784), "header says 2 items"),
        (2049, (3,), bytes(5), "header says 3 items"),
        (2051, (1, 32, 32), bytes(1024), "Fashion-MNIST needs 28x28"),
        (2049, (2,), bytes([1, 10]), "label 10 outside 0..9"),
    ],
)
def test_read_idx_rejects(tmp_path: Path, magic: int, dims: tuple, payload: bytes, message: str) -> None:
    path = write_idx(tmp_path / "bad.gz", magic, dims, payload)
    with pytest.raises(FashionGanError, match=message) as info:
        idx.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_gzip(tmp_path: Path, sample_dir: Path) -> None:
    blob = (sample_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(FashionGanError, match="corrupt or truncated gzip"):
        idx.read_idx(path)


def test_mirror_source_writes_manifest(tmp_path: Path, mirror_dir: Path) -> None:
    mirror = copy_folder(mirror_dir, tmp_path / "mirror")
    manifest = fetch.fetch(DataParams(source=str(mirror)), raw_dir=tmp_path / "raw")
    assert manifest["source"] == "mirror"
    assert manifest["counts"]["train"] == idx.read_idx(mirror / "train-labels-idx1-ubyte.gz").shape[0]
    assert (tmp_path / "raw" / "manifest.json").is_file()
    for spec in fetch.OFFICIAL_FILES:
        assert manifest["files"][spec.name]["sha256"] == fetch.file_digest(tmp_path / "raw" / spec.name)


def test_mirror_count_mismatch(tmp_path: Path, sample_dir: Path) -> None:
    mirror = copy_folder(sample_dir, tmp_path / "mirror")
    write_idx(mirror / "t10k-labels-idx1-ubyte.gz", 2049, (3,), bytes([1, 2, 3]))
    with pytest.raises(FashionGanError, match="1000 images but 3 labels"):
        fetch.fetch(DataParams(source=str(mirror)), raw_dir=tmp_path / "raw")
    assert not (tmp_path / "raw" / "manifest.json").exists()


def test_mirror_checksum_mismatch(tmp_path: Path, sample_dir: Path) -> None:
    mirror = copy_folder(sample_dir, tmp_path / "mirror")
    shutil.copy(sample_dir / "SHA256SUMS", mirror / "SHA256SUMS")
    blob = bytearray((mirror / "train-labels-idx1-ubyte.gz").read_bytes())
    blob[-10] ^= 0xFF
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(bytes(blob))
    with pytest.raises(FashionGanError, match="does not match SHA256SUMS"):
        fetch.fetch(DataParams(source=str(mirror)), raw_dir=tmp_path / "raw")


def test_empty_or_missing_mirror(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FashionGanError, match="lacks train-images"):
        fetch.fetch(DataParams(source=str(tmp_path / "empty")), raw_dir=tmp_path / "raw")
    with pytest.raises(FashionGanError, match="does not exist"):
        fetch.fetch(DataParams(source=str(tmp_path / "nowhere")), raw_dir=tmp_path / "raw")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/cut/<name>`` promises the whole file but stops half-way."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/cut/"):
            body = (Path(self.directory) / self.path[5:]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()


@pytest.fixture()
def file_server(sample_dir: Path) -> Iterator[str]:
    handler = lambda *a, **k: _Handler(*a, directory=str(sample_dir), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def sample_as_official(monkeypatch: pytest.MonkeyPatch, sample_dir: Path) -> None:
    """Pretend the bundled sample's md5s are the official ones, so downloads can be served locally."""
    specs = tuple(
        fetch.OfficialFile(s.name, s.split, s.kind, (sample_dir / s.name).stat().st_size,
                          hashlib.md5((sample_dir / s.name).read_bytes()).hexdigest())
        for s in fetch.OFFICIAL_FILES
    )
    monkeypatch.setattr(fetch, "OFFICIAL_FILES", specs)


@pytest.mark.usefixtures("sample_as_official")
def test_official_download_verifies_and_falls_back_to_mirror_url(tmp_path: Path, file_server: str) -> None:
    params = DataParams(source="official", retries=1, timeout_s=5)
    manifest = fetch.fetch(params, raw_dir=tmp_path / "raw", urls=("http://127.0.0.1:9/", file_server))
    assert manifest["source"] == "official" and manifest["official_checksums"]
    assert not list((tmp_path / "raw").glob(".*.part"))


@pytest.mark.usefixtures("sample_as_official")
def test_interrupted_download_leaves_nothing(tmp_path: Path, file_server: str) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    spec = fetch.OFFICIAL_FILES[0]
    with pytest.raises(http.client.IncompleteRead):
        fetch.download(file_server + "cut/" + spec.name, raw / spec.name, spec.md5, timeout=5)
    assert list(raw.iterdir()) == []


def test_checksum_mismatch_download_leaves_nothing(tmp_path: Path, file_server: str) -> None:
    spec = fetch.OFFICIAL_FILES[1]
    with pytest.raises(FashionGanError, match="does not match the official"):
        fetch.download(file_server + spec.name, tmp_path / spec.name, spec.md5, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_auto_falls_back_to_sample_offline(tmp_path: Path) -> None:
    params = DataParams(source="auto", retries=1, timeout_s=2)
    with pytest.warns(UserWarning, match="OFFICIAL DOWNLOAD FAILED"):
        manifest = fetch.fetch(params, raw_dir=tmp_path / "raw", urls=("http://127.0.0.1:9/",))
    assert manifest["source"] == "sample"
    assert manifest["counts"] == {"train": 2000, "test": 1000}


def test_official_source_does_not_fall_back(tmp_path: Path) -> None:
    params = DataParams(source="official", retries=1, timeout_s=2)
    with pytest.raises(fetch.NetworkUnavailable, match="could not download"):
        fetch.fetch(params, raw_dir=tmp_path / "raw", urls=("http://127.0.0.1:9/",))
    assert not (tmp_path / "raw" / "manifest.json").exists()


def test_sample_checksums_are_recorded(sample_dir: Path) -> None:
    sums = fetch._read_sums(sample_dir)
    assert set(sums) == {s.name for s in fetch.OFFICIAL_FILES}
    for name, digest in sums.items():
        assert fetch.file_digest(sample_dir / name) == digest


@pytest.fixture()
def fetched(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    fetch.fetch(DataParams(source="sample"), raw_dir=raw)
    return raw


def test_preprocess_ranges_shapes_and_holdout(tmp_path: Path, fetched: Path) -> None:
    meta = data.preprocess(DataParams(source="sample"), raw_dir=fetched, out_dir=tmp_path / "p")
    x, y = data.load_split("train", tmp_path / "p")
    tx, _ = data.load_split("test", tmp_path / "p")
    assert x.shape == (2000, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert tx.shape == (1000, 28, 28, 1)
    assert meta["test_in_training"] is False and meta["train"]["count"] == 2000
    assert sum(meta["train"]["class_counts"]) == 2000


def test_preprocess_filters_caps_and_is_deterministic(tmp_path: Path, fetched: Path) -> None:
    params = DataParams(source="sample", classes=[2, 3], max_images=100, seed=5)
    first = data.preprocess(params, raw_dir=fetched, out_dir=tmp_path / "a")
    second = data.preprocess(params, raw_dir=fetched, out_dir=tmp_path / "b")
    assert first["train"]["sha256"] == second["train"]["sha256"]
    _, y = data.load_split("train", tmp_path / "a")
    assert len(y) == 100 and set(y.tolist()) <= {2, 3}
    other = data.preprocess(params.model_copy(update={"seed": 6}), raw_dir=fetched, out_dir=tmp_path / "c")
    assert other["train"]["sha256"] != first["train"]["sha256"]


def test_preprocess_with_test_split_trains_on_all(tmp_path: Path, fetched: Path) -> None:
    meta = data.preprocess(DataParams(splits=["train", "test"]), raw_dir=fetched, out_dir=tmp_path / "p")
    assert meta["train"]["count"] == 3000 and meta["test_in_training"] is True


def test_preprocess_detects_changed_raw_files(tmp_path: Path, fetched: Path) -> None:
    (fetched / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    with pytest.raises(FashionGanError, match="changed since fetch"):
        data.preprocess(DataParams(), raw_dir=fetched, out_dir=tmp_path / "p")


def test_load_split_missing(tmp_path: Path) -> None:
    with pytest.raises(FashionGanError, match="run `dvc repro preprocess`"):
        data.load_split("train", tmp_path)
