"""Fitting any table to a width, without ever cutting a number.

A table is a list of ``Col``: each column holds its cells as *variants*, widest first (exact
integers with the slide's formula, exact integers, compact numbers such as ``1.85 G``). To fit a
width, ``fit`` takes these steps in order and stops at the first that fits:

1. every column at its first variant, full headers;
2. short headers;
3. columns with ``keep`` < 65 step down their variants (exact → compact), least important first;
4. columns with ``keep`` < 25 are dropped (a table's weights and biases: params holds their sum);
5. every column may step down (params and MACs turn compact last);
6. wrapping columns (descriptions, notes) wrap down to their minimum width;
7. columns are dropped, lowest ``keep`` first.

Dropped columns are named in a footer that says how to bring them back (``--columns …`` or
``--wide``).

A cell is never cut: a number that does not fit is shown in a shorter exact-or-rounded form or
its column is dropped whole. Rendering is plain string work, no per-cell rich objects, so a
3,000-row table renders in milliseconds. The result is a ``Doc``: lines, each with an optional
style name, printed plain when piped and with ANSI styles on a terminal.
"""

from __future__ import annotations

import textwrap
from typing import Optional

from archstat.report.sanitize import clean, clean_all

GAP = 2
RULE = "─"
COMPACT_FIRST = 65   # columns with keep below this turn compact before any column is dropped
DROP_FIRST = 25      # columns with keep below this are dropped before the main numbers turn compact


class Col:
    """One column. ``variants``: its cells, widest form first (one list per form, one cell per row);
    ``short``: a shorter header; ``right``: right-aligned (numbers); ``keep``: drop order, lowest
    first, 100 = never dropped; ``foot``: the footer cell per variant; ``wrap`` > 0: a text column
    that may wrap down to this width. (Plain classes: a dataclass costs milliseconds at start-up.)"""

    def __init__(self, key: str, head: str, variants: list[list[str]], short: str = "", right: bool = False,
                 keep: int = 50, foot: Optional[list[str]] = None, wrap: int = 0):
        # the cells come from configs, modules and caches: shown escaped (report/sanitize.py), and
        # measured as shown, so that the columns stay aligned
        self.key, self.head, self.short, self.right = key, clean(head), clean(short), right
        self.variants = [clean_all(v) for v in variants]
        self.keep, self.foot, self.wrap = keep, clean_all(foot or []), wrap
        self._widest: dict[int, int] = {}

    def width(self, level: int, short: bool, wrap_to: Optional[int] = None) -> int:
        head = (self.short or self.head) if short else self.head
        widest = self._widest.get(level)
        if widest is None:
            widest = self._widest[level] = max(map(len, self.variants[level]), default=0)
        foot = self.foot[min(level, len(self.foot) - 1)] if self.foot else ""
        w = max(len(head), widest, len(foot))
        if self.wrap and wrap_to is not None:
            w = max(len(head), min(w, wrap_to), self.longest_word())
        return w

    def longest_word(self) -> int:
        return max((len(word) for c in self.variants[-1] for word in c.split()), default=0)


class Doc:
    """Lines to print, each with an optional style: 'bold', 'dim', 'italic', 'green', 'red', 'yellow'."""

    def __init__(self):
        self.lines: list[tuple[str, Optional[str]]] = []

    def add(self, text: str = "", style: Optional[str] = None) -> Doc:
        """Lines of text (split at newlines); any other control character is shown escaped."""
        for line in text.split("\n"):
            self.lines.append((clean(line), style))
        return self

    def extend(self, other: Doc) -> Doc:
        self.lines += other.lines
        return self

    def text(self) -> str:
        return "\n".join(line.rstrip() for line, _ in self.lines) + "\n"

    def ansi(self) -> str:
        out = []
        for line, style in self.lines:
            line = line.rstrip()
            code = ANSI.get(style or "")
            out.append(f"\x1b[{code}m{line}\x1b[0m" if code and line else line)
        return "\n".join(out) + "\n"

    def __rich_console__(self, console, options):   # inside rich (a REPL, a Group)
        from rich.text import Text

        for line, style in self.lines:
            yield Text(line.rstrip(), style=RICH.get(style or "", ""), no_wrap=True, overflow="ignore")


ANSI = {"bold": "1", "dim": "2", "italic": "3", "green": "32", "red": "1;31", "yellow": "33"}
RICH = {"bold": "bold", "dim": "dim", "italic": "italic", "green": "green", "red": "bold red", "yellow": "yellow"}


class View:
    """How to fit: the width, and the user's choice: ``columns`` (exactly these, in this order) or
    ``wide`` (every column, exact, whatever the width)."""

    def __init__(self, width: int = 100, columns: Optional[list[str]] = None, wide: bool = False):
        self.width, self.columns, self.wide = width, columns, wide


class Fitted:
    def __init__(self, cols: list[Col], levels: list[int], widths: list[int], short: bool, dropped: list[Col]):
        self.cols, self.levels, self.widths, self.short, self.dropped = cols, levels, widths, short, dropped


def choose(cols: list[Col], view: View) -> Fitted:
    """Which columns, at which variant and width, fit ``view.width``."""
    cols = _selected(cols, view)
    if view.wide:
        return Fitted(cols, [0] * len(cols), [c.width(0, False) for c in cols], False, [])
    fit = _Fitting(cols, view.width)
    fit.step_down(COMPACT_FIRST)   # secondary columns compact,
    fit.drop(DROP_FIRST)           # minor ones go before a main number is rounded,
    fit.step_down(100)             # then every number may be compact,
    wrap_to = fit.wrap_width()     # text wraps,
    fit.drop(100, wrap_to)         # and last, columns by priority
    fit.relax(wrap_to)             # a column stepped down that fits exact again (another step made room) is exact
    return Fitted(fit.cols, fit.levels, fit.widths(wrap_to), fit.short, fit.dropped)


def _selected(cols: list[Col], view: View) -> list[Col]:
    """The columns ``--columns`` names, in its order, the row's name always first; all without it."""
    if not view.columns:
        return cols
    by_key = {c.key: c for c in cols}
    unknown = [k for k in view.columns if k not in by_key]
    if unknown:
        from archstat.errors import UsageError

        raise UsageError(f"--columns: unknown column '{unknown[0]}' (choose from {', '.join(by_key)})")
    chosen = [by_key[k] for k in view.columns if k in by_key]
    for c in cols:   # the row's name always shows
        if c.keep >= 100 and c not in chosen:
            chosen.insert(0, c)
    return chosen


class _Fitting:
    """The steps of ``choose`` on one table: columns, each one's variant (0 exact, then compact), dropped."""

    def __init__(self, cols: list[Col], limit: int):
        self.cols, self.limit = cols, limit   # the caller's list: what is dropped leaves it (its footer names them)
        self.levels = [0] * len(self.cols)
        self.dropped: list[Col] = []
        self.short = False
        self.short = self.total(self.widths()) > limit   # short headers as soon as the full ones do not fit

    def total(self, widths: list[int]) -> int:
        return sum(widths) + GAP * (len(widths) - 1)

    def widths(self, wrap_to=None) -> list[int]:
        return [c.width(lv, self.short, wrap_to) for c, lv in zip(self.cols, self.levels, strict=True)]

    def step_down(self, below: int) -> None:
        """The least important column first, one variant at a time; a step that makes its column no narrower
        is not taken (a column of biases that are all below 1,000 reads the same compact: it stays exact)."""
        while self.total(self.widths()) > self.limit:
            candidates = [i for i, c in enumerate(self.cols) if c.keep < below and self._narrower(i) is not None]
            if not candidates:
                return
            i = min(candidates, key=lambda i: self.cols[i].keep)
            self.levels[i] = self._narrower(i)

    def _narrower(self, i: int):
        """The next variant of column ``i`` that is narrower than the one shown, or None."""
        c, level = self.cols[i], self.levels[i]
        now = c.width(level, self.short)
        for nxt in range(level + 1, len(c.variants)):
            if c.width(nxt, self.short) < now:
                return nxt
        return None

    def relax(self, wrap_to=None) -> None:
        """Columns turned compact that fit exact again, the most important first: numbers in one table are
        exact wherever the width allows (the steps are taken in order, so an early one may not be needed)."""
        for i in sorted(range(len(self.cols)), key=lambda i: -self.cols[i].keep):
            while self.levels[i] > 0:
                self.levels[i] -= 1
                if self.total(self.widths(wrap_to)) > self.limit:
                    self.levels[i] += 1
                    break

    def drop(self, below: int, wrap_to=None) -> None:
        while self.total(self.widths(wrap_to)) > self.limit:
            candidates = [c for c in self.cols if c.keep < below]
            if not candidates:
                return
            i = self.cols.index(min(candidates, key=lambda c: c.keep))
            self.dropped.append(self.cols[i])
            del self.cols[i], self.levels[i]

    def wrap_width(self):
        """The width text columns wrap to when the table is still too wide (None: no wrapping)."""
        if not (self.total(self.widths()) > self.limit and any(c.wrap for c in self.cols)):
            return None
        fixed = sum(w for c, w in zip(self.cols, self.widths(), strict=True) if not c.wrap) + GAP * (len(self.cols) - 1)
        wrappers = [c for c in self.cols if c.wrap]
        return max(max(c.wrap for c in wrappers), (self.limit - fixed) // len(wrappers))


def render(cols: list[Col], view: View, styles: Optional[list[Optional[str]]] = None,
           what: str = "columns") -> Doc:
    """The table as a Doc: header, rule, rows, and the footer row(s) under a rule; then a line
    naming the dropped columns."""
    f = choose(cols, view)
    doc = Doc()
    if not f.cols:
        return doc
    heads = [((c.short or c.head) if f.short else c.head) for c in f.cols]
    doc.add(_line(heads, f), "bold")
    width = sum(f.widths) + GAP * (len(f.widths) - 1)
    doc.add(RULE * width)
    n = len(f.cols[0].variants[0])
    cells_by_col = [c.variants[lv] for c, lv in zip(f.cols, f.levels)]
    for r in range(n):
        cells = [col[r] for col in cells_by_col]
        style = styles[r] if styles else None
        if any(c.wrap and len(cell) > w for c, cell, w in zip(f.cols, cells, f.widths)):
            for line in _wrapped(cells, f):
                doc.add(line, style)
        else:
            doc.add(_line(cells, f), style)
    if any(c.foot for c in f.cols):
        doc.add(RULE * width)
        foot = [c.foot[min(lv, len(c.foot) - 1)] if c.foot else "" for c, lv in zip(f.cols, f.levels)]
        doc.add(_line(foot, f), "bold")
    if f.dropped:
        doc.extend(dropped_note(f, cols, view, what))
    return doc


def dropped_note(f: Fitted, cols: list[Col], view: View, what: str) -> Doc:
    names = ", ".join(c.head for c in f.dropped)
    shown = ",".join(c.key for c in cols if c in f.cols or c in f.dropped)
    text = (f"not shown at {view.width} columns: {names}. "
            f"--wide shows every column; --columns {shown} chooses {what}.")
    return Doc().add("\n".join(textwrap.wrap(text, max(40, view.width), break_on_hyphens=False,
                                             break_long_words=False)), "dim")


def _line(cells: list[str], f: Fitted) -> str:
    parts = []
    for c, cell, w in zip(f.cols, cells, f.widths):
        parts.append(cell.rjust(w) if c.right else cell.ljust(w))
    return (" " * GAP).join(parts).rstrip()


def _wrapped(cells: list[str], f: Fitted) -> list[str]:
    columns = [textwrap.wrap(cell, w, break_on_hyphens=False) or [""] if c.wrap else [cell]
               for c, cell, w in zip(f.cols, cells, f.widths)]
    height = max(len(x) for x in columns)
    return [_line([x[i] if i < len(x) else "" for x in columns], f) for i in range(height)]


def wrap(text: str, width: int, indent: str = "") -> str:
    """Prose wrapped to the width (words are never split)."""
    return "\n".join(textwrap.wrap(text, max(20, width), subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False)) or ""


def stacked(title: str, entries, width: int) -> Doc:
    """Entries one under another instead of a wide grid: each a heading line (with its style) and
    labelled fields, wrapped to the width under their label. ``entries``: (heading, style, [(label, text)])."""
    doc = Doc().add(wrap(title, width), "bold") if title else Doc()
    for heading, style, fields in entries:
        doc.add(wrap(heading, width, "  "), style)
        for name, text in fields:
            if text:
                doc.add(wrap(f"  {name:<10} {text}", width, " " * 13))
    return doc


def parse_columns(text: Optional[str]) -> Optional[list[str]]:
    if not text:
        return None
    return [k.strip().lower() for k in text.split(",") if k.strip()]
