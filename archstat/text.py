"""Text archstat did not write, made safe to show: one line, every control character escaped.

The base of ``report/sanitize.py`` (which adds CSV, Markdown, HTML, JSON and diagram quoting), kept at
the bottom of the layers so that ``errors.py`` can make every message one line without importing report/.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["UNSAFE", "UNSAFE_BUT_NEWLINE", "clean", "clean_all", "clean_lines", "fmt_bytes_unit", "fmt_int"]

# every character that can move the cursor, change colours or titles, reorder what is shown, or
# break a line: C0, DEL, C1, bidi marks/embeddings/overrides/isolates, U+2028/9, lone surrogates
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
                    "\ud800-\udfff]")
UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                                "\u2028\u2029\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: Any) -> str:
    """One line: every control, bidi or separator character shown as an escape."""
    text = text if isinstance(text, str) else str(text)
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def clean_all(texts: list) -> list:
    """``clean`` of each string of a list (one search over them all when, as usual, none needs it)."""
    texts = [t if isinstance(t, str) else str(t) for t in texts]
    return [clean(t) for t in texts] if UNSAFE.search("".join(texts)) else texts


def clean_lines(text: Any) -> str:
    """Like ``clean``, keeping line breaks (``\\r`` is escaped: it would overwrite a line)."""
    text = text if isinstance(text, str) else str(text)
    return UNSAFE_BUT_NEWLINE.sub(_escape, text) if UNSAFE_BUT_NEWLINE.search(text) else text


def fmt_int(n: int) -> str:
    """138357544 → '138,357,544'."""
    return f"{n:,}"


def fmt_bytes_unit(n: int, unit: str) -> str:
    """Bytes in a unit: MB (10^6) or MiB (2^20), … with two decimals; an unknown unit: exact bytes."""
    scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    if unit not in scale:
        return f"{n:,}"
    return f"{n / scale[unit]:,.2f} {unit}"
