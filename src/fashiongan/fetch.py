"""Fashion-MNIST's four raw files: fetch (official, mirror folder or bundled sample), validate, keep a manifest.

Every file is checked before use: idx magic numbers, dimensions, image count equal to
label count, and checksums. Files are written to a temporary name and renamed, so a
failed or killed download never leaves a file at its final path. :func:`load_raw` reads
them back, checked against the manifest; :mod:`fashiongan.data` turns them into the
processed splits.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from fashiongan.config import DataParams
from fashiongan.errors import FashionGanError
from fashiongan.fileio import atomic_path, copy, write_json
from fashiongan.idx import read_idx
from fashiongan.paths import MANIFEST_NAME, RAW_DIR
from fashiongan.progress import download_bar, log


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
        received = os.path.getsize(tmp)
        if total and received < int(total):  # urllib returns a short body at a closed connection: retried as cut
            raise http.client.IncompleteRead(b"", int(total) - received)
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
                except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as exc:
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
