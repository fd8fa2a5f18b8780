"""The operators a forward (or training step) runs: the program both the tracer writes and the
performance model reads (the IR between ``trace/`` and ``perf/``; neither imports the other).

An :class:`OpCall` is one call of an operator of the program (one aten op, or one YAML op's part): what it
reads and writes (:class:`TensorRef`: shape, dtype, which storage, whether a parameter), its MACs, and
the few non-tensor arguments that decide its kernel (a conv's stride and groups). The list is the
same whatever device it is planned for; ``perf.plan`` decides which of them become which device
kernels (``perf.plan.DeviceKernel``) under a runtime. Pure Python: nothing here imports torch.

Storages are numbered: a traced program numbers its tensors' storages from 1; a tensor the model
derives (a cast, a transposed copy, an optimizer's state) takes its number from the program's
:class:`IdSpace`, one allocator for every such tensor, so two derived tensors never share a number.

Batch: a list traced at two batch sizes gives it at any batch (:func:`at_batch`): every dimension of
every tensor is an affine function of the batch (``B``, ``B·heads``, ``B·windows`` or a constant), and
so are the MACs; a pair that does not line up op for op is refused, never guessed.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Optional

from archstat.dtypes import FLOATING, bytes_of
from archstat.enums import StrEnum
from archstat.ops.registry import numel


class Phase(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"


class IdSpace:
    """Numbers for the storages a program derives (casts, transposed copies, optimizer states): one per
    key, below every storage the program already has, so none collides with another."""

    def __init__(self, calls: list[OpCall] = ()):   # type: ignore[assignment]
        low = min((t.id for k in calls for t in k.inputs + k.outputs), default=0)
        self._next = min(0, low) - 1
        self._of: dict[Hashable, int] = {}

    def derived(self, *key: Hashable) -> int:
        """The storage of the tensor ``key`` names (``("cast", 12, "float16")``): the same key, the same number."""
        found = self._of.get(key)
        if found is None:
            found = self._of[key] = self._next
            self._next -= 1
        return found


@dataclass(frozen=True)
class TensorRef:
    """One tensor an operator reads or writes."""

    shape: tuple[int, ...]
    dtype: str                       # torch's name without "torch.": float32, float16, int64, bool, …
    id: int                          # its storage: views share it; the dataflow follows it
    role: str = ""                   # "param", "buffer", "const" (computed from weights alone), "" (activations)
    layout: str = ""                 # "" contiguous, "channels_last", "strided" (a non-contiguous view)
    elements: Optional[int] = None   # the distinct elements behind it, where fewer than its shape's (an
    #                                  expanded view: a class token broadcast over the batch); None: all

    @cached_property
    def numel(self) -> int:
        return numel(self.shape)

    @property
    def distinct(self) -> int:
        return self.numel if self.elements is None else min(self.elements, self.numel)

    @cached_property
    def nbytes(self) -> int:
        """The bytes reading (or writing) it moves: each distinct element once."""
        return self.distinct * bytes_of(self.dtype, 4)

    @property
    def floating(self) -> bool:
        return self.dtype in FLOATING

    @property
    def weight(self) -> bool:
        return self.role in ("param", "buffer")

    def retyped(self, dtype: str) -> TensorRef:
        """The same tensor in another dtype (itself when it already is)."""
        if dtype == self.dtype:
            return self
        return TensorRef(self.shape, dtype, self.id, self.role, self.layout, self.elements)


@dataclass(frozen=True)
class OpCall:
    """One operator, in program order."""

    op: str                               # aten op name ("convolution", "addmm", "relu_") or a YAML op's part
    row: str                              # the table row it belongs to ("" for a view outside any row)
    inputs: tuple[TensorRef, ...]
    outputs: tuple[TensorRef, ...]        # what it writes (an in-place op: the tensor it overwrites)
    macs: int = 0
    view: bool = False                    # aliases its input: no data moves
    inplace: bool = False                 # writes into one of its inputs
    attrs: dict = field(default_factory=dict, compare=False)
    part_of: int = -1                     # index of the op recorded whole that ran it (its decomposition)
    phase: str = Phase.FORWARD            # forward, backward or optimizer

    def with_result(self, outputs: tuple[TensorRef, ...], macs: int) -> OpCall:
        return replace(self, outputs=outputs, macs=macs)

    def moved(self, inputs: tuple[TensorRef, ...], outputs: tuple[TensorRef, ...], macs: Optional[int] = None,
              part_of: Optional[int] = None) -> OpCall:
        """The same operator on other tensors (``dataclasses.replace`` without its cost: plans copy
        hundreds of thousands of these)."""
        return OpCall(self.op, self.row, inputs, outputs, self.macs if macs is None else macs, self.view,
                      self.inplace, self.attrs, self.part_of if part_of is None else part_of, self.phase)

    @property
    def read_bytes(self) -> int:
        return sum(t.nbytes for t in self.inputs)

    @property
    def written_bytes(self) -> int:
        return sum(t.nbytes for t in self.outputs)


# -- serialising (a cache of traced models) -------------------------------------------------------------

def to_rows(calls: list[OpCall]) -> list[list]:
    """A compact JSON-able form; storages renumbered 0, 1, 2, … in order of first appearance."""
    ids: dict[int, int] = {}

    def t(ref: TensorRef) -> list:
        row = [list(ref.shape), ref.dtype, ids.setdefault(ref.id, len(ids)), ref.role, ref.layout]
        return row + [ref.elements] if ref.elements is not None else row

    return [[k.op, k.row, [t(x) for x in k.inputs], [t(x) for x in k.outputs], k.macs, int(k.view), int(k.inplace),
             k.attrs, k.part_of, k.phase] for k in calls]


def from_rows(rows: list[list]) -> list[OpCall]:
    def t(x) -> TensorRef:
        return TensorRef(tuple(x[0]), x[1], x[2], x[3], x[4], x[5] if len(x) > 5 else None)

    return [OpCall(r[0], r[1], tuple(t(x) for x in r[2]), tuple(t(x) for x in r[3]), r[4], bool(r[5]), bool(r[6]),
                   dict(r[7]), r[8], r[9]) for r in rows]


# -- batch -----------------------------------------------------------------------------------------------

class BatchMismatch(ValueError):
    """Two traces at different batch sizes that do not run the same operators on the same ranks."""


@dataclass(frozen=True)
class BatchPair:
    """One program traced at two batch sizes: every size is ``a + b·batch`` (exact for the batch dims)."""

    first: list[OpCall]
    second: list[OpCall]
    batch_first: int
    batch_second: int

    def __post_init__(self):
        if self.batch_first == self.batch_second:
            raise ValueError("two different batch sizes are needed")
        if len(self.first) != len(self.second):
            raise BatchMismatch(f"{len(self.first)} operators at batch {self.batch_first}, "
                                f"{len(self.second)} at batch {self.batch_second}")
        for i, (a, b) in enumerate(zip(self.first, self.second)):
            if a.op != b.op or len(a.inputs) != len(b.inputs) or len(a.outputs) != len(b.outputs) or any(
                    len(x.shape) != len(y.shape) for x, y in zip(a.inputs + a.outputs, b.inputs + b.outputs)):
                raise BatchMismatch(f"operator {i} differs: {a.op} at batch {self.batch_first}, "
                                    f"{b.op} at batch {self.batch_second}")

    def _affine(self, x: int, y: int, batch: int) -> int:
        if x == y:
            return x
        num = (y - x) * (batch - self.batch_first)
        den = self.batch_second - self.batch_first
        if num % den:
            raise BatchMismatch(f"a size {x} at batch {self.batch_first} and {y} at batch {self.batch_second} "
                                "is not an affine function of the batch")
        value = x + num // den
        if value < 0:
            raise BatchMismatch(f"a size {x}→{y} would be negative at batch {batch}")
        return value

    def at(self, batch: int) -> list[OpCall]:
        """The program at ``batch``."""
        if batch == self.batch_first:
            return self.first
        if batch == self.batch_second:
            return self.second

        affine = self._affine

        def tensor(a: TensorRef, b: TensorRef) -> TensorRef:
            if a.shape == b.shape and a.elements == b.elements:
                return a
            elements = None if a.elements is None or b.elements is None else affine(a.elements, b.elements, batch)
            return TensorRef(tuple(affine(x, y, batch) for x, y in zip(a.shape, b.shape)), a.dtype, a.id, a.role,
                             a.layout, elements)

        out = []
        for a, b in zip(self.first, self.second):
            out.append(a.moved(tuple(tensor(x, y) for x, y in zip(a.inputs, b.inputs)),
                               tuple(tensor(x, y) for x, y in zip(a.outputs, b.outputs)),
                               affine(a.macs, b.macs, batch) if a.macs != b.macs else a.macs))
        return out

    def batch_dims(self) -> list[tuple[Optional[int], ...]]:
        """Per kernel, per tensor (inputs then outputs): the dimension that grows with the batch, or None."""
        out = []
        for a, b in zip(self.first, self.second):
            dims = []
            for x, y in zip(a.inputs + a.outputs, b.inputs + b.outputs):
                grow = [i for i, (p, q) in enumerate(zip(x.shape, y.shape)) if p != q]
                dims.append(grow[0] if grow else None)
            out.append(tuple(dims))
        return out
