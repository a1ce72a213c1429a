"""Four worker processes on one PostgreSQL-backed study and one MLflow server: every trial runs once.

The objective is the paced quadratic of ``sweep_helpers`` (the GAN is not what is tested here);
everything else is the real sweep: claims under the PostgreSQL advisory lock, heartbeats, one
nested MLflow run per trial under one parent run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .conftest import TESTS, Tally, ok, store_runs, write_params
from .sweep_helpers import progress

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.server]

N_TRIALS = 20
WORKERS = 4


def test_four_workers_run_each_trial_exactly_once_in_both_stores(
    tmp_path: Path, postgres_url: str, mlflow_server: str, tally: Tally
) -> None:
    import optuna
    from optuna.trial import TrialState

    from fashiongan.params_file import load_params
    from fashiongan.search.space import make_plan
    from fashiongan.search.storage import open_storage

    from .sweep_helpers import paced

    experiment = "faults-concurrency"
    # heartbeat_s: 10 keeps a busy worker (4 processes on 2 cores) from being declared dead.
    write_params(tmp_path, search={"n_trials": N_TRIALS, "epochs": 2, "heartbeat_s": 10, "pruner": "none",
                                   "storage": postgres_url, "study_name": "faults-concurrency"},
                 tracking={"uri": mlflow_server, "sweep_experiment": experiment})
    result = ok(subprocess.run(
        [sys.executable, "-c", "from faults.sweep_helpers import main; main()", "--workers", str(WORKERS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(TESTS), TF_CPP_MIN_LOG_LEVEL="2"),
    ))
    trouble = [line for line in result.stderr.splitlines()
               if re.search(r"lock|traceback|^error:", line, re.IGNORECASE)]
    assert not trouble, "\n".join(trouble)

    finished = Counter(trial for trial, epoch, _ in progress(tmp_path) if epoch == 2)
    assert sorted(finished) == list(range(N_TRIALS)) and set(finished.values()) == {1}, finished
    assert len({pid for _, _, pid in progress(tmp_path)}) > 1, "one worker ran everything"

    plan = make_plan(load_params(tmp_path / "params.yaml"), paced, tmp_path / "sweeps")
    trials = optuna.load_study(study_name=plan.study_name, storage=open_storage(postgres_url, 10)).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    runs = [r for r in store_runs(mlflow_server) if r.data.tags.get("sweep.study") == plan.study_name]
    tally.lost(trials=N_TRIALS - len(complete), running_runs=sum(r.info.status == "RUNNING" for r in runs))
    assert len(trials) == len(complete) == N_TRIALS

    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {int(r.data.tags["sweep.trial"]): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(runs) == N_TRIALS + 1 and sorted(children) == list(range(N_TRIALS))
    assert {r.data.tags["mlflow.parentRunId"] for r in children.values()} == {parent.info.run_id}
    assert {r.info.status for r in runs} == {"FINISHED"}
    for t in trials:  # the two stores agree on which run belongs to which trial
        assert t.user_attrs["outcome"]["mlflow_run_id"] == children[t.number].info.run_id
