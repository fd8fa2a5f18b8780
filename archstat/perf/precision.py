"""Which dtype every tensor has at run time, and the casts it costs: plain fp32/fp16/bf16 models,
autocast (``--amp``) as PyTorch's CUDA autocast runs it, and an int8 engine.

The trace runs in float32; the precision a run uses is applied here, op by op over the dataflow, so
one trace serves every precision. Autocast follows ``aten/src/ATen/autocast_mode.h`` (PyTorch 2.x):

- **lower precision** (``AT_FORALL_LOWER_PRECISION_FP``): convolutions, matrix products, linear,
  ``prelu``, RNN cells and scaled-dot-product attention run in the autocast dtype: their floating
  inputs are cast to it, their outputs are in it;
- **fp32** (``AT_FORALL_FP32``): layer/group/RMS norm, softmax and log-softmax, exp, log, pow, sum,
  prod, cumulative ops, norms, upsampling, the losses: inputs cast to float32, outputs float32
  (softmax of a half input reads it as is and writes float32: ``_softmax(…, half_to_float)``);
- **promote** and everything else: run in the widest floating dtype of their inputs (an fp16 tensor
  plus an fp32 parameter gives fp32, as in a ViT's ``x + pos_embed``); batch norm keeps its input's
  dtype (its fp32 statistics and affine parameters do not promote).

A parameter cast for a lower-precision op is cast once per forward (autocast's weight cache); an
activation is cast each time an op needs it in another dtype. Each cast is a kernel of its own
(read at the source dtype, write at the target), charged like any other.

In a training step's backward pass (which autocast does not touch) a gradient has the dtype of the
tensor it is the gradient of: a lower-precision op's backward reads the same half-precision weight
copy its forward read and works in half precision (a float32 gradient arriving from a float32 region,
a norm or softmax, is cast down first: the backward of the forward's cast); its weight gradient is
cast back to the float32 master weight's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from archstat.dtypes import DTYPES
from archstat.ir import aten
from archstat.ir.aten import Autocast
from archstat.ir.program import IdSpace, OpCall, TensorRef

_RANK = {"float64": 3, "float32": 2, "float16": 1, "bfloat16": 1}


@dataclass(frozen=True)
class Precision:
    """How a run stores and computes: ``storage`` is the dtype of parameters and activations (a
    plain ``model.half()`` run, or float32 under autocast), ``autocast`` the autocast dtype or None.
    (An engine's int8 is its plan's: matrix ops and what they fuse run in int8, the rest in fp16.)"""

    storage: str = "float32"
    autocast: Optional[str] = None

    @property
    def name(self) -> str:
        if self.autocast:
            return f"amp-{_short(self.autocast)}"
        return _short(self.storage)


def _short(dtype: str) -> str:
    """float16 → fp16 (a dtype's peak key, as a run's precision is named)."""
    found = DTYPES.get(dtype)
    return found.peak if found is not None else dtype


def _autocast(op: str) -> Autocast:
    """The op's autocast class in the aten table (an op without a row: promote)."""
    row = aten.get(op)
    return row.autocast if row is not None else Autocast.PROMOTE


def _reads_half(op: str) -> bool:
    row = aten.get(op)
    return row is not None and row.reads_half


def _widest(dtypes) -> Optional[str]:
    floats = [d for d in dtypes if d in _RANK]
    return max(floats, key=_RANK.__getitem__) if floats else None


def _seen_as(copy: TensorRef, view: TensorRef) -> TensorRef:
    """Autocast's cached cast of a weight, read through this op's own view of that weight: the view's
    shape, layout and elements (a Linear's forward reads ``w.t()``, its backward ``w``), the copy's
    storage and dtype."""
    return TensorRef(view.shape, copy.dtype, copy.id, view.role, view.layout, view.elements)


def cast_call(src: TensorRef, dtype: str, row: str, phase: str, ids: IdSpace, part_of: int = -1) -> OpCall:
    """A cast of ``src`` to ``dtype`` (``_to_copy``): reads it at its dtype, writes it at the new one."""
    return OpCall("_to_copy", row, (src,), (replace(src, dtype=dtype, id=ids.derived("cast", src.id, dtype)),),
                  phase=phase, attrs={"cast": True}, part_of=part_of)


def apply(calls: list[OpCall], precision: Precision, *, ids: Optional[IdSpace] = None) -> list[OpCall]:
    """The calls at run time: every floating tensor in the dtype it has under ``precision``, with
    the casts it runs (autocast's) inserted before the op that needs them (``ids``: the program's
    allocator of derived storages)."""
    return _Pass(precision, ids or IdSpace(calls)).run(calls)


class _Pass:
    """One pass over the program in order: what dtype each storage holds so far, the weights autocast
    has cast (its cache), the calls out."""

    def __init__(self, precision: Precision, ids: IdSpace):
        self.storage = precision.storage
        self.low = precision.autocast
        self.ids = ids
        self.dtype_of: dict[int, str] = {}
        self.weight_casts: dict[tuple[int, str], TensorRef] = {}
        self.out: list[OpCall] = []

    def current(self, t: TensorRef) -> str:
        if not t.floating:
            return t.dtype
        return self.dtype_of.get(t.id, self.storage)

    def run(self, calls: list[OpCall]) -> list[OpCall]:
        moved: dict[int, int] = {}          # index in ``calls`` → index in ``out`` (casts shift them)
        for index, k in enumerate(calls):
            part_of = moved.get(k.part_of, -1) if k.part_of >= 0 else -1
            ins = [t.retyped(self.current(t)) if t.floating else t for t in k.inputs]
            half_weights = self.backward_weights(k, ins)
            target = self.target(k, ins)
            if target is not None and not k.view:
                ins = self.cast_inputs(k, ins, target, part_of)
                result: Optional[str] = target
            elif _autocast(k.op) is Autocast.KEEP_INPUT:
                result = _widest(t.dtype for t in ins if not t.weight) or _widest(t.dtype for t in ins)
            else:
                result = _widest(t.dtype for t in ins)
            outs = self.outputs(k, result)
            moved[index] = len(self.out)
            self.out.append(k.moved(tuple(ins), tuple(outs), part_of=part_of))
            for t in outs:      # a weight gradient in half precision: cast to the float32 master weight's dtype
                if t.shape in half_weights and t.dtype == self.low:
                    self.out.append(cast_call(t, "float32", k.row, k.phase, self.ids, part_of))
        return self.out

    def backward_weights(self, k: OpCall, ins: list[TensorRef]) -> dict[tuple, TensorRef]:
        """In a backward call under autocast, the half-precision copies its forward read (``ins`` is
        updated in place); by shape, the weights it read so."""
        half_weights: dict[tuple, TensorRef] = {}
        if not (self.low and k.phase == "backward"):
            return half_weights
        for i, t in enumerate(ins):
            copy = self.weight_casts.get((t.id, self.low)) if t.weight and t.floating else None
            if copy is not None:
                ins[i] = _seen_as(copy, t)
                half_weights[t.shape] = t
        return half_weights

    def target(self, k: OpCall, ins: list[TensorRef]) -> Optional[str]:
        """The dtype autocast runs ``k`` in (None: as its inputs come)."""
        low = self.low
        if not low:
            return None
        if k.phase == "backward":
            # the backward of a half-precision op: float32 gradients are cast down
            return low if any(t.dtype == low for t in ins if t.floating) else None
        cls = _autocast(k.op)
        return low if cls is Autocast.LOWER else "float32" if cls is Autocast.FP32 else None

    def cast_inputs(self, k: OpCall, ins: list[TensorRef], target: str, part_of: int) -> list[TensorRef]:
        """``ins`` in ``target``, each cast a call of its own (a weight's once per forward)."""
        cast_ins = []
        for t in ins:
            if not t.floating or t.dtype == target or (target == "float32" and _reads_half(k.op)):
                cast_ins.append(t)
                continue
            if t.weight and target == self.low:
                key = (t.id, target)
                if key not in self.weight_casts:     # autocast's cache: a weight is cast once per forward
                    c = cast_call(t, target, k.row, k.phase, self.ids, part_of)
                    self.out.append(c)
                    self.weight_casts[key] = c.outputs[0]
                cast_ins.append(_seen_as(self.weight_casts[key], t))
                continue
            c = cast_call(t, target, k.row, k.phase, self.ids, part_of)
            self.out.append(c)
            cast_ins.append(c.outputs[0])
        return cast_ins

    def outputs(self, k: OpCall, result: Optional[str]) -> list[TensorRef]:
        """``k``'s outputs in the dtype it writes (recorded for the calls that read them)."""
        outs = []
        for t in k.outputs:
            if not t.floating:
                outs.append(t)
                continue
            # an explicit cast in the model to a low precision keeps its target
            d = t.dtype if k.op == "_to_copy" and t.dtype != "float32" else result or self.current(t)
            self.dtype_of[t.id] = d
            outs.append(t.retyped(d))
        return outs
