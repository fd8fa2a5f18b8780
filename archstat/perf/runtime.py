"""What a runtime does, as one record per runtime: the plan, the cost model, the fit, the prediction and
the command line read these fields and nothing else (a new runtime is one record, plus a rule where a
field cannot say it).

- ``eager`` (PyTorch without compilation): every operator is its own kernel and its own pass over
  memory; a view costs host time; cuDNN's tensor-core convolutions take NHWC, so an NCHW tensor is
  transposed in and out; a convolution's bias is a pass of its own; the host launches each operator
  (a cost per operator class) while the device runs the previous ones.
- ``compile`` (``torch.compile``, Inductor's defaults): library convolutions, matrix products and fused
  attention; every chain of pointwise ops, reductions, norms, copies and casts that feed one another
  between them is one generated kernel; convolutions run channels-last; views are compiled away.
- ``engine`` (TensorRT-class): as ``compile``, and batch norm after a convolution folds into its
  weights, the activation, residual add and scaling after a convolution or matrix product run in its
  epilogue, attention is always one fused kernel, int8 is available, and one CUDA graph launches it
  all (no host cost per kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

from archstat.enums import StrEnum

__all__ = ["RUNTIMES", "Runtime", "RuntimeRecord", "measurable", "record"]


class Runtime(StrEnum):
    EAGER = "eager"
    COMPILE = "compile"
    ENGINE = "engine"


@dataclass(frozen=True, kw_only=True)
class RuntimeRecord:
    name: Runtime
    summary: str                       # one line for help texts
    fuses_chains: bool                 # chains of memory kernels that feed one another → one generated kernel
    epilogue: bool                     # batch norm folded, pointwise ops run in the matrix kernel's epilogue
    int8: bool                         # can run matrix ops in int8
    views_free: bool                   # views and allocations cost nothing (compiled away)
    channels_last: bool                # convolutions run on NHWC tensors
    nchw_transpose: bool               # an NCHW tensor is transposed in and out of a tensor-core convolution
    separate_conv_bias: bool           # a convolution's bias is a pass of its own
    fused_attention: bool              # attention always runs as one fused kernel, whatever the inputs
    per_op_host: bool                  # the host pays per operator (else one graph launch for the program)
    host_key: str                      # its host-cost table in perf.yaml (``host.<device kind>.<key>``)
    measurable: bool                   # ``archstat profile --runtime`` can run it


RUNTIMES: dict[Runtime, RuntimeRecord] = {r.name: r for r in (
    RuntimeRecord(name=Runtime.EAGER, summary="PyTorch, one kernel per operator", fuses_chains=False,
                  epilogue=False, int8=False, views_free=False, channels_last=False, nchw_transpose=True,
                  separate_conv_bias=True, fused_attention=False, per_op_host=True, host_key="eager",
                  measurable=True),
    RuntimeRecord(name=Runtime.COMPILE, summary="torch.compile (Inductor): pointwise chains fused",
                  fuses_chains=True, epilogue=False, int8=False, views_free=True, channels_last=True,
                  nchw_transpose=False, separate_conv_bias=False, fused_attention=False, per_op_host=True,
                  host_key="compile", measurable=True),
    RuntimeRecord(name=Runtime.ENGINE, summary="a TensorRT-class engine: folded, fused, one CUDA graph",
                  fuses_chains=True, epilogue=True, int8=True, views_free=True, channels_last=True,
                  nchw_transpose=False, separate_conv_bias=False, fused_attention=True, per_op_host=False,
                  host_key="engine", measurable=False),
)}


def record(name: str) -> RuntimeRecord:
    """The record of a runtime by name (a ValueError naming the choices otherwise)."""
    try:
        return RUNTIMES[Runtime(name)]
    except ValueError:
        raise ValueError(f"unknown runtime {name!r} (choose from {', '.join(Runtime.values())})") from None


def measurable() -> tuple[str, ...]:
    """The runtimes ``archstat profile`` can measure."""
    return tuple(str(r.name) for r in RUNTIMES.values() if r.measurable)
