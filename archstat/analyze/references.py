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
PUBLISHED_ONLY = "PUBLISHED"   # a published figure archstat does not compute (top-1 error)


@dataclass
class Check:
    figure: str
    published: str
    value: Decimal          # the published value as a number
    computed: int | Decimal | None   # a Decimal for a ratio between two models; None: not computed
    metric: str
    precision: int
    status: str
    note: str
    source: str
    relative_to: str | None = None


def significant_digits(raw: str) -> int:
    """Digits a number was written with: '138e6' → 3, '1.50e9' → 3, '60000' → 1, '0.714' → 3."""
    text = raw.strip().lstrip("+-").lower().replace("_", "")
    mantissa = text.split("e")[0]
    if "." in mantissa:
        digits = mantissa.replace(".", "").lstrip("0")
    else:
        digits = mantissa.lstrip("0").rstrip("0")
    return max(1, len(digits))


def round_significant(value, digits: int) -> Decimal:
    """``value`` (an int, a Decimal or a ratio) rounded half-up to ``digits`` significant digits."""
    d = value if isinstance(value, Decimal) else Decimal(value)
    if d == 0:
        return Decimal(0)
    exponent = d.adjusted() - digits + 1
    return d.scaleb(-exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP).scaleb(exponent)


def metric_value(metric: str, stats) -> int:
    """A metric of a model at batch 1: what papers and slides quote."""
    t = stats.per_sample
    if metric == "flops":
        return 2 * t.macs
    if metric == "output_channels":
        return stats.output_shape[0]
    if metric == "layers":
        return stats.layers
    if metric == "conv_layers":
        return stats.conv_layers
    if metric == "bn_params":
        return stats.bn_params
    if metric == "receptive_field":
        return stats.receptive_field.size[0]
    if metric == "params_without_bn":
        return t.params - stats.bn_params
    return getattr(t, metric)


_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


def fill_note(note: str, stats) -> str:
    from archstat.text import fmt_bytes_unit, fmt_int

    def sub(m: re.Match) -> str:
        metric, unit = m.group(1), m.group(2)
        try:
            value = metric_value(metric, stats)
        except AttributeError:
            return m.group(0)
        return fmt_bytes_unit(value, unit) if unit else fmt_int(value)

    return _PLACEHOLDER.sub(sub, note)


def check_figure(fig: Figure, stats, evaluate) -> Check:
    """``evaluate(model, overrides, mode)`` gives the ModelStats a figure needs beyond ``stats``
    (``model`` None: this config under other params or mode)."""
    if fig.metric == "published_only":
        return Check(figure=fig.key, published=fig.published, value=Decimal(fig.raw), computed=None,
                     metric="error_percent", precision=0, status=PUBLISHED_ONLY,
                     note="published, not computed: archstat does not train networks", source=fig.source)
    from archstat.errors import ArchstatError, ConfigError

    try:
        base = stats
        if fig.overrides or fig.mode != stats.mode:
            base = evaluate(None, fig.overrides, fig.mode)
        computed: int | Decimal = metric_value(fig.metric, base)
        if fig.relative_to:
            other = metric_value(fig.metric, evaluate(fig.relative_to, {}, fig.mode))
            if not computed:
                raise ConfigError(f"a ratio over zero: this model's {fig.metric} is 0, so {fig.relative_to}'s "
                                  f"cannot be divided by it", loc=fig.loc, path=f"reference.figures.{fig.key}")
            computed = Decimal(other) / Decimal(computed)
    except ConfigError as exc:
        if exc.loc is not None and exc.loc.file == (fig.loc.file if fig.loc else None):
            settings = ", ".join(f"{k}={v}" for k, v in fig.overrides.items())
            raise ConfigError(f"{exc.message} (with reference.figures.{fig.key}'s set: {settings})"
                              if settings else exc.message, loc=exc.loc, path=exc.path, hint=exc.hint) from None
        # another model's or another setting's problem, reported where this figure asks for it
        raise ConfigError(exc.format(), loc=fig.loc, path=f"reference.figures.{fig.key}") from None
    except ArchstatError as exc:
        raise ConfigError(exc.format(), loc=fig.loc, path=f"reference.figures.{fig.key}") from None
    try:
        published = Decimal(fig.raw.strip().replace("_", ""))
    except InvalidOperation:
        published = Decimal(repr(fig.value))
    precision = fig.precision or significant_digits(fig.raw)
    ok = round_significant(computed, precision) == round_significant(published, precision)
    return Check(figure=fig.key, published=fig.published, value=published, computed=computed, metric=fig.metric,
                 precision=precision, status=REPRODUCED if ok else NOT_REPRODUCED, note=fill_note(fig.note, base),
                 source=fig.source, relative_to=fig.relative_to)


def check_all(figures: list[Figure], stats, evaluate) -> list[Check]:
    return [check_figure(f, stats, evaluate) for f in figures]
