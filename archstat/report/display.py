"""How results show themselves: as HTML in Jupyter (``_repr_html_``), as the fitted text table in a
rich console or REPL (``__rich_console__``, e.g. after ``rich.pretty.install()``), and as a one-line
``repr``.

report/ owns this: ``RENDERERS`` maps each result type (``ModelStats``, ``Comparison``, ``Sweep``) to
its three renderers, looked up by type (a subclass finds its base's), never by the class's name. The
result classes in analyze/ know nothing of rendering; ``install()``, called once by the package
(``archstat/__init__.py``), gives each registered type the three display hooks, which look the
renderer up here. Nothing heavy is imported until a result is displayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archstat.analyze.compare import Comparison
from archstat.analyze.stats import ModelStats
from archstat.analyze.sweep import Sweep
from archstat.llm.result import LLMResult
from archstat.text import clean

__all__ = ["RENDERERS", "Renderers", "html", "install", "register", "renderers_of", "summary", "text"]


@dataclass(frozen=True)
class Renderers:
    summary: Callable[[Any], str]          # one line: what repr() shows
    html: Callable[[Any], str]             # a fragment for a notebook
    text: Callable[[Any, Any], Any]        # (result, report.fit.View) → the fitted table


RENDERERS: dict[type, Renderers] = {}


def register(cls: type, summary: Callable[[Any], str], html: Callable[[Any], str],
             text: Callable[[Any, Any], Any]) -> None:
    RENDERERS[cls] = Renderers(summary, html, text)


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


def _comparison_summary(c: Comparison) -> str:
    return f"<Comparison {' vs '.join(m.stats.model for m in c.models)} (display it for the table)>"


def _comparison_html(c: Comparison) -> str:
    from archstat.report import html_report

    return html_report.comparison_html(c)


def _comparison_text(c: Comparison, view) -> Any:
    from archstat.report.compare_report import render

    return render(c, "table", "macs", view)


def _sweep_summary(s: Sweep) -> str:
    return f"<Sweep {s.model}: {len(s.points)} points (display it for the table)>"


def _sweep_html(s: Sweep) -> str:
    from archstat.report import html_report

    return html_report.sweep_html(s)


def _sweep_text(s: Sweep, view) -> Any:
    from archstat.report.sweep_report import render

    return render(s, "table", view)


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


register(ModelStats, _stats_summary, _stats_html, _stats_text)
register(LLMResult, _llm_summary, _llm_html, _llm_text)
register(Comparison, _comparison_summary, _comparison_html, _comparison_text)
register(Sweep, _sweep_summary, _sweep_html, _sweep_text)


# -- the hooks a notebook, rich and the REPL call ---------------------------------------------------------

def _repr(self) -> str:
    return summary(self)


def _repr_html_(self) -> str:
    return html(self)


def _rich_console(self, console, options):
    yield text(self, options.max_width)


def install() -> None:
    """Give every registered result type its display hooks (idempotent)."""
    for cls in RENDERERS:
        hooked: Any = cls   # the class is given methods it does not declare: typed as what it may become
        hooked.__repr__ = _repr
        hooked._repr_html_ = _repr_html_
        hooked.__rich_console__ = _rich_console
