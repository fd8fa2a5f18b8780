"""archstat sweep NAME: params, MACs, activation and training memory over a grid."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import UsageError


def _square(text: str) -> str:
    """'3x224' (C×S) means a square input: '3x224x224'."""
    import re

    parts = re.split(r"\s*[x×,]\s*", text.strip())
    return f"{parts[0]}x{parts[1]}x{parts[1]}" if len(parts) == 2 else text


def parse_grid(inputs: Optional[list[str]], batches: Optional[str], sets: Optional[list[str]]):
    """--input (repeatable, braces), --batch 1,{8,32} and --set NAME=V1,V2 (each NAME once, as in table)."""
    from archstat.analyze.sweep import MAX_POINTS, expand_braces, split_values

    shapes: list[Optional[tuple[int, ...]]] = [None]
    if inputs:   # 3,224,224 is one size: commas are not separators here
        texts = [v for text in inputs for v in expand_braces(text)]
        if len(texts) > MAX_POINTS:
            raise UsageError(f"--input: more than {MAX_POINTS:,} sizes")
        shapes = [options.parse_input(_square(t)) for t in texts]
    batch_values = [1]
    if batches is not None:
        batch_texts = split_values(batches, "--batch")
        try:
            batch_values = [options.parse_batch(int(b)) for b in batch_texts]
        except ValueError:
            raise UsageError(f"--batch '{batches}': expected integers such as 1,8,32") from None
    grid: dict[str, list[str]] = {}
    for item in sets or []:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise UsageError(f"--set '{item}': expected NAME=V1,V2,... e.g. --set width=1,2,4")
        if not name.isidentifier():
            raise UsageError(f"--set '{item}': '{name}' is not a param name")
        if name in grid:
            raise UsageError(f"--set '{item}': {name} is set twice (give its values in one --set: {name}=V1,V2)")
        grid[name] = split_values(values, "--set")
    return shapes, batch_values, grid


@app.command("sweep")
def sweep(
    model: str = typer.Argument(..., help="A zoo name, a config path or module:PKG.MOD:FACTORY (its input: "
                               "--input, else its own).", metavar="NAME|PATH|module:..."),
    inputs: options.InputSizes = None,
    batches: options.Batches = None,
    sets: options.GridSets = None,
    fits: options.Fits = None,
    dtype: options.Dtype = "float32",
    optimizer: options.Optimizer = None,
    amp: options.Amp = False,
    fmt: options.Format = "table",
    wide: options.Wide = False,
    columns: options.Columns = None,
):
    """One row per point of the grid: params, MACs, forward activation memory and training memory
    (the --mode train estimate), and with --fits whether it fits the budget."""
    from archstat.analyze.sweep import parse_bytes
    from archstat.orchestrate import run_sweep
    from archstat.report import sweep_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    budget = parse_bytes(fits) if fits else None
    shapes, batch_values, grid = parse_grid(inputs, batches, sets)
    total = len(shapes) * len(batch_values)
    for values in grid.values():
        total *= len(values)
    from archstat.cli import progress

    # a terminal only, nothing on a pipe: a bar for a long grid, the command's spinner for a short one
    progress.say(f"sweeping {model}")
    shown = progress.bar(f"sweeping {model}", total) if total > 20 else None
    result = run_sweep(model, shapes, batch_values, grid, dtype=options.parse_dtype(dtype),
                       optimizer=options.choice(optimizer or "adam", options.OPTIMIZERS, "--optimizer"), amp=amp,
                       budget=budget, progress=None if shown is None else lambda done, n: shown.update(done))
    result.budget_text = fits or ""
    emit(sweep_report.render(result, fmt, output.view(columns, wide)))
