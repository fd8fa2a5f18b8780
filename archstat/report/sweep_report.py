"""A sweep in the four formats."""

from __future__ import annotations

import csv
import io
import json

from archstat.report.units import fmt_bytes, fmt_int, fmt_shape


def point_dict(p) -> dict:
    return {"input": list(p.input), "batch": p.batch, "set": dict(p.params_set), "params": p.params,
            "macs": p.macs, "activation_bytes": p.activation_bytes, "training_bytes": p.training_bytes,
            "fits": p.fits}


def render(sweep, fmt: str):
    names = list(sweep.points[0].params_set) if sweep.points else []
    if fmt == "json":
        return json.dumps({"model": sweep.model, "dims": sweep.dims, "dtype": sweep.dtype, "optimizer": sweep.optimizer,
                           "amp": sweep.amp, "budget_bytes": sweep.budget,
                           "points": [point_dict(p) for p in sweep.points]}, indent=2)
    cols = ["input", "batch", *names, "params", "macs", "activation_bytes", "training_bytes"] + (
        ["fits"] if sweep.budget is not None else [])
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for p in sweep.points:
            w.writerow(["x".join(map(str, p.input)), p.batch, *(p.params_set[n] for n in names), p.params, p.macs,
                        p.activation_bytes, p.training_bytes] + ([int(p.fits)] if sweep.budget is not None else []))
        return out.getvalue()
    rows = [[fmt_shape(p.input), str(p.batch), *(str(p.params_set[n]) for n in names), fmt_int(p.params),
             fmt_int(p.macs), fmt_bytes(p.activation_bytes), fmt_bytes(p.training_bytes)]
            + (["yes" if p.fits else "no"] if sweep.budget is not None else []) for p in sweep.points]
    heads = ["Input", "Batch", *names, "Params", "MACs", "Activations", "Training memory"] + (
        [f"Fits {sweep.budget_text or fmt_bytes(sweep.budget)}"] if sweep.budget is not None else [])
    if fmt == "markdown":
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"{sweep.model}: sweep over {', '.join(sweep.dims) or 'one point'}",
                  title_justify="left", caption=f"training memory: params, gradients, {sweep.optimizer} state and "
                  f"saved activations ({'amp' if sweep.amp else sweep.dtype}); not workspace or allocator caching",
                  caption_justify="left")
    for h in heads:
        table.add_column(h, justify="left" if h in ("Input",) else "right")
    for r, p in zip(rows, sweep.points):
        style = None if p.fits is None else ("green" if p.fits else "red")
        table.add_row(*(Text(c) for c in r), style=style)
    return table
