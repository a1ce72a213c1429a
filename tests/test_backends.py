"""Training on every Keras backend: the same GAN trains two epochs on TensorFlow, JAX and PyTorch, without TensorFlow off it.

Keras picks its backend once per process, so each backend's run is a subprocess; this process
runs on TensorFlow and loads what the other backends wrote (the ``.keras`` generator and the
checkpoint, which resumes here).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashiongan.errors import FashionGanError
from fashiongan.keras_backend import select_backend

TINY = {  # every modern switch on, so each backend also runs spectral norm, the hinge loss and cutout
    "model": {"preset": "modern", "first_layer_width": 8, "spectral_norm": True},
    "train": {"epochs": 2, "batch_size": 16, "steps_per_epoch": 3, "eval_every": 0, "grid_size": 2,
              "loss": "hinge", "diffaugment": "translation,cutout"},
}

# Run by the child, with TensorFlow made absent when it trains on another backend.
CHILD = """
import json, sys
from pathlib import Path
if sys.argv[1] != "tensorflow":
    sys.modules["tensorflow"] = None  # as without TensorFlow: importing it fails, find_spec finds nothing
from fashiongan.keras_backend import select_backend
select_backend(sys.argv[1])
from fashiongan.data import scale
from fashiongan.fetch import sample_folder
from fashiongan.fileio import load_keras
from fashiongan.idx import read_idx
from fashiongan.params_file import parse_params
from fashiongan.paths import GENERATOR_PATH
from fashiongan.training import build_gan, train_gan
import numpy as np
out = Path(sys.argv[2])
x = scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz")[:64])
params = parse_params(json.loads(sys.argv[3]))
result = train_gan(params, x, out_dir=out)
generator = load_keras(out / GENERATOR_PATH, "generator", "")
images = np.asarray(generator(np.zeros((2, generator.input_shape[-1]), "float32")))
print(json.dumps({"history": result.history, "image_shape": list(images.shape),
                  "tf_imported": sys.modules.get("tensorflow") is not None, "jit_compile": build_gan(params).jit_compile}))
"""


def train_on(backend: str, out: Path) -> dict:
    """Two tiny epochs on the bundled sample on ``backend`` in a fresh process; its JSON report."""
    params = TINY | {"train": TINY["train"] | {"backend": backend}}
    env = os.environ | {"KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, backend, str(out), json.dumps(params)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_trained(report: dict) -> None:
    """Finite losses that moved between the epochs, and a generator that loads and draws images."""
    history = report["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    losses = np.array([[row[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")] for row in history])
    assert np.all(np.isfinite(losses))
    assert not np.allclose(losses[0, :2], losses[1, :2])
    assert report["image_shape"] == [2, 28, 28, 1]


@pytest.mark.slow
def test_two_epochs_on_tensorflow(tmp_path: Path) -> None:
    assert_trained(train_on("tensorflow", tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install 'jax[cpu]')")
def test_two_epochs_on_jax_without_tensorflow_and_what_it_wrote_loads_on_tensorflow(tmp_path: Path) -> None:
    report = train_on("jax", tmp_path)
    assert_trained(report)
    assert not report["tf_imported"]
    assert report["jit_compile"] is True  # with train.jit_compile false: JAX without jit runs op by op

    # The JAX run's generator loads here (TensorFlow) and its checkpoint resumes here.
    import keras

    from fashiongan.fileio import load_keras
    from fashiongan.params_file import parse_params
    from fashiongan.paths import GENERATOR_PATH
    from fashiongan.training import train_gan

    assert keras.backend.backend() == "tensorflow"
    assert load_keras(tmp_path / GENERATOR_PATH, "generator", "").output.shape[1:] == (28, 28, 1)
    from fashiongan.data import scale
    from fashiongan.fetch import sample_folder
    from fashiongan.idx import read_idx

    x = scale(read_idx(sample_folder() / "train-images-idx3-ubyte.gz")[:64])
    params = parse_params(TINY | {"train": TINY["train"] | {"epochs": 3, "backend": "tensorflow"}})
    resumed = train_gan(params, x, out_dir=tmp_path)
    assert resumed.resumed_from == 2 and resumed.epochs_trained == 3
    assert resumed.history[:2] == report["history"]
    assert np.isfinite(resumed.history[-1]["d_loss"])


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_two_epochs_on_torch(tmp_path: Path) -> None:
    assert_trained(train_on("torch", tmp_path))


def test_training_modules_import_without_tensorflow_on_jax() -> None:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    code = CHILD.split("from fashiongan.keras_backend")[0] + (
        "import os; os.environ['KERAS_BACKEND'] = 'jax'\n"
        "import fashiongan.training, fashiongan.models, fashiongan.gan, fashiongan.metrics.inception, "
        "fashiongan.metrics.evaluator, fashiongan.stages.train\n"
        "assert sys.modules['tensorflow'] is None\n"  # absent throughout: importing it would have raised
    )
    done = subprocess.run([sys.executable, "-c", code, "jax"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


LEAN_CHILD = """
import json, sys
from importlib.machinery import SourceFileLoader
from fashiongan.keras_backend import select_backend
select_backend("tensorflow")
import keras
loaded = [m for m in ("sklearn", "matplotlib.pyplot", "jax") if m in sys.modules]
import matplotlib.pyplot, sklearn  # as usual once keras is in
y = keras.layers.Dense(2)(keras.ops.ones((1, 3)))
print(json.dumps({"loaded_with_keras": loaded, "later": [m for m in ("sklearn", "matplotlib.pyplot") if m in sys.modules],
                  "plain_loader": isinstance(keras.__spec__.loader, SourceFileLoader) and keras.__loader__ is keras.__spec__.loader,
                  "finders_left": [type(f).__name__ for f in sys.meta_path if "Lean" in type(f).__name__], "shape": list(y.shape)}))
"""


def test_the_first_keras_import_leaves_out_what_no_stage_uses_and_they_import_as_usual_after() -> None:
    """scikit-learn, matplotlib.pyplot and JAX cost a TensorFlow stage ~3.4 CPU-s at start-up for keras features it never uses."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-c", LEAN_CHILD], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"loaded_with_keras": [], "later": ["sklearn", "matplotlib.pyplot"], "plain_loader": True,
                      "finders_left": [], "shape": [1, 2]}  # fmt: skip


def test_choosing_the_backend_again_before_keras_loads_hides_only_what_the_last_choice_does_not_use() -> None:
    code = ("import sys, warnings; warnings.simplefilter('ignore')\n"
            "from fashiongan.keras_backend import select_backend, _LeanFirstImport\n"
            "select_backend('tensorflow'); select_backend('jax')\n"
            "print([f.hidden for f in sys.meta_path if isinstance(f, _LeanFirstImport)])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[('sklearn', 'matplotlib')]"


def test_an_imported_keras_cannot_switch_backend() -> None:
    import keras

    select_backend(keras.backend.backend())  # the running one: nothing to do
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    with pytest.raises(FashionGanError, match=f"train.backend={other}"):
        select_backend(other)


def test_a_backend_whose_framework_is_missing_fails_in_one_line_naming_the_install(tmp_path: Path) -> None:
    """``train.backend: jax`` in a venv without JAX (make repro leaves it out) must say what to install."""
    (tmp_path / "params.yaml").write_text("train:\n  backend: jax\n")
    code = "import sys; sys.modules['jax'] = None\nfrom fashiongan.cli import app\napp()"  # None: jax looks absent
    done = subprocess.run([sys.executable, "-c", code, "train"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "jax is not installed" in lines[0] and "pip install -e '.[jax]'" in lines[0], done.stderr


@pytest.mark.parametrize(("setting", "gpu", "onednn", "xla"), [
    ("auto", False, True, False),   # AVX-512 CPU: oneDNN's kernels ran the step ~2x faster than XLA
    ("auto", False, False, True),   # CPU on Eigen kernels: XLA 1.55x
    ("auto", True, True, True),     # GPU
    (True, False, True, True),      # an explicit setting is kept
    (False, True, False, False),
])  # fmt: skip
def test_auto_jit_compile_picks_xla_where_it_was_faster(monkeypatch: pytest.MonkeyPatch, setting, gpu, onednn, xla) -> None:
    import keras

    from fashiongan import keras_backend

    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")  # the question auto answers on TensorFlow
    monkeypatch.setattr(keras_backend, "has_gpu", lambda: gpu)
    monkeypatch.setattr(keras_backend, "onednn_enabled", lambda: onednn)
    assert keras_backend.step_jit_compile(setting) is xla


@pytest.mark.parametrize(("switch", "shown"), [("0", "False"), ("1", "True")])
def test_onednn_detection_follows_tensorflows_switch(switch: str, shown: str) -> None:
    code = "from fashiongan.keras_backend import onednn_enabled; import tensorflow; print(onednn_enabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"TF_ENABLE_ONEDNN_OPTS": switch})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == shown


SEEDED_ON_JAX = """
import sys
from fashiongan.keras_backend import select_backend
select_backend("jax")
import numpy as np
from fashiongan.config import ClassifierParams
from fashiongan.metrics.classifier import train_classifier
x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
train_classifier(x, np.arange(64) % 10, ClassifierParams(epochs=1, batch_size=32))
import keras
from fashiongan.keras_backend import set_random_seed
draws = []
for _ in range(2):
    set_random_seed(5)
    draws.append((np.random.randint(1 << 30), np.asarray(keras.random.normal((3,))).tolist()))
print("tensorflow" in sys.modules, draws[0] == draws[1] and draws[0][0] == np.random.RandomState(5).randint(1 << 30))
"""


def test_a_seeded_stage_on_jax_does_not_load_tensorflow_where_it_is_installed() -> None:
    """keras.utils.set_random_seed imports TensorFlow whenever it is installed; a JAX stage must not pay for it."""
    done = subprocess.run([sys.executable, "-c", SEEDED_ON_JAX], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"KERAS_BACKEND": "jax"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["False", "True"]


LOG_A_GENERATOR = """
import sys
from fashiongan.keras_backend import select_backend
select_backend(sys.argv[1])
import mlflow
from fashiongan.config import ModelParams
from fashiongan.models import build_generator
from fashiongan.presets import resolve_model_params
from fashiongan.tracking import artifacts
mlflow.set_tracking_uri(sys.argv[2])
generator = build_generator(resolve_model_params(ModelParams(preset="tutorial", first_layer_width=8)))
with mlflow.start_run():
    assert artifacts.log_training_outputs(generator, None, [])
"""


def test_logging_the_generator_on_jax_prints_nothing_on_stdout(tmp_path: Path) -> None:
    """mlflow's input-example check predicts once; on JAX Keras' progress bar reached the stage's output."""
    done = subprocess.run([sys.executable, "-c", LOG_A_GENERATOR, "jax", f"sqlite:///{tmp_path / 'mlflow.db'}"],
                          capture_output=True, text=True, timeout=600, env=os.environ | {"KERAS_BACKEND": "jax"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
