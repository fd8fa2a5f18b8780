"""One self-contained HTML file (no network, no CDN): the header, the per-layer table with
sortable columns, the totals, the published-vs-computed block and the per-layer plot as inline
SVG. The same pieces, without the page around them, are what notebooks show (``_repr_html_``).

Readable at phone width (390 px: the table scrolls sideways inside its box, less important
columns are hidden, the plot scales) and at desktop width (1280 px)."""

from __future__ import annotations

from archstat.analyze.stats import ModelStats
from archstat.report.rows import cells, describe_run, header, total_cells
from archstat.report.sanitize import html as escape  # clean, then HTML-escaped
from archstat.report.units import (
    compute_unit,
    fmt_bytes,
    fmt_bytes_compact,
    fmt_compact,
    fmt_computed,
    fmt_int,
    fmt_shape,
)

NUMERIC = {"activations", "memory", "weights", "biases", "params", "macs", "flops", "rf", "saved"}
NARROW_HIDDEN = ("output", "activations", "weights", "biases")   # hidden below 640 px

CSS = """
.archstat{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;max-width:1400px}
.archstat h1{font-size:1.3em;margin:.2em 0}.archstat h2{font-size:1.1em;margin:1.2em 0 .4em}
.archstat .meta{color:#57606a;margin:.1em 0;font-size:.92em}
.archstat .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #d0d7de;border-radius:6px}
.archstat table{border-collapse:collapse;font-variant-numeric:tabular-nums;width:100%}
.archstat th,.archstat td{padding:3px 8px;white-space:nowrap;text-align:left;border-bottom:1px solid #eaeef2}
.archstat th{position:sticky;top:0;background:#f6f8fa;cursor:pointer;user-select:none}
.archstat th.sorted-asc::after{content:" \\25B2"}.archstat th.sorted-desc::after{content:" \\25BC"}
.archstat td.n,.archstat th.n{text-align:right}
.archstat tr.input td{color:#57606a}.archstat tr.aux td{font-style:italic}
.archstat tfoot td{font-weight:600;border-top:2px solid #8c959f}
.archstat ul.totals{padding-left:1.2em}.archstat ul.totals li{margin:.15em 0}
.archstat .checks{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.archstat .check{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px}
.archstat .check dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:.4em 0 0}
.archstat .check dt{color:#57606a}.archstat .check dd{margin:0;overflow-wrap:anywhere}
.archstat .status{font-weight:700}.archstat .ok{color:#1a7f37}.archstat .bad{color:#cf222e}
.archstat .pub{color:#0969da}
.archstat .plot{overflow-x:auto}.archstat svg{width:100%;height:auto;display:block}
.archstat .c{display:none}.archstat .plot .narrow{display:none}
@media (max-width:640px){.archstat{font-size:12.5px}.archstat .narrow-hide{display:none}
.archstat .x{display:none}.archstat .c{display:inline}.archstat .plot .wide.has-narrow{display:none}
.archstat .plot .narrow{display:block;max-width:480px}
.archstat th,.archstat td{padding:3px 3px}.archstat .scroll{border:0}
.archstat td:first-child{white-space:normal;overflow-wrap:anywhere;min-width:5em}}
"""

SORT_JS = """
document.querySelectorAll('.archstat table.sortable').forEach(function(t){
  t.querySelectorAll('thead th').forEach(function(th,i){th.addEventListener('click',function(){
    var asc=!th.classList.contains('sorted-asc'),b=t.tBodies[0],rows=Array.from(b.rows);
    rows.sort(function(x,y){var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v,r;
      if(a!==undefined&&c!==undefined){r=Number(a)-Number(c)}else{r=x.cells[i].textContent.localeCompare(y.cells[i].textContent)}
      return asc?r:-r});
    t.querySelectorAll('thead th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc')});
    th.classList.add(asc?'sorted-asc':'sorted-desc');rows.forEach(function(r){b.appendChild(r)})})})});
"""


def _values(stats: ModelStats, units: str) -> dict[str, list]:
    """The exact number behind each numeric cell (what sorting compares)."""
    _, factor = compute_unit(units)
    rows = stats.rows
    return {"activations": [r.activation_elements for r in rows], "memory": [r.activation_bytes for r in rows],
            "weights": [r.weights for r in rows], "biases": [r.biases for r in rows],
            "params": [r.params for r in rows], "macs": [r.macs * factor for r in rows],
            "flops": [r.macs * factor for r in rows],
            "rf": [(r.rf.size[0] if r.rf and not r.rf.is_global else 10**12) for r in rows],
            "saved": [r.saved_bytes for r in rows]}


def table_html(stats: ModelStats, units: str) -> str:
    keys = [k.lower() for k in header(stats, units)]
    shown = [i for i, k in enumerate(keys) if k != "op"]
    values = _values(stats, units)

    def cls(k):
        return " ".join(x for x in ("n" if k in NUMERIC else "", "narrow-hide" if k in NARROW_HIDDEN else "") if x)

    from archstat.report.table_report import COLUMNS

    out = ['<div class="scroll"><table class="sortable"><thead><tr>']
    out += [f'<th class="{cls(keys[i])}" title="click to sort">{escape(COLUMNS[keys[i]][0])}</th>' for i in shown]
    out.append("</tr></thead><tbody>")
    for j, row in enumerate(stats.rows):
        c = cells(row, units, bool(stats.training))
        kind = "input" if row.op == "input" else ("aux" if row.aux else "")
        out.append(f'<tr class="{kind}">' if kind else "<tr>")
        for i in shown:
            k = keys[i]
            v = f' data-v="{values[k][j]}"' if k in values else ""
            exact = values[k][j] if k in values and k != "rf" else None
            out.append(f'<td class="{cls(k)}"{v}>{_both(c[i], exact, k)}</td>')
        out.append("</tr>")
    foot = total_cells(stats, units)
    t = stats.totals
    _, factor = compute_unit(units)
    totals = {"activations": t.activation_elements, "memory": t.activation_bytes, "weights": t.weights,
              "biases": t.biases, "params": t.params, "macs": t.macs * factor, "flops": t.macs * factor}
    out.append("</tbody><tfoot><tr>" + "".join(
        f'<td class="{cls(keys[i])}">{_both(foot[i], totals.get(keys[i]), keys[i])}</td>' for i in shown)
               + "</tr></tfoot></table></div>")
    return "".join(out)


def _both(text: str, value, key: str) -> str:
    """A number cell holds its exact text and its compact form; narrow screens show the compact one."""
    if value is None or not text or not (text[0].isdigit() or text[0] == "("):
        return escape(text)
    short = fmt_bytes_compact(value) if key in ("memory", "saved") else fmt_compact(value)
    if short == text:
        return escape(text)
    return f'<span class="x">{escape(text)}</span><span class="c">{escape(short)}</span>'


def checks_html(checks) -> str:
    from archstat.analyze.references import NOT_REPRODUCED, REPRODUCED

    out = ['<div class="checks">']
    for c in checks:
        style = {REPRODUCED: "ok", NOT_REPRODUCED: "bad"}.get(c.status, "pub")
        fields = [("published", c.published), ("computed", fmt_computed(c.computed)), ("note", c.note),
                  ("source", c.source)]
        out.append(f'<div class="check"><b>{escape(c.figure)}</b> '
                   f'<span class="status {style}">{escape(c.status)}</span><dl>')
        out += [f"<dt>{k}</dt><dd>{escape(str(v))}</dd>" for k, v in fields if v]
        out.append("</dl></div>")
    out.append("</div>")
    return "".join(out)


NARROW_ROWS = 60   # up to this many rows, a phone gets the chart turned on its side: one line per layer


def plot_svg(stats: ModelStats) -> str:
    """Activation memory, params and MACs per row as three bar panels sharing the layer axis;
    each bar's tooltip names the row and its exact value. Drawn directly: no matplotlib needed. On a
    phone (below 640 px) a model of up to ``NARROW_ROWS`` rows shows ``narrow_svg`` instead: the same
    bars turned on their side, one line per layer, which fits the width without scrolling."""
    narrow = len(stats.rows) <= NARROW_ROWS
    return _wide_svg(stats, narrow) + (narrow_svg(stats) if narrow else "")


def _panels(stats: ModelStats):
    rows = stats.rows
    return [("activation memory", [r.activation_bytes for r in rows], fmt_bytes, "#4C72B0"),
            ("params", [r.params for r in rows], fmt_compact, "#DD8452"),
            ("MACs", [r.macs for r in rows], fmt_compact, "#55A868")]


def narrow_svg(stats: ModelStats) -> str:
    """The phone's chart: a line per layer (its label, then three thin bars: activation memory, params,
    MACs, each scaled to its own largest row), 360 units wide, scaling to the screen."""
    rows = stats.rows
    panels = _panels(stats)
    width, label_w, row_h, top = 360, 96, 18, 94
    bar_w = width - label_w - 8
    height = top + row_h * len(rows) + 6
    out = [f'<svg class="narrow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(stats.model)}: activation memory, params and MACs per layer" '
           f'font-family="system-ui,sans-serif" font-size="11">',
           f'<text x="0" y="12" font-weight="600">{escape(stats.model)}: per layer</text>',
           f'<text x="0" y="26" fill="#57606a">input {escape("×".join(map(str, stats.input_shape)))} · batch '
           f'{stats.batch} · {escape(stats.dtype)}</text>']
    for p, (name, values, fmt, color) in enumerate(panels):
        y = 42 + p * 13
        out.append(f'<rect x="0" y="{y - 8}" width="9" height="9" fill="{color}"/><text x="13" y="{y}" '
                   f'fill="#57606a">{escape(name)} (max {escape(fmt(max(values, default=0)))})</text>')
    out.append('<text x="0" y="81" fill="#57606a">each bar a share of its largest row</text>')
    peaks = [max(values, default=0) or 1 for _, values, _, _ in panels]
    for i, row in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="0" y="{y + 12}"><title>{escape(row.name)}</title>{escape(row.label[:16])}</text>')
        for p, (_name, values, fmt, color) in enumerate(panels):
            w = bar_w * values[i] / peaks[p]
            if w <= 0:
                continue
            out.append(f'<rect x="{label_w}" y="{y + 2 + 5 * p}" width="{max(w, 0.8):.2f}" height="4" fill="{color}">'
                       f'<title>{escape(row.name)}: {escape(fmt(values[i]))}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def _wide_svg(stats: ModelStats, has_narrow: bool) -> str:
    rows = stats.rows
    n = max(1, len(rows))
    left, right, panel, gap, label_h = 70, 10, 110, 34, (84 if n <= 60 else 24)
    width = max(960, left + right + 12 * n) if n <= 60 else 1200
    bw = (width - left - right) / n
    panels = _panels(stats)
    height = 24 + len(panels) * (panel + gap) + label_h
    cls = "wide has-narrow" if has_narrow else "wide"
    out = [f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(stats.model)}: activation memory, params and MACs per layer" '
           f'font-family="system-ui,sans-serif" font-size="13" style="max-width:{width}px">',
           f'<text x="{left}" y="14" font-weight="600">{escape(stats.model)}: per layer (input '
           f'{"×".join(map(str, stats.input_shape))}, batch {stats.batch}, {stats.dtype})</text>']
    for p, (name, values, fmt, color) in enumerate(panels):
        top = 24 + p * (panel + gap) + 16
        peak = max(values) or 1
        out.append(f'<text x="{left}" y="{top - 4}" fill="#57606a">{escape(name)} '
                   f'(max {escape(fmt(max(values)))})</text>')
        out.append(f'<line x1="{left}" y1="{top + panel}" x2="{width - right}" y2="{top + panel}" stroke="#8c959f"/>')
        for i, (row, v) in enumerate(zip(rows, values)):
            h = panel * v / peak
            if h <= 0:
                continue
            out.append(f'<rect x="{left + i * bw + bw * 0.1:.2f}" y="{top + panel - h:.2f}" width="{bw * 0.8:.2f}" '
                       f'height="{h:.2f}" fill="{color}"><title>{escape(row.name)}: {escape(fmt(v))}</title></rect>')
    if n <= 60:
        base = 24 + len(panels) * (panel + gap) - gap + 20
        for i, row in enumerate(rows):
            x = left + (i + 0.5) * bw
            out.append(f'<text x="{x:.2f}" y="{base}" transform="rotate(-60 {x:.2f} {base})" text-anchor="end" '
                       f'font-size="12">{escape(row.label)}</text>')
    else:
        base = 24 + len(panels) * (panel + gap) - gap + 18
        out.append(f'<text x="{left}" y="{base}" fill="#57606a">{n} rows in order, input first '
                   '(hover a bar for its row and value)</text>')
    out.append("</svg>")
    return "".join(out)


def fragment(stats: ModelStats, units: str = "macs", title_tag: str = "h1") -> str:
    """Everything but the page: what a notebook shows."""
    from archstat.report.table_report import conventions_text, summary_lines, training_lines

    _unit, _ = compute_unit(units)
    title = stats.model + (f" — {stats.description}" if stats.description else "")
    parts = [f"<style>{CSS}</style>", '<div class="archstat">', f"<{title_tag}>{escape(title)}</{title_tag}>",
             f'<p class="meta">{escape(describe_run(stats))}</p>']
    parts += [f'<p class="meta">{escape(line)}</p>' for line in conventions_text(units, stats.folded)]
    parts.append(table_html(stats, units))
    lines = summary_lines(stats, units) + (training_lines(stats.training) if stats.training else [])
    parts.append('<ul class="totals">' + "".join(f"<li>{escape(line.strip())}</li>" for line in lines if line.strip())
                 + "</ul>")
    if stats.not_counted:
        parts.append(f'<p class="bad">not counted (no formula; MACs missing from the total): '
                     f'{escape(", ".join(r.name for r in stats.not_counted))}</p>')
    if stats.references:
        parts.append("<h2>Published vs computed (per image, at the published precision)</h2>")
        parts.append(checks_html(stats.references))
    elif stats.references_skipped:
        parts.append(f'<p class="meta">{escape(stats.references_skipped)}</p>')
    parts.append('<h2>Per layer</h2><div class="plot">' + plot_svg(stats) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def render(stats: ModelStats, units: str = "macs") -> str:
    from archstat._version import __version__

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(stats.model)} — archstat</title></head><body>"
            f"{fragment(stats, units)}"
            f'<p class="archstat meta">archstat {escape(__version__)} · sortable columns: click a header</p>'
            f"<script>{SORT_JS}</script></body></html>\n")


def simple_table(heads: list[str], rows: list[list[str]], numeric: set[int], title: str = "") -> str:
    """A plain HTML table (compare and sweep results in a notebook)."""
    out = [f"<style>{CSS}</style>", '<div class="archstat">', f"<h2>{escape(title)}</h2>" if title else "",
           '<div class="scroll"><table><thead><tr>']
    out += [f'<th class="{"n" if i in numeric else ""}">{escape(h)}</th>' for i, h in enumerate(heads)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="{"n" if i in numeric else ""}">{escape(str(c))}</td>'
                                    for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table></div></div>")
    return "".join(out)


def _pair(exact: str, compact: str) -> str:
    """A cell with its exact text and, for narrow screens, its compact one."""
    if exact == compact:
        return escape(exact)
    return f'<span class="x">{escape(exact)}</span><span class="c">{escape(compact)}</span>'


def comparison_html(c, units: str = "macs", title_tag: str = "h2") -> str:
    """A Comparison in a notebook (and ``compare --format html``'s page): the totals (exact, with ratios;
    compact on a phone), each model's published-vs-computed checks, and the rows matched by name."""
    from archstat.report.compare_report import MISSING, _title, totals_rows

    unit, factor = compute_unit(units)
    out = [f"<style>{CSS}</style>", '<div class="archstat">',
           f"<{title_tag}>{escape(' vs '.join(_title(m) for m in c.models))}</{title_tag}>",
           '<div class="scroll"><table><thead><tr><th>Total</th>']
    out += [f'<th class="n">{_pair(_title(m), m.label)}</th>' for m in c.models]
    out.append("</tr></thead><tbody>")
    for name, exact, compact in totals_rows(c, units):
        out.append(f"<tr><td>{escape(name)}</td>" + "".join(f'<td class="n">{_pair(e, k)}</td>'
                                                             for e, k in zip(exact, compact)) + "</tr>")
    out.append("</tbody></table></div>")
    for m in c.models:
        if m.stats.references:
            out.append(f"<h2>Published vs computed: {escape(_title(m))} (per image, at the published "
                       f"precision)</h2>{checks_html(m.stats.references)}")
        elif m.stats.references_skipped:
            out.append(f'<p class="meta">{escape(_title(m))}: {escape(m.stats.references_skipped)}</p>')
    out.append('<h2>Rows matched by name (— : no such row)</h2><div class="scroll"><table><thead><tr><th>Layer</th>')
    for m in c.models:
        out += [f'<th class="narrow-hide">{escape(m.label)} output</th>',
                f'<th class="n">{escape(m.label)} params</th>', f'<th class="n">{escape(m.label)} {escape(unit)}</th>']
    out.append("</tr></thead><tbody>")
    for aligned in c.rows:
        cells = [f"<td>{escape(aligned.name)}</td>"]
        for row in aligned.rows:
            if row is None:
                cells += [f'<td class="narrow-hide">{MISSING}</td>', f'<td class="n">{MISSING}</td>',
                          f'<td class="n">{MISSING}</td>']
                continue
            cells += [f'<td class="narrow-hide">{escape(fmt_shape(row.output_shape))}</td>',
                      f'<td class="n">{_pair(fmt_int(row.params), fmt_compact(row.params))}</td>',
                      f'<td class="n">{_pair(fmt_int(row.macs * factor), fmt_compact(row.macs * factor))}</td>']
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div></div>")
    return "".join(out)


def comparison_page(c, units: str = "macs") -> str:
    """``archstat compare … --format html``: one self-contained page (no network), readable on a phone."""
    from archstat._version import __version__

    title = " vs ".join(m.stats.model for m in c.models)
    first = c.models[0]
    meta = (f"batch {first.stats.batch} · {first.stats.dtype} · mode {first.stats.mode} · ratios (×) are to "
            f"{first.label}; MACs = multiply-accumulates of conv, linear and matmul, bias excluded; compact numbers "
            "(1.85 G) are rounded to 3 digits")
    body = comparison_html(c, units, title_tag="h1").replace(
        "</h1>", f'</h1><p class="meta">{escape(meta)}</p>', 1)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} — archstat</title></head><body>{body}"
            f'<p class="archstat meta">archstat {escape(__version__)}</p></body></html>\n')


def sweep_html(sweep) -> str:
    """A Sweep in a notebook: one row per point, exact integers."""
    from archstat.report.units import fmt_int, fmt_shape

    names = list(sweep.points[0].params_set) if sweep.points else []
    heads = ["Input", "Batch", *names, "Params", "MACs", "Activation bytes", "Training bytes"] + (
        ["Fits"] if sweep.budget is not None else [])
    rows = [[fmt_shape(p.input), p.batch, *(p.params_set[n] for n in names), fmt_int(p.params), fmt_int(p.macs),
             fmt_int(p.activation_bytes), fmt_int(p.training_bytes)]
            + (["yes" if p.fits else "no"] if sweep.budget is not None else []) for p in sweep.points]
    return simple_table(heads, rows, set(range(1, len(heads) - (sweep.budget is not None))),
                        f"{sweep.model}: sweep over {', '.join(sweep.dims) or 'one point'}")
