"""DVC stage ``preprocess``: data/raw/ → data/processed/{train,test}.npz and meta.json.

Run: ``python pipelines/preprocess.py`` (reads ``data.*`` from params.yaml).
"""

from fashiongan.config import load_params
from fashiongan.data import preprocess
from fashiongan.errors import exit_on_error


@exit_on_error
def main() -> None:
    meta = preprocess(load_params().data)
    print(f"train images: {meta['train']['count']}, held-out test images: {meta['test']['count']}")


if __name__ == "__main__":
    main()
