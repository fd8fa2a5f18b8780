"""The claims of ``archstat reproduce`` in the four formats."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from archstat.report.units import fmt_computed


def _computed_text(value) -> str:
    if isinstance(value, list):
        return "×".join(map(str, value))
    return fmt_computed(value)


def _computed_json(value):
    if isinstance(value, Decimal):
        return float(round(value, 6))
    return value


def render(info: dict, results, fmt: str):
    if fmt == "json":
        return json.dumps({**info, "claims": [
            {"id": r.id, "claim": r.claim, "published": r.published, "computed": _computed_json(r.computed),
             "how": r.how, "status": r.status, "note": r.note, "source": r.source} for r in results]},
            indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["id", "claim", "published", "computed", "status", "note"])
        for r in results:
            w.writerow([r.id, r.claim, r.published, _computed_json(r.computed), r.status, r.note])
        return out.getvalue()
    if fmt == "markdown":
        lines = [f"## {info['name']}", "", info["description"], "", "| claim | published | computed | status | note |",
                 "|---|---|---:|---|---|"]
        lines += [f"| {r.claim} | {r.published} | {_computed_text(r.computed)} | {r.status} | {r.note} |".replace(
            "\n", " ") for r in results]
        return "\n".join(lines) + "\n"
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from archstat.analyze.references import REPRODUCED

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_lines=False)
    table.add_column("Claim", max_width=52)
    table.add_column("Published", max_width=14)
    table.add_column("Computed", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Note (what was computed)", max_width=60)
    for r in results:
        status = Text(r.status, style="green" if r.status == REPRODUCED else "bold red")
        note = r.note + ("; " if r.note else "") + f"[{r.how}]"
        table.add_row(Text(r.claim), Text(r.published), _computed_text(r.computed), status, Text(note))
    done = sum(r.status == REPRODUCED for r in results)
    return Group(Text(f"{info['description']}", style="bold"), Text(f"source: {info['source']}", style="dim"),
                 table, Text(f"{done} of {len(results)} reproduced; the computed value is shown whatever the verdict."))
