"""Plots (matplotlib, the optional extra ``plot``): per-layer bars, the zoo's accuracy against
cost, and sweeps. PNG or SVG by the file's extension; SVG output is deterministic (text kept as
text, no timestamps) so that it can be compared byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archstat.errors import RuntimeFailure, UsageError
from archstat.report.sanitize import clean

if TYPE_CHECKING:   # matplotlib is imported when a plot is drawn
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

COLORS = {"activations": "#4C72B0", "params": "#DD8452", "macs": "#55A868"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        from archstat.install import install_hint

        raise RuntimeFailure(f"plots need matplotlib, which is not installed ({install_hint('plot')})") from None
    matplotlib.use("Agg")
    # text.parse_math off: a '$' in a model's name or label is a dollar sign, never mathtext
    matplotlib.rcParams.update({"svg.hashsalt": "archstat", "svg.fonttype": "none", "font.size": 9,
                                "text.parse_math": False,
                                "axes.spines.top": False, "axes.spines.right": False})
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: str | Path, suffix: str | None = None) -> Path:
    """The figure as PNG or SVG, by ``suffix`` (default: the file's own), e.g. into the temporary
    file that ``cli.output.write_file`` renames over the target."""
    path = Path(out)
    kind = (suffix or path.suffix).lower()
    if kind not in (".png", ".svg"):
        raise UsageError(f"--out {out}: the file must end in .png or .svg")
    fig.savefig(path, dpi=150, bbox_inches="tight", format=kind[1:],
                metadata={"Date": None, "Creator": None} if kind == ".svg" else None)
    return path


def _blocks(names: list[str]) -> list[tuple[int, int]]:
    """Index spans of consecutive rows in the same top-level block (more than one row)."""
    spans, start = [], 0
    for i in range(1, len(names) + 1):
        if i == len(names) or names[i].split(".")[0] != names[start].split(".")[0]:
            if i - start > 1:
                spans.append((start, i - 1))
            start = i
    return spans


def layers_figure(stats):
    """Activation memory, params and MACs per row on one layer axis: 'most memory is in the early
    convs, most params in the late fully connected layers' at a glance."""
    plt = _pyplot()
    rows = stats.rows
    x = list(range(len(rows)))
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(max(6.0, 0.28 * len(rows) + 2), 6.5))
    panels = [("activations", [r.activation_bytes / 1e6 for r in rows], "activation memory (MB)"),
              ("params", [r.params / 1e6 for r in rows], "params (millions)"),
              ("macs", [r.macs / 1e9 for r in rows], "MACs (billions)")]
    spans = _blocks([r.name for r in rows])
    for ax, (key, values, label) in zip(axes, panels):
        for k, (a, b) in enumerate(spans):
            ax.axvspan(a - 0.5, b + 0.5, color="#000000", alpha=0.05 if k % 2 == 0 else 0.1, lw=0)
        ax.bar(x, values, color=COLORS[key], width=0.8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title(f"{clean(stats.model)}: per layer (input {'×'.join(map(str, stats.input_shape))}, batch "
                      f"{stats.batch}, {stats.dtype})", loc="left")
    if len(rows) <= 80:
        axes[-1].set_xticks(x)
        axes[-1].set_xticklabels([clean(r.label if r.op != "block" else r.name) for r in rows], rotation=90,
                                 fontsize=7)
    axes[-1].set_xlabel("layer (in order; shaded: blocks)" if spans else "layer (in order)")
    fig.align_ylabels(axes)
    return fig


def zoo_figure(entries: list[dict]):
    """MACs against published top-1 error; bubble area proportional to params."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    largest = max(e["params"] for e in entries)
    ordered = sorted(entries, key=lambda e: e["macs"])
    for e in ordered:
        size = 30 + 1500 * e["params"] / largest
        ax.scatter(e["macs"] / 1e9, e["top1_error"], s=size, alpha=0.45, color=COLORS["activations"],
                   edgecolors="#333333", linewidths=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image (billions, log scale)")
    ax.set_ylabel("published top-1 error (%)")
    ax.set_title("ImageNet models of the zoo: cost against published error (bubble area ∝ params)", loc="left")
    ax.grid(alpha=0.3)
    place_labels(fig, ax, [(clean(e["name"]), e["macs"] / 1e9, e["top1_error"]) for e in ordered])
    return fig


# where a label may go around its point (points), nearest first; far ones get a leader line
OFFSETS = [(0, 7), (0, -7), (9, 0), (-9, 0), (0, 16), (0, -16), (10, 10), (-10, 10), (10, -10), (-10, -10),
           (0, 26), (0, -26), (22, 18), (-22, 18), (22, -18), (-22, -18), (0, 36), (0, -36), (0, 46), (0, -46)]


def place_labels(fig, ax, points: list[tuple[str, float, float]]) -> list:
    """Annotate each point at the first offset whose label box overlaps no label placed before it
    (greedy, measured with the renderer's own text extents)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed: list[Annotation] = []
    boxes: list[Bbox] = []
    for name, x, y in points:
        chosen = None
        for dx, dy in OFFSETS:
            ha = "center" if dx == 0 else ("left" if dx > 0 else "right")
            va = "center" if dy == 0 else ("bottom" if dy > 0 else "top")
            far = abs(dx) > 10 or abs(dy) > 16
            ann = ax.annotate(name, (x, y), fontsize=7, ha=ha, va=va, xytext=(dx, dy), textcoords="offset points",
                              arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "#666666"} if far else None)
            box = ann.get_window_extent(renderer).expanded(1.04, 1.1)
            if not any(box.overlaps(b) for b in boxes):
                chosen = ann
                break
            ann.remove()
        if chosen is None:   # every spot taken: the first one, as before
            chosen = ax.annotate(name, (x, y), fontsize=7, ha="center", va="bottom", xytext=(0, 7),
                                 textcoords="offset points")
            box = chosen.get_window_extent(renderer)
        boxes.append(box)
        placed.append(chosen)
    return placed


def sweep_figure(sweep):
    """Training memory and MACs against the first swept dimension, one line per other combination."""
    plt = _pyplot()
    if not sweep.dims:
        raise UsageError("a sweep plot needs at least one dimension with several values")
    x_dim = sweep.dims[0]

    def value(p, dim):
        if dim == "input":
            return p.input[-1]
        if dim == "batch":
            return p.batch
        return p.params_set[dim]

    series: dict[tuple, list] = {}
    for p in sweep.points:
        key = tuple((d, value(p, d)) for d in sweep.dims[1:])
        series.setdefault(key, []).append(p)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    for key, points in series.items():
        label = clean(", ".join(f"{d}={v}" for d, v in key) or sweep.model)
        xs = [value(p, x_dim) for p in points]
        top.plot(xs, [p.training_bytes / 2**30 for p in points], marker="o", label=label)
        bottom.plot(xs, [p.macs / 1e9 for p in points], marker="o", label=label)
    if sweep.budget:
        top.axhline(sweep.budget / 2**30, color="red", ls="--", lw=1, label=clean(f"budget {sweep.budget_text}"))
    top.set_ylabel("training memory (GiB)")
    bottom.set_ylabel("MACs (billions)")
    bottom.set_xlabel(x_dim + (" (input width, pixels)" if x_dim == "input" else ""))
    top.set_title(clean(f"{sweep.model}: sweep over {', '.join(sweep.dims)}"), loc="left")
    top.legend(fontsize=7)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return fig
