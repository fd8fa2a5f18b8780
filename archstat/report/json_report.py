"""JSON output: stable keys, exact integers. Documented in the README ("JSON keys")."""

from __future__ import annotations

from typing import Any

from archstat._version import __version__
from archstat.analyze.stats import ModelStats, Row
from archstat.report.rows import CONVENTIONS, whole_shape
from archstat.report.sanitize import to_json


def row_dict(row: Row, batch: int, units: str, source: str = "config") -> dict:
    d = {
        "name": row.name, "label": row.label, "op": row.op,
        "output_shape": whole_shape(row, batch),
        "activation_elements": row.activation_elements, "activation_bytes": row.activation_bytes,
        "weights": row.weights, "biases": row.biases, "params": row.params,
        "macs": row.macs, "ops": row.ops, "formula": row.formula, "folded": list(row.folded),
    }
    if units == "flops":
        d["flops"] = 2 * row.macs
    if row.contains:
        d["contains"] = list(row.contains)
    d["saved_bytes"] = row.saved_bytes
    d["receptive_field"] = rf_dict(row.rf)
    d["aux"] = row.aux
    d["counted"] = row.counted
    if row.note:
        d["note"] = row.note
    if source == "module":
        d["batch_dim"] = row.batch_dim
        if row.batch_factor != 1:
            d["batch_factor"] = row.batch_factor
        d["scales"] = row.scales or None
        if row.calls != 1:
            d["calls"] = row.calls
        if row.depends_on_data:
            d["depends_on_data"] = True
    return d


def training_dict(t) -> dict | None:
    if t is None:
        return None
    return {"optimizer": t.optimizer, "amp": t.amp, "param_bytes": t.param_bytes, "grad_bytes": t.grad_bytes,
            "optimizer_bytes": t.optimizer_bytes, "weight_copy_bytes": t.weight_copy_bytes,
            "saved_activation_bytes": t.saved_bytes, "total_bytes": t.total, "leaves_out": t.leaves_out}


def rf_dict(rf) -> dict | None:
    if rf is None:
        return None
    d = {"size": list(rf.size), "jump": list(rf.jump), "start": list(rf.start), "global": rf.is_global}
    return d | {"beyond_limit": True} if rf.beyond_limit else d   # numbers stopped at 10^30


def stats_dict(stats: ModelStats, units: str = "macs") -> dict:
    t = stats.totals
    totals: dict[str, Any] = {"params": t.params, "weights": t.weights, "biases": t.biases, "macs": t.macs,
                              "ops": t.ops, "activation_elements": t.activation_elements,
                              "activation_bytes": t.activation_bytes, "complete": t.complete}
    if units == "flops":
        totals["flops"] = 2 * t.macs
    if stats.source == "module":
        totals["data_dependent"] = [dict(d) for d in t.data_dependent]
    return {
        "archstat_version": __version__,
        "model": stats.model,
        "description": stats.description,
        "input": list(stats.input_shape),
        "batch": stats.batch,
        "dtype": stats.dtype,
        "bytes_per_element": stats.bytes_per_element,
        "units": units,
        "params": dict(stats.params),
        "conventions": dict(CONVENTIONS),
        "folded": stats.folded,
        "depth": stats.depth,
        "output_shape": (stats.outputs[0]["shape"] if stats.outputs and "shape" in stats.outputs[0]
                         else None if stats.source == "module" else [stats.batch, *stats.output_shape]),
        "mode": stats.mode,
        "layers_with_weights": stats.layers,
        "receptive_field": rf_dict(stats.receptive_field),
        "aux_params_excluded": stats.aux_params,
        "expected": stats.expected,
        "training": training_dict(stats.training),
        "layers": [row_dict(r, stats.batch, units, stats.source) for r in stats.rows],
        "totals": totals,
        "references": [
            {"figure": c.figure, "published": c.published, "value": _number(c.value),
             "computed": c.computed if c.computed is None or isinstance(c.computed, int) else _number(c.computed),
             "metric": c.metric, "relative_to": c.relative_to, "precision": c.precision,
             "status": c.status, "note": c.note, "source": c.source}
            for c in stats.references
        ],
        "references_skipped": stats.references_skipped,
        "source": stats.source,
        "not_counted": [{"name": r.name, "op": r.op, "note": r.note} for r in stats.not_counted],
        "uncounted": [dict(u) for u in t.uncounted],
        "notes": list(stats.notes),
        **_module_keys(stats),
    }


def _module_keys(stats: ModelStats) -> dict:
    """A traced module's inputs, outputs and where the input came from (+ a peer's count)."""
    if stats.source != "module":
        return {}
    d = {"inputs": [dict(i) for i in stats.inputs], "input_source": stats.input_source,
         "outputs": [dict(o) for o in stats.outputs],
         "outputs_total": stats.outputs_total if stats.outputs_total is not None else len(stats.outputs)}
    if stats.conventions is not None:
        d["peer_convention"] = stats.conventions.as_dict()
    return d


def _number(value):
    """A Decimal as JSON: an exact int when integral, else a float."""
    return int(value) if value == value.to_integral_value() else float(round(value, 6))


def render(stats: ModelStats, units: str = "macs") -> str:
    return to_json(stats_dict(stats, units))
