"""Per-channel scaling of a residual branch: layer scale (ConvNeXt, CaiT) and stochastic depth / drop path
(a per-sample keep-or-zero mask in training, the identity at inference)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.registry import Saved, numel, register_op, register_view, saves_input, zero
from archstat.ops.types import arg


def scaled_dim(shape) -> int:
    """The dimension a per-feature scale spans: the channels of a C×H×W map, else the last (a token's D)."""
    return shape[0] if len(shape) == 3 else shape[-1]


@dataclass(frozen=True)
class LayerScaleArgs:
    value: float = arg(1e-6, min=0)       # the initial value of every scale


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
)


@dataclass(frozen=True)
class DropPathArgs:
    p: float = arg(0.0, min=0)            # the probability of dropping the branch for a sample


register_view(   # no ops at inference (training: one multiply per element)
    "drop_path", Args=DropPathArgs, view=True, label="DROPPATH",
    doc="Stochastic depth per sample (torchvision's StochasticDepth, mode 'row'; timm's DropPath): in "
        "training each sample's branch is zeroed with probability p and the others scaled by 1/(1-p); the "
        "identity at inference. The branch still runs: its cost is not reduced (residual's `survival` "
        "models a body that is skipped).",
    # training: a new output, and autograd keeps the N×1×1×1 mask (one element per sample)
    saved=lambda a, s, o: () if a.p == 0 else (Saved("extra", 1),),
    training_inplace=lambda a: a.p == 0,          # p = 0: torch returns its input
)
