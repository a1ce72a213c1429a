"""sweeps/report.html in a real browser (headless Chromium, offline): it sorts, shows every grid, draws the plots, logs no error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from browser import browser  # noqa: F401 - fixture
from PIL import Image

from fashiongan.params_file import parse_params
from fashiongan.search.report import study_from_rows, write_report_html
from fashiongan.search.types import TrialRow

# Two complete trials, a pruned one with intermediate scores, a failed one without a grid.
TRIALS = [(0, 0.1, 64, 50.0, "complete"), (1, 0.3, 128, 40.0, "complete"), (2, 0.5, 256, 60.0, "pruned"), (3, 0.2, 32, None, "failed")]


def report(folder: Path) -> tuple[Path, int]:
    """A report of :data:`TRIALS` with a sample grid per trial that has one; its path and the grid count."""
    rows = []
    for number, dropout, width, value, state in TRIALS:
        grid = None
        if state != "failed":
            grid = folder / f"grid_{number}.png"
            Image.fromarray((np.random.default_rng(number).random((56, 56)) * 255).astype(np.uint8)).save(grid)
        rows.append(TrialRow(number, dropout, width, value, state, grid_path=None if grid is None else str(grid)))
    study = study_from_rows(rows, parse_params({}))
    summary = {"study": "browser-test", "metric": "fid_fashion", "trial": 1, "value": 40.0}
    return write_report_html(rows, study, folder / "report.html", summary), sum(r.grid_path is not None for r in rows)


def fid_column(browser) -> list[str]:  # noqa: F811
    return browser.run("return [...document.querySelectorAll('#trials tbody tr')].map(r => r.cells[3].dataset.v)")


def test_report_opens_offline_sorts_shows_grids_and_plots_without_console_errors(tmp_path: Path, browser) -> None:  # noqa: F811
    page, grids = report(tmp_path)
    assert page.stat().st_size < 6_000_000  # plotly.js once (about 4.6 MB), not once per plot
    browser.open(page.as_uri())

    assert fid_column(browser) == ["40", "50", "60", ""]  # best first, the failed trial last
    browser.click("#trials th:nth-child(4)")  # the fid_fashion header: the same column, descending now
    assert fid_column(browser) == ["60", "50", "40", ""]
    browser.click("#trials th:nth-child(4)")
    assert fid_column(browser) == ["40", "50", "60", ""]

    images = browser.run("return [...document.images].map(i => [i.complete, i.naturalWidth])")
    assert len(images) == grids and all(done and width == 56 for done, width in images)

    plots = browser.run(
        "return [...document.querySelectorAll('div.plot')].map(d => [d.querySelector('h3').textContent,"
        " d.querySelectorAll('.js-plotly-plot .main-svg').length])"
    )
    assert {name for name, _ in plots} >= {"optimization history", "slice"}
    assert all(svgs > 0 for _, svgs in plots), plots
    remote = browser.run("return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
    assert remote == []  # nothing fetched: no CDN, no network
    errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
    assert errors == []
