"""Fashion-MNIST: fetch (official, mirror folder or bundled sample), validate, preprocess.

Every file is checked before use: idx magic numbers, dimensions, image count equal to
label count, and checksums. Files are written to a temporary name and renamed, so a
failed or killed download never leaves a file at its final path.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import time
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan.config import DataParams
from fashiongan.errors import FashionGanError
from fashiongan.fileio import atomic_path, copy, write_json, write_npz
from fashiongan.paths import MANIFEST_NAME, META_NAME, PROCESSED_DIR, RAW_DIR
from fashiongan.progress import download_bar, log

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049


@dataclass(frozen=True)
class OfficialFile:
    """One of the four official files, with the md5 the dataset's authors publish."""

    name: str
    split: str
    kind: str
    size: int
    md5: str


OFFICIAL_FILES = (
    OfficialFile("train-images-idx3-ubyte.gz", "train", "images", 26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    OfficialFile("train-labels-idx1-ubyte.gz", "train", "labels", 29_515, "25c81989df183df01b3e8a0aad5dffbe"),
    OfficialFile("t10k-images-idx3-ubyte.gz", "test", "images", 4_422_102, "bef4ecab320f06d8554ea6380940ec79"),
    OfficialFile("t10k-labels-idx1-ubyte.gz", "test", "labels", 5_148, "bb300cfdad3c16e7a12a480ee83cd310"),
)
OFFICIAL_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Decode an idx file (gzipped or not), checking magic number, dimensions and length."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise FashionGanError(f"{path}: corrupt or truncated gzip ({exc}); delete it and fetch again") from None
    if len(raw) < 8:
        raise FashionGanError(f"{path}: too short for an idx header; delete it and fetch again")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise FashionGanError(f"{path}: truncated idx image header; delete it and fetch again")
        rows, cols = struct.unpack(">II", raw[8:16])
        if (rows, cols) != (28, 28):
            raise FashionGanError(f"{path}: images are {rows}x{cols}, Fashion-MNIST needs 28x28; wrong file?")
        shape, offset = (count, rows, cols), 16
    elif magic == LABEL_MAGIC:
        shape, offset = (count,), 8
    else:
        raise FashionGanError(
            f"{path}: bad idx magic number {magic:#010x} (expected {IMAGE_MAGIC:#010x} images or "
            f"{LABEL_MAGIC:#010x} labels); not a Fashion-MNIST idx file"
        )
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise FashionGanError(
            f"{path}: idx header says {count} items ({expected} bytes) but the file holds "
            f"{len(raw) - offset} bytes; the file is truncated or padded, fetch it again"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)
    if magic == LABEL_MAGIC and data.size and data.max() > 9:
        raise FashionGanError(f"{path}: label {int(data.max())} outside 0..9; not Fashion-MNIST labels")
    return data


def _read_sums(folder: Path) -> dict[str, str]:
    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        return {}
    sums = {}
    for line in sums_file.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def validate_folder(folder: Path) -> dict[str, Any]:
    """Check the four files of a folder and return the manifest entries (counts, checksums)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FashionGanError(f"mirror folder {folder} does not exist: set data.source to a folder holding the four idx.gz files")
    missing = [f.name for f in OFFICIAL_FILES if not (folder / f.name).is_file()]
    if missing:
        raise FashionGanError(f"mirror folder {folder} lacks {', '.join(missing)}: copy the official Fashion-MNIST files there")
    sums = _read_sums(folder)
    files: dict[str, Any] = {}
    for spec in OFFICIAL_FILES:
        path = folder / spec.name
        sha256 = file_digest(path)
        if spec.name in sums and sums[spec.name] != sha256:
            raise FashionGanError(
                f"{path}: sha256 {sha256[:12]}... does not match SHA256SUMS ({sums[spec.name][:12]}...); the copy is corrupt"
            )
        array = read_idx(path)
        files[spec.name] = {"sha256": sha256, "md5": file_digest(path, "md5"), "bytes": path.stat().st_size, "count": int(array.shape[0])}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        n_img = files[f"{prefix}-images-idx3-ubyte.gz"]["count"]
        n_lab = files[f"{prefix}-labels-idx1-ubyte.gz"]["count"]
        if n_img != n_lab:
            raise FashionGanError(f"{folder}: {split} split has {n_img} images but {n_lab} labels; the files do not belong together")
    official = all(files[f.name]["md5"] == f.md5 for f in OFFICIAL_FILES)
    return {"files": files, "official": official, "counts": {
        "train": files["train-images-idx3-ubyte.gz"]["count"], "test": files["t10k-images-idx3-ubyte.gz"]["count"]}}


def download(url: str, dst: Path, md5: str, timeout: float, on_chunk=None) -> None:
    """Download ``url`` to ``dst`` via a temp file; verify md5 before the rename."""
    with atomic_path(dst) as tmp:
        digest = hashlib.md5()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            with download_bar(dst.name, int(total) if total else None) as advance:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
                    if on_chunk:
                        on_chunk(len(chunk))
        if digest.hexdigest() != md5:
            raise FashionGanError(
                f"{url}: md5 {digest.hexdigest()} does not match the official {md5}; the download is corrupt or "
                "the server changed the file: try again or use a mirror folder (data.source: path)"
            )


class NetworkUnavailable(FashionGanError):
    """Every URL failed to connect; ``auto`` falls back to the bundled sample on this."""


def _fetch_official(raw_dir: Path, params: DataParams, urls: tuple[str, ...]) -> None:
    for spec in OFFICIAL_FILES:
        dst = raw_dir / spec.name
        if dst.is_file() and file_digest(dst, "md5") == spec.md5:
            continue
        errors = []
        for base in urls:
            for attempt in range(params.retries):
                try:
                    download(base + spec.name, dst, spec.md5, params.timeout_s)
                    break
                except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                    errors.append(f"{base}: {getattr(exc, 'reason', exc)}")
                    if attempt + 1 < params.retries:
                        time.sleep(min(2**attempt, 8))
            if dst.is_file():
                break
        if not dst.is_file():
            raise NetworkUnavailable(
                f"could not download {spec.name} ({errors[-1]}); check the network or set data.source to a mirror folder"
            )


def sample_folder() -> Path:
    """The genuine 2,000/1,000-image sample shipped inside the package."""
    return Path(str(resources.files("fashiongan") / "sample"))


def fetch(params: DataParams, raw_dir: Path = RAW_DIR, urls: tuple[str, ...] = OFFICIAL_URLS) -> dict[str, Any]:
    """Put the four files into ``raw_dir`` from ``params.source`` and write the manifest."""
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for stale in raw_dir.glob(".*.part"):
        stale.unlink()
    (raw_dir / MANIFEST_NAME).unlink(missing_ok=True)
    source = params.source
    if source in ("auto", "official"):
        try:
            _fetch_official(raw_dir, params, urls)
            folder, kind = raw_dir, "official"
        except NetworkUnavailable as exc:
            if source == "official":
                raise
            warnings.warn(
                f"OFFICIAL DOWNLOAD FAILED ({exc}); falling back to the bundled 2,000/1,000-image sample. "
                "Set data.source to a mirror folder for real training.",
                stacklevel=2,
            )
            log("WARNING: offline, using the bundled Fashion-MNIST sample (2,000 train / 1,000 test images)")
            folder, kind = sample_folder(), "sample"
    elif source == "sample":
        folder, kind = sample_folder(), "sample"
    else:
        folder, kind = Path(source).expanduser(), "mirror"
    info = validate_folder(folder)
    if folder.resolve() != raw_dir.resolve():
        for spec in OFFICIAL_FILES:
            copy(folder / spec.name, raw_dir / spec.name)
    manifest = {
        "source": kind,
        "location": str(folder) if kind == "mirror" else kind,
        "official_checksums": info["official"],
        "counts": info["counts"],
        "files": info["files"],
    }
    write_json(raw_dir / MANIFEST_NAME, manifest, sort_keys=True)
    return manifest


def load_manifest(raw_dir: Path = RAW_DIR) -> dict[str, Any]:
    """The manifest fetch wrote; an absent one means fetch did not finish."""
    path = Path(raw_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FashionGanError(f"{path} missing: the fetch stage has not completed; run `dvc repro fetch`")
    return json.loads(path.read_text())


def load_raw(raw_dir: Path = RAW_DIR) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Raw uint8 images and labels per split, checked against the manifest's checksums."""
    raw_dir = Path(raw_dir)
    manifest = load_manifest(raw_dir)
    for name, entry in manifest["files"].items():
        if file_digest(raw_dir / name) != entry["sha256"]:
            raise FashionGanError(f"{raw_dir / name}: changed since fetch (sha256 differs from manifest); run `dvc repro fetch`")
    return {
        "train": (read_idx(raw_dir / "train-images-idx3-ubyte.gz"), read_idx(raw_dir / "train-labels-idx1-ubyte.gz")),
        "test": (read_idx(raw_dir / "t10k-images-idx3-ubyte.gz"), read_idx(raw_dir / "t10k-labels-idx1-ubyte.gz")),
    }


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] → float32 [-1, 1] with a channel axis (the generator's tanh range)."""
    return (images.astype(np.float32) / 127.5 - 1.0)[..., None]


def select(images: np.ndarray, labels: np.ndarray, classes: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the listed classes."""
    if classes is None:
        return images, labels
    keep = np.isin(labels, classes)
    return images[keep], labels[keep]


def preprocess(params: DataParams, raw_dir: Path = RAW_DIR, out_dir: Path = PROCESSED_DIR) -> dict[str, Any]:
    """Write ``train.npz`` (what the GAN trains on) and ``test.npz`` (held-out real images)."""
    raw = load_raw(raw_dir)
    train_x = np.concatenate([raw[s][0] for s in params.splits])
    train_y = np.concatenate([raw[s][1] for s in params.splits])
    train_x, train_y = select(train_x, train_y, params.classes)
    order = np.random.default_rng(params.seed).permutation(len(train_x))
    if params.max_images is not None:
        order = order[: params.max_images]
    train_x, train_y = train_x[order], train_y[order]
    test_x, test_y = select(*raw["test"], params.classes)
    if len(train_x) == 0:
        raise FashionGanError(f"no training images left after data.classes={params.classes}; widen the class filter")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "source": load_manifest(raw_dir)["source"],
        "splits": list(params.splits),
        "test_in_training": "test" in params.splits,
        "classes": params.classes,
        "seed": params.seed,
    }
    for split, (x, y) in {"train": (train_x, train_y), "test": (test_x, test_y)}.items():
        scaled = scale(x)
        path = out_dir / f"{split}.npz"
        write_npz(path, x=scaled, y=y.astype(np.int64))
        meta[split] = {
            "count": int(len(y)),
            "class_counts": np.bincount(y, minlength=10).tolist(),
            "sha256": hashlib.sha256(scaled.tobytes() + y.astype(np.int64).tobytes()).hexdigest(),
        }
    write_json(out_dir / META_NAME, meta, sort_keys=True)
    return meta


def load_split(split: str, processed_dir: Path = PROCESSED_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed images (float32 N×28×28×1 in [-1, 1]) and int64 labels of one split."""
    path = Path(processed_dir) / f"{split}.npz"
    if not path.is_file():
        raise FashionGanError(f"{path} missing: run `dvc repro preprocess` first")
    try:
        with np.load(path) as data:
            return data["x"], data["y"]
    except (OSError, ValueError, KeyError) as exc:
        raise FashionGanError(f"{path} is corrupt ({exc}); run `dvc repro preprocess` again") from None
