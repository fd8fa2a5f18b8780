"""Which operators run as which device kernels under a runtime: the plan.

The counts never change here: a plan regroups operator calls (``ir.program.OpCall``) into
:class:`DeviceKernel`\\ s, one per kernel the device runs (or a host-only step for a view), and says what
each reads and writes in DRAM. What an operator is comes from the aten table (``ir/aten.py``: its
kernel kind and sub-kind, whether an engine folds or fuses it); what a runtime does comes from its
record (``perf/runtime.py``); the rules here apply them:

- every operator is its own kernel and its own pass over memory, unless the runtime ``fuses_chains``:
  then every chain of fusible memory kernels (pointwise, reductions, norms, softmax, pooling, copies,
  gathers, casts) that feed one another between two library kernels (convolutions, matrix products,
  fused attention) is one generated kernel that reads what comes from outside the chain once and writes
  what leaves it once;
- ``epilogue``: batch norm after a convolution folds into its weights, and the pointwise ops after a
  convolution or matrix product run in its epilogue;
- ``nchw_transpose``: cuDNN's tensor-core convolutions take NHWC, so an NCHW tensor is transposed in and
  out; ``separate_conv_bias``: a convolution's bias is a pass of its own; ``channels_last``: convolutions
  run on NHWC tensors; ``views_free``: views and allocations cost nothing;
- max pooling writes its indices on a GPU; an attention call runs the fused kernel its backend
  selection picks (flash for fp16/bf16, memory-efficient for fp32 or with a mask, the math path's
  kernels otherwise; an engine always has a fused kernel); int8 (an engine's) runs the matrix ops and
  what they fuse in int8 and the rest in fp16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from archstat.dtypes import BY_PEAK, DTYPES
from archstat.enums import StrEnum
from archstat.ir import aten
from archstat.ir.aten import Epilogue, Kind, Sub
from archstat.ir.program import IdSpace, OpCall, Phase, numel
from archstat.perf.runtime import Runtime, RuntimeRecord, record

# memory kernels a generated kernel (compile, engine) can take in
FUSIBLE = frozenset({Sub.POINTWISE, Sub.REDUCTION, Sub.NORM, Sub.SOFTMAX, Sub.POOL, Sub.COPY, Sub.GATHER, Sub.CAST})
MATRIX = frozenset({Kind.CONV, Kind.DEPTHWISE, Kind.GEMM, Kind.ATTENTION})


class HostClass(StrEnum):
    """What the host pays to launch an operator (``host.<kind>.<runtime>`` in perf.yaml)."""

    VIEW = "view"
    ALLOC = "alloc"
    POINTWISE = "pointwise"
    NORM = "norm"
    CONV = "conv"
    GEMM = "gemm"
    ATTENTION = "attention"
    FUSED = "fused"


@dataclass(kw_only=True)
class DeviceKernel:
    """One kernel the device runs (or, ``kind == host``, an operator that launches none)."""

    kind: Kind
    sub: Sub = Sub.NONE              # a memory kernel's kind (pointwise, reduction, …); a host step's (view, alloc)
    ops: tuple[str, ...]             # the operators it runs
    rows: tuple[str, ...]            # the table rows they belong to
    macs: int = 0
    read: int = 0                    # bytes it reads from memory
    written: int = 0                 # bytes it writes
    math: str = ""                   # the peak its arithmetic runs at: fp32, tf32, fp16, bf16, int8
    dims: tuple = ()                 # gemm/conv: (groups, M, N, K, kernel taps); attention: (BH, L, S, E, Ev)
    host_ops: tuple[str, ...] = ()   # the host cost classes (HostClass) of the operators launched for it
    inputs: tuple[tuple[int, int], ...] = ()    # (storage, bytes) read: caches follow these
    outputs: tuple[tuple[int, int], ...] = ()
    phase: str = Phase.FORWARD
    weight_read: int = 0             # of ``read``: parameters, buffers and tensors computed from them alone
    note: str = ""                   # a transposition, a folded norm: why it is there
    backend: str = ""                # attention: flash, efficient, cpu; conv: nhwc, nchw
    causal: bool = False             # attention: a causal mask (the kernel skips the blocks above the diagonal)

    @property
    def bytes(self) -> int:
        return self.read + self.written

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class Target:
    """What the plan needs of the device: its kind and architecture (which kernels exist there)."""

    kind: str = "gpu"                # gpu or cpu
    arch: str = "ampere"
    compute_capability: float = 8.0


@dataclass
class Plan:
    runtime: str
    precision: str                   # fp32, fp16, bf16, amp-fp16, amp-bf16, int8
    kernels: list[DeviceKernel]
    tf32: dict = field(default_factory=dict)      # {"conv": bool, "matmul": bool} for float32 on a GPU
    notes: list[str] = field(default_factory=list)
    unknown_ops: dict = field(default_factory=dict)   # aten op → calls planned as a generic memory pass
    host_key: str = ""               # the host-cost table (perf.yaml host.<kind>.<key>); "": the runtime's

    @property
    def device_kernels(self) -> list[DeviceKernel]:
        return [s for s in self.kernels if s.kind != Kind.HOST]


# -- classifying one operator ----------------------------------------------------------------------------

def classify(call: OpCall) -> tuple[Kind, Sub]:
    """(kind, sub) of one operator call: its row in the aten table (``ir/aten.py``), refined by what
    the call itself says (a view, a cast autocast inserted, a convolution's groups, whether a factory
    wrote anything); an operator the table has no kernel model for is pointwise if torch tags it so,
    an allocation if it writes nothing, else a generic memory pass."""
    if call.view:
        return Kind.HOST, Sub.VIEW
    if call.attrs.get("cast"):
        return Kind.MEMORY, Sub.CAST
    row = aten.get(call.op) or aten.in_place_base(call.op)
    if row is not None and row.sub is not Sub.OTHER:
        if row.kind is Kind.CONV:
            return (Kind.DEPTHWISE, Sub.NONE) if _depthwise(call) else (Kind.CONV, Sub.NONE)
        if row.factory:
            return (Kind.MEMORY, Sub.FILL) if row.sub is Sub.FILL and call.outputs else (Kind.HOST, Sub.ALLOC)
        return row.kind, row.sub
    if call.attrs.get("pointwise"):
        return Kind.MEMORY, Sub.POINTWISE
    if not call.outputs:
        return Kind.HOST, Sub.ALLOC
    return Kind.MEMORY, Sub.OTHER


def _depthwise(k: OpCall) -> bool:
    """A convolution with one input channel per group (and more than one group)."""
    if len(k.inputs) < 2:
        return False
    w = k.inputs[1]
    groups = k.attrs.get("groups", 1) or 1
    transposed = k.attrs.get("transposed", False)
    per_group_in = w.shape[0] // groups if transposed and w.shape else (w.shape[1] if len(w.shape) > 1 else 0)
    return groups > 1 and per_group_in == 1


def conv_dims(k: OpCall) -> tuple[int, int, int, int, int]:
    """(groups, M, N, K, taps) of a convolution as an implicit GEMM: M = N·Ho·Wo output positions,
    N = output channels per group, K = input channels per group × kernel taps."""
    x, w = k.inputs[0], k.inputs[1]
    out = k.outputs[0] if k.outputs else x
    groups = k.attrs.get("groups", 1) or 1
    taps = numel(w.shape[2:])
    if k.attrs.get("transposed", False):       # weight C_in × C_out/g × k…: a scatter, costed as its dgrad
        positions = numel(x.shape[:1]) * numel(x.shape[2:])
        return groups, positions, w.shape[1], (w.shape[0] // groups) * taps, taps
    positions = out.shape[0] * numel(out.shape[2:]) if len(out.shape) > 2 else out.shape[0]
    return groups, positions, w.shape[0] // groups, w.shape[1] * taps, taps


def gemm_dims(k: OpCall) -> tuple[int, int, int, int, int]:
    """(batch count, M, N, K, 1) of a matrix product from its operands' shapes."""
    op = k.op
    mats = [t for t in k.inputs if len(t.shape) >= 1]
    if op in ("addmm", "_addmm_activation"):
        a, b = k.inputs[1], k.inputs[2]
        return 1, a.shape[0], b.shape[1], a.shape[1], 1
    if op == "mm":
        a, b = k.inputs[0], k.inputs[1]
        return 1, a.shape[0], b.shape[1], a.shape[1], 1
    if op in ("bmm",):
        a, b = k.inputs[0], k.inputs[1]
        return a.shape[0], a.shape[1], b.shape[2], a.shape[2], 1
    if op in ("baddbmm", "addbmm"):
        a, b = k.inputs[1], k.inputs[2]
        return a.shape[0], a.shape[1], b.shape[2], a.shape[2], 1
    if op in ("linear", "_linear"):
        x, w = k.inputs[0], k.inputs[1]
        return 1, numel(x.shape[:-1]), w.shape[0], w.shape[1], 1
    if op in ("mv", "addmv"):
        a = mats[-2] if op == "addmv" else mats[0]
        return 1, a.shape[0], 1, a.shape[1], 1
    if op in ("dot", "vdot"):
        return 1, 1, 1, mats[0].shape[0], 1
    # matmul and anything else: from the MACs and the output
    out = k.outputs[0] if k.outputs else mats[0]
    n = out.shape[-1] if out.shape else 1
    m = numel(out.shape[:-1]) if out.shape else 1
    kk = max(1, k.macs // max(1, m * n))
    return 1, m, n, kk, 1


def attention_dims(k: OpCall) -> tuple[int, int, int, int, int]:
    """(batch × heads, L, S, E, Ev) of an attention call on (…, L, E) queries."""
    q, key, v = k.inputs[0], k.inputs[1], k.inputs[2]
    if k.op in ("_flash_attention_forward", "_efficient_attention_forward"):   # (B, L, H, E)
        b, l, h, e = q.shape
        return b * h, l, key.shape[1], e, v.shape[-1]
    return numel(q.shape[:-2]), q.shape[-2], key.shape[-2], q.shape[-1], v.shape[-1]


# -- the math each operator runs at ----------------------------------------------------------------------

def math_of(dtype: str, kind: str, target: Target, tf32: dict) -> str:
    """The peak key of a matrix op on ``dtype``: fp16/bf16/int8 as they are; float32 on a GPU in TF32 where
    PyTorch's settings allow it for that kind (cuDNN convolutions: on by default; matmuls: off)."""
    if dtype in ("float16", "bfloat16", "int8", "float8_e4m3fn", "float8_e5m2"):
        return DTYPES[dtype].peak
    if target.kind == "gpu" and target.compute_capability >= 8.0:
        allowed = tf32.get("conv" if kind in (Kind.CONV, Kind.DEPTHWISE) else "matmul", False)
        if allowed and kind != Kind.DEPTHWISE:
            return "tf32"
    return "fp32"


def align_of(math: str) -> int:
    """Channels a tensor-core kernel of this math pads to (fp16/bf16 8, tf32 4, int8/fp8 16, fp32 1)."""
    found = BY_PEAK.get(math)
    return found.align if found is not None else 1


def sdpa_backend(k: OpCall, target: Target, runtime: RuntimeRecord) -> str:
    """Which kernel runs ``scaled_dot_product_attention`` (PyTorch ≥ 2.2 selection, simplified): flash
    for fp16/bf16 without a mask on sm80+ with head dims ≤ 256 in multiples of 8; memory-efficient for
    fp32 or with a mask (head dims in multiples of 8); the fused CPU kernel on a CPU; else the math
    path (its parts run as written). An engine always has a fused kernel."""
    q = k.inputs[0]
    e = q.shape[-1] if q.shape else 0
    ev = k.inputs[2].shape[-1] if len(k.inputs) > 2 and k.inputs[2].shape else e
    if target.kind == "cpu":
        return "cpu" if q.dtype in ("float32", "bfloat16") else "math"
    if runtime.fused_attention:
        return "flash"
    aligned = e % 8 == 0 and ev % 8 == 0
    mask = k.attrs.get("mask", False)
    if (q.dtype in ("float16", "bfloat16") and not mask and aligned and max(e, ev) <= 256
            and target.compute_capability >= 8.0):
        return "flash"
    if aligned and target.compute_capability >= 5.0:
        return "efficient"
    return "math"


# -- the plan ----------------------------------------------------------------------------------------

def plan(calls: list[OpCall], runtime: str, target: Target, *, precision: str = "fp32",
         tf32: Optional[dict] = None, channels_last: bool = False, int8: bool = False, sdpa: str = "auto",
         ids: Optional[IdSpace] = None) -> Plan:
    """The device kernels ``calls`` (already at their run-time dtypes: ``perf.precision.apply``) run as.
    ``sdpa='math'``: attention calls run their math path (a PyTorch without fused attention kernels);
    ``ids``: the program's allocator of derived storages (a transposed copy takes one)."""
    rt = record(runtime)
    tf32 = dict(tf32 or {"conv": True, "matmul": False})
    builder = _Builder(calls, rt, target, tf32=tf32, channels_last=channels_last or rt.channels_last, int8=int8,
                       sdpa=sdpa, ids=ids or IdSpace(calls))
    kernels = builder.build()
    weights = {t.id for k in calls for t in k.inputs if t.weight or t.role == "const"}
    for s in kernels:
        s.weight_read = min(s.read, sum(n for t, n in dict(s.inputs).items() if t in weights))
    return Plan(rt.name, precision, kernels, tf32, builder.notes, builder.unknown)


def step_macs(calls: list[OpCall], target: Optional[Target] = None) -> int:
    """The multiply-accumulates a traced step runs: its operators' own (the forward's) and those the plan
    derives for the backward's (``convolution_backward``: grad input and grad weight as its output mask
    asks; a matrix product's backward is traced as products already). The one training rule: ``profile``'s
    achieved MAC/s of a training step; the
    prediction's totals sum the same kernels' MACs."""
    return sum(s.macs for s in plan(calls, Runtime.EAGER, target or Target()).kernels)


def _io(k: OpCall) -> dict:
    """What a kernel running one call reads and writes, as (storage, bytes) pairs, and its phase."""
    return dict(inputs=tuple((t.id, t.nbytes) for t in k.inputs), outputs=tuple((t.id, t.nbytes) for t in k.outputs),
                phase=k.phase)


def _memory_traffic(k: OpCall, sub: Sub, gpu: bool) -> tuple[int, int]:
    """(read, written) bytes of a memory kernel running ``k`` alone: its tensors, corrected where the
    kernel moves more or less than they say."""
    read = sum(t.nbytes for t in k.inputs)
    written = sum(t.nbytes for t in k.outputs)
    if k.op == "max_pool2d" and gpu and k.outputs:
        # on CUDA, max_pool2d runs max_pool2d_with_indices: it also writes int64 indices
        written += k.outputs[0].numel * 8
    if sub == Sub.FILL:
        read = 0
    row = aten.get(k.op)
    if row is not None and row.epilogue is Epilogue.FOLD:     # batch norm
        if k.attrs.get("training") and k.inputs:
            read += k.inputs[0].nbytes          # the batch's statistics: one more pass over the input
        elif k.outputs:
            written = k.outputs[0].nbytes       # at inference it saves no statistics
    if sub == Sub.GATHER and k.outputs and k.inputs and k.op not in ("index_put", "index_put_", "_index_put_impl_"):
        # a gather reads what it picks (and its indices), not the whole source
        read = min(read, sum(t.nbytes for t in k.outputs) + sum(t.nbytes for t in k.inputs[1:]))
    return read, written


class _Builder:
    def __init__(self, calls: list[OpCall], runtime: RuntimeRecord, target: Target, *, tf32: dict,
                 channels_last: bool, int8: bool, sdpa: str, ids: IdSpace):
        self.calls = calls
        self.runtime = runtime
        self.target = target
        self.tf32 = tf32
        self.channels_last = channels_last
        self.int8 = int8
        self.sdpa = sdpa
        self.ids = ids
        self.notes: list[str] = []
        self.unknown: dict[str, int] = {}
        self.parts: dict[int, list[int]] = {}
        for i, k in enumerate(calls):
            if k.part_of >= 0:
                self.parts.setdefault(k.part_of, []).append(i)

    # ---- one operator as its own kernel (eager) --------------------------------------------------------
    def single(self, k: OpCall) -> list[DeviceKernel]:
        kind, sub = classify(k)
        if kind == Kind.HOST:
            return [DeviceKernel(kind=Kind.HOST, sub=sub, ops=(k.op,), rows=(k.row,), phase=k.phase,
                                 host_ops=(HostClass.VIEW if sub == Sub.VIEW else HostClass.ALLOC,))]
        if kind in (Kind.CONV, Kind.DEPTHWISE):
            return self.conv(k, kind)
        if kind == Kind.CONV_BACKWARD:
            return self.conv_backward(k)
        read = sum(t.nbytes for t in k.inputs)
        written = sum(t.nbytes for t in k.outputs)
        if kind == Kind.GEMM:
            return [DeviceKernel(kind=Kind.GEMM, ops=(k.op,), rows=(k.row,), macs=k.macs, read=read, written=written,
                                 math=math_of(_activation_dtype(k), Kind.GEMM, self.target, self.tf32),
                                 dims=gemm_dims(k), host_ops=(HostClass.GEMM,), **_io(k))]
        if kind == Kind.ATTENTION:
            return [DeviceKernel(kind=Kind.ATTENTION, ops=(k.op,), rows=(k.row,), macs=k.macs, read=read,
                                 written=written,
                                 math=math_of(k.inputs[0].dtype, Kind.ATTENTION, self.target, self.tf32),
                                 dims=attention_dims(k), host_ops=(HostClass.ATTENTION,),
                                 backend="cpu" if self.target.kind == "cpu" else "flash",
                                 causal=bool(k.attrs.get("is_causal")), **_io(k))]
        if sub == Sub.OTHER:
            self.unknown[k.op] = self.unknown.get(k.op, 0) + 1
        read, written = _memory_traffic(k, sub, self.target.kind == "gpu")
        host = HostClass.NORM if sub == Sub.NORM else HostClass.POINTWISE
        return [DeviceKernel(kind=Kind.MEMORY, sub=sub, ops=(k.op,), rows=(k.row,), read=read, written=written,
                             host_ops=(host,), **_io(k))]

    def conv(self, k: OpCall, kind: Kind) -> list[DeviceKernel]:
        x = k.inputs[0]
        read = sum(t.nbytes for t in k.inputs)
        written = sum(t.nbytes for t in k.outputs)
        io = _io(k)
        math = math_of(_activation_dtype(k), kind, self.target, self.tf32)
        steps = []
        bias = len(k.inputs) > 2 and k.inputs[2].role == "param" and k.inputs[2].numel > 0
        layout = "nhwc" if (self.channels_last or x.layout == "channels_last") else "nchw"
        tensor_math = math in ("fp16", "bf16", "tf32", "int8")
        transposed = (self.target.kind == "gpu" and self.runtime.nchw_transpose and layout == "nchw"
                      and tensor_math and kind == Kind.CONV and len(x.shape) >= 4)
        if transposed:
            steps.append(DeviceKernel(kind=Kind.MEMORY, sub=Sub.TRANSPOSE, ops=("nchw_to_nhwc",), rows=(k.row,),
                                      read=x.nbytes, written=x.nbytes, inputs=((x.id, x.nbytes),),
                                      outputs=((self.ids.derived("nhwc", x.id), x.nbytes),), phase=k.phase,
                                      note="cuDNN's tensor-core kernels take NHWC: the NCHW input is transposed"))
        separate_bias = bias and self.runtime.separate_conv_bias
        if separate_bias:
            read -= k.inputs[2].nbytes
            io["inputs"] = tuple(x for x in io["inputs"] if x[0] != k.inputs[2].id)
        steps.append(DeviceKernel(kind=kind, ops=(k.op,), rows=(k.row,), macs=k.macs, read=read, written=written,
                                  math=math, dims=conv_dims(k), host_ops=(HostClass.CONV,), backend=layout, **io))
        if transposed and k.outputs:
            y = k.outputs[0]
            steps.append(DeviceKernel(kind=Kind.MEMORY, sub=Sub.TRANSPOSE, ops=("nhwc_to_nchw",), rows=(k.row,),
                                      read=y.nbytes, written=y.nbytes,
                                      inputs=((self.ids.derived("nhwc", y.id), y.nbytes),),
                                      outputs=((y.id, y.nbytes),), phase=k.phase,
                                      note="… and the NHWC output transposed back to NCHW"))
        if separate_bias and k.outputs:
            y, b = k.outputs[0], k.inputs[2]
            steps.append(DeviceKernel(kind=Kind.MEMORY, sub=Sub.POINTWISE, ops=("add_",), rows=(k.row,),
                                      read=y.nbytes + b.nbytes, written=y.nbytes, host_ops=(HostClass.POINTWISE,),
                                      inputs=((y.id, y.nbytes), (b.id, b.nbytes)), outputs=((y.id, y.nbytes),),
                                      phase=k.phase,
                                      note="PyTorch adds a cuDNN convolution's bias in a pass of its own"))
        return steps

    def conv_backward(self, k: OpCall) -> list[DeviceKernel]:
        """``convolution_backward``: the data gradient (an implicit GEMM over the input positions) and the
        weight gradient (over the output positions, split-K), each as many MACs as the forward, and the
        bias gradient (a reduction of the output gradient)."""
        grad_out, x, w = k.inputs[0], k.inputs[1], k.inputs[2]
        groups = k.attrs.get("groups", 1) or 1
        taps = numel(w.shape[2:])
        c_out, c_in_g = w.shape[0], w.shape[1]
        n = x.shape[0]
        out_positions = n * numel(grad_out.shape[2:])
        in_positions = n * numel(x.shape[2:])
        macs = out_positions * c_out * c_in_g * taps          # the forward's
        kind = Kind.DEPTHWISE if groups > 1 and c_in_g == 1 else Kind.CONV
        math = math_of(grad_out.dtype, kind, self.target, self.tf32)
        steps = []
        by_shape = {t.shape: t for t in k.outputs}
        gx, gw = by_shape.get(x.shape), by_shape.get(w.shape)
        gb = next((t for t in k.outputs if len(t.shape) == 1 and t.shape[0] == c_out), None)
        if gx is not None:
            steps.append(DeviceKernel(kind=kind, ops=("convolution_backward.input",), rows=(k.row,), macs=macs,
                                      read=grad_out.nbytes + w.nbytes, written=gx.nbytes, math=math,
                                      dims=(groups, in_positions, c_in_g, (c_out // groups) * taps, taps),
                                      host_ops=(HostClass.CONV,),
                                      inputs=((grad_out.id, grad_out.nbytes), (w.id, w.nbytes)),
                                      outputs=((gx.id, gx.nbytes),), phase=k.phase, backend="nhwc"))
        if gw is not None:
            steps.append(DeviceKernel(kind=kind, ops=("convolution_backward.weight",), rows=(k.row,), macs=macs,
                                      read=grad_out.nbytes + x.nbytes, written=gw.nbytes, math=math,
                                      dims=(groups, c_out // groups, c_in_g * taps, out_positions, taps),
                                      inputs=((grad_out.id, grad_out.nbytes), (x.id, x.nbytes)),
                                      outputs=((gw.id, gw.nbytes),), phase=k.phase, backend="nhwc"))
        if gb is not None:
            steps.append(DeviceKernel(kind=Kind.MEMORY, sub=Sub.REDUCTION, ops=("convolution_backward.bias",),
                                      rows=(k.row,), read=grad_out.nbytes, written=gb.nbytes,
                                      inputs=((grad_out.id, grad_out.nbytes),), outputs=((gb.id, gb.nbytes),),
                                      phase=k.phase))
        return steps

    # ---- whole ops -----------------------------------------------------------------------------------
    def attention(self, k: OpCall) -> Optional[list[DeviceKernel]]:
        """A recorded-whole attention call as the fused kernel its backend runs (None: its math path)."""
        backend = sdpa_backend(k, self.target, self.runtime)
        if backend == "math":
            return None
        q, key, v = k.inputs[0], k.inputs[1], k.inputs[2]
        mask = k.inputs[3] if len(k.inputs) > 3 else None
        read = q.nbytes + key.nbytes + v.nbytes + (mask.nbytes if mask is not None else 0)
        written = sum(t.nbytes for t in k.outputs)
        return [DeviceKernel(kind=Kind.ATTENTION, ops=(k.op,), rows=(k.row,), macs=k.macs, read=read, written=written,
                             math=math_of(q.dtype, Kind.ATTENTION, self.target, self.tf32), dims=attention_dims(k),
                             host_ops=(HostClass.ATTENTION,), inputs=tuple((t.id, t.nbytes) for t in k.inputs),
                             outputs=tuple((t.id, t.nbytes) for t in k.outputs), phase=k.phase, backend=backend,
                             causal=bool(k.attrs.get("is_causal")))]

    # ---- the runtimes ----------------------------------------------------------------------------------
    def build(self) -> list[DeviceKernel]:
        units = self.units()
        if not self.runtime.fuses_chains:
            return [s for _, steps in units for s in steps]
        return self.fuse(units)

    def units(self) -> list[tuple[int, list[DeviceKernel]]]:
        """(call index, its kernels as eager runs them) for every top-level operator; an attention
        call on the math path becomes its parts."""
        out = []
        for i, k in enumerate(self.calls):
            if k.part_of >= 0:
                continue
            row = aten.get(k.op)
            if i in self.parts and row is not None and row.kind is Kind.ATTENTION:
                fused = self.attention(k) if self.sdpa != "math" else None
                if fused is not None:
                    out.append((i, fused))
                    continue
                for j in self.parts[i]:
                    out.append((j, self.single(self.calls[j])))
                continue
            out.append((i, self.single(k)))
        return out

    def fuse(self, units: list[tuple[int, list[DeviceKernel]]]) -> list[DeviceKernel]:
        """Chains of fusible kernels that feed one another become one kernel; with ``epilogue``, batch
        norm folds into the convolution before it and the pointwise ops after a convolution or matrix
        product run in its epilogue."""
        fusion = _Fusion(self._consumers(), epilogue=self.runtime.epilogue, int8=self.int8)
        for _i, unit in units:
            for s in unit:
                if s.kind == Kind.HOST:
                    if not self.runtime.views_free:
                        fusion.kernels.append(s)
                    continue
                fusion.add(s)
        fusion.close()
        return fusion.kernels

    def _consumers(self) -> dict[int, int]:
        """storage → how many top-level operators read it (over the whole program)."""
        count: dict[int, int] = {}
        for k in self.calls:
            if k.part_of >= 0:
                continue
            for t in k.inputs:
                count[t.id] = count.get(t.id, 0) + 1
        return count


class _Fusion:
    """The kernels of a fusing runtime, built one eager kernel at a time: an open generated kernel
    (``group``) takes every fusible kernel that reads what it produced; a matrix kernel closes it and,
    with ``epilogue``, takes in the pointwise ops (and folds the batch norm) that read its output."""

    def __init__(self, consumers: dict[int, int], *, epilogue: bool, int8: bool):
        self.consumers = consumers
        self.epilogue = epilogue
        self.int8 = int8
        self.kernels: list[DeviceKernel] = []
        self.group: Optional[DeviceKernel] = None
        self.produced: set[int] = set()            # storages written by the open group
        self.matrix: Optional[DeviceKernel] = None  # the matrix kernel the following pointwise ops join
        self.matrix_out: set[int] = set()

    def close(self) -> None:
        if self.group is not None:
            _finish(self.group, self.consumers)
            self.kernels.append(self.group)
        self.group, self.produced = None, set()

    def add(self, s: DeviceKernel) -> None:
        if s.kind in MATRIX:
            self.close()
            if self.int8 and s.kind != Kind.ATTENTION:
                s = _to_int8(s)
            self.kernels.append(s)
            self.matrix = s if self.epilogue and s.kind != Kind.ATTENTION else None
            self.matrix_out = {t for t, _ in s.outputs}
            return
        reads = {t for t, _ in s.inputs}
        if self.matrix is not None and reads & self.matrix_out and _epilogue_class(s) is not Epilogue.NONE:
            # folded (batch norm) or run in the epilogue: the matrix kernel writes this one's output
            _absorb(self.matrix, s, self.matrix_out)
            self.matrix_out |= {t for t, _ in s.outputs}
            return
        self.matrix = None
        if s.sub not in FUSIBLE:
            self.close()
            self.kernels.append(s)
            return
        if self.group is not None and not (reads & self.produced):
            self.close()
        if self.group is None:
            self.group = DeviceKernel(kind=Kind.MEMORY, sub=s.sub, ops=(), rows=(), phase=s.phase)
        _join(self.group, s)
        self.produced |= {t for t, _ in s.outputs}


def _epilogue_class(s: DeviceKernel) -> Epilogue:
    """Whether an engine runs this memory kernel in a matrix kernel's epilogue (a pointwise kernel),
    folds it into the matrix kernel's weights (batch norm), or neither."""
    if s.sub == Sub.POINTWISE:
        return Epilogue.ACTIVATION
    row = aten.get(s.ops[0]) if s.sub == Sub.NORM and s.ops else None
    return row.epilogue if row is not None else Epilogue.NONE


def _activation_dtype(k: OpCall) -> str:
    acts = [t for t in k.inputs if not t.weight and t.floating]
    return (acts[0] if acts else k.inputs[0]).dtype if k.inputs else "float32"


def _join(group: DeviceKernel, s: DeviceKernel) -> None:
    """Add a fusible kernel to a generated kernel (its traffic is settled when the group closes)."""
    group.ops += s.ops
    group.rows += tuple(r for r in s.rows if r not in group.rows)
    group.inputs += s.inputs
    group.outputs += s.outputs
    group.host_ops = (HostClass.FUSED,)
    group.note = ""


def _finish(group: DeviceKernel, consumers: dict[int, int]) -> None:
    """A generated kernel reads what comes from outside it once and writes what it produces once
    (a tensor it produces and reads itself never goes to memory unless something else reads it)."""
    produced = {}
    for t, n in group.outputs:
        produced[t] = n
    inside_reads: dict[int, int] = {}
    read = 0
    seen = set()
    for t, n in group.inputs:
        if t in produced:
            inside_reads[t] = inside_reads.get(t, 0) + 1
            continue
        if t not in seen:
            seen.add(t)
            read += n
    written = 0
    outs = []
    for t, n in produced.items():
        if consumers.get(t, 0) > inside_reads.get(t, 0) or consumers.get(t, 0) == 0:
            written += n
            outs.append((t, n))
    group.read, group.written = read, written
    group.inputs = tuple((t, n) for t, n in dict(group.inputs).items() if t not in produced)
    group.outputs = tuple(outs)
    if len(group.ops) > 1:
        group.sub = Sub.FUSED


def _absorb(matrix: DeviceKernel, s: DeviceKernel, produced: set[int]) -> None:
    """Run ``s`` in ``matrix``'s epilogue: it reads ``s``'s other inputs and writes ``s``'s output
    instead of its own (a folded batch norm's parameters are in the folded weights)."""
    scale = 0.5 if matrix.math == "int8" else 1.0     # an int8 epilogue reads and writes int8 (fp16 in the plan)
    folded = _epilogue_class(s) is Epilogue.FOLD
    extra = sum(n for t, n in s.inputs if t not in produced and not folded)
    matrix.read += int(extra * scale)
    matrix.written = int(sum(n for _, n in s.outputs) * scale) if s.outputs else matrix.written
    matrix.ops += s.ops
    matrix.outputs = s.outputs or matrix.outputs
    matrix.note = "with " + ", ".join(matrix.ops[1:]) + " fused"


def _to_int8(s: DeviceKernel) -> DeviceKernel:
    """An engine's int8 matrix op: operands and output at one byte per element."""
    def half(n: int) -> int:
        return max(1, n // 2) if n else 0

    s.read, s.written, s.math = half(s.read), half(s.written), "int8"
    s.inputs = tuple((t, half(n)) for t, n in s.inputs)
    s.outputs = tuple((t, half(n)) for t, n in s.outputs)
    return s
