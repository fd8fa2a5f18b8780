"""A sweep in the four formats."""

from __future__ import annotations

from archstat.report.sanitize import csv_text, md_row, to_json
from archstat.report.units import fmt_bytes, fmt_bytes_compact, fmt_compact, fmt_int, fmt_shape


def point_dict(p) -> dict:
    return {"input": list(p.input), "batch": p.batch, "set": dict(p.params_set), "params": p.params,
            "macs": p.macs, "activation_bytes": p.activation_bytes, "training_bytes": p.training_bytes,
            "fits": p.fits}


def render(sweep, fmt: str, view=None):
    """The sweep in ``fmt``: json, csv, markdown or the fitted table (anything else)."""
    return RENDERERS.get(fmt, render_table)(sweep, view)


def _names(sweep) -> list[str]:
    return list(sweep.points[0].params_set) if sweep.points else []


def render_json(sweep, view=None) -> str:
    return to_json({"model": sweep.model, "dims": sweep.dims, "dtype": sweep.dtype, "optimizer": sweep.optimizer,
                    "amp": sweep.amp, "budget_bytes": sweep.budget,
                    "points": [point_dict(p) for p in sweep.points]})


def render_csv(sweep, view=None) -> str:
    names = _names(sweep)
    cols = ["input", "batch", *names, "params", "macs", "activation_bytes", "training_bytes"] + (
        ["fits"] if sweep.budget is not None else [])
    lines = [cols]
    for p in sweep.points:
        lines.append(["x".join(map(str, p.input)), p.batch, *(p.params_set[n] for n in names), p.params, p.macs,
                      p.activation_bytes, p.training_bytes] + ([int(p.fits)] if sweep.budget is not None else []))
    return csv_text(lines)


def _heads(sweep, names) -> list[str]:
    return ["Input", "Batch", *names, "Params", "MACs", "Activations", "Training memory"] + (
        [f"Fits {sweep.budget_text or fmt_bytes(sweep.budget)}"] if sweep.budget is not None else [])


def render_markdown(sweep, view=None) -> str:
    names = _names(sweep)
    rows = [[fmt_shape(p.input), str(p.batch), *(str(p.params_set[n]) for n in names), fmt_int(p.params),
             fmt_int(p.macs), fmt_bytes(p.activation_bytes), fmt_bytes(p.training_bytes)]
            + (["yes" if p.fits else "no"] if sweep.budget is not None else []) for p in sweep.points]
    heads = _heads(sweep, names)
    lines = [md_row(heads), "|" + "---|" * len(heads)]
    lines += [md_row(r) for r in rows]
    return "\n".join(lines) + "\n"


def render_table(sweep, view=None):
    from archstat.report.fit import Col, Doc, View, wrap
    from archstat.report.fit import render as fit_render

    names = _names(sweep)
    view = view or View()
    pts = sweep.points
    cols = [Col("input", "Input", [[fmt_shape(p.input) for p in pts]], keep=100),
            Col("batch", "Batch", [[str(p.batch) for p in pts]], right=True, keep=99)]
    cols += [Col(n, n, [[str(p.params_set[n]) for p in pts]], right=True, keep=98) for n in names]
    for key, head, short, keep, exact, compact in (
            ("params", "Params", "", 60, fmt_int, fmt_compact), ("macs", "MACs", "", 70, fmt_int, fmt_compact),
            ("activation_bytes", "Activations", "Activ.", 65, fmt_bytes, fmt_bytes_compact),
            ("training_bytes", "Training memory", "Train mem.", 90, fmt_bytes, fmt_bytes_compact)):
        values = [getattr(p, key) for p in pts]
        cols.append(Col(key, head, [[exact(v) for v in values], [compact(v) for v in values]], short=short,
                        right=True, keep=keep))
    if sweep.budget is not None:
        cols.append(Col("fits", _heads(sweep, names)[-1], [["yes" if p.fits else "no" for p in pts]], short="Fits",
                        keep=95))
    width = view.width if not view.wide else 10**6
    doc = Doc().add(wrap(f"{sweep.model}: sweep over {', '.join(sweep.dims) or 'one point'}", width), "bold")
    styles = [None if p.fits is None else ("green" if p.fits else "red") for p in pts]
    doc.extend(fit_render(cols, view, styles))
    return doc.add(wrap(f"training memory: params, gradients, {sweep.optimizer} state and saved activations "
                        f"({'amp' if sweep.amp else sweep.dtype}); not workspace or allocator caching", width), "dim")


RENDERERS = {"json": render_json, "csv": render_csv, "markdown": render_markdown, "table": render_table}
