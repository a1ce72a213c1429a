"""The promotion gate, the champion round trip and the promote stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow_server import local_store, mlflow_db_template, mlflow_server  # noqa: F401
from PIL import Image

from fashiongan import images, registry, tracking
from fashiongan.stages.promote import promote_stage
from fashiongan.stages import sample
from fashiongan.params_file import parse_params
from fashiongan.errors import FashionGanError

LATENT = 8
PROTOCOL = {"n_samples": 200, "real_split": "test", "real_stats_hash": "abc123"}


@pytest.fixture(autouse=True)
def _store(local_store: Path) -> Path:  # noqa: F811
    return local_store


def params(**tracking_options: object):
    return parse_params({"tracking": {"experiment": "registry-test", **tracking_options}})


def tiny_generator(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((LATENT,)), keras.layers.Dense(28 * 28, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
    )


def trained_run(p, seed: int = 0) -> tuple[str, keras.Model]:
    """A finished run that logged a tiny generator, as the train stage would."""
    generator = tiny_generator(seed)
    with tracking.new_run(p, f"train-{seed}") as run:
        tracking.log_training_outputs(generator, None, [])
    return run.run_id, generator


def aliases(p) -> dict[str, str]:
    return {k: str(v) for k, v in MlflowClient().get_registered_model(p.registry.model_name).aliases.items()}


def versions(p) -> int:
    return len(MlflowClient().search_model_versions(f"name = '{p.registry.model_name}'"))


def test_gate_moves_champion_only_for_strictly_better_runs() -> None:
    p = params()
    first, worse, equal, better = (trained_run(p, seed)[0] for seed in range(4))

    decision = registry.promote(p, first, {"fid_fashion": 20.0}, PROTOCOL)
    assert (decision.promoted, decision.version, decision.champion_version) == (True, "1", None)
    assert not registry.promote(p, worse, {"fid_fashion": 25.0}, PROTOCOL).promoted
    assert not registry.promote(p, equal, {"fid_fashion": 20.0}, PROTOCOL).promoted
    assert aliases(p) == {"champion": "1"}

    decision = registry.promote(p, better, {"fid_fashion": 15.0, "kid_fashion": 0.1}, PROTOCOL)
    assert (decision.promoted, decision.version, decision.champion_value) == (True, "4", 20.0)
    assert aliases(p) == {"champion": "4", "previous": "1"}
    tags = MlflowClient().get_model_version(p.registry.model_name, "4").tags
    assert tags["metric.fid_fashion"] == "15.0" and tags["metric.kid_fashion"] == "0.1"
    assert tags["protocol.real_stats_hash"] == "abc123" and tags["protocol.n_samples"] == "200"
    assert tags["promotion"] == "champion" and "15 < 20" in tags["promotion_reason"]
    assert MlflowClient().get_model_version(p.registry.model_name, "2").tags["promotion"] == "rejected"
    assert MlflowClient().get_model_version(p.registry.model_name, "4").run_id == better
    champion = MlflowClient().get_model_version(p.registry.model_name, "4")
    assert champion.description.startswith("fid_fashion = 15 (lower is better), scored under protocol n_samples=200")
    assert f"Trained by run {better}" in champion.description and "model.preset=modern" in champion.description
    assert champion.tags["param.model.preset"] == "modern"


def test_promoting_the_same_run_again_changes_nothing() -> None:
    p = params()
    champion_run, _ = trained_run(p, 0)
    rejected_run, _ = trained_run(p, 1)
    registry.promote(p, champion_run, {"fid_fashion": 10.0}, PROTOCOL)
    registry.promote(p, rejected_run, {"fid_fashion": 30.0}, PROTOCOL)

    again = registry.promote(p, champion_run, {"fid_fashion": 10.0}, PROTOCOL)
    assert (again.promoted, again.version) == (True, "1") and "nothing changed" in again.reason
    # even a better-looking second evaluation of a registered run does not re-register it
    again = registry.promote(p, rejected_run, {"fid_fashion": 1.0}, PROTOCOL)
    assert (again.promoted, again.version) == (False, "2")
    assert versions(p) == 2 and aliases(p) == {"champion": "1"}

    forced = registry.promote(p, rejected_run, {"fid_fashion": 1.0}, PROTOCOL, force=True)
    assert (forced.promoted, forced.version) == (True, "2")
    assert versions(p) == 2 and aliases(p) == {"champion": "2", "previous": "1"}
    assert MlflowClient().get_model_version(p.registry.model_name, "2").tags["metric.fid_fashion"] == "1.0"


def test_protocol_mismatch_refuses_and_force_overrides() -> None:
    p = params()
    first, _ = trained_run(p, 0)
    second, _ = trained_run(p, 1)
    registry.promote(p, first, {"fid_fashion": 20.0}, PROTOCOL)
    other = {**PROTOCOL, "n_samples": 1000}
    with pytest.raises(FashionGanError, match=r"another protocol \(n_samples 200 vs 1000\): .* pass --force"):
        registry.promote(p, second, {"fid_fashion": 5.0}, other)
    assert versions(p) == 1, "a refused candidate must not be registered"
    by_kid = parse_params({"tracking": {"experiment": "registry-test"}, "registry": {"metric": "kid_fashion"}})
    with pytest.raises(FashionGanError, match=r"another protocol \(metric fid_fashion vs kid_fashion\)"):
        registry.promote(by_kid, second, {"kid_fashion": 0.1}, PROTOCOL)

    with pytest.raises(FashionGanError, match=r"fid_fashion=nan cannot be ranked"):
        registry.promote(p, second, {"fid_fashion": float("nan")}, PROTOCOL)

    forced = registry.promote(p, second, {"fid_fashion": 50.0}, other, force=True)
    assert (forced.promoted, forced.reason) == (True, "forced")
    assert aliases(p) == {"champion": "2", "previous": "1"}


def test_champion_round_trip_matches_the_in_process_generator(tmp_path: Path) -> None:
    p = params()
    run_id, generator = trained_run(p, 7)
    registry.promote(p, run_id, {"fid_fashion": 3.0}, PROTOCOL)

    champion = registry.load_champion(p)
    latents = images.latents(5, LATENT, seed=11)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(champion(latents, training=False)),
        keras.ops.convert_to_numpy(generator(latents, training=False)),
        atol=1e-6,
    )
    out = sample.sample_grid(registry.champion_uri(p), n=10, out=tmp_path / "grid.png", seed=11)
    with Image.open(out) as grid:
        assert grid.size == (4 * 28, 3 * 28) and grid.mode == "L"
        expected = sample.grid_picture(images.generate_images(generator, 10, seed=11))
        assert np.array_equal(np.asarray(grid), np.asarray(expected))


def test_missing_champion_and_missing_model_are_one_line_errors() -> None:
    p = params()
    with pytest.raises(FashionGanError, match=r"^no version of fashion-dcgan has alias champion: run `dvc repro promote` first$"):
        registry.load_champion(p)
    with tracking.new_run(p, "no-model") as run:
        pass
    with pytest.raises(FashionGanError, match="logged no generator model: set tracking.log_model true"):
        registry.promote(p, run.run_id, {"fid_fashion": 1.0}, PROTOCOL)


def write_stage_inputs(run_id: str | None, fid: float) -> None:
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/evaluate.json").write_text(json.dumps({"fid_fashion": fid, "kid_fashion": 0.2, "protocol": PROTOCOL}))
    Path("metrics/train.json").write_text(json.dumps({"mlflow_run_id": run_id, "epochs": 1}))


def test_promote_stage_and_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("promote_script", Path(__file__).parents[1] / "pipelines" / "promote.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    p = params()
    Path("params.yaml").write_text("tracking:\n  experiment: registry-test\n")
    first, _ = trained_run(p, 0)
    write_stage_inputs(first, 9.0)
    result = promote_stage(p)
    assert result["promoted"] and result["version"] == "1" and result["protocol"] == PROTOCOL
    assert json.loads(Path("metrics/promote.json").read_text()) == result

    second, _ = trained_run(p, 1)
    write_stage_inputs(second, 12.0)
    script.main([])
    assert "kept champion" in capsys.readouterr().out
    assert json.loads(Path("metrics/promote.json").read_text())["promoted"] is False
    script.main(["--force"])
    assert aliases(p) == {"champion": "2", "previous": "1"}

    write_stage_inputs(None, 1.0)
    with pytest.raises(SystemExit) as exit_info:
        script.main([])
    assert exit_info.value.code == 2
    assert "error: metrics/train.json has no mlflow_run_id" in capsys.readouterr().err


def test_disabled_tracking_promotes_nothing_but_writes_the_decision() -> None:
    p = params(enabled=False)
    write_stage_inputs(None, 1.0)
    result = promote_stage(p)
    assert (result["promoted"], result["version"]) == (False, None)
    assert "tracking disabled" in json.loads(Path("metrics/promote.json").read_text())["reason"]


@pytest.mark.slow
@pytest.mark.server
def test_promotion_and_champion_through_a_tracking_server(mlflow_server: str) -> None:  # noqa: F811
    p = parse_params(
        {"tracking": {"uri": mlflow_server, "experiment": "registry-server"}, "registry": {"model_name": "dcgan-server"}}
    )
    first, _ = trained_run(p, 0)
    second, generator = trained_run(p, 1)
    assert registry.promote(p, first, {"fid_fashion": 20.0}, PROTOCOL).promoted
    assert registry.promote(p, second, {"fid_fashion": 0.5}, PROTOCOL).promoted
    again = registry.promote(p, second, {"fid_fashion": 0.5}, PROTOCOL)
    assert (again.version, "nothing changed" in again.reason) == ("2", True)
    assert versions(p) == 2 and aliases(p) == {"champion": "2", "previous": "1"}
    latents = images.latents(3, LATENT, seed=5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(registry.load_champion(p)(latents, training=False)),
        keras.ops.convert_to_numpy(generator(latents, training=False)),
        atol=1e-6,
    )


def test_promote_stage_records_a_protocol_refusal_without_failing() -> None:
    p = params()
    first, _ = trained_run(p, 0)
    write_stage_inputs(first, 9.0)
    promote_stage(p)
    second, _ = trained_run(p, 1)
    Path("metrics/evaluate.json").write_text(
        json.dumps({"fid_fashion": 1.0, "protocol": {**PROTOCOL, "real_stats_hash": "other-data"}})
    )
    Path("metrics/train.json").write_text(json.dumps({"mlflow_run_id": second}))
    result = promote_stage(p)
    assert result["promoted"] is False and "another protocol" in result["reason"]
    assert json.loads(Path("metrics/promote.json").read_text())["promoted"] is False
    assert aliases(p) == {"champion": "1"}


def test_the_promote_stage_imports_neither_keras_nor_tensorflow() -> None:
    """Promoting only talks to the registry: its process must not pay for loading Keras (seconds per stage)."""
    code = (
        "import sys, fashiongan.stages.promote, fashiongan.registry, fashiongan.tracking\n"
        "loaded = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
