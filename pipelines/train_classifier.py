"""DVC stage ``train_classifier``: the Fashion-MNIST classifier behind fid_fashion, and the real statistics.

Writes models/classifier.keras, models/real_stats.npz and metrics/classifier.json.

Run: ``python pipelines/train_classifier.py`` (reads ``evaluate.*`` from params.yaml).
"""

from fashiongan.stages import run_stage


def describe(summary: dict) -> str:
    """One line: the classifier's accuracy and what the real statistics were computed on."""
    return (
        f"classifier test accuracy {summary['test_accuracy']:.4f} ({summary['n_train']} train / "
        f"{summary['n_test']} test images, {summary['epochs']} epochs, {summary['train_seconds']} s); "
        f"real statistics of {summary['n_real']} {summary['real_split']} images, hash {summary['real_stats_hash']}"
    )


if __name__ == "__main__":
    run_stage("train_classifier", describe)  # imported once train.backend is set
