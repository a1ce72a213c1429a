"""Sweeps: every backend's outputs, the exact grid, failures recorded, resume, kill-and-retry, PostgreSQL.

Orchestration is tested with small real objectives (a quadratic in dropout and log width that
"trains" epoch by epoch), so these tests check the sweep machinery, not the GAN; the GAN objective
has its own end-to-end test at the bottom.
"""

from __future__ import annotations

import csv
import gc
import json
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from fashiongan.overrides import resolve_params
from fashiongan.params_file import parse_params
from fashiongan.errors import FashionGanError
from fashiongan.search.claiming import STALE_REASON, Heartbeat, counted_trials
from fashiongan.search.objective import run_objective
from fashiongan.search.space import grid_cells, make_plan
from fashiongan.search.storage import open_storage
from fashiongan.search.types import TrialContext, TrialOutcome
from fashiongan.stages.sweep import sweep_stage
from optuna.trial import TrialState
from postgres_server import postgres_url  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]


def quadratic(ctx: TrialContext) -> TrialOutcome:
    """Minimum at dropout 0.3, width 128; the value falls with each 'epoch' like a loss would."""
    m = ctx.params.model
    base = (m.dropout - 0.3) ** 2 + (math.log(m.first_layer_width) - math.log(128)) ** 2
    epochs = ctx.params.train.epochs
    value = math.inf
    for epoch in range(1, epochs + 1):
        value = base + 1.0 / epoch
        if ctx.report(epoch, value):
            return TrialOutcome(None, epoch, 0.0)
    return TrialOutcome(value, epochs, 0.0)


def slow_quadratic(ctx: TrialContext) -> TrialOutcome:
    """The quadratic at 0.4 s per epoch, logging which process ran which trial."""
    with (ctx.out_dir.parents[2] / "ran.log").open("a") as fh:
        fh.write(f"{ctx.number} {os.getpid()}\n")
    for epoch in range(1, ctx.params.train.epochs + 1):
        time.sleep(0.4)
        ctx.report(epoch, 10.0 + ctx.params.model.dropout - epoch)
    return TrialOutcome(10.0 + ctx.params.model.dropout - epoch, epoch, 0.4 * epoch)


def sometimes_broken(ctx: TrialContext) -> TrialOutcome:
    """Trial 1 produces NaN, trial 2 crashes; the rest are fine."""
    if ctx.number == 1:
        return TrialOutcome(float("nan"), 1, 0.0)
    if ctx.number == 2:
        raise FloatingPointError("loss exploded")
    return quadratic(ctx)


def hangs_first(ctx: TrialContext) -> TrialOutcome:
    """Trial 0 never returns on its own (a Python loop, as a stuck data pipeline would be); the rest are the quadratic."""
    while ctx.number == 0:
        time.sleep(0.05)
    return quadratic(ctx)


class SavesAModel:
    """Each trial saves a one-layer generator whose bias is the trial number; trial 0 scores best.

    ``final_scores`` reads the bias back, so a test sees which trial's file the sweep's end loaded.
    """

    name = "saves-a-model"

    def __call__(self, ctx: TrialContext) -> TrialOutcome:
        import keras

        from fashiongan.fileio import save_keras

        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(ctx.number))])
        path = ctx.out_dir / "models" / "generator.keras"
        save_keras(model, path)
        return TrialOutcome(1.0 + ctx.number, 1, 0.0, model_path=str(path))

    def final_scores(self, model_path: Path, params) -> dict:
        from fashiongan.fileio import load_keras

        bias = float(load_keras(model_path, "generator", "re-run").layers[-1].bias.numpy()[0])
        return {"metrics": {"fid_fashion": 1.0 + bias, "trial_in_file": bias}, "protocol": {"n_samples": 0}}


def keras_fit(ctx: TrialContext) -> TrialOutcome:
    """One epoch of a one-layer Keras model: traces a training graph, as a GAN trial does."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(), "mse")
    model.fit(np.zeros((8, 4)), np.zeros((8, 1)), epochs=1, verbose=0)
    return TrialOutcome(1.0, 1, 0.0)


def tiny(tmp_path: Path, tracking: dict | None = None, **search) -> object:
    return parse_params(
        {
            "search": {"n_trials": 3, "epochs": 2, "heartbeat_s": 1, **search},
            "tracking": tracking or {"enabled": False},
        }
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def load(params, out: Path, objective=quadratic) -> optuna.Study:
    plan = make_plan(params, objective, out)
    return optuna.load_study(study_name=plan.study_name, storage=open_storage(plan.storage_url, 1))


def test_grid_runs_exactly_the_nine_cells(tmp_path: Path) -> None:
    params = tiny(tmp_path, backend="grid", n_trials=2)  # n_trials is ignored: the grid is the study
    assert len(grid_cells(params)) == 9
    summary = sweep_stage(params, objective=quadratic, out_dir=tmp_path / "sweeps")
    rows = read_csv(tmp_path / "sweeps" / "trials.csv")
    cells = sorted((float(r["dropout"]), int(r["first_layer_width"])) for r in rows)
    assert cells == sorted((d, w) for d in (0.1, 0.3, 0.5) for w in (64, 128, 256))
    assert {r["state"] for r in rows} == {"complete"}
    assert summary["params"] == {"model.dropout": 0.3, "model.first_layer_width": 128}
    assert summary["epochs_total"] == 9 * 2


def test_optuna_sweep_writes_outputs_and_resumes_to_the_total(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    params = tiny(tmp_path, backend="optuna", n_trials=3)
    summary = sweep_stage(params, objective=quadratic, out_dir=out)
    rows = read_csv(out / "trials.csv")
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) >= {"dropout", "first_layer_width", "fid_fashion", "state", "reason", "epochs_trained", "seconds"}
    best = json.loads((out / "best.json").read_text())
    assert best["value"] == pytest.approx(min(float(r["fid_fashion"]) for r in rows if r["fid_fashion"]))
    assert best["metric"] == "fid_fashion" and best["trial"] == summary["trial"]
    (tmp_path / "params.yaml").write_text("{}")
    applied = resolve_params(tmp_path / "params.yaml", best["apply"].split(" -S ")[1:])
    assert applied.train.hparams == "params"  # else train ignores the hint's model.* values
    assert applied.model.dropout == pytest.approx(best["params"]["model.dropout"], rel=1e-3)
    assert applied.model.first_layer_width == best["params"]["model.first_layer_width"]
    page = (out / "report.html").read_text()
    assert "<table id=\"trials\"" in page and "sortBy(" in page and "Plotly.newPlot" in page
    assert "<script src=" not in page and 'src="http' not in page  # opens offline: plotly.js is inline
    assert (out / "plots" / "optimization_history.png").is_file()

    before = {t.number: t.datetime_complete for t in load(params, out).get_trials()}
    sweep_stage(params, objective=quadratic, out_dir=out)  # nothing left to do
    assert {t.number: t.datetime_complete for t in load(params, out).get_trials()} == before

    more = tiny(tmp_path, backend="optuna", n_trials=4)  # the total grows: one more trial, same study
    sweep_stage(more, objective=quadratic, out_dir=out)
    trials = load(more, out).get_trials()
    assert len(trials) == 4 and {t.number: t.datetime_complete for t in trials[:3]} == before


@pytest.mark.slow
def test_a_code_change_starts_a_new_study_with_a_notice(tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "sweeps"
    params = tiny(tmp_path, backend="optuna", n_trials=2)
    first = make_plan(params, quadratic, out).study_name
    sweep_stage(params, objective=quadratic, out_dir=out)
    capsys.readouterr()
    monkeypatch.setattr("fashiongan.search.space.code_digest", lambda: "edited0code0")  # as if models.py changed
    second = make_plan(params, quadratic, out).study_name
    assert second != first
    sweep_stage(params, objective=quadratic, out_dir=out)
    notices = [line for line in capsys.readouterr().err.splitlines() if "code changed" in line]
    assert notices == [f"notice: the code changed since study {first} (digest {first_code(out, first)} -> edited0code0): "
                       f"starting study {second}; the old study's trials are kept in its storage"]
    assert len(load(params, out).trials) == 2  # the new study ran its own trials
    sweep_stage(params, objective=quadratic, out_dir=out)
    assert "code changed" not in capsys.readouterr().err  # said once, when the new study starts


def first_code(out: Path, study_name: str) -> str:
    storage = open_storage(f"sqlite:///{out / 'optuna.db'}", 1)
    return optuna.load_study(study_name=study_name, storage=storage).user_attrs["fingerprint"]["code"]


def test_a_new_sqlite_storage_is_in_wal_mode_before_any_other_process_can_open_it(tmp_path: Path) -> None:
    """The journal switch needs the file to itself, so it happens under the storage-init lock: two
    workers switching a fresh file at once fail at once with "database is locked"."""
    import sqlite3

    path = tmp_path / "optuna.db"
    open_storage(f"sqlite:///{path}", 1)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_keras_tuner_sweep_writes_the_same_outputs_and_records_failures(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    params = tiny(tmp_path, backend="keras_tuner", n_trials=3)
    summary = sweep_stage(params, objective=sometimes_broken, out_dir=out)
    rows = {r["number"]: r for r in read_csv(out / "trials.csv")}
    assert [rows[n]["state"] for n in "012"] == ["complete", "failed", "failed"]
    assert "non-finite fid_fashion" in rows["1"]["reason"] and "loss exploded" in rows["2"]["reason"]
    assert (out / "keras_tuner" / summary["study"] / "oracle.json").is_file()
    best = json.loads((out / "best.json").read_text())
    assert best["backend"] == "keras_tuner" and best["trial"] == 0
    assert (out / "report.html").is_file()
    sweep_stage(params, objective=sometimes_broken, out_dir=out)  # reloads (overwrite=False): no new trial
    assert len(read_csv(out / "trials.csv")) == 3


def test_nan_and_crashing_trials_fail_with_a_reason_and_the_sweep_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    params = tiny(tmp_path, backend="optuna", n_trials=4)
    sweep_stage(params, objective=sometimes_broken, out_dir=out)
    rows = {r["number"]: r for r in read_csv(out / "trials.csv")}
    assert rows["1"]["state"] == "failed" and "non-finite fid_fashion" in rows["1"]["reason"]
    assert rows["2"]["state"] == "failed" and "FloatingPointError: loss exploded" in rows["2"]["reason"]
    assert rows["0"]["state"] == "complete" and len(rows) == 4
    study = load(params, out, sometimes_broken)
    assert study.get_trials()[1].user_attrs["reason"] == rows["1"]["reason"]


def test_a_trial_past_its_time_limit_fails_with_the_reason_and_the_sweep_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "sweeps"
    sweep_stage(tiny(tmp_path, backend="optuna", n_trials=2, trial_timeout_s=1), objective=hangs_first, out_dir=out)
    rows = read_csv(out / "trials.csv")
    assert [(r["number"], r["state"]) for r in rows] == [("0", "failed"), ("1", "complete")]
    assert rows[0]["reason"] == "timed out: ran past search.trial_timeout_s=1 s"
    assert json.loads((out / "best.json").read_text())["trial"] == 1


def test_the_heartbeat_stops_at_the_trial_time_limit_and_not_before() -> None:
    beats: list[int] = []

    class Storage:
        def record_heartbeat(self, trial_id: int) -> None:
            beats.append(trial_id)

    limited, unlimited = Heartbeat(Storage(), 7, 0.05, limit_s=0.2), Heartbeat(Storage(), 8, 0.05)
    with limited, unlimited:
        limited._thread.join(timeout=60)  # ends on its own once past the limit
        assert not limited._thread.is_alive()
        unlimited._thread.join(timeout=0.5)
        assert unlimited._thread.is_alive()  # no limit: beats for as long as the trial runs
    assert 7 in beats and 8 in beats


def test_unreachable_storage_is_one_line_naming_the_url_without_password(tmp_path: Path) -> None:
    from postgres_server import free_port

    url = f"postgresql://sweeper:hunter2@127.0.0.1:{free_port()}/optuna"
    params = parse_params({"search": {"storage": url}, "tracking": {"enabled": False}})
    with pytest.raises(FashionGanError) as err:
        sweep_stage(params, objective=quadratic, out_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message
    assert "sweeper:***@127.0.0.1" in message and "search.storage" in message


def test_sweep_script_prints_one_error_line_for_a_bad_storage(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("search:\n  storage: 'mysql://u:pw@127.0.0.1/x'\ntracking:\n  enabled: false\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "sweep.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "search.storage" in lines[0] and "pw" not in lines[0]


def test_trials_in_one_process_leave_no_tensorflow_graph_behind(tmp_path: Path) -> None:
    """TensorFlow's gradient registry pins every traced training graph (tensorflow#97697) unless released."""
    from tensorflow.python.framework.func_graph import FuncGraph

    def graphs() -> set[int]:
        gc.collect()
        return {id(g) for g in gc.get_objects() if isinstance(g, FuncGraph)}

    before = graphs()
    params = tiny(tmp_path)
    for number in range(2):
        ctx = TrialContext(number, params, tmp_path / str(number), lambda epoch, value: False)
        ctx.out_dir.mkdir()
        assert run_objective(keras_fit, ctx).state == "complete"
    assert graphs() - before == set()


def test_a_dead_workers_run_is_ended_failed_once_and_children_name_their_parent(local_store: Path) -> None:
    from fashiongan import tracking

    params = parse_params({})
    with tracking.new_run(params, "sweep", experiment="sweeps-test") as parent:
        pass
    with tracking.new_run(params, "trial", experiment="sweeps-test", parent_run_id=parent.run_id) as child:
        pass
    client = tracking.client()
    assert client.get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent.run_id
    experiment_id = client.get_experiment_by_name("sweeps-test").experiment_id
    orphan = client.create_run(experiment_id).info.run_id  # RUNNING, as a SIGKILLed worker leaves it

    assert tracking.end_run_as(orphan, "FAILED", {"sweep.reason": STALE_REASON})
    run = client.get_run(orphan)
    assert run.info.status == "FAILED" and run.info.end_time and run.data.tags["sweep.reason"] == STALE_REASON
    assert not tracking.end_run_as(orphan, "KILLED", {"sweep.reason": "again"})  # an ended run is left alone
    assert client.get_run(orphan).data.tags["sweep.reason"] == STALE_REASON
    assert not tracking.end_run_as(child.run_id, "FAILED") and client.get_run(child.run_id).info.status == "FINISHED"
    with pytest.raises(ValueError, match="status"):
        tracking.end_run_as(orphan, "DEAD")
    with pytest.raises(tracking.UnknownRunError):
        tracking.end_run_as("0" * 32, "FAILED")


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_killed_worker_trial_is_retried_and_finished_trials_are_kept(tmp_path: Path, local_store: Path) -> None:
    out = tmp_path / "sweeps"
    tracking = {"sweep_experiment": "sweeps-kill"}  # the default store, under tmp_path (local_store)
    params = tiny(tmp_path, tracking, backend="optuna", n_trials=3, epochs=4, pruner="none")
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=sweep_stage, args=(params,), kwargs={"objective": slow_quadratic, "out_dir": out})
    proc.start()

    def second_trial_midway() -> bool:
        if not (out / "optuna.db").exists():
            return False
        try:
            trials = load(params, out, slow_quadratic).get_trials()
        except KeyError:  # study not created yet
            return False
        return len(trials) == 2 and trials[0].state == TrialState.COMPLETE and bool(trials[1].intermediate_values)

    _wait_for(second_trial_midway)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    first, killed = load(params, out, slow_quadratic).get_trials()
    from fashiongan import tracking as mlflow_tracking

    mlflow_tracking.activate(params)
    client = mlflow_tracking.client()
    dead_run = killed.user_attrs["mlflow_run_id"]  # recorded when the trial's run started
    assert client.get_run(dead_run).info.status == "RUNNING"  # SIGKILL: nobody ended it
    first_run = client.get_run(first.user_attrs["outcome"]["mlflow_run_id"])

    sweep_stage(params, objective=slow_quadratic, out_dir=out)  # the re-run: detects the stale trial
    trials = load(params, out, slow_quadratic).get_trials()
    assert len(counted_trials(trials)) == 3 and sum(t.state.is_finished() for t in trials) == 4
    assert trials[0].datetime_complete == first.datetime_complete and trials[0].value == first.value
    assert trials[1].state == TrialState.FAIL
    retry = next(t for t in trials if t.system_attrs.get("retry_history") == [1])
    assert retry.state == TrialState.COMPLETE and retry.params == trials[1].params
    rows = {r["number"]: r for r in read_csv(out / "trials.csv")}
    assert rows["1"]["counted"] == "false" and f"retried as trial {retry.number}" in rows["1"]["reason"]

    runs = client.search_runs([client.get_experiment_by_name("sweeps-kill").experiment_id])
    assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
    dead = client.get_run(dead_run)
    assert dead.info.status == "FAILED" and dead.data.tags["sweep.reason"] == STALE_REASON
    assert dead.data.tags["sweep.retried_as"] == str(retry.number)
    again = client.get_run(first_run.info.run_id)  # the completed trial's run is untouched
    assert again.info.status == "FINISHED" and again.info.end_time == first_run.info.end_time
    assert again.data.metrics == first_run.data.metrics and again.data.tags == first_run.data.tags
    children = {int(r.data.tags["sweep.trial"]): r for r in runs if "sweep.trial" in r.data.tags}
    assert sorted(children) == sorted(t.number for t in trials)  # one run per trial, the dead one included
    assert all(children[t.number].info.status == "FINISHED" for t in counted_trials(trials))


@pytest.mark.slow
@pytest.mark.server
def test_two_workers_share_a_postgres_study_without_losing_or_repeating_a_trial(
    tmp_path: Path, postgres_url: str  # noqa: F811 - fixture
) -> None:
    out = tmp_path / "sweeps"
    params = tiny(tmp_path, backend="optuna", n_trials=6, epochs=2, storage=postgres_url, study_name="pg")
    summary = sweep_stage(params, workers=2, objective=slow_quadratic, out_dir=out)
    ran = [line.split() for line in (out / "ran.log").read_text().splitlines()]
    numbers = sorted(int(n) for n, _ in ran)
    assert numbers == list(range(6))  # each trial ran once, none lost
    assert len({pid for _, pid in ran}) == 2  # both workers worked
    trials = optuna.load_study(study_name=summary["study"], storage=open_storage(postgres_url, 1)).get_trials()
    assert len(trials) == 6 and all(t.state.is_finished() for t in trials)
    assert summary["n_complete"] + summary["n_pruned"] == 6


@pytest.mark.slow
@pytest.mark.server
def test_a_sweep_finishes_on_a_machine_that_did_not_run_its_best_trial(
    tmp_path: Path, postgres_url: str, mlflow_server: str  # noqa: F811 - fixtures
) -> None:
    """Two work directories (two machines) share one PostgreSQL study and one MLflow server."""
    tracking = {"uri": mlflow_server, "sweep_experiment": "two-machines"}
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    sweep_stage(tiny(first, tracking, backend="optuna", n_trials=2, storage=postgres_url, study_name="machines"),
                objective=SavesAModel(), out_dir=first / "sweeps")  # fmt: skip
    shutil.rmtree(first)  # the other machine's disk is out of reach
    summary = sweep_stage(tiny(second, tracking, backend="optuna", n_trials=3, storage=postgres_url, study_name="machines"),
                          objective=SavesAModel(), out_dir=second / "sweeps")  # fmt: skip
    assert summary["trial"] == 0 and summary["n_complete"] == 3
    assert summary["evaluation"]["metrics"]["trial_in_file"] == 0.0  # trial 0's generator, fetched from its run
    assert Path(summary["model_path"]).is_file() and second in Path(summary["model_path"]).parents


@pytest.mark.slow
def test_the_gan_objective_sweeps_logs_and_hands_its_best_model_to_promote(tmp_path: Path, monkeypatch) -> None:
    """End to end on the bundled sample: 2 GAN trials of 1 epoch, MLflow on, then promote the best."""
    import numpy as np
    from fashiongan import registry, tracking
    from fashiongan.paths import CLASSIFIER_PATH, PROCESSED_DIR, REAL_STATS_PATH
    from metrics_support import sample_data, sample_real_stats, trained_classifier

    monkeypatch.chdir(tmp_path)
    x_train, y_train, _, _ = sample_data()
    PROCESSED_DIR.mkdir(parents=True)
    np.savez(PROCESSED_DIR / "train.npz", x=x_train[:256], y=y_train[:256])
    CLASSIFIER_PATH.parent.mkdir(parents=True)
    trained_classifier().save(CLASSIFIER_PATH)
    sample_real_stats().save(REAL_STATS_PATH)
    params = parse_params(
        {
            "model": {"preset": "tutorial", "latent_dim": 16},
            "train": {"batch_size": 32, "jit_compile": False},
            "evaluate": {"n_samples": 64, "kid_subsets": 2, "kid_subset_size": 32},
            "search": {"n_trials": 2, "epochs": 1, "max_images": 200, "n_samples": 64, "width_low": 8, "width_high": 16},
            "tracking": {"uri": f"sqlite:///{tmp_path}/mlflow.db", "sweep_experiment": "sweeps-test"},
        }
    )
    summary = sweep_stage(params)
    rows = read_csv(Path("sweeps/trials.csv"))
    assert len(rows) == 2 and {r["epochs_trained"] for r in rows} == {"1"}
    assert math.isfinite(summary["value"]) and Path(summary["model_path"]).is_file()
    assert summary["evaluation"]["protocol"]["n_samples"] == 64
    assert "data:image/png;base64," in Path("sweeps/report.html").read_text()

    client = tracking.client()
    runs = client.search_runs([client.get_experiment_by_name("sweeps-test").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert len(children) == 2 and {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert all("d_loss" in client.get_run(c.info.run_id).data.metrics for c in children)  # per-epoch metrics
    assert parent.data.metrics["best_fid_fashion"] == pytest.approx(summary["value"])
    best = next(c for c in children if c.info.run_id == summary["mlflow_run_id"])
    assert best.data.metrics["fid_fashion"] == pytest.approx(summary["value"])
    assert {c.data.tags["sweep.state"] for c in children} <= {"complete", "pruned", "failed"}
    logged = {f.path for f in client.list_artifacts(parent.info.run_id, "outputs")}
    assert {"outputs/report.html", "outputs/trials.csv", "outputs/best.json"} <= logged

    sweep_json = json.loads(Path("metrics/sweep.json").read_text())
    run_id, protocol = sweep_json.pop("mlflow_run_id"), sweep_json.pop("protocol")
    assert run_id == summary["mlflow_run_id"]
    decision = registry.promote(params, run_id, sweep_json, protocol)  # the best trial's logged generator
    assert decision.promoted and decision.version == "1"

    sweep_stage(params)  # a re-run trains nothing and keeps the one parent run
    assert len(client.search_runs([client.get_experiment_by_name("sweeps-test").experiment_id])) == 3
