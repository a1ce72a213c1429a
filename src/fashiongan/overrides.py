"""``--set key=value`` overrides: applied to params.yaml's values before the schema validates them.

So ``fashiongan train --set train.epochs=1`` behaves like ``dvc exp run -S train.epochs=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fashiongan.config import Params
from fashiongan.params_file import ParamsError, load_params, parse_params


def resolve_params(path: Path, overrides: list[str] | None) -> Params:
    """Load params and apply ``key=value`` overrides (values parsed as YAML) before validation."""
    if not overrides:
        return load_params(path)
    base = load_params(path).model_dump(mode="json")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamsError(f"--set {item!r} is not key=value (e.g. -S model.dropout=0.3)")
        node: dict[str, Any] = base
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ParamsError(f"--set {key}: {part} is not a section")
            node = child
        node[leaf] = yaml.safe_load(value)
    return parse_params(base, origin=f"{path} with --set overrides")
