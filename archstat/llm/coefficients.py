"""The serving model's fitted coefficients (``archstat/data/llm.yaml``, written by ``benchmarks/llm/fit.py``
from public measurements only), read once.

- ``engine_efficiency``: the share of the performance model's speed (``perf.predict`` of a phase's calls) that a
  serving engine's steps reach on decoder models (``runtime='engine'``): every predicted step time is divided
  by it. It holds what the cost model's coefficients, fitted on vision models under PyTorch, do not say of
  large GEMMs and weight streaming on datacenter GPUs under an LLM engine, and the engine's time between
  kernels. A physical share (≤ 1).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["serving_coefficients"]


@cache
def serving_coefficients() -> dict:
    import yaml

    data = yaml.safe_load((resources.files("archstat") / "data" / "llm.yaml").read_text(encoding="utf-8"))
    eff = float(data["engine_efficiency"])
    if not 0 < eff <= 1:
        raise ValueError(f"archstat/data/llm.yaml: engine_efficiency {eff} is not a share in (0, 1]")
    return {"engine_efficiency": eff, "provenance": str(data.get("provenance", ""))}
