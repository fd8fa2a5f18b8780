"""The serving model's fitted coefficients (``archstat/data/llm.yaml``, written by ``benchmarks/llm/fit.py``
from public measurements only), read once.

- ``inflight_efficiency``: the share of the in-flight model's throughput (``llm.estimate``) that a real
  scheduler reaches: the iterations where prefill chunks and decode steps share the GPU, the requests that
  finish at different steps, the scheduler's own time. A physical share (≤ 1).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["serving_coefficients"]


@cache
def serving_coefficients() -> dict:
    import yaml

    data = yaml.safe_load((resources.files("archstat") / "data" / "llm.yaml").read_text(encoding="utf-8"))
    eff = float(data["inflight_efficiency"])
    if not 0 < eff <= 1:
        raise ValueError(f"archstat/data/llm.yaml: inflight_efficiency {eff} is not a share in (0, 1]")
    return {"inflight_efficiency": eff, "provenance": str(data.get("provenance", ""))}
