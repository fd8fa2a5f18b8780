"""Published figures beside computed ones: REPRODUCED at the published precision, or NOT.

A figure's precision is the number of significant digits it was written with
(``138e6`` → 3, ``1.5e9`` → 2, ``60000`` → 1 unless ``precision:`` says
otherwise). The computed value is rounded to that precision and compared; it is
never adjusted to meet the published one. Notes may name computed values in
braces — ``{activation_elements}`` or ``{activation_bytes:MB}`` — so that the
explanation always quotes the number archstat actually computes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from archstat.config.spec import Figure

REPRODUCED = "REPRODUCED"
NOT_REPRODUCED = "NOT REPRODUCED"


@dataclass
class Check:
    figure: str
    published: str
    value: Decimal          # the published value as a number
    computed: int
    metric: str
    precision: int
    status: str
    note: str
    source: str


def significant_digits(raw: str) -> int:
    """Digits a number was written with: '138e6' → 3, '1.50e9' → 3, '60000' → 1, '0.714' → 3."""
    text = raw.strip().lstrip("+-").lower().replace("_", "")
    mantissa = text.split("e")[0]
    if "." in mantissa:
        digits = mantissa.replace(".", "").lstrip("0")
    else:
        digits = mantissa.lstrip("0").rstrip("0")
    return max(1, len(digits))


def round_significant(value: int, digits: int) -> Decimal:
    """``value`` rounded half-up to ``digits`` significant digits, exactly."""
    if value == 0:
        return Decimal(0)
    d = Decimal(value)
    exponent = d.adjusted() - digits + 1
    return d.scaleb(-exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP).scaleb(exponent)


def metric_value(metric: str, totals, output_shape) -> int:
    if metric == "flops":
        return 2 * totals.macs
    if metric == "output_channels":
        return output_shape[0]
    return getattr(totals, metric)


_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def fill_note(note: str, totals, output_shape) -> str:
    from archstat.report.units import fmt_bytes_unit, fmt_int

    def sub(m: re.Match) -> str:
        metric, unit = m.group(1), m.group(2)
        try:
            value = metric_value(metric, totals, output_shape)
        except AttributeError:
            return m.group(0)
        return fmt_bytes_unit(value, unit) if unit else fmt_int(value)

    return _PLACEHOLDER.sub(sub, note)


def check_figure(fig: Figure, totals, output_shape) -> Check:
    computed = metric_value(fig.metric, totals, output_shape)
    try:
        published = Decimal(fig.raw.strip().replace("_", ""))
    except InvalidOperation:
        published = Decimal(repr(fig.value))
    precision = fig.precision or significant_digits(fig.raw)
    ok = round_significant(computed, precision) == round_significant(int(published), precision) \
        if published == published.to_integral_value() else \
        round_significant(computed, precision) == published
    return Check(fig.key, fig.published, published, computed, fig.metric, precision,
                 REPRODUCED if ok else NOT_REPRODUCED, fill_note(fig.note, totals, output_shape),
                 fig.source)


def check_all(figures: list[Figure], per_sample_totals, output_shape) -> list[Check]:
    """Figures are per image, as papers and slides quote them: checked at batch 1."""
    return [check_figure(f, per_sample_totals, output_shape) for f in figures]
