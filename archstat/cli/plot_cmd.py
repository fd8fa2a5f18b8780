"""archstat plot: per-layer bars of one model, the zoo's cost against error, or a sweep."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.errors import UsageError


@app.command("plot")
def plot(
    models: Optional[list[str]] = typer.Argument(None, help="One model (per-layer bars), or several with --zoo.",
                                                 metavar="[NAME|PATH]..."),
    zoo: bool = typer.Option(False, "--zoo", help="MACs against published top-1 error, bubble area = params "
                             "(the ImageNet models of the zoo, or the models named)."),
    sweep: bool = typer.Option(False, "--sweep", help="Plot a sweep of the one model named: give --input, --batch "
                               "or --set with several values."),
    inputs: options.InputSizes = None,
    batches: options.Batches = None,
    sets: options.GridSets = None,
    fits: options.Fits = None,
    depth: options.Depth = None,
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output file, .png or .svg (default: NAME.png)."),
    roofline: bool = typer.Option(False, "--roofline", help="The roofline of one model on --device (log-log)."),
    device: options.RooflineDevice = None,
    dtype: options.RooflineDtype = "fp32",
):
    """Pictures where a picture says it faster: where memory and params sit, what accuracy costs,
    how cost grows."""
    from archstat.cli import progress

    progress.say("analysing and drawing")
    names = list(models or [])
    if depth is not None and (depth < 1 or zoo or sweep or roofline):
        raise UsageError(f"--depth {depth}: must be at least 1" if depth < 1 else
                         "--depth applies to the per-layer bars of one model (not --zoo, --sweep or --roofline)")
    if zoo:
        fig, target = _zoo(names, out)
    elif len(names) != 1:
        raise UsageError("plot takes one model (or --zoo)")
    elif roofline:
        fig, target = _roofline(names[0], out, device, dtype, inputs, batches, sets)
    elif sweep:
        fig, target = _sweep(names[0], out, inputs, batches, sets, fits)
    else:
        fig, target = _layers(names[0], out, inputs, batches, sets, depth)
    _save(fig, target)


def _zoo(names: list[str], out: Optional[str]):
    """MACs against published top-1 error: the ImageNet models of the zoo, or the models named."""
    from archstat.cli.list_cmd import zoo_rows
    from archstat.report import plots

    rows = zoo_rows(None)
    if names:
        rows = [r for r in rows if r["name"] in names]
    else:
        rows = [r for r in rows if r["dataset"] == "ImageNet"]   # CIFAR/MNIST errors are not comparable
    entries = [r for r in rows if r["top1_error"] is not None]
    if not entries:
        raise UsageError("none of these models cites a top-1 error")
    return plots.zoo_figure(entries), out or "zoo.png"


def _roofline(name: str, out: Optional[str], device: Optional[str], dtype: str, inputs, batches, sets):
    from archstat.api import roofline as predict_roofline
    from archstat.report.roofline_plot import roofline_figure

    if not device:
        raise UsageError("--roofline needs --device (h100, a100, cpu, …)")
    device = options.one_device(device, "plot --roofline")
    rl = predict_roofline(name, options.parse_sets(sets), device=device, dtype=dtype,
                          batch=options.parse_batch(int(batches)) if batches else 1,
                          input_shape=options.parse_inputs(inputs))   # a config's one, or a module's any
    return roofline_figure(rl), out or f"{rl.model}-roofline-{rl.roof.device}.png"


def _sweep(name: str, out: Optional[str], inputs, batches, sets, fits: Optional[str]):
    from archstat.analyze.sweep import parse_bytes
    from archstat.cli.sweep_cmd import parse_grid
    from archstat.orchestrate import run_sweep
    from archstat.report import plots

    shapes, batch_values, grid = parse_grid(inputs, batches, sets)
    result = run_sweep(name, shapes, batch_values, grid, budget=parse_bytes(fits) if fits else None)
    result.budget_text = fits or ""
    return plots.sweep_figure(result), out or default_name(result.model, "-sweep.png")


def _layers(name: str, out: Optional[str], inputs, batches, sets, depth: Optional[int]):
    """Per-layer bars of one model."""
    from archstat.api import analyze
    from archstat.report import plots

    if inputs and len(inputs) > 1:
        raise UsageError("--input takes one size without --sweep")
    if batches is not None and not batches.strip().isdigit():
        raise UsageError(f"--batch '{batches}': expected one positive integer without --sweep")
    stats = analyze(name, options.parse_sets(sets), input_shape=options.parse_inputs(inputs),
                    batch=options.parse_batch(int(batches)) if batches else 1, depth=depth)
    return plots.layers_figure(stats), out or default_name(stats.model, ".png")


def _save(fig, target: str) -> None:
    """Whole or not at all: drawn into a temporary file beside the target, renamed when complete."""
    import sys

    from archstat.cli.output import file_error, write_file
    from archstat.errors import one_line
    from archstat.report import plots

    try:
        check_out(target)
    except OSError as exc:   # a name too long to even look up
        raise file_error(target, exc) from None
    try:
        path = write_file(target, lambda tmp: plots.save(fig, tmp, Path(target).suffix))
    finally:   # pyplot keeps every figure until closed (an API caller may plot many)
        import matplotlib.pyplot as plt

        plt.close(fig)
    sys.stderr.write(f"wrote {one_line(str(path))}\n")


def default_name(model: str, suffix: str) -> str:
    """A plain file name in the current folder, whatever the config's name says ('../x', '/abs/x')."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "_", model).lstrip(".")[:100] or "model"
    return stem + suffix


def check_out(target: str) -> None:
    """--out names a file to write in a folder that exists: said before anything is drawn."""
    path = Path(target)
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--out {target}: the file must end in .png or .svg")
    if path.is_dir():
        raise UsageError(f"--out {target}: is a folder; give a file name such as {path / 'plot.png'}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"--out {target}: the folder {parent} does not exist")

