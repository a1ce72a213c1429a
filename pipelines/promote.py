"""DVC stage ``promote``: register the candidate generator and move the champion alias if it wins.

Run: ``python pipelines/promote.py [--params params.yaml] [--force]``
"""

from __future__ import annotations

import argparse

from fashiongan.params_file import DEFAULT_PARAMS, load_params
from fashiongan.errors import exit_on_error
from fashiongan.paths import PROMOTE_METRICS
from fashiongan.stages import stage_function


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(DEFAULT_PARAMS), help="params file (default: params.yaml)")
    parser.add_argument("--force", action="store_true", help="promote even if not better or under another protocol")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    result = stage_function("promote", params)(params, force=args.force)
    print(f"{'promoted' if result['promoted'] else 'kept champion'}: {result['reason']} ({PROMOTE_METRICS})")


if __name__ == "__main__":
    main()
