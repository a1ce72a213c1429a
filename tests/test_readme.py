"""The README's parameter table is the schema's, so documentation cannot drift."""

from __future__ import annotations

from pathlib import Path

from fashiongan.params_doc import params_table
from fashiongan.params_file import load_params

ROOT = Path(__file__).resolve().parents[1]


def test_readme_parameter_table_matches_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- params-table:start -->") + len("<!-- params-table:start -->")
    end = readme.index("<!-- params-table:end -->")
    assert readme[start:end].strip() == params_table(load_params(ROOT / "params.yaml")), (
        "README parameter table is stale: regenerate it with `fashiongan params`"
    )


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:600]
    assert "make repro" in head and "make test" in head
