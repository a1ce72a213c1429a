"""Stage ``promote``: register the evaluated generator; the champion alias moves only if it wins.

Reads metrics/train.json (the training run's id) and metrics/evaluate.json (its scores and
protocol), writes metrics/promote.json with the decision.
"""

from __future__ import annotations

import sys
from typing import Any

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.fileio import read_json, write_json
from fashiongan.paths import EVALUATE_METRICS, PROMOTE_METRICS, TRAIN_METRICS
from fashiongan.registry import ProtocolMismatch, promote

RUN_ID_KEY = "mlflow_run_id"


def promote_stage(params: Params, *, force: bool = False) -> dict[str, Any]:
    """Read the training run id and its evaluation, decide, write promote.json; the decision as a dict.

    Reads ``metrics/train.json`` (``mlflow_run_id``) and ``metrics/evaluate.json`` (metrics plus a
    ``protocol`` object).
    """
    run_info = read_json(TRAIN_METRICS, "run `dvc repro train` first")
    evaluation = read_json(EVALUATE_METRICS, "run `dvc repro evaluate` first")
    protocol = evaluation.get("protocol")
    if not isinstance(protocol, dict):
        raise FashionGanError(f"{EVALUATE_METRICS} has no protocol object: rerun `dvc repro evaluate`")
    metrics = {k: v for k, v in evaluation.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    run_id = run_info.get(RUN_ID_KEY)
    if params.tracking.enabled and (not isinstance(run_id, str) or not run_id):
        raise FashionGanError(f"{TRAIN_METRICS} has no {RUN_ID_KEY}: rerun `dvc repro train` with tracking.enabled true")
    try:
        decision = promote(params, run_id or "", metrics, protocol, force=force)
    except ProtocolMismatch as exc:
        # A pipeline run with other data or evaluation settings is a new protocol, not a failure:
        # record the refusal and leave the champion alone (`--force` replaces it).
        print(f"warning: not promoted: {exc}", file=sys.stderr)
        result = {"promoted": False, "reason": f"refused: {exc}", "run_id": run_id, "metric": params.registry.metric,
                  "value": metrics.get(params.registry.metric), "alias": params.registry.alias, "protocol": protocol}
        write_json(PROMOTE_METRICS, result, sort_keys=True)
        return result
    result = decision.to_dict() | {"alias": params.registry.alias, "protocol": protocol}
    write_json(PROMOTE_METRICS, result, sort_keys=True)
    return result
