"""Read ``params.yaml`` (or a mapping) into the :mod:`fashiongan.config` schema, failing in one line.

Every stage reads its parameters through :func:`load_params`, so a typo or an
out-of-range value fails in one line, naming the key and the fix, before any work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fashiongan.config import REPLACED_KEYS, Params
from fashiongan.errors import FashionGanError

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(FashionGanError):
    """A params file that cannot be used; the message is one line naming the key and the fix."""


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        if loc in REPLACED_KEYS:
            return f"'{loc}' was replaced by {REPLACED_KEYS[loc]}"
        parent = ".".join(str(p) for p in err["loc"][:-1]) or "top level"
        return f"unknown key '{loc}' (not a parameter of {parent}; check the spelling against README's table)"
    if err["type"] == "literal_error":
        return f"{loc}={err.get('input')!r} is not allowed: {msg}"
    if not loc:  # a rule across sections: the message names the keys
        return msg
    return f"{loc}={err.get('input')!r}: {msg}"


def parse_params(raw: dict[str, Any] | None, origin: str = "params") -> Params:
    """Validate a params mapping, raising :class:`ParamsError` with one readable line."""
    try:
        return Params.model_validate(raw or {})
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors())
        raise ParamsError(f"invalid {origin}: {details}") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate a params YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file {path} not found: run from the project root or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path} is not valid YAML{where}: fix the syntax") from None
    if raw is not None and not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of sections (data, model, train, ...), got {type(raw).__name__}")
    return parse_params(raw, origin=str(path))
