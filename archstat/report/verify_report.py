"""The table of verify's checks in the four formats."""

from __future__ import annotations

from dataclasses import asdict

from archstat.report.sanitize import clean, csv_text, md_row, to_json

COLUMNS = ("model", "check", "archstat", "reference", "status", "detail")


def summary(checks) -> str:
    """'57 models, 342 checks: 330 ok, 2 differ (explained), 10 skipped, 0 mismatched'."""
    models = list(dict.fromkeys(c.model for c in checks))
    counts: dict[str, int] = {}
    for c in checks:
        counts[c.status] = counts.get(c.status, 0) + 1
    parts = [f"{counts.get('ok', 0)} ok"]
    if counts.get("differs, explained"):
        parts.append(f"{counts['differs, explained']} differ (explained)")
    parts += [f"{counts.get('skipped', 0)} skipped", f"{counts.get('MISMATCH', 0)} mismatched"]
    bad = sorted({c.model for c in checks if c.status == "MISMATCH"})
    return (f"{len(models)} model{'s' if len(models) != 1 else ''}, {len(checks)} checks: {', '.join(parts)}"
            + (f" ({', '.join(bad)})" if bad else ""))


def render(checks, fmt: str):
    if fmt == "json":
        return to_json([asdict(c) for c in checks])
    if fmt == "csv":
        return csv_text([COLUMNS] + [[getattr(c, k) for k in COLUMNS] for c in checks])
    if fmt == "markdown":
        lines = [md_row(COLUMNS), "|" + "---|" * len(COLUMNS)]
        lines += [md_row(getattr(c, k) for k in COLUMNS) for c in checks]
        return "\n".join(lines) + "\n\n" + clean(summary(checks)) + "\n"
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col.capitalize(), justify="right" if col in ("archstat", "reference") else "left")
    previous = None
    for c in checks:
        style = {"ok": "green", "MISMATCH": "bold red"}.get(c.status, "yellow")
        table.add_row(*(Text(clean(v)) for v in (c.model if c.model != previous else "", c.check, c.archstat,
                                                   c.reference)), Text(clean(c.status), style=style),
                      Text(clean(c.detail)))
        previous = c.model
    from rich.console import Group

    return Group(table, Text(clean(summary(checks)), style="bold red" if any(c.status == "MISMATCH" for c in checks)
                             else "bold"))
