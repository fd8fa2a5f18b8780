"""archstat reproduce [FILE]: the lecture's claims with their computed values and verdicts."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit


@app.command("reproduce")
def reproduce_claims(
    file: Optional[str] = typer.Argument(None, help="A claims file (default: the bundled cs231n Lecture 9 claims)."),
    fmt: options.Format = "table",
    wide: options.Wide = False,
):
    """Each published figure or claim beside what archstat computes: REPRODUCED or NOT REPRODUCED.
    Exits 0 whatever the verdicts: it reports."""
    from archstat.orchestrate import reproduce
    from archstat.report import claims_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    info, results = reproduce(file)
    emit(claims_report.render(info, results, fmt, output.view(None, wide)))
