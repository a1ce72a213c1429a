"""The architecture the README's layer table promises: modules import only from their own layer or below, and no import is circular."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fashiongan"

# The README's table (Development > Architecture), bottom layer first; a package stands for its modules.
LAYERS = [
    {"config", "params_file", "paths", "fileio", "images", "errors", "progress", "logs", "environ", "codeversion", "locks", "keras_backend", "inference"},
    {"idx", "fetch", "data", "batches", "presets", "models", "augment", "gan", "gan_steps", "checkpoints", "figures", "metrics", "devices"},
    {"training", "detectors", "callbacks"},
    {"tracking", "registry", "search"},
    {"stages"},
    {"cli", "params_doc", "overrides"},
]


def modules() -> dict[str, Path]:
    """Dotted name (without ``fashiongan.``) -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t.removeprefix("fashiongan.") for t in targets if t.removeprefix("fashiongan.") in known}
    return found


def layer(name: str) -> int:
    """The layer of a module: its top-level name's row in :data:`LAYERS`."""
    top = name.split(".")[0]
    return next(i for i, row in enumerate(LAYERS) if top in row)


def test_every_module_has_a_layer_and_imports_no_higher_layer() -> None:
    known = modules()
    upward = [
        f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})"
        for name, path in known.items()
        for dep in imports(path, known)
        if layer(dep) > layer(name)
    ]
    assert upward == []


def test_no_import_is_circular() -> None:
    known = modules()
    graph = {name: {d for d in imports(path, known) if not name.startswith(f"{d}.")} for name, path in known.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in trail, f"import circle: {' -> '.join([*trail[trail.index(name):], name])}"
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_every_module_says_its_job_in_a_docstring() -> None:
    missing = [name for name, path in modules().items() if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []
