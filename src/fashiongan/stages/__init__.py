"""The pipeline's stages, one thin function each, called alike by ``pipelines/<stage>.py`` and the CLI.

A stage reads params, calls the library below it and writes its outputs at the paths named in
:mod:`fashiongan.paths`; library modules never import from here. Modules, in pipeline order:
``data`` (fetch, preprocess), ``train_classifier``, ``sweep``, ``train``, ``evaluate``,
``promote`` and ``sample`` (the CLI's look at a registered generator).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from fashiongan.config import Params
from fashiongan.params_file import load_params
from fashiongan.errors import exit_on_error
from fashiongan.keras_backend import select_backend

R = TypeVar("R")


def stage_function(name: str, params: Params) -> Callable[..., Any]:
    """``fashiongan.stages.<name>.<name>_stage``, imported after Keras' backend is set from ``train.backend``."""
    select_backend(params.train.backend)
    return getattr(importlib.import_module(f"{__name__}.{name}"), f"{name}_stage")


def run_stage(stage: Callable[[Params], R] | str, describe: Callable[[R], str], params: Params | None = None) -> R:
    """What a ``pipelines/<stage>.py`` script does: run ``stage`` on params.yaml and print ``describe(result)``.

    A stage given by name (``"train"``) is imported only once params.yaml has chosen the Keras
    backend (:func:`stage_function`). A problem the user can fix prints one ``error:`` line and
    exits 2 instead of a traceback.
    """

    @exit_on_error
    def main() -> Any:
        params_ = params or load_params()
        result = (stage_function(stage, params_) if isinstance(stage, str) else stage)(params_)
        print(describe(result))
        return result

    return main()
