"""Per-channel scaling of a residual branch: layer scale (ConvNeXt, CaiT) and stochastic depth / drop path
(a per-sample keep-or-zero mask in training, the identity at inference)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.registry import Saved, numel, register_op, saves_input, zero
from archstat.ops.types import arg


def scaled_dim(shape) -> int:
    """The dimension a per-feature scale spans: the channels of a C×H×W map, else the last (a token's D)."""
    return shape[0] if len(shape) == 3 else shape[-1]


@dataclass(frozen=True)
class LayerScaleArgs:
    value: float = arg(1e-6, min=0)       # the initial value of every scale


def _build_layer_scale(a: LayerScaleArgs, in_shapes):
    from archstat.builder.modules import LayerScale

    shape = in_shapes[0]
    return LayerScale(scaled_dim(shape), a.value, spatial=len(shape) == 3)


register_op(
    "layer_scale",
    Args=LayerScaleArgs,
    doc="A learned scale per channel (C of a C×H×W map, else the last dimension), initialised to `value` "
        "(ConvNeXt's layer_scale, 1e-6). Weights: C; no biases.",
    out_shape=lambda a, s: s[0],
    weights=lambda a, s: scaled_dim(s[0]), biases=zero, macs=zero,
    ops=lambda a, s, o: numel(o),                 # one multiply per element
    saved=saves_input,                            # the scale's gradient needs the input
    label=lambda a, s, o: "SCALE",
    torch_type="LayerScale",
    build=_build_layer_scale,
    from_module=lambda m: {"value": m.value},
)


@dataclass(frozen=True)
class DropPathArgs:
    p: float = arg(0.0, min=0)            # the probability of dropping the branch for a sample


def _build_drop_path(a: DropPathArgs, in_shapes):
    from archstat.builder.modules import DropPath

    return DropPath(a.p)


register_op(
    "drop_path",
    Args=DropPathArgs,
    doc="Stochastic depth per sample (torchvision's StochasticDepth, mode 'row'; timm's DropPath): in "
        "training each sample's branch is zeroed with probability p and the others scaled by 1/(1-p); the "
        "identity at inference. The branch still runs: its cost is not reduced (residual's `survival` "
        "models a body that is skipped).",
    out_shape=lambda a, s: s[0],
    weights=zero, biases=zero, macs=zero,
    ops=zero,                                     # none at inference (training: one multiply per element)
    # training: a new output, and autograd keeps the N×1×1×1 mask (one element per sample)
    saved=lambda a, s, o: () if a.p == 0 else (Saved("extra", 1),),
    label=lambda a, s, o: "DROPPATH",
    inplace=lambda a: True,
    training_inplace=lambda a: a.p == 0,          # p = 0: torch returns its input
    torch_type="DropPath",
    torch_aliases=("StochasticDepth",),
    build=_build_drop_path,
    from_module=lambda m: {"p": m.p} if getattr(m, "mode", "row") == "row" else None,
)
