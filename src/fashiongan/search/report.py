"""What a sweep leaves behind: ``trials.csv``, the Optuna plots and a static ``report.html``.

The report opens from disk without a server or network: plotly.js is inlined once (from the
installed plotly package, not a CDN), sample grids are inline base64 PNGs, and the trials table
sorts with a few lines of inline JavaScript. Every backend feeds the same rows; a Keras Tuner
sweep is replayed into an in-memory Optuna study so it gets the same plots.
"""

from __future__ import annotations

import base64
import html
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from fashiongan.config import Params
from fashiongan.fileio import write_csv, write_text
from fashiongan.progress import log
from fashiongan.search.types import TrialRow

COLUMNS = ("number", "dropout", "first_layer_width", "{metric}", "state", "reason", "epochs_trained", "seconds", "last_reported", "counted")
PARAMS = ("dropout", "first_layer_width")


def _cell(value: Any) -> Any:
    """A table cell: floats to 6 significant digits, NaN and None empty."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def write_trials_csv(rows: list[TrialRow], path: Path, metric: str) -> Path:
    """One line per trial: number, the two params, the metric, state, reason, epochs, seconds."""
    header = [c.format(metric=metric) for c in COLUMNS]
    lines = (
        [_cell(v) for v in (r.number, r.dropout, r.first_layer_width, r.value, r.state, r.reason,
                            r.epochs_trained, r.seconds, r.last_reported, str(r.counted).lower())]
        for r in rows
    )  # fmt: skip
    return write_csv(path, header, lines)


def best_row(rows: list[TrialRow]) -> TrialRow | None:
    """The complete trial with the lowest value (ties: the earlier trial)."""
    done = [r for r in rows if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    return min(done, key=lambda r: (r.value, r.number)) if done else None


def study_from_rows(rows: list[TrialRow], params: Params) -> optuna.Study:
    """An in-memory Optuna study holding the rows, for the plots of a Keras Tuner sweep."""
    s = params.search
    dists = {
        "dropout": FloatDistribution(s.dropout_low, s.dropout_high),
        "first_layer_width": IntDistribution(s.width_low, s.width_high, log=True),
    }
    study = optuna.create_study(direction="minimize")
    states = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
    for r in rows:
        if r.dropout is None or r.first_layer_width is None or r.state not in states:
            continue
        study.add_trial(
            optuna.trial.create_trial(
                params={"dropout": r.dropout, "first_layer_width": r.first_layer_width},
                distributions=dists,
                value=r.value if r.state == "complete" else None,
                state=states[r.state],
                user_attrs={"number": r.number},
            )
        )
    return study


def _has_reports(study: optuna.Study) -> bool:
    """Whether any trial reported an intermediate score (else no intermediate-values plot)."""
    return any(t.intermediate_values for t in study.get_trials(deepcopy=False))


def _figures(study: optuna.Study) -> dict[str, Any]:
    """The plotly figures Optuna can draw for this study; those it cannot draw yet are skipped."""
    import optuna.visualization as vis

    makers: dict[str, Callable[[], Any]] = {
        "optimization history": lambda: vis.plot_optimization_history(study),
        **({"intermediate values": lambda: vis.plot_intermediate_values(study)} if _has_reports(study) else {}),
        "parameter importances": lambda: vis.plot_param_importances(study),
        "contour": lambda: vis.plot_contour(study, params=list(PARAMS)),
        "slice": lambda: vis.plot_slice(study, params=list(PARAMS)),
    }
    return _draw(makers)


def _draw(makers: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each figure its maker can draw; the first failure is logged, the rest of the report goes on."""
    out = {}
    complete = None
    for name, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = make()
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            complete = complete or f"{name}: {exc}"
    if complete:
        log(f"sweep report: some plots skipped ({complete})")
    return out


def write_plot_pngs(study: optuna.Study, folder: Path) -> list[Path]:
    """Static PNGs of the Optuna plots (matplotlib backend), small enough to log to MLflow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as mvis

    folder.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[], Any]] = {
        "optimization_history": lambda: mvis.plot_optimization_history(study),
        **({"intermediate_values": lambda: mvis.plot_intermediate_values(study)} if _has_reports(study) else {}),
        "param_importances": lambda: mvis.plot_param_importances(study),
        "contour": lambda: mvis.plot_contour(study, params=list(PARAMS)),
        "slice": lambda: mvis.plot_slice(study, params=list(PARAMS)),
    }
    written = []
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return written
    for name, axes in _draw(makers).items():
        first = axes.flat[0] if hasattr(axes, "flat") else axes
        fig = first.get_figure()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written


def _image_tag(path: str | None) -> str:
    """The trial's sample grid as an inline base64 PNG, so the report opens without its folder."""
    if not path or not Path(path).is_file():
        return "<span class=none>no samples</span>"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="samples" src="data:image/png;base64,{data}">'


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:middle}
th{cursor:pointer;background:#f4f4f4}td.l{text-align:left;max-width:28em}
tr.best{background:#e9f7e9}img{image-rendering:pixelated;width:140px}.none{color:#999}
.plot{margin:1em 0}
"""

_SORT = """
function sortBy(col){const t=document.getElementById('trials');const b=t.tBodies[0];
const rows=[...b.rows];const asc=t.dataset.col==col?t.dataset.asc!='1':true;t.dataset.col=col;t.dataset.asc=asc?'1':'0';
rows.sort((x,y)=>{const a=x.cells[col].dataset.v,c=y.cells[col].dataset.v;const na=parseFloat(a),nc=parseFloat(c);
const ea=a===''||isNaN(na),ec=c===''||isNaN(nc);if(ea&&ec)return a.localeCompare(c);if(ea)return 1;if(ec)return -1;
return asc?na-nc:nc-na;});rows.forEach(r=>b.appendChild(r));}
"""


def write_report_html(rows: list[TrialRow], study: optuna.Study, path: Path, summary: dict[str, Any]) -> Path:
    """A self-contained HTML report: summary, sortable trials table with sample grids, Optuna plots."""
    import plotly.offline

    metric = summary.get("metric", "value")
    best = summary.get("trial")
    headers = ["trial", "dropout", "first_layer_width", metric, "state", "reason", "epochs", "seconds", "samples"]
    body = []
    for r in sorted(rows, key=lambda r: (r.value is None, r.value if r.value is not None else 0, r.number)):
        values = [r.number, r.dropout, r.first_layer_width, r.value, r.state, r.reason, r.epochs_trained, r.seconds]
        cells = []
        for i, v in enumerate(values):
            shown = html.escape(str(_cell(v)))
            sort_key = html.escape(str(_cell(v)))
            cls = ' class="l"' if i in (4, 5) else ""
            cells.append(f'<td data-v="{sort_key}"{cls}>{shown}</td>')
        cells.append(f'<td data-v="" class="l">{_image_tag(r.grid_path)}</td>')
        mark = ' class="best"' if r.number == best and r.state == "complete" else ""
        body.append(f"<tr{mark}>{''.join(cells)}</tr>")
    head = "".join(f'<th onclick="sortBy({i})">{html.escape(h)}</th>' for i, h in enumerate(headers))
    plots = "".join(
        f'<div class="plot"><h3>{html.escape(name)}</h3>{fig.to_html(full_html=False, include_plotlyjs=False)}</div>'
        for name, fig in _figures(study).items()
    )
    summary_text = html.escape(json.dumps({k: v for k, v in summary.items() if k != "evaluation"}, indent=2, default=str))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>fashiongan sweep {html.escape(str(summary.get('study', '')))}</title>
<style>{_STYLE}</style><script type="text/javascript">{plotly.offline.get_plotlyjs()}</script><script>{_SORT}</script></head>
<body><h1>Sweep {html.escape(str(summary.get('study', '')))}</h1>
<p>Objective: {html.escape(metric)}, minimised. Click a column header to sort; the best trial is highlighted.</p>
<pre>{summary_text}</pre>
<h2>Trials</h2><table id="trials" data-col="3" data-asc="1"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<h2>Optuna plots</h2>{plots or '<p class=none>no plots yet (needs a complete trial)</p>'}
</body></html>
"""
    return write_text(path, page)
