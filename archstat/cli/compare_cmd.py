"""archstat compare A B [C ...]: totals side by side with ratios, then rows aligned by name."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import UsageError

if TYPE_CHECKING:
    from archstat.trace.inputs import InputShape

MAX_MODELS = 26   # one letter each
MAX_ROWS = 10_000   # rows of all models together: two models at the layer limit


def split_sets(models: list[str], sets: list[str]) -> list[dict[str, str]]:
    """``--set NAME=V`` goes to every model that declares NAME; ``--set B:NAME=V`` (a letter, or a
    model as given) to one model only."""
    from archstat.api import load_spec

    labels = list(string.ascii_uppercase[:len(models)])   # a list: 'AB' or '' is no letter
    per_model: list[dict[str, str]] = [{} for _ in models]
    from archstat.zoo import as_target

    specs = [None if as_target(m).startswith("module:") else load_spec(m) for m in models]
    for item in sets or []:
        target, sep, rest = item.partition(":")
        if sep and "=" not in target:
            if target in labels:
                indices = [labels.index(target)]
            elif target in models:
                indices = [i for i, m in enumerate(models) if m == target]
            else:
                raise UsageError(f"--set '{item}': '{target}' is not one of the models "
                                 f"({', '.join(f'{label}={m}' for label, m in zip(labels, models))})")
            parsed = options.parse_sets([rest])
            for i in indices:
                per_model[i].update(parsed)
            continue
        parsed = options.parse_sets([item])
        name = next(iter(parsed))
        indices = [i for i, s in enumerate(specs) if s is not None and name in s.params]
        if not indices:
            raise UsageError(f"--set '{item}': no model here declares '{name}'")
        for i in indices:
            per_model[i].update(parsed)
    return per_model


@app.command("compare")
def compare_models(
    models: list[str] = typer.Argument(..., help="Two or more zoo names, config paths or module:PKG.MOD:FACTORY "
                                       "targets (a module takes --input, else the first config's input).",
                                       metavar="A B [C]..."),
    fmt: options.ReportFormat = "table",
    depth: options.Depth = None,
    batch: options.Batch = 1,
    input_: options.Inputs = None,
    dtype: options.Dtype = "float32",
    units: options.Units = "macs",
    mode: options.Mode = "eval",
    sets: options.CompareSets = None,
    wide: options.Wide = False,
    columns: options.Columns = None,
    device: options.RooflineDevice = None,
):
    """Totals side by side with each model's ratio to the first, then an aligned breakdown."""
    from archstat.analyze.compare import Compared, compare
    from archstat.api import analyze
    from archstat.report import compare_report

    if len(models) < 2:
        raise UsageError("compare needs at least two models (the same one twice with --set B:NAME=VALUE "
                         "compares two settings)")
    if len(models) > MAX_MODELS:
        raise UsageError(f"compare takes at most {MAX_MODELS} models")
    fmt = options.choice(fmt, options.FORMATS + ("html",), "--format")
    device = options.one_device(device, "compare")
    units = options.choice(units, options.UNITS, "--units")
    mode = options.choice(mode, options.MODES, "--mode")
    depth = options.parse_depth(depth)
    shape = options.parse_inputs(input_)
    per_model = split_sets(models, sets or [])
    compared = []
    from archstat.zoo import as_target

    configs = [m for m in models if not as_target(m).startswith("module:")]
    from archstat.cli import progress

    for label, model, params in zip(string.ascii_uppercase, models, per_model):
        progress.say(f"analysing {label}: {model} ({string.ascii_uppercase.index(label) + 1}/{len(models)})")
        if as_target(model).startswith("module:") and params:
            raise UsageError(f"--set: {model} is a module, which declares no params")
        run: dict[str, Any] = dict(batch=options.parse_batch(batch), dtype=options.parse_dtype(dtype), depth=depth,
                                   mode=mode)
        if as_target(model).startswith("module:"):
            from archstat.api import load_spec
            from archstat.trace.factory import analyze_target

            # the module's input as every command finds it; one that has none of its own takes the config's
            beside: InputShape | None = load_spec(configs[0]).input if configs else None
            stats = analyze_target(as_target(model), shape, fallback=beside, **run)
        else:
            stats = analyze(model, params, input_shape=shape, **run)
        compared.append(Compared(label, model, stats, {k: stats.params[k] for k in params}))
        rows = sum(len(c.stats.rows) for c in compared)
        if rows > MAX_ROWS:
            raise UsageError(f"the models have {rows:,} rows together; compare shows at most {MAX_ROWS:,} "
                             "(use --depth N to compare blocks)")
    comparison = compare(compared)
    if device:
        from archstat.api import roofline
        from archstat.report.roofline_report import compare_extras

        comparison.extras = compare_extras([roofline(
            m.model, params, device=device, dtype=dtype, batch=batch, input_shape=shape) for m, params in
            zip(compared, per_model)])
    emit(compare_report.render(comparison, fmt, units, output.view(columns, wide)))
