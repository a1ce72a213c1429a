"""DVC stage ``preprocess``: data/raw/ → data/processed/{train,test}.npz and meta.json.

Run: ``python pipelines/preprocess.py`` (reads ``data.*`` from params.yaml).
"""

from fashiongan.stages import run_stage
from fashiongan.stages.data import preprocess_stage

if __name__ == "__main__":
    run_stage(preprocess_stage, lambda m: f"train images: {m['train']['count']}, held-out test images: {m['test']['count']}")
