"""The torch half of ``archstat/ops/activation.py``: each activation is torch.nn's class of its name."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.activation import _ACTIVATIONS


def _builder(torch_name: str):
    def build(a, in_shapes):
        from torch import nn

        kwargs = {k: getattr(a, k) for k in ("inplace", "negative_slope", "alpha") if hasattr(a, k)}
        return getattr(nn, torch_name)(**kwargs)

    return build


for _name, _args, _torch, _can_inplace, _saved in _ACTIVATIONS:
    attach(_name, torch_type=_torch, build=_builder(_torch))
