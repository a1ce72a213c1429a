"""Parameter documentation generated from the schema: the README's table and the CLI's help epilogs.

Generated, so neither can drift from :mod:`fashiongan.config` or params.yaml
(``fashiongan params --readme README.md`` rewrites the README's table between its markers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fashiongan.config import Params
from fashiongan.errors import FashionGanError
from fashiongan.fileio import write_text
from fashiongan.params_file import DEFAULT_PARAMS, load_params

TABLE_START, TABLE_END = "<!-- params-table:start -->", "<!-- params-table:end -->"


def schema_fields(*sections: str) -> list[tuple[str, Any, str]]:
    """(dotted key, schema default, description) for every parameter of the sections (all when none)."""
    rows: list[tuple[str, Any, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")
                continue
            rows.append((f"{prefix}{name}", field.get_default(call_default_factory=True), field.description or ""))

    for section in sections or tuple(Params.model_fields):
        walk(Params.model_fields[section].annotation, f"{section}.")
    return rows


def effective_params(path: Path = DEFAULT_PARAMS) -> Params | None:
    """The params in effect in this folder, or None when ``path`` is missing or invalid (help must still show)."""
    try:
        return load_params(path)
    except FashionGanError:
        return None


def params_help(*sections: str, params: Params | None = None) -> str:
    """Epilog listing every parameter a command reads: the value in ``params`` (else the default) and its meaning."""
    values = params.flat() if params is not None else {}
    lines = []
    for key, default, text in schema_fields(*sections):
        value = values.get(key, default)
        note = f" (default {json.dumps(default)})" if value != default else ""
        lines.append(f"  {key} = {json.dumps(value)}{note}: {text}")
    source = f"values in ./{DEFAULT_PARAMS}" if params is not None else f"schema defaults: no valid ./{DEFAULT_PARAMS} here"
    return f"\b\nParameters read ({source}):\n" + "\n".join(lines)


def params_table(params: Params) -> str:
    """The README's parameter table: key, value in ``params``, schema default, meaning."""
    values = params.flat()
    rows = ["| key | params.yaml | if omitted | meaning |", "| --- | --- | --- | --- |"]
    rows += [
        f"| `{key}` | `{json.dumps(values[key])}` | `{json.dumps(default)}` | {text.replace('|', '/')} |"
        for key, default, text in schema_fields()
    ]
    return "\n".join(rows)


def rewrite_readme(readme: Path, table: str) -> Path:
    """Replace the text between the table markers of ``readme`` with ``table``."""
    head, _, rest = readme.read_text().partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return write_text(readme, f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")
