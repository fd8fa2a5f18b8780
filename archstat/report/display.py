"""How results show themselves: as HTML in Jupyter (``_repr_html_``), as the fitted text table in a
rich console or REPL (``__rich_console__``, e.g. after ``rich.pretty.install()``) and to ``str()`` and
``print()`` (fitted to the terminal's width), as a one-line ``repr``, and as data: ``to_dict()`` (what the
command line's ``--format json`` prints, parsed) and ``to_json()`` (that text).

report/ owns this: ``RENDERERS`` maps each result type (``ModelStats``, ``Comparison``, ``Sweep``) to
its three renderers, looked up by type (a subclass finds its base's), never by the class's name. The
result classes in analyze/ know nothing of rendering; ``install()``, called once by the package
(``archstat/__init__.py``), gives each registered type the three display hooks, which look the
renderer up here. Nothing heavy is imported until a result is displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from archstat.analyze.compare import Comparison
from archstat.analyze.stats import ModelStats
from archstat.analyze.sweep import Sweep
from archstat.llm.result import LLMResult
from archstat.text import clean

if TYPE_CHECKING:
    from archstat.perf.roofline import Roofline

__all__ = ["RENDERERS", "Renderers", "html", "install", "register", "renderers_of", "summary", "text"]


@dataclass(frozen=True)
class Renderers:
    summary: Callable[[Any], str]          # one line: what repr() shows
    html: Callable[[Any], str]             # a fragment for a notebook
    text: Callable[[Any, Any], Any]        # (result, report.fit.View) → the fitted table
    json: Optional[Callable[..., str]] = None   # (result, **options) → the command line's --format json text


RENDERERS: dict[type, Renderers] = {}


def register(cls: type, summary: Callable[[Any], str], html: Callable[[Any], str],
             text: Callable[[Any, Any], Any], json: Optional[Callable[..., str]] = None) -> None:
    RENDERERS[cls] = Renderers(summary, html, text, json)


def renderers_of(result: Any) -> Renderers:
    for cls in type(result).__mro__:
        if cls in RENDERERS:
            return RENDERERS[cls]
    raise TypeError(f"no renderer for {type(result).__name__}")


def summary(result: Any) -> str:
    """The repr: names from configs and modules shown escaped (report/sanitize.py)."""
    return clean(renderers_of(result).summary(result))


def html(result: Any) -> str:
    return renderers_of(result).html(result)


def text(result: Any, width: int) -> Any:
    from archstat.report.fit import View

    return renderers_of(result).text(result, View(width))


# -- the three result types ------------------------------------------------------------------------------

def _stats_summary(s: ModelStats) -> str:
    t = s.totals
    return (f"<ModelStats {s.model}: {t.params:,} params, {t.macs:,} MACs, {t.activation_bytes:,} "
            f"activation bytes, {len(s.rows)} rows (display it for the table)>")


def _stats_html(s: ModelStats) -> str:
    from archstat.report import html_report

    return html_report.fragment(s, title_tag="h3")


def _stats_text(s: ModelStats, view) -> Any:
    from archstat.report.table_report import render

    return render(s, "macs", view)


def _stats_json(s: ModelStats, units: str = "macs") -> str:
    from archstat.report.json_report import render

    return render(s, units)


def _comparison_summary(c: Comparison) -> str:
    return f"<Comparison {' vs '.join(m.stats.model for m in c.models)} (display it for the table)>"


def _comparison_html(c: Comparison) -> str:
    from archstat.report import html_report

    return html_report.comparison_html(c)


def _comparison_text(c: Comparison, view) -> Any:
    from archstat.report.compare_report import render

    return render(c, "table", "macs", view)


def _comparison_json(c: Comparison, units: str = "macs") -> str:
    from archstat.report.compare_report import render

    return render(c, "json", units)


def _sweep_summary(s: Sweep) -> str:
    return f"<Sweep {s.model}: {len(s.points)} points (display it for the table)>"


def _sweep_html(s: Sweep) -> str:
    from archstat.report import html_report

    return html_report.sweep_html(s)


def _sweep_text(s: Sweep, view) -> Any:
    from archstat.report.sweep_report import render

    return render(s, "table", view)


def _sweep_json(s: Sweep) -> str:
    from archstat.report.sweep_report import render

    return render(s, "json")


def _roofline_summary(r: Roofline) -> str:
    return (f"<Roofline {r.model} on {r.roof.device}: {r.predicted_s * 1e3:.3f} ms per "
            f"{'step' if r.train else 'batch'} ({r.bound}-bound), {r.throughput:,.1f} samples/s (display it for the "
            "table)>")


def _roofline_html(r: Roofline) -> str:
    from archstat.report import roofline_report
    from archstat.report.sanitize import html as escape

    return f"<pre>{escape(roofline_report.render(r, 'table').text())}</pre>"


def _roofline_text(r: Roofline, view) -> Any:
    from archstat.report import roofline_report

    return roofline_report.render(r, "table", view)


def _roofline_json(r: Roofline) -> str:
    from archstat.report import roofline_report

    return roofline_report.render(r, "json")


def _llm_summary(r: LLMResult) -> str:
    return (f"<LLMResult {r.model} on {r.gpus}×{r.device}: {r.params_total:,} params, max batch {r.max_batch:,}, "
            f"TTFT {r.ttft_s * 1e3:.1f} ms, TPOT {r.tpot_s * 1e3:.2f} ms, {r.throughput:,.0f} tokens/s "
            "(display it for the table)>")


def _llm_html(r: LLMResult) -> str:
    from archstat.report import llm_report
    from archstat.report.sanitize import html as escape

    return f"<pre>{escape(llm_report.fitted([r]).text())}</pre>"


def _llm_text(r: LLMResult, view) -> Any:
    from archstat.report import llm_report

    return llm_report.fitted([r], view)


register(ModelStats, _stats_summary, _stats_html, _stats_text, _stats_json)
register(LLMResult, _llm_summary, _llm_html, _llm_text)
register(Comparison, _comparison_summary, _comparison_html, _comparison_text, _comparison_json)
register(Sweep, _sweep_summary, _sweep_html, _sweep_text, _sweep_json)


def install_roofline() -> None:
    """Roofline's hooks, once the performance model is loaded (importing it at start-up would slow every
    command by ~80 ms): ``archstat.roofline`` calls this."""
    from archstat.perf.roofline import Roofline

    if Roofline not in RENDERERS:
        register(Roofline, _roofline_summary, _roofline_html, _roofline_text, _roofline_json)
        install()


# -- the hooks a notebook, rich and the REPL call ---------------------------------------------------------

def _repr(self) -> str:
    return summary(self)


def _repr_html_(self) -> str:
    return html(self)


def _rich_console(self, console, options):
    yield text(self, options.max_width)


def _str(self) -> str:
    """The fitted table as plain text, at the terminal's width (100 columns where there is none): print(stats)."""
    import os
    import shutil

    env = os.environ.get("COLUMNS", "").strip()
    width = int(env) if env.isdigit() and int(env) > 0 else shutil.get_terminal_size((100, 24)).columns
    shown = text(self, max(40, width))
    return shown.text() if hasattr(shown, "text") else str(shown)


def _to_json(self, **options) -> str:
    """The command line's ``--format json`` text (``units='flops'`` where the command takes ``--units``)."""
    renderer = renderers_of(self).json
    if renderer is None:
        raise TypeError(f"{type(self).__name__} has no JSON form")
    return renderer(self, **options)


def _to_dict(self, **options) -> dict:
    """The command line's ``--format json``, parsed: the same keys and values."""
    import json

    return json.loads(_to_json(self, **options))


def install() -> None:
    """Give every registered result type its display hooks (idempotent)."""
    for cls, renderers in RENDERERS.items():
        hooked: Any = cls   # the class is given methods it does not declare: typed as what it may become
        hooked.__repr__ = _repr
        hooked.__str__ = _str
        hooked._repr_html_ = _repr_html_
        hooked.__rich_console__ = _rich_console
        if renderers.json is not None and "to_dict" not in vars(cls):
            hooked.to_dict = _to_dict
            hooked.to_json = _to_json
