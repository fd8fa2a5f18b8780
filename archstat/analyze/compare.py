"""Side-by-side comparison of several models: totals with ratios to the first, and rows
aligned by name (block, branch, layer), unmatched rows kept as such."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.analyze.stats import ModelStats, Row


@dataclass
class Compared:
    label: str                    # "A", "B", ... (what --set A:NAME=VALUE refers to)
    model: str                    # the name or path as given
    stats: ModelStats
    sets: dict[str, Any] = field(default_factory=dict)

    def total(self, metric: str) -> int:
        return getattr(self.stats.totals, metric)

    def ratio(self, first: Compared, metric: str) -> Optional[float]:
        base = first.total(metric)
        return None if base == 0 else self.total(metric) / base


@dataclass
class AlignedRow:
    name: str
    rows: list[Optional[Row]]     # one per model; None where the model has no row of this name


@dataclass
class ExtraTotal:
    """A total another analysis adds to a comparison (e.g. the roofline's predicted latency)."""

    key: str                      # its JSON key in each model's entry
    label: str                    # its line in the totals table
    values: list[Any]             # one per model, for JSON
    cells: list[str]              # one per model, as shown


@dataclass(repr=False)
class Comparison:  # shown by report/display.py (HTML in notebooks, the table in rich)
    models: list[Compared]
    rows: list[AlignedRow]
    extras: list[ExtraTotal] = field(default_factory=list)

    @property
    def extra_totals(self) -> list[tuple[str, list[str], list[str]]]:
        """The extras as the renderers' total rows: (label, exact cells, compact cells)."""
        return [(e.label, list(e.cells), list(e.cells)) for e in self.extras]


def align(row_lists: list[list[Row]]) -> list[AlignedRow]:
    """An ordered union of row names: the first model's order, each other model's new names
    inserted after the name that precedes them in that model."""
    order: list[str] = []
    for rows in row_lists:
        previous: Optional[str] = None
        for row in rows:
            if row.name not in order:
                at = order.index(previous) + 1 if previous is not None else 0
                # keep after rows that other models inserted at the same place
                while at < len(order) and order[at] not in {r.name for r in rows}:
                    at += 1
                order.insert(at, row.name)
            previous = row.name
    by_name = [{r.name: r for r in rows} for rows in row_lists]
    return [AlignedRow(name, [m.get(name) for m in by_name]) for name in order]


def compare(models: list[Compared]) -> Comparison:
    """Models already analyzed, each a ``Compared``; ``archstat.compare`` takes names and paths."""
    from archstat.argcheck import shown
    from archstat.errors import ArgumentTypeError

    where = "archstat.analyze.compare.compare: models"
    if not isinstance(models, (list, tuple)):
        raise ArgumentTypeError(f"expected a list of Compared, got {shown(models)}", path=where)
    for i, m in enumerate(models):
        if not isinstance(m, Compared):
            raise ArgumentTypeError(f"expected Compared(label, model, stats), got {shown(m)}",
                                    path=f"{where}[{i}]", hint="archstat.compare(['vgg16', 'resnet50']) takes "
                                    "names, paths and modules")
    return Comparison(list(models), align([m.stats.rows for m in models]))
