"""One side of the promotion race: promote one run into ``race-<i>`` for each round, starting each
round together with the other side (a barrier of files). Run by tests/faults/test_edges.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fashiongan import registry
from fashiongan.params_file import parse_params

PROTOCOL = {"n_samples": 200, "real_split": "test", "real_stats_hash": "race"}

if __name__ == "__main__":
    uri, run_id, fid, rounds, barrier, side = sys.argv[1:]
    for i in range(int(rounds)):
        (Path(barrier) / f"{i}-{side}").touch()
        deadline = time.monotonic() + 120
        while len(list(Path(barrier).glob(f"{i}-*"))) < 2:
            if time.monotonic() > deadline:
                sys.exit(f"round {i}: the other side never arrived (it died?)")
            time.sleep(0.002)
        params = parse_params({"tracking": {"uri": uri, "experiment": "race"}, "registry": {"model_name": f"race-{i}"}})
        registry.promote(params, run_id, {"fid_fashion": float(fid)}, PROTOCOL)
