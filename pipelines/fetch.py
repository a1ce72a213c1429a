"""DVC stage ``fetch``: the four Fashion-MNIST files into data/raw/, verified, with a manifest.

Run: ``python pipelines/fetch.py`` (reads params.yaml; ``data.source`` picks the source).
"""

from fashiongan.stages import run_stage
from fashiongan.stages.data import fetch_stage

if __name__ == "__main__":
    run_stage(fetch_stage, lambda m: f"fetched {m['counts']} images from {m['source']} ({m['location']})")
