"""DVC stage ``fetch``: the four Fashion-MNIST files into data/raw/, verified, with a manifest.

Run: ``python pipelines/fetch.py`` (reads params.yaml; ``data.source`` picks the source).
"""

from fashiongan.config import load_params
from fashiongan.data import fetch
from fashiongan.errors import exit_on_error


@exit_on_error
def main() -> None:
    manifest = fetch(load_params().data)
    print(f"fetched {manifest['counts']} images from {manifest['source']} ({manifest['location']})")


if __name__ == "__main__":
    main()
