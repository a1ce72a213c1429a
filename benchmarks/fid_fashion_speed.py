"""How long one fid_fashion evaluation takes, split into its parts.

Generates N images with the tutorial-sized generator (Dense(7*7*256) -> ConvT(128, 5, 1) ->
ConvT(64, 5, 2) -> ConvT(1, 5, 2, tanh); untrained weights cost the same), embeds them with the
classifier, and computes FID, KID and precision/recall against the real statistics. Uses
models/classifier.keras and models/real_stats.npz when present, else a classifier trained for one
epoch on the bundled sample (speed does not depend on accuracy). The first pass includes tracing;
the warm pass is what a sweep pays every epoch. ``all_metrics_from_features`` adds KID, class
coverage and precision/recall (k-NN balls, quadratic in n) on top of the features.

Generation is nearly all of the time, so the run also measures the machine's float32 peak
(:mod:`_peak`) and prints the generator's FLOP rate as a share of it, and the seconds generation
would take at 100 % of that peak: the floor no code change can go below on this machine.

Run: ``python benchmarks/fid_fashion_speed.py [--n 10000] [--batch-size 500] [--peak-n 2048]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from _flops import forward_flops
from _peak import measure_peaks
from fashiongan.config import ClassifierParams, EvaluateParams, ModelParams
from fashiongan.data import load_split, scale
from fashiongan.fetch import sample_folder
from fashiongan.idx import read_idx
from fashiongan.metrics.classifier import FeatureExtractor, train_classifier, weights_digest
from fashiongan.images import generate_images
from fashiongan.metrics.evaluator import FashionEvaluator
from fashiongan.metrics.frechet import feature_statistics, frechet_distance, kernel_distance
from fashiongan.metrics.real_stats import compute_real_stats
from fashiongan.models import build_generator
from fashiongan.presets import resolve_model_params
from fashiongan.paths import CLASSIFIER_PATH, PROCESSED_DIR, REAL_STATS_PATH


def bundled_evaluator(params: EvaluateParams) -> FashionEvaluator:
    """Classifier trained one epoch on the bundled sample; real statistics of its 3,000 images (or data/processed)."""
    folder = sample_folder()
    x_train = scale(read_idx(folder / "train-images-idx3-ubyte.gz"))
    y_train = read_idx(folder / "train-labels-idx1-ubyte.gz").astype(np.int64)
    classifier = train_classifier(x_train, y_train, ClassifierParams(epochs=1))
    if (PROCESSED_DIR / f"{params.real_split}.npz").is_file():
        x_real, y_real = load_split(params.real_split)
    else:
        x_test = scale(read_idx(folder / "t10k-images-idx3-ubyte.gz"))
        y_test = read_idx(folder / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        x_real, y_real = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    features, probs = FeatureExtractor(classifier)(x_real)
    stats = compute_real_stats(features, probs, x_real, y_real, weights_digest(classifier), split="sample")
    return FashionEvaluator(classifier, stats, params)


def fashion_fid_timings(evaluator: FashionEvaluator, generator, n: int, batch_size: int) -> dict[str, float]:
    """Wall seconds of each part of one evaluation of ``n`` generated images, plus CPU seconds."""
    p = evaluator.params
    times: dict[str, float] = {}

    def timed(name: str, func, *args):
        start = time.perf_counter()
        out = func(*args)
        times[name] = time.perf_counter() - start
        return out

    cpu = time.process_time()
    images = timed("generation", generate_images, generator, n, p.seed, batch_size)
    features, probs = timed("features", evaluator.features, images)
    mu, sigma = timed("statistics", feature_statistics, features)
    timed("fid", frechet_distance, mu, sigma, evaluator.real.mu, evaluator.real.sigma)
    timed("kid", kernel_distance, features, evaluator.real.features, p.kid_subsets, p.kid_subset_size, p.seed)
    times["fid_fashion_cpu"] = time.process_time() - cpu
    times["fid_fashion_total"] = sum(times[k] for k in ("generation", "features", "statistics", "fid", "kid"))
    timed("all_metrics_from_features", evaluator.score_features, features, probs)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="generated images (default 10000)")
    parser.add_argument("--batch-size", type=int, default=500, help="generation and feature batch (default 500)")
    parser.add_argument("--peak-n", type=int, default=2048, help="side of the square matmuls that measure the peak")
    args = parser.parse_args()

    params = EvaluateParams(batch_size=args.batch_size)
    if CLASSIFIER_PATH.is_file() and REAL_STATS_PATH.is_file():
        evaluator, source = FashionEvaluator.load(eval_params=params), str(CLASSIFIER_PATH)
    else:
        evaluator, source = bundled_evaluator(params), "bundled-sample classifier (1 epoch)"
    generator = build_generator(resolve_model_params(ModelParams(preset="tutorial", first_layer_width=256)))
    print(f"classifier: {source}; real features: {len(evaluator.real.features)}; cpus: {os.cpu_count()}")
    print(f"generator: {generator.count_params():,} parameters; n={args.n}, batch {args.batch_size}")
    for label in ("cold", "warm"):
        times = fashion_fid_timings(evaluator, generator, args.n, args.batch_size)
        parts = ", ".join(f"{k} {v:.2f}s" for k, v in times.items() if not k.startswith("fid_fashion"))
        print(
            f"{label}: fid_fashion for {args.n} images {times['fid_fashion_total']:.2f}s wall, "
            f"{times['fid_fashion_cpu']:.2f}s CPU ({parts})"
        )
    peaks = measure_peaks(args.peak_n)
    gen_flops = forward_flops(generator) * args.n
    print(peaks.describe())
    print(f"generation: {gen_flops / 1e12:.2f} TFLOP for {args.n} images = "
          f"{peaks.share(gen_flops / times['generation']):.0%} of the measured float32 peak; "
          f"at 100 % of it generation alone would take {gen_flops / (peaks.gflops['float32'] * 1e9):.1f}s")


if __name__ == "__main__":
    main()
