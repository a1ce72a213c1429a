"""params.yaml schema: defaults validate; bad values fail in one line naming key, value and rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fashiongan.config import Params
from fashiongan.params_file import ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def test_repository_params_validate() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.model.preset in ("compact", "tutorial", "modern")
    assert set(yaml.safe_load((ROOT / "params.yaml").read_text())) == set(Params.model_fields)


def test_flat_uses_dotted_keys() -> None:
    flat = parse_params({}).flat()
    assert flat["model.dropout"] is None
    assert flat["evaluate.classifier.epochs"] == 8


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        ({"model": {"dropout": 1.0}}, ["model.dropout", "1.0", "less than 1"]),
        ({"model": {"dropout": -0.1}}, ["model.dropout", "-0.1", "greater than or equal to 0"]),
        ({"model": {"first_layer_width": 0}}, ["model.first_layer_width", "0", "greater than or equal to 1"]),
        ({"train": {"epochs": 0}}, ["train.epochs", "0", "greater than or equal to 1"]),
        ({"train": {"epochs": "many"}}, ["train.epochs", "many", "integer"]),
        ({"model": {"preset": "huge"}}, ["model.preset", "huge", "'compact', 'tutorial' or 'modern'"]),
        ({"search": {"backend": "random"}}, ["search.backend", "random", "optuna"]),
        ({"model": {"dropuot": 0.2}}, ["unknown key 'model.dropuot'"]),
        ({"extra": {}}, ["unknown key 'extra'"]),
        ({"data": {"classes": [3, 12]}}, ["data.classes", "0..9"]),
        ({"search": {"width_low": 600, "width_high": 32}}, ["width_low 600", "width_high 32"]),
        ({"train": {"precision": "float16"}}, ["train.precision", "float16", "'float32', 'bfloat16' or 'mixed_float16'"]),
        ({"train": {"mixed_precision": True}}, ["'train.mixed_precision' was replaced by train.precision", "mixed_float16"]),
    ],
)
def test_bad_values_fail_in_one_line(raw: dict, fragments: list[str]) -> None:
    with pytest.raises(ParamsError) as info:
        parse_params(raw)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_precision_takes_the_three_names_and_defaults_to_float32() -> None:
    assert parse_params({}).train.precision == "float32"
    for name in ("float32", "bfloat16", "mixed_float16"):
        assert parse_params({"train": {"precision": name}}).train.precision == name


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML at line"):
        load_params(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ParamsError, match="must be a mapping"):
        load_params(bad)


def test_cli_rejects_bad_params_before_work(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("model:\n  dropout: 1.5\n")
    result = subprocess.run(
        [sys.executable, "-m", "fashiongan.cli", "fetch", "--params", str(params)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "model.dropout=1.5" in result.stderr
    assert not (tmp_path / "data").exists()


def test_cli_set_overrides(tmp_path: Path) -> None:
    from fashiongan.overrides import resolve_params

    path = tmp_path / "params.yaml"
    path.write_text("train:\n  epochs: 3\n")
    params = resolve_params(path, ["train.epochs=7", "data.classes=[1, 2]"])
    assert params.train.epochs == 7 and params.data.classes == [1, 2]
    with pytest.raises(ParamsError, match="not key=value"):
        resolve_params(path, ["train.epochs"])
