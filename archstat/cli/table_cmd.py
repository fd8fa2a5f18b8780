"""archstat table NAME|PATH: the per-layer table of one model."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit, render_stats

MODEL_HELP = ("A zoo name (see 'archstat list'), a path to a YAML config, or module:PKG.MODULE:FACTORY / "
              "module:FILE.py:FACTORY for an nn.Module (needs torch; --input, unless the factory returns example "
              "inputs or the model declares its size: timm, torchvision). module: imports and runs that "
              "Python code, as torch.hub does: use it only on code you trust.")


@app.command("table")
def table(
    model: str = typer.Argument(..., help=MODEL_HELP, metavar="NAME|PATH|module:..."),
    fmt: options.ReportFormat = "table",
    depth: options.Depth = None,
    batch: options.Batch = 1,
    input_: options.Inputs = None,
    dtype: options.Dtype = "float32",
    units: options.Units = "macs",
    unfold: bool = typer.Option(False, "--unfold", help="Show in-place ops and views as their own rows."),
    mode: options.Mode = "eval",
    optimizer: options.Optimizer = None,
    amp: options.Amp = False,
    sets: options.Sets = None,
    strict: bool = typer.Option(False, "--strict", help="Exit 3 when the total is incomplete (ops archstat "
                                "has no formula for: the MACs are a lower bound)."),
    convention: Optional[str] = typer.Option(None, "--convention", help="A module: also the total another "
                                             "counter would print (fvcore, flop_counter, ptflops, thop, torchinfo), "
                                             "with the rows where it differs and why."),
    wide: options.Wide = False,
    columns: options.Columns = None,
):
    """Per-layer output shape, activation memory, weights and MACs, with totals and the
    published figures beside the computed ones."""
    from archstat.api import analyze

    fmt = options.choice(fmt, options.FORMATS + ("html",), "--format")
    units = options.choice(units, options.UNITS, "--units")
    depth = options.parse_depth(depth)
    mode = options.choice(mode, options.MODES, "--mode")
    if convention is not None:
        from archstat.trace.conventions import PEERS

        convention = options.choice(convention, tuple(PEERS), "--convention")
    from archstat.zoo import as_target

    if as_target(model).startswith("module:"):
        from archstat.cli import progress

        progress.say(f"tracing {model} (its forward, op by op)")
    stats = analyze(model, options.parse_sets(sets), input_shape=options.parse_inputs(input_),
                    batch=options.parse_batch(batch), dtype=options.parse_dtype(dtype), fold=not unfold,
                    depth=depth, mode=mode, optimizer=options.parse_optimizer(optimizer, mode),
                    amp=options.check_amp(amp, mode), convention=convention)
    emit(render_stats(stats, fmt, units, output.view(columns, wide)))
    if strict and not stats.totals.complete:
        from archstat.errors import CheckFailed

        raise CheckFailed(f"--strict: the MACs total is a lower bound ({stats.totals.uncounted_text()})")
