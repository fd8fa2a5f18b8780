"""archstat plot: per-layer bars of one model, the zoo's cost against error, or a sweep."""

from __future__ import annotations

from typing import List, Optional

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.errors import UsageError


@app.command("plot")
def plot(
    models: Optional[List[str]] = typer.Argument(None, help="One model (per-layer bars), or several with --zoo.",
                                                 metavar="[NAME|PATH]..."),
    zoo: bool = typer.Option(False, "--zoo", help="MACs against published top-1 error, bubble area = params "
                             "(the ImageNet models of the zoo, or the models named)."),
    sweep: bool = typer.Option(False, "--sweep", help="Plot a sweep of the one model named: give --input, --batch "
                               "or --set with several values."),
    inputs: Optional[List[str]] = typer.Option(None, "--input", help="Input C×H×W (3x{128,224} with --sweep)."),
    batches: Optional[str] = typer.Option(None, "--batch", "-b", help="Batch size (1,8,32 with --sweep)."),
    sets: Optional[List[str]] = typer.Option(None, "--set", help="NAME=VALUE (NAME=V1,V2 with --sweep)."),
    fits: Optional[str] = typer.Option(None, "--fits", help="With --sweep: draw a memory budget, e.g. 24GiB."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output file, .png or .svg (default: NAME.png)."),
):
    """Pictures where a picture says it faster: where memory and params sit, what accuracy costs,
    how cost grows."""
    import sys

    from archstat.report import plots

    names = list(models or [])
    if zoo:
        from archstat.cli.list_cmd import zoo_rows

        rows = zoo_rows(None)
        if names:
            rows = [r for r in rows if r["name"] in names]
        else:
            rows = [r for r in rows if r["dataset"] == "ImageNet"]   # CIFAR/MNIST errors are not comparable
        entries = [r for r in rows if r["top1_error"] is not None]
        if not entries:
            raise UsageError("none of these models cites a top-1 error")
        fig, target = plots.zoo_figure(entries), out or "zoo.png"
    elif len(names) != 1:
        raise UsageError("plot takes one model (or --zoo)")
    elif sweep:
        from archstat.analyze.sweep import parse_bytes, run_sweep
        from archstat.cli.sweep_cmd import parse_grid

        shapes, batch_values, grid = parse_grid(inputs, batches, sets)
        result = run_sweep(names[0], shapes, batch_values, grid, budget=parse_bytes(fits) if fits else None)
        result.budget_text = fits or ""
        fig, target = plots.sweep_figure(result), out or f"{result.model}-sweep.png"
    else:
        from archstat.api import analyze

        if inputs and len(inputs) > 1:
            raise UsageError("--input takes one size without --sweep")
        stats = analyze(names[0], options.parse_sets(sets), input_shape=options.parse_input(inputs[0] if inputs else None),
                        batch=options.parse_batch(int(batches)) if batches else 1)
        fig, target = plots.layers_figure(stats), out or f"{stats.model}.png"
    path = plots.save(fig, target)
    sys.stderr.write(f"wrote {path}\n")
