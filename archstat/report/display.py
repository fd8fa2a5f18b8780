"""How results show themselves: as HTML in Jupyter (``_repr_html_``) and as the fitted text table
in a rich console or REPL (``__rich_console__``, e.g. after ``rich.pretty.install()``).

``Displayable`` is mixed into ModelStats, Comparison and Sweep; each names its two renderers.
Nothing is imported until a result is displayed."""

from __future__ import annotations


class Displayable:
    def __repr__(self) -> str:   # names from configs and modules, shown escaped (report/sanitize.py)
        from archstat.report.sanitize import clean

        return clean(self._repr())

    def _repr(self) -> str:
        name = type(self).__name__
        if name == "ModelStats":
            t = self.totals
            return (f"<ModelStats {self.model}: {t.params:,} params, {t.macs:,} MACs, {t.activation_bytes:,} "
                    f"activation bytes, {len(self.rows)} rows (display it for the table)>")
        if name == "Comparison":
            return f"<Comparison {' vs '.join(m.stats.model for m in self.models)} (display it for the table)>"
        return f"<Sweep {self.model}: {len(self.points)} points (display it for the table)>"

    def _repr_html_(self) -> str:
        from archstat.report import html_report

        return {"ModelStats": lambda: html_report.fragment(self, title_tag="h3"),
                "Comparison": lambda: html_report.comparison_html(self),
                "Sweep": lambda: html_report.sweep_html(self)}[type(self).__name__]()

    def __rich_console__(self, console, options):
        from archstat.report.fit import View

        view = View(options.max_width)
        name = type(self).__name__
        if name == "ModelStats":
            from archstat.report.table_report import render

            yield render(self, "macs", view)
        elif name == "Comparison":
            from archstat.report.compare_report import render

            yield render(self, "table", "macs", view)
        else:
            from archstat.report.sweep_report import render

            yield render(self, "table", view)
