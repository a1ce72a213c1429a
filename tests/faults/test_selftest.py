"""``fashiongan selftest --faults`` runs this suite and relays the table it counted: the parser on pytest's
output, and a real run of two cases whose counts the table must show."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashiongan.cli import suite_table

from .conftest import Tally, cli, one_line_error

pytestmark = pytest.mark.faults

SHORT_SUMMARY = "=========================== short test summary info ============================\n"
PYTEST_OUTPUT = """\
..........................                                               [100%]
================================= fault suite ==================================
bad inputs tried            26
bad inputs handled cleanly  26
faults injected             8
faults recovered            8
trials lost                 0
runs left RUNNING           0
=========================== short test summary info ============================
26 passed in 300.00s (0:05:00)
"""


@pytest.mark.parametrize("output", [PYTEST_OUTPUT, PYTEST_OUTPUT.replace(SHORT_SUMMARY, "")], ids=["failed", "passed"])
def test_the_table_is_cut_from_pytest_output(output: str) -> None:
    table = suite_table(output)
    assert table[0] == "bad inputs tried            26" and table[5] == "runs left RUNNING           0"
    assert table[-1] == "26 passed in 300.00s (0:05:00)" and len(table) == 7
    assert suite_table("no tests ran in 0.01s") == ["no tests ran in 0.01s"]


def test_selftest_without_a_suite_is_a_one_line_error(tmp_path: Path, tally: Tally) -> None:
    handled = False
    try:
        line = one_line_error(cli(["selftest"], tmp_path))
        assert "fashiongan selftest --faults" in line, line
        handled = True
    finally:
        tally.bad_input(handled)


def test_selftest_runs_the_cases_and_prints_what_they_counted(tmp_path: Path) -> None:
    """Two bad-input cases, run for real through the command: the table counts exactly them."""
    from .conftest import ok

    result = ok(cli(["selftest", "--faults", "--only", "test_bad_input and ((unknown and backend) or (unknown and params and key))"],
                    tmp_path))
    table = dict(line.rsplit(None, 1) for line in result.stdout.splitlines()[:-1] if line.strip())
    expected = {"bad inputs tried": "2", "bad inputs handled cleanly": "2", "faults injected": "0"}
    assert expected.items() <= table.items(), result.stdout
    assert result.stdout.splitlines()[-1].startswith("2 passed"), result.stdout
