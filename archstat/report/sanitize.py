"""One sanitiser for text that archstat did not write itself: names, descriptions, labels and params
of configs, module and class names of a traced ``nn.Module``, the strings of a calibration cache, the
paths and values a user typed. Every renderer passes such text through here before it reaches a
terminal or a document.

- ``clean``: one line of text, every control character shown escaped (``\\x1b``, ``\\n``, ``\\t``,
  ``\\u202e``): C0 and DEL, the C1 range (``\\x9b`` is a CSI on some terminals), bidirectional
  overrides and isolates (text that displays in another order than it reads), line and paragraph
  separators and lone surrogates. Nothing else changes (``×``, ``—``, accents and emoji stay).
- ``clean_lines``: the same, keeping newlines: a block of text whose lines archstat laid out.
- ``csv_cell``: ``clean``, and a cell that a spreadsheet would read as a formula (it starts with
  ``= + - @``, a tab or a carriage return, or their full-width forms) gets a leading ``'``; numbers
  stay numbers.
- ``md_cell`` / ``md_text``: ``clean``, backslashes and pipes escaped (a cell stays one cell), ``<``
  and ``>`` as entities (no raw HTML).
- ``html``: ``clean``, then HTML-escaped (quotes included).
- ``to_json``: JSON text with no bare ``NaN``/``Infinity`` (a non-finite number is ``null``) and the
  characters above written as ``\\uXXXX`` escapes, so the data is unchanged when parsed.
- plots (``report/plots.py``) ``clean`` every label and turn matplotlib's mathtext off, so that a
  ``$`` in a name is a dollar sign, not a formula that fails to parse.
- ``dot_text`` / ``mermaid_text``: ``clean`` and the quoting of each diagram language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from archstat.text import UNSAFE, UNSAFE_BUT_NEWLINE, clean, clean_all, clean_lines  # noqa: F401  (here too)

# --- CSV --------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A cell as a spreadsheet will not execute it; ints, floats and None pass unchanged."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else str(value)
    shown = clean(text)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + shown
    return shown


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV (one header row first, by the caller), every cell through ``csv_cell``."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return out.getvalue()


# --- markdown ---------------------------------------------------------------------------------

def md_text(value: Any) -> str:
    """Text inside a markdown line: one line, no raw HTML, backslashes kept literal."""
    return (clean(value).replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;"))


def md_cell(value: Any) -> str:
    """A table cell: ``md_text`` with pipes escaped, so the row keeps its columns."""
    return md_text(value).replace("|", "\\|")


def md_row(values: Iterable[Any]) -> str:
    return "| " + " | ".join(md_cell(v) for v in values) + " |"


def md_rule(aligns: Iterable[str]) -> str:
    """The delimiter row: ``---`` (left) or ``---:`` (right) per column; never escaped."""
    return "| " + " | ".join(aligns) + " |"


# --- HTML, JSON, plots, diagrams --------------------------------------------------------------

def html(value: Any) -> str:
    from html import escape

    return escape(clean(value), quote=True)


def finite(obj: Any) -> Any:
    """A copy of a JSON-able structure with every NaN or infinite float replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Valid JSON whatever the data: finite numbers only (non-finite ones are null), and characters
    a terminal would act on escaped (``json`` already escapes C0)."""
    import json

    text = json.dumps(finite(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _JSON_UNSAFE.search(text) else text


def rich_text(value: Any) -> str:
    """Text for rich's markup (a progress bar's description): clean, and '[' escaped so that a name
    such as ``net[/].yaml`` is not read as markup."""
    from rich.markup import escape

    return escape(clean(value))


def dot_text(value: Any) -> str:
    """Inside a double-quoted graphviz string: backslashes and quotes escaped."""
    return clean(value).replace("\\", "\\\\").replace('"', '\\"')


def mermaid_text(value: Any) -> str:
    """Inside a quoted mermaid label: quotes and angle brackets as mermaid's entity codes."""
    return clean(value).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
