"""archstat verify NAME|PATH ... | --all: archstat's numbers against torch, fvcore and FlopCounterMode."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import CheckFailed, UsageError


@app.command("verify")
def verify_models(
    models: Optional[list[str]] = typer.Argument(None, help="Zoo names, config paths, or module:PKG.MOD:FACTORY "
                                                 "targets (with --input).", metavar="[NAME|PATH|module:...]..."),
    all_: bool = typer.Option(False, "--all", help="Every model in the zoo."),
    fmt: options.Format = "table",
    no_fvcore: bool = typer.Option(False, "--no-fvcore", help="Skip the fvcore check (it runs real CPU "
                                   "tensors at batch 1, the slow part)."),
    sets: options.Sets = None,
    input_: options.Inputs = None,
    memory_cap: int = typer.Option(2000, "--memory-cap", help="module: targets: MB a real CPU forward may take "
                                   "(parameters, buffers and activations; shapes and fvcore checks); above it they "
                                   "are skipped."),
):
    """Check every row's shape and params and the conv/linear MACs against the built torch module,
    FlopCounterMode and fvcore; a module: target against sum(numel), FlopCounterMode and fvcore op
    by op, and a real CPU forward. Exits 3 on any mismatch."""
    from archstat.builder import require_torch
    from archstat.report import verify_report
    from archstat.verify.crosscheck import FAIL, verify
    from archstat.zoo import as_target, zoo_names

    fmt = options.choice(fmt, options.FORMATS, "--format")
    if all_ and models:
        raise UsageError("give model names or --all, not both")
    from archstat.errors import one_line

    names = zoo_names() if all_ else list(models or [])
    if not names:
        raise UsageError("verify needs model names or --all")
    require_torch()
    params = options.parse_sets(sets)
    from archstat.cli import progress

    checks = []
    shown = progress.bar(f"verifying {one_line(names[0])}", len(names))   # a terminal only; nothing on a pipe
    for i, name in enumerate(names, 1):
        shown.update(i - 1, f"verifying {one_line(name)} ({i}/{len(names)})")
        target = as_target(name)   # a zoo module's name → its module: target
        if target.startswith("module:"):
            from archstat.verify.module_check import verify_module

            checks.extend(verify_module(target, options.parse_inputs(input_), fvcore=not no_fvcore,
                                        memory_cap=memory_cap * 1_000_000))
        else:
            checks.extend(verify(name, params, fvcore=not no_fvcore))
    shown.done()
    emit(verify_report.render(checks, fmt))
    if fmt in ("json", "csv"):   # the table and markdown end with it; beside data it is a diagnostic
        sys.stderr.write(verify_report.summary(checks) + "\n")
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(checks)} checks found a mismatch "
                          f"({', '.join(sorted({c.model for c in failed}))})")
