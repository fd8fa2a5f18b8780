"""Number formatting: exact integers with separators, SI prefixes, bytes in MB (10^6) and MiB (2^20)."""

from __future__ import annotations

from archstat.ops.types import fmt_shape  # noqa: F401  (one shape format for configs and reports)
from archstat.text import fmt_bytes_unit, fmt_int


def fmt_si(n: int | float, digits: int = 3) -> str:
    """1_849_688_064 → '1.85 G'; 138_357_544 → '138 M'; 0 → '0'."""
    if n == 0:
        return "0"
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= factor:
            value = n / factor
            decimals = max(0, digits - len(str(int(abs(value)))))
            return f"{value:.{decimals}f} {prefix}"
    return f"{n:,}" if isinstance(n, int) else f"{n:.{digits}g}"


def fmt_int_short(n: int) -> str:
    """'138,357,544 (138 M)'; small numbers once: '808', never '808 (808)'."""
    return fmt_int(n) if abs(n) < 1000 else f"{fmt_int(n)} ({fmt_si(n)})"


def fmt_bytes(n: int) -> str:
    """60_950_432 → '60.95 MB'; large values in GB; under 1 MB in KB."""
    if n >= 10**9:
        return fmt_bytes_unit(n, "GB")
    if n >= 10**6:
        return fmt_bytes_unit(n, "MB")
    if n >= 10**3:
        return fmt_bytes_unit(n, "KB")
    return f"{n} B"


def fmt_bytes_both(n: int) -> str:
    """'60.95 MB (58.13 MiB)': the two differ by about 5 %, so both are shown where it matters."""
    if n >= 10**9:
        return f"{fmt_bytes_unit(n, 'GB')} ({fmt_bytes_unit(n, 'GiB')})"
    if n >= 10**6:
        return f"{fmt_bytes_unit(n, 'MB')} ({fmt_bytes_unit(n, 'MiB')})"
    return f"{fmt_bytes_unit(n, 'KB')} ({fmt_bytes_unit(n, 'KiB')})"


def compute_unit(units: str) -> tuple[str, int]:
    """(column name, factor): MACs ×1, or FLOPs = 2 × MACs."""
    return ("FLOPs", 2) if units == "flops" else ("MACs", 1)


def fmt_computed(value) -> str:
    """A computed figure: an exact integer, or a ratio between two models to 3 digits."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return fmt_int(value)
    return f"{float(value):.3g}×"


def fmt_compact(n: int, digits: int = 3, unit: str = "") -> str:
    """Exact below 1,000; else rounded to ``digits`` significant digits with an SI prefix:
    1_849_688_064 → '1.85 G', 86_704_128 → '86.7 M', 999_999 → '1.00 M' (never '1000 K')."""
    if abs(n) < 1000:
        return f"{n}{' ' + unit if unit else ''}"
    prefixes = ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T"), (10**15, "P"))
    for i, (factor, prefix) in enumerate(prefixes):
        value = n / factor
        decimals = max(0, digits - len(str(int(abs(value)))))
        text = f"{value:.{decimals}f}"
        if decimals and len(str(int(abs(float(text))))) > len(str(int(abs(value)))):   # 99.95 → 100.0
            text = f"{value:.{decimals - 1}f}"
        if abs(float(text)) < 1000 or i == len(prefixes) - 1:
            return f"{text} {prefix}{unit}"
    raise AssertionError("unreachable")


def fmt_bytes_compact(n: int) -> str:
    """12_845_056 → '12.8 MB' (3 significant digits, MB = 10^6 B)."""
    return fmt_compact(n, unit="B")
