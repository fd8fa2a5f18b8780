"""The torch half of ``archstat/ops/merge.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach

attach("concat", torch_type="Concat")
attach("add", torch_type="Add")
attach("mean", torch_type="Mean")
attach("mul", torch_type="Mul")
