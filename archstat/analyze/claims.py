"""``archstat reproduce``: a claims file (YAML, the same loader and error style as configs) whose
claims are computed from zoo models — a total of one model, a row of one, a ratio of two — and
set beside the published text. It reports; a NOT REPRODUCED claim is a finding, not a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from archstat.analyze.references import (
    NOT_REPRODUCED,
    REPRODUCED,
    fill_note,
    metric_value,
    round_significant,
    significant_digits,
)
from archstat.config.loader import LDict, LList, parse_yaml, read_config_text
from archstat.config.spec import METRICS, check_keys, check_note, check_precision, check_zoo_name
from archstat.errors import ConfigError, UnknownNameError
from archstat.ops.arith import attention_macs

ROW_METRICS = ("output_shape", "weights", "biases", "params", "macs", "activation_elements", "attention_macs")


@dataclass
class ClaimResult:
    id: str
    claim: str
    published: str
    computed: Any            # int, Decimal (a ratio) or a shape list
    status: str
    note: str
    source: str
    how: str                 # what was computed, in words


def default_claims() -> Path:
    from archstat.zoo import zoo_dir

    return zoo_dir() / "claims" / "cs231n-lecture9.yaml"


def claims_file(path: Optional[str]) -> tuple[Path, str]:
    """The file to read and how to show it: a path, a bundled claims file's name
    (``cs231n-lecture-modern``), or the default."""
    from archstat.zoo import zoo_dir

    if not path:
        return default_claims(), f"configs/claims/{default_claims().name}"
    bundled = zoo_dir() / "claims" / f"{path}.yaml"
    if not Path(path).exists() and "/" not in path and bundled.exists():
        return bundled, f"configs/claims/{bundled.name}"
    return Path(path), str(path)


def evaluate(path: Optional[str], stats: Callable[..., Any]) -> tuple[dict, list[ClaimResult]]:
    """The claims of a claims file (``path``, a bundled name or None for the default), each computed from
    ``stats(model, overrides, input_shape)``: the ModelStats of a zoo model under those params and input
    (``archstat.orchestrate.reproduce`` passes the API's analysis, cached)."""
    file, shown = claims_file(path)
    root = parse_yaml(read_config_text(file, shown), shown)
    if not isinstance(root, LDict):
        raise ConfigError("a claims file is a mapping with archstat, name and claims", path=shown)
    check_keys(root, ("archstat", "name", "description", "source", "claims"), "")
    if root.get("archstat") != 1:
        raise ConfigError("unsupported format version (expected archstat: 1)", loc=root.loc_of("archstat"),
                          path="archstat")
    claims = root.get("claims")
    if not isinstance(claims, LList):
        raise ConfigError("claims must be a list", loc=root.loc_of("claims") if "claims" in root else root.loc,
                          path="claims")
    results = []
    for i, claim in enumerate(claims):
        results.append(_one(claim, claims.loc_of(i), f"claims[{i}]", stats, str(root.get("source", ""))))
    info = {"name": root.get("name", ""), "description": root.get("description", ""),
            "source": root.get("source", ""), "file": shown}
    return info, results


def row_attention_macs(row) -> int:
    """The attention matmuls of a ``self_attention`` row (Q·Kᵀ and the weighted sum of V, 2·L²·D per
    sample): the part of its cost that grows with the square of the number of tokens L."""
    length, d = row.output_shape
    return attention_macs(1, length, length, d, d)


def _row_value(base, row: str, metric: str, compute: LDict, cpath: str):
    found = [r for r in base.rows if r.name == row]
    if not found:
        raise UnknownNameError("row", str(row), [r.name for r in base.rows], loc=compute.loc_of("row"),
                               path=f"{cpath}.row")
    if metric == "attention_macs":
        if found[0].op != "self_attention":
            raise ConfigError(f"attention_macs is a metric of a self_attention row; '{row}' is {found[0].op}",
                              loc=compute.loc_of("row"), path=f"{cpath}.row")
        return row_attention_macs(found[0])
    value = getattr(found[0], metric)
    return list(value) if metric == "output_shape" else value


def _inputs(compute: LDict, cpath: str, n: int) -> list[Optional[tuple]]:
    """``input``: one C×H×W shape for a model, or one per model of a ratio (None: the config's own)."""
    if "input" not in compute:
        return [None] * n
    value = compute["input"]
    shapes = value if n == 2 else [value]
    if not (isinstance(value, list) and len(shapes) == n and all(
            isinstance(s, list) and s and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s)
            for s in shapes)):
        raise ConfigError("input is a shape [C, H, W]" + (", one per model of the ratio: [[C, H, W], [C, H, W]]"
                                                           if n == 2 else ""),
                          loc=compute.loc_of("input"), path=f"{cpath}.input")
    return [tuple(s) for s in shapes]


def _one(claim, loc, path: str, stats, default_source: str) -> ClaimResult:
    if not isinstance(claim, LDict):
        raise ConfigError("a claim is a mapping with id, claim, published, compute and value", loc=loc, path=path)
    check_keys(claim, ("id", "claim", "published", "compute", "value", "between", "precision", "note", "source"),
               path)
    for key in ("id", "claim", "published", "compute"):
        if key not in claim:
            raise ConfigError(f"a claim needs '{key}'", loc=claim.loc, path=path)
    if ("value" in claim) == ("between" in claim):
        raise ConfigError("a claim needs 'value' (the published figure) or 'between' (a published range "
                          "[low, high]), not both", loc=claim.loc, path=path)
    compute = claim["compute"]
    cpath = f"{path}.compute"
    if not isinstance(compute, LDict):
        raise ConfigError("compute is a mapping: {model, metric} or {ratio: [A, B], metric}",
                          loc=claim.loc_of("compute"), path=cpath)
    check_keys(compute, ("model", "ratio", "metric", "row", "set", "input"), cpath)
    metric = compute.get("metric")
    row = compute.get("row")
    allowed = ROW_METRICS if row is not None else METRICS
    if not isinstance(metric, str) or metric not in allowed:
        raise UnknownNameError("metric", str(metric), allowed, loc=compute.loc_of("metric"), path=f"{cpath}.metric")
    overrides = _claim_set(compute, f"{cpath}.set")
    for key in ("model", "ratio"):
        models = compute.get(key)
        for _i, m in enumerate(models if isinstance(models, list) else [models] if key in compute else []):
            if not isinstance(m, str):
                raise ConfigError(f"{key} names zoo models", loc=compute.loc_of(key), path=f"{cpath}.{key}")
            check_zoo_name(m, compute.loc_of(key), f"{cpath}.{key}", key)
    if "ratio" in compute:
        pair = compute["ratio"]
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(m, str) for m in pair)):
            raise ConfigError("ratio is a pair of models [A, B]: A's metric divided by B's",
                              loc=compute.loc_of("ratio"), path=f"{cpath}.ratio")
        shapes = _inputs(compute, cpath, 2)
        a, b = (stats(m, overrides, shape) for m, shape in zip(pair, shapes))
        if row is not None and metric == "output_shape":
            raise ConfigError("a ratio needs a number: not output_shape", loc=compute.loc_of("metric"),
                              path=f"{cpath}.metric")
        va, vb = ((_row_value(x, row, metric, compute, cpath) if row is not None else metric_value(metric, x))
                  for x in (a, b))
        if not vb:
            raise ConfigError(f"a ratio over zero: {pair[1]}'s {metric} is 0", loc=compute.loc_of("ratio"),
                              path=f"{cpath}.ratio")
        computed: Any = Decimal(va) / Decimal(vb)   # as ClaimResult.computed: an int, a Decimal or a shape list
        base = b
        how = " / ".join(f"{m}" + (f" at {'×'.join(map(str, shape))}" if shape else "") for m, shape in
                         zip(pair, shapes)) + (f", row {row}" if row else "") + f", {metric}" + (
            f" with {', '.join(f'{k}={v}' for k, v in overrides.items())}" if overrides else "")
    elif "model" in compute:
        shape = _inputs(compute, cpath, 1)[0]
        base = stats(compute["model"], overrides, shape)
        computed = _row_value(base, row, metric, compute, cpath) if row is not None else metric_value(metric, base)
        how = f"{compute['model']}" + (f" at {'×'.join(map(str, shape))}" if shape else "") + (
            f" row {row}" if row else "") + f" {metric}" + (
            f" with {', '.join(f'{k}={v}' for k, v in overrides.items())}" if overrides else "")
    else:
        raise ConfigError("compute needs model or ratio", loc=compute.loc, path=cpath)
    check_note(str(claim.get("note", "")), claim.loc_of("note"), f"{path}.note")
    ok = _within(claim, computed, path) if "between" in claim else _matches(claim, computed, path)
    return ClaimResult(id=str(claim["id"]), claim=str(claim["claim"]), published=str(claim["published"]),
                       computed=computed, status=REPRODUCED if ok else NOT_REPRODUCED,
                       note=fill_note(str(claim.get("note", "")), base),
                       source=str(claim.get("source", default_source)), how=how)


def _claim_set(compute: LDict, path: str) -> dict:
    """``set:`` of a claim: param names with scalar values (or a pair [h, w]); the model checks the rest."""
    node = compute.get("set")
    if node is None:
        return {}
    if not isinstance(node, LDict):
        raise ConfigError("set must be a mapping of param: value", loc=compute.loc_of("set"), path=path)
    out = {}
    for name, value in node.items():
        if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
            value = tuple(value)
        elif isinstance(value, (list, dict)):
            raise ConfigError(f"'{name}' must be a number, a boolean, a string or a pair [h, w]",
                              loc=node.loc_of(name), path=f"{path}.{name}")
        out[name] = value
    return out


def _matches(claim: LDict, computed, path: str) -> bool:
    """Equal at the published precision (a shape: equal)."""
    value = claim["value"]
    if isinstance(value, list):
        return computed == value
    raw = claim.raw.get("value") or str(value)
    try:
        published = Decimal(str(raw).replace("_", ""))
        if not abs(published) <= Decimal(10) ** 30:
            raise ValueError
    except Exception:
        raise ConfigError(f"value must be a number (at most 10^30 in magnitude) or a shape, got {raw!r}",
                          loc=claim.loc_of("value"), path=f"{path}.value") from None
    precision = check_precision(claim["precision"], claim.loc_of("precision"), f"{path}.precision") \
        if "precision" in claim else significant_digits(str(raw))
    return round_significant(Decimal(computed), precision) == round_significant(published, precision)


def _within(claim: LDict, computed, path: str) -> bool:
    """A published range [low, high] (\"8 to 9 times\"): reproduced when low ≤ computed ≤ high."""
    bounds = claim["between"]
    numbers = isinstance(bounds, list) and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    if not (numbers and len(bounds) == 2 and bounds[0] <= bounds[1]):
        raise ConfigError("between is a range [low, high] of numbers", loc=claim.loc_of("between"),
                          path=f"{path}.between")
    if isinstance(computed, list):
        raise ConfigError("between needs a number, not a shape", loc=claim.loc_of("between"), path=f"{path}.between")
    return Decimal(str(bounds[0])) <= Decimal(computed) <= Decimal(str(bounds[1]))
