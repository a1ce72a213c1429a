"""dvc.yaml keeps its promises: every stage depends on all the code it runs, and every plot it declares exists once."""

from __future__ import annotations

from pathlib import Path

import yaml

from test_layers import PACKAGE, imports, modules

ROOT = PACKAGE.parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())


def closure(script: Path) -> set[Path]:
    """Every file of the package that running ``script`` can execute: its imports, lazy ones too, and their packages' ``__init__``."""
    known = modules()
    todo = [*imports(script, known), *imports(PACKAGE / "__init__.py", known)]  # every import runs the package's __init__
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a package's __init__ runs first
        todo += imports(known[name], known)
    return {known[name] for name in seen} | {PACKAGE / "__init__.py"}


def test_every_stage_depends_on_all_the_code_it_runs() -> None:
    missing = {}
    for name, stage in DVC["stages"].items():
        script = ROOT / stage["cmd"].split()[1]
        deps = [ROOT / d for d in stage["deps"]]
        code = closure(script) | {script}
        uncovered = sorted(str(f.relative_to(ROOT)) for f in code if not any(f == d or d in f.parents for d in deps))
        if uncovered:
            missing[name] = uncovered
    assert missing == {}, f"dvc.yaml deps miss code the stage runs: {missing}"
