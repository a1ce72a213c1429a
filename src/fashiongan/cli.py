"""``fashiongan`` command line: one command per pipeline stage, plus sample, ui, params, check and selftest.

Every stage command calls the same function in :mod:`fashiongan.stages` as its ``pipelines/``
script (imported after ``train.backend`` has chosen the Keras backend), reads ``params.yaml`` (or ``--params``) through the one schema and accepts ``--set
key=value`` overrides (:mod:`fashiongan.overrides`), so ``fashiongan train --set train.epochs=1``
behaves like ``dvc exp run -S train.epochs=1`` without DVC.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from fashiongan.config import Params
from fashiongan.params_file import DEFAULT_PARAMS, load_params
from fashiongan.errors import exit_on_error
from fashiongan.overrides import resolve_params
from fashiongan.logs import set_verbose
from fashiongan.params_doc import effective_params, params_help
from fashiongan.stages import stage_function

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="DCGANs on Fashion-MNIST: fetch, preprocess, train, evaluate, sweep and promote, driven by params.yaml.",
)

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", metavar="PATH", help="params file (default: ./params.yaml)")]


def _verbose(value: bool) -> bool:
    """Typer callback: runs while parsing, before the stage imports TensorFlow."""
    if value:
        set_verbose()
    return value


VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", callback=_verbose, is_eager=True, help="show TensorFlow's and the libraries' log lines (quiet by default)"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-S", metavar="KEY=VALUE", help="override a parameter, e.g. -S train.epochs=1 (repeatable; value parsed as YAML)"),
]

# --help lists the values in effect here, so a user sees what a run would use.
IN_EFFECT = effective_params()


def show(result: dict[str, Any]) -> None:
    """Print a stage's summary as JSON on stdout (machine-readable, quiet otherwise)."""
    typer.echo(json.dumps(result, indent=2, sort_keys=True, default=str))


@app.command(epilog=params_help("data", params=IN_EFFECT))
@exit_on_error
def fetch(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Download (or copy from a mirror, or take the bundled sample) the four Fashion-MNIST files into data/raw/, verified."""
    from fashiongan.stages.data import fetch_stage

    manifest = fetch_stage(resolve_params(params, set_))
    show({"source": manifest["source"], "counts": manifest["counts"]})


@app.command(epilog=params_help("data", params=IN_EFFECT))
@exit_on_error
def preprocess(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Decode data/raw/ to float32 arrays in [-1, 1]: data/processed/train.npz (trained on) and test.npz (held out)."""
    from fashiongan.stages.data import preprocess_stage

    show(preprocess_stage(resolve_params(params, set_)))


@app.command("train-classifier", epilog=params_help("evaluate", params=IN_EFFECT))
@exit_on_error
def train_classifier(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Train the Fashion-MNIST classifier whose features define fid_fashion; cache real-image statistics."""
    resolved = resolve_params(params, set_)
    show(stage_function("train_classifier", resolved)(resolved))


@app.command(epilog=params_help("model", "train", params=IN_EFFECT))
@exit_on_error
def train(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Train the configured DCGAN preset; resumes from checkpoints/ after an interruption."""
    resolved = resolve_params(params, set_)
    show(stage_function("train", resolved)(resolved))


@app.command(epilog=params_help("evaluate", params=IN_EFFECT))
@exit_on_error
def evaluate(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Score models/generator.keras: fid_fashion, kid_fashion, coverage, precision/recall (and fid_inception)."""
    resolved = resolve_params(params, set_)
    show(stage_function("evaluate", resolved)(resolved))


@app.command(epilog=params_help("search", params=IN_EFFECT))
@exit_on_error
def sweep(
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
    workers: Annotated[int | None, typer.Option(help="worker processes on this machine (default: search.workers)")] = None,
) -> None:
    """Search model.dropout and model.first_layer_width against FID; resumes the study; writes sweeps/."""
    resolved = resolve_params(params, set_)
    show(stage_function("sweep", resolved)(resolved, workers=workers))


@app.command(epilog=params_help("registry", params=IN_EFFECT))
@exit_on_error
def promote(
    params: ParamsOpt = DEFAULT_PARAMS,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
    force: Annotated[bool, typer.Option(help="move the alias even if not better or the protocol differs")] = False,
) -> None:
    """Register the evaluated generator and move alias `champion` to it only if its FID is strictly better."""
    resolved = resolve_params(params, set_)
    show(stage_function("promote", resolved)(resolved, force=force))


@app.command()
@exit_on_error
def sample(
    model: Annotated[str, typer.Option(help="MLflow model URI, e.g. models:/fashion-dcgan@champion")] = "models:/fashion-dcgan@champion",
    n: Annotated[int, typer.Option(help="number of images")] = 64,
    out: Annotated[Path, typer.Option(help="PNG file to write")] = Path("grid.png"),
    seed: Annotated[int, typer.Option(help="latent seed (same seed, same images)")] = 0,
    params: ParamsOpt = DEFAULT_PARAMS,
) -> None:
    """Load a generator from the registry (or any MLflow model URI) and write a sample grid PNG."""
    resolved = load_params(params) if params.is_file() else Params()
    typer.echo(str(stage_function("sample", resolved)(resolved, model, n, out, seed)))


@app.command()
@exit_on_error
def ui(
    params: ParamsOpt = DEFAULT_PARAMS,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
) -> None:
    """Start `mlflow ui` on the project's tracking store, bound to 127.0.0.1."""
    from fashiongan.tracking import ui_command, ui_env, ui_links

    project = load_params(params)
    command = ui_command(project, port=port)
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} (Ctrl-C to stop); the runs, in Model training mode:")
    links = ui_links(project, port=port) or {"no runs yet": f"http://127.0.0.1:{port}"}
    for name, link in links.items():
        typer.echo(f"  {name}: {link}")
    os.execve(command[0], command, ui_env(os.environ))


@app.command("params")
@exit_on_error
def params_cmd(
    params: ParamsOpt = DEFAULT_PARAMS,
    readme: Annotated[Path | None, typer.Option(help="rewrite the table between the markers of this file")] = None,
) -> None:
    """Print the Markdown table of every parameter (the README's table is this output)."""
    from fashiongan.params_doc import params_table, rewrite_readme

    table = params_table(load_params(params))
    if readme is None:
        typer.echo(table)
        return
    rewrite_readme(readme, table)


FAULT_SUITE = ["-m", "pytest", "tests/faults", "-m", "faults", "-q"]


def suite_table(output: str) -> list[str]:
    """The lines of pytest's ``fault suite`` section (the tally), then its closing summary line."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("=") and " fault suite " in line), None)
    if start is None:
        return lines[-1:]
    end = next((i for i in range(start + 1, len(lines) - 1) if lines[i].startswith("=")), len(lines) - 1)
    return lines[start + 1 : end] + lines[-1:]


@app.command()
@exit_on_error
def selftest(
    faults: Annotated[bool, typer.Option("--faults", help="run the fault suite: bad inputs, killed runs, lost servers, concurrency, security")] = False,
    only: Annotated[str | None, typer.Option("--only", help="run only the cases this pytest -k expression selects")] = None,
) -> None:
    """Run a self-test suite of a source checkout and print its summary table (takes minutes)."""
    import importlib.util
    import subprocess
    import sys

    from fashiongan.errors import FashionGanError

    if not faults:
        raise FashionGanError("name the suite to run: `fashiongan selftest --faults`")
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "faults" / "conftest.py").is_file():
        raise FashionGanError(
            f"no tests/faults next to the package ({root}): the self-tests ship only with a source checkout; "
            "clone the repository and run `pip install -e '.[test]'` there"
        )
    if importlib.util.find_spec("pytest") is None:
        raise FashionGanError("pytest is not installed: run `pip install -e '.[test]'` (or `make test`) first")
    suite = [*FAULT_SUITE, *(["-k", only] if only else [])]
    typer.echo(f"running {' '.join(['python', *suite])} in {root} ...", err=True)
    result = subprocess.run([sys.executable, *suite], cwd=root, capture_output=True, text=True)
    typer.echo("\n".join(suite_table(result.stdout)))
    if result.returncode != 0:
        failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        typer.echo("\n".join(failed), err=True)
        raise FashionGanError(
            f"the fault suite failed (pytest exit {result.returncode}, {len(failed)} failing): "
            "run `python -m pytest tests/faults -m faults` in the checkout for details"
        )


@app.command()
@exit_on_error
def check(params: ParamsOpt = DEFAULT_PARAMS, set_: SetOpt = None, verbose: VerboseOpt = False) -> None:
    """Validate params.yaml and print the effective values."""
    show(resolve_params(params, set_).flat())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
