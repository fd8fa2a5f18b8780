"""Elementwise activations. ReLU and its kin run in place by default (as in torchvision),
so they allocate nothing and fold into the row before them in the table."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ops.registry import Saved, numel, register_op, saves_input, saves_output, zero
from archstat.ops.types import arg


@dataclass(frozen=True)
class InplaceArgs:
    inplace: bool = True


@dataclass(frozen=True)
class LeakyReLUArgs:
    negative_slope: float = arg(0.01, min=0)
    inplace: bool = True


@dataclass(frozen=True)
class ELUArgs:
    alpha: float = arg(1.0, min=0)
    inplace: bool = True


@dataclass(frozen=True)
class NoArgs:
    pass


def saves_original_input(a, in_shapes, out_shape) -> tuple:
    """ReLU6, SiLU, hardswish, hardsigmoid: the backward needs the input. Out of place, autograd keeps the input
    tensor; in place it overwrites it, so autograd keeps a copy of the original (a new tensor)."""
    if getattr(a, "inplace", False):
        return (Saved("extra", numel(out_shape)),)
    return (Saved("input"),)


#       name         Args           torch type   can run in place  saves for backward
_ACTIVATIONS = [
    ("relu",       InplaceArgs,   "ReLU",      True,  saves_output),
    ("relu6",      InplaceArgs,   "ReLU6",     True,  saves_original_input),
    ("leaky_relu", LeakyReLUArgs, "LeakyReLU", True,  saves_output),
    ("elu",        ELUArgs,       "ELU",       True,  saves_output),
    ("silu",       InplaceArgs,   "SiLU",      True,  saves_original_input),
    ("hardswish",  InplaceArgs,   "Hardswish", True,  saves_original_input),
    ("hardsigmoid", InplaceArgs,  "Hardsigmoid", True, saves_original_input),
    ("sigmoid",    NoArgs,        "Sigmoid",   False, saves_output),
    ("tanh",       NoArgs,        "Tanh",      False, saves_output),
    ("gelu",       NoArgs,        "GELU",      False, saves_input),
]

for _name, _args, _torch, _can_inplace, _saved in _ACTIVATIONS:
    register_op(
        _name,
        Args=_args,
        doc=f"Elementwise {_torch} (torch.nn.{_torch})"
            + ("; in place by default (inplace: false to allocate)." if _can_inplace else "."),
        out_shape=lambda a, s: s[0],
        weights=zero, biases=zero, macs=zero,
        ops=lambda a, s, o: numel(o),  # one operation per element
        saved=_saved,
        label=lambda a, s, o, _n=_name: _n.upper(),
        inplace=(lambda a: a.inplace) if _can_inplace else (lambda a: False),
    )
