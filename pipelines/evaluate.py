"""DVC stage ``evaluate``: score models/generator.keras into metrics/evaluate.json and plots/eval_grid.png.

Run: ``python pipelines/evaluate.py`` (reads ``evaluate.*`` from params.yaml; needs the
train_classifier and train stages' outputs).
"""

from fashiongan.paths import EVALUATE_METRICS
from fashiongan.stages import run_stage


def describe(result: dict) -> str:
    """One line: each FID beside its sample count, and the classes covered."""
    p = result["protocol"]
    line = f"fid_fashion {result['fid_fashion']:.3f} (n={p['n_samples']} vs {p['n_real']} real {p['real_split']} images)"
    if "fid_inception" in result:
        line += f", fid_inception {result['fid_inception']:.2f} (n={p['fid_inception_n_samples']})"
    return f"{line}, {result['classes_covered']} classes covered -> {EVALUATE_METRICS}"


if __name__ == "__main__":
    run_stage("evaluate", describe)  # imported once train.backend is set
