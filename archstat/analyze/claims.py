"""``archstat reproduce``: a claims file (YAML, the same loader and error style as configs) whose
claims are computed from zoo models — a total of one model, a row of one, a ratio of two — and
set beside the published text. It reports; a NOT REPRODUCED claim is a finding, not a failure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from archstat.analyze.references import (NOT_REPRODUCED, REPRODUCED, fill_note, metric_value, round_significant,
                                         significant_digits)
from archstat.config.loader import LDict, LList, parse_yaml, read_config_text
from archstat.config.spec import METRICS, check_keys, check_note, check_precision, check_zoo_name
from archstat.errors import ConfigError, UnknownNameError

ROW_METRICS = ("output_shape", "weights", "biases", "params", "macs", "activation_elements")


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


def reproduce(path: Optional[str] = None) -> tuple[dict, list[ClaimResult]]:
    from archstat.api import analyze

    file = Path(path) if path else default_claims()
    shown = str(path) if path else f"configs/claims/{file.name}"
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
    cache: dict = {}

    def stats(model: str, overrides: dict):
        key = (model, tuple(sorted(overrides.items())))
        if key not in cache:
            cache[key] = analyze(model, overrides)
        return cache[key]

    results = []
    for i, claim in enumerate(claims):
        results.append(_one(claim, claims.loc_of(i), f"claims[{i}]", stats, str(root.get("source", ""))))
    info = {"name": root.get("name", ""), "description": root.get("description", ""),
            "source": root.get("source", ""), "file": shown}
    return info, results


def _one(claim, loc, path: str, stats, default_source: str) -> ClaimResult:
    if not isinstance(claim, LDict):
        raise ConfigError("a claim is a mapping with id, claim, published, compute and value", loc=loc, path=path)
    check_keys(claim, ("id", "claim", "published", "compute", "value", "precision", "note", "source"), path)
    for key in ("id", "claim", "published", "compute", "value"):
        if key not in claim:
            raise ConfigError(f"a claim needs '{key}'", loc=claim.loc, path=path)
    compute = claim["compute"]
    cpath = f"{path}.compute"
    if not isinstance(compute, LDict):
        raise ConfigError("compute is a mapping: {model, metric} or {ratio: [A, B], metric}",
                          loc=claim.loc_of("compute"), path=cpath)
    check_keys(compute, ("model", "ratio", "metric", "row", "set"), cpath)
    metric = compute.get("metric")
    row = compute.get("row")
    allowed = ROW_METRICS if row is not None else METRICS
    if metric not in allowed:
        raise UnknownNameError("metric", str(metric), allowed, loc=compute.loc_of("metric"), path=f"{cpath}.metric")
    overrides = _claim_set(compute, f"{cpath}.set")
    for key in ("model", "ratio"):
        models = compute.get(key)
        for i, m in enumerate(models if isinstance(models, list) else [models] if key in compute else []):
            if not isinstance(m, str):
                raise ConfigError(f"{key} names zoo models", loc=compute.loc_of(key), path=f"{cpath}.{key}")
            check_zoo_name(m, compute.loc_of(key), f"{cpath}.{key}", key)
    if "ratio" in compute:
        pair = compute["ratio"]
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(m, str) for m in pair)):
            raise ConfigError("ratio is a pair of models [A, B]: A's metric divided by B's",
                              loc=compute.loc_of("ratio"), path=f"{cpath}.ratio")
        a, b = (stats(m, overrides) for m in pair)
        if not metric_value(metric, b):
            raise ConfigError(f"a ratio over zero: {pair[1]}'s {metric} is 0", loc=compute.loc_of("ratio"),
                              path=f"{cpath}.ratio")
        computed = Decimal(metric_value(metric, a)) / Decimal(metric_value(metric, b))
        base, how = b, f"{pair[0]} {metric} / {pair[1]} {metric}"
    elif "model" in compute:
        base = stats(compute["model"], overrides)
        if row is not None:
            found = [r for r in base.rows if r.name == row]
            if not found:
                raise UnknownNameError("row", str(row), [r.name for r in base.rows], loc=compute.loc_of("row"),
                                       path=f"{cpath}.row")
            value = getattr(found[0], metric)
            computed = list(value) if metric == "output_shape" else value
        else:
            computed = metric_value(metric, base)
        how = f"{compute['model']}" + (f" row {row}" if row else "") + f" {metric}" + (
            f" with {', '.join(f'{k}={v}' for k, v in overrides.items())}" if overrides else "")
    else:
        raise ConfigError("compute needs model or ratio", loc=compute.loc, path=cpath)
    check_note(str(claim.get("note", "")), claim.loc_of("note"), f"{path}.note")
    value = claim["value"]
    if isinstance(value, list):
        ok = computed == value
    else:
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
        ok = round_significant(Decimal(computed), precision) == round_significant(published, precision)
    return ClaimResult(str(claim["id"]), str(claim["claim"]), str(claim["published"]), computed,
                       REPRODUCED if ok else NOT_REPRODUCED, fill_note(str(claim.get("note", "")), base),
                       str(claim.get("source", default_source)), how)


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
