"""The classic roofline picture (log-log): the roof of a device, its ridge point, and every op of a
model as a dot at its arithmetic intensity and predicted performance, sized by its predicted time,
coloured by kind, the five slowest labelled."""

from __future__ import annotations

from archstat.perf.roofline import Roofline
from archstat.report.plots import _pyplot
from archstat.report.roofline_report import fmt_time, sources_text
from archstat.report.sanitize import clean
from archstat.report.units import fmt_si

KIND_COLORS = {"conv": "#4C72B0", "depthwise": "#8172B3", "linear": "#DD8452", "attention": "#C44E52",
               "pooling": "#55A868", "norm": "#CCB974", "merge": "#64B5CD", "elementwise": "#8C8C8C",
               "other": "#8C8C8C"}


def roofline_figure(rl: Roofline, labelled: int = 5):
    plt = _pyplot()
    roof = rl.roof
    points = []   # (intensity, performance, op, by_ops)
    skipped = 0
    for r in rl.ops:
        work, by_ops = (r.flops, False) if r.macs else (r.ops, True)
        if not work or not r.bytes or not r.predicted_s:
            skipped += r.bound != "none"
            continue
        points.append((work / r.bytes, work / r.predicted_s, r, by_ops))
    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs = [p[0] for p in points] + [roof.ridge]
    lo, hi = min(xs) / 4, max(xs) * 4
    roof_line = ax.plot([lo, roof.ridge, hi], [lo * roof.bandwidth, roof.peak_flops, roof.peak_flops],
                        color="#222222", lw=1.6, label="roof: min(peak, intensity × bandwidth)", zorder=2)[0]
    ax.axvline(roof.ridge, color="#222222", ls=":", lw=0.8, zorder=1)
    ax.scatter([roof.ridge], [roof.peak_flops], marker="D", s=30, color="#222222", zorder=4)
    ax.annotate(f"ridge {roof.ridge:.1f} FLOP/B", (roof.ridge, roof.peak_flops), xytext=(6, 6),
                textcoords="offset points", fontsize=8)
    longest = max((p[2].predicted_s for p in points), default=1.0)
    handles = [roof_line]
    for kind, color in KIND_COLORS.items():
        mine = [p for p in points if p[2].kind == kind]
        if not mine:
            continue
        ax.scatter([p[0] for p in mine], [p[1] for p in mine], s=[12 + 500 * p[2].predicted_s / longest for p in mine],
                   color=color, alpha=0.6, edgecolors="#333333", linewidths=0.4, zorder=3)
        handles.append(plt.Line2D([], [], ls="", marker="o", markersize=7, color=color, alpha=0.6,
                                  markeredgecolor="#333333", markeredgewidth=0.4, label=kind))
    # the five slowest, named in a column in the top left (above the memory roof nothing can sit)
    slowest = sorted(points, key=lambda p: -p[2].predicted_s)[:labelled]
    ax.text(0.02, 0.97, f"the {len(slowest)} slowest", transform=ax.transAxes, fontsize=8, va="top", weight="bold")
    for k, (x, y, r, _) in enumerate(slowest):
        ax.annotate(f"{k + 1}. {clean(r.name)} ({r.kind}, {fmt_time(r.predicted_s)}, {100 * r.share:.1f} %)", (x, y),
                    xytext=(0.02, 0.92 - 0.055 * k), textcoords="axes fraction", fontsize=7, va="top",
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85},
                    arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.5, "shrinkB": 2, "relpos": (1, 0.5)})
        ax.annotate(str(k + 1), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7, weight="bold",
                    zorder=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("predicted performance (FLOP/s of its device time)")
    ax.set_title(f"{clean(rl.model)} on {clean(roof.name)}: {rl.runtime}, {rl.precision}, batch {rl.batch}, "
                 f"predicted {fmt_time(rl.predicted_s)}\npeak {fmt_si(roof.peak_flops)}FLOP/s, bandwidth "
                 f"{fmt_si(roof.bandwidth)}B/s\n{clean(sources_text(roof, with_overhead=False))}", loc="left",
                 fontsize=8)
    note = "dot area ∝ predicted time; rows without MACs (pooling, norm, merges) placed by their elementwise ops"
    if skipped:
        note += f"; {skipped} rows without work not drawn"
    ax.text(0.0, -0.13, note, transform=ax.transAxes, fontsize=7, color="#555555")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    return fig
