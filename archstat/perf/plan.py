"""Which operators run as which device kernels under a runtime: the plan.

The counts never change here: a plan regroups operators (``ir.program``) into :class:`DeviceKernel`\\ s, one
per device kernel (or a host-only step for a view), and says what each step reads and writes in DRAM.
Three runtimes, each a few rules (the README's "Runtimes" lists them too):

- ``eager`` (PyTorch without compilation): every operator is its own kernel and its own pass over
  memory; a view costs host time only. cuDNN runs a tensor-core convolution on NHWC, so a channels-first
  (NCHW) tensor is transposed in and out; a convolution's bias is a pass of its own; max pooling writes
  its indices; an attention call runs the fused kernel its backend selection picks (flash for fp16/bf16,
  memory-efficient for fp32 or with a mask, the math path's kernels otherwise).
- ``compile`` (``torch.compile``, Inductor's defaults): convolutions, matrix products and fused attention
  stay library kernels; every chain of pointwise ops, reductions, norms, copies and casts that feed one
  another between them is one generated kernel that reads what comes from outside the chain once and
  writes what leaves it once; convolutions run channels-last (Inductor's layout optimisation); views
  are compiled away.
- ``engine`` (TensorRT-class): batch norm after a convolution is folded into its weights; the
  activation, residual add and scaling that follow a convolution or matrix product run in its epilogue;
  other chains fuse as in ``compile``; attention is one fused kernel; int8 runs the matrix ops (and what
  they fuse) in int8 and the rest in fp16; a CUDA graph launches it all (no host cost per kernel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from archstat.ir.program import DTYPE_BYTES, OpCall, TensorRef, numel

RUNTIMES = ("eager", "compile", "engine")

GEMM_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "vdot", "linear", "_linear",
                      "_addmm_activation", "matmul"})
CONV_OPS = frozenset({"convolution", "_convolution"})
ATTENTION_OPS = frozenset({"scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
                           "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                           "_scaled_dot_product_cudnn_attention", "_flash_attention_forward",
                           "_efficient_attention_forward", "_scaled_dot_product_fused_attention_overrideable"})
NORM_BACKWARD_OPS = frozenset({"native_batch_norm_backward", "cudnn_batch_norm_backward", "native_layer_norm_backward",
                               "native_group_norm_backward", "_fused_rms_norm_backward",
                               "batch_norm_backward"})
SOFTMAX_BACKWARD_OPS = frozenset({"_softmax_backward_data", "_log_softmax_backward_data"})
POOL_BACKWARD_OPS = frozenset({"max_pool2d_with_indices_backward", "avg_pool2d_backward",
                               "adaptive_avg_pool2d_backward", "_adaptive_avg_pool2d_backward",
                               "max_pool3d_with_indices_backward",
                               "avg_pool3d_backward", "adaptive_max_pool2d_backward"})
NORM_OPS = frozenset({"native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                      "_native_batch_norm_legit_functional", "native_layer_norm", "native_group_norm",
                      "_fused_rms_norm", "rms_norm", "batch_norm", "layer_norm", "group_norm", "cudnn_batch_norm"})
BN_OPS = frozenset({"native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                    "_native_batch_norm_legit_functional", "batch_norm", "cudnn_batch_norm"})
SOFTMAX_OPS = frozenset({"_softmax", "softmax", "_log_softmax", "log_softmax", "_safe_softmax"})
REDUCTION_OPS = frozenset({"mean", "sum", "amax", "amin", "max", "min", "var", "var_mean", "std", "std_mean", "norm",
                           "linalg_vector_norm", "logsumexp", "prod", "argmax", "argmin", "any", "all", "cumsum"})
POOL_OPS = frozenset({"max_pool2d_with_indices", "max_pool2d", "max_pool3d_with_indices", "avg_pool2d", "avg_pool1d",
                      "avg_pool3d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "adaptive_max_pool2d",
                      "adaptive_avg_pool3d", "_adaptive_avg_pool3d", "max_pool1d"})
COPY_OPS = frozenset({"clone", "contiguous", "copy", "copy_", "_to_copy", "cat", "stack", "constant_pad_nd", "roll",
                      "flip", "repeat", "expand_copy", "slice_scatter", "select_scatter", "pad", "tril", "triu",
                      "reflection_pad2d", "replication_pad2d", "_unsafe_view", "alias_copy", "_copy_from"})
GATHER_OPS = frozenset({"index", "index_select", "gather", "embedding", "_unsafe_index", "index_put", "index_put_",
                        "_index_put_impl_", "scatter", "scatter_add", "scatter_add_", "upsample_nearest2d",
                        "upsample_bilinear2d", "_upsample_bilinear2d_aa", "upsample_bicubic2d", "grid_sampler_2d",
                        "_unsafe_index_put", "masked_fill", "masked_fill_", "where", "embedding_bag"})
FACTORY_OPS = frozenset({"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "ones",
                         "full", "zeros_like", "ones_like", "full_like", "new_zeros", "new_ones", "new_full", "arange",
                         "lift_fresh", "lift_fresh_copy", "scalar_tensor", "_local_scalar_dense", "sym_size",
                         "sym_numel", "sym_stride", "detach", "linspace", "eye"})
# a factory that fills memory is a (write-only) kernel; one that only allocates is host time
FILLS = frozenset({"zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "new_zeros", "new_ones",
                   "new_full", "arange", "linspace", "eye", "fill_", "zero_", "fill"})
FUSIBLE = frozenset({"pointwise", "reduction", "norm", "softmax", "pool", "copy", "gather", "cast"})


@dataclass
class DeviceKernel:
    """One device kernel of the plan (or, ``kind == "host"``, an operator that launches none)."""

    kind: str                        # conv, depthwise, gemm, attention, memory, host
    sub: str                         # what kind of memory kernel: pointwise, reduction, norm, softmax, pool,
    #                                  copy, transpose, gather, cast, fill; the host step: view, alloc
    ops: tuple[str, ...]             # the traced operators it runs
    rows: tuple[str, ...]            # the table rows they belong to
    macs: int = 0
    read: int = 0                    # bytes it reads from memory
    written: int = 0                 # bytes it writes
    math: str = ""                   # the peak its arithmetic runs at: fp32, tf32, fp16, bf16, int8
    dims: tuple = ()                 # gemm/conv: (groups, M, N, K, kernel taps); attention: (BH, L, S, E, Ev)
    host_ops: tuple[str, ...] = ()   # the host cost classes of the operators launched for it
    inputs: tuple[tuple[int, int], ...] = ()    # (storage, bytes) read: caches follow these
    outputs: tuple[tuple[int, int], ...] = ()
    phase: str = "forward"
    weight_read: int = 0             # of ``read``: parameters, buffers and tensors computed from them alone
    note: str = ""                   # a transposition, a folded norm: why it is there
    backend: str = ""                # attention: flash, efficient, cpu; conv: nhwc, nchw

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
    int8: bool = True
    fp8: bool = False


@dataclass
class Plan:
    runtime: str
    precision: str                   # fp32, fp16, bf16, amp-fp16, amp-bf16, int8
    steps: list[DeviceKernel]
    tf32: dict = field(default_factory=dict)      # {"conv": bool, "matmul": bool} for float32 on a GPU
    notes: list[str] = field(default_factory=list)
    unknown_ops: dict = field(default_factory=dict)   # aten op → calls planned as a generic memory pass

    @property
    def device_steps(self) -> list[DeviceKernel]:
        return [s for s in self.steps if s.kind != "host"]


# -- classifying one operator ----------------------------------------------------------------------------

def classify(k: OpCall) -> tuple[str, str]:
    """(kind, sub) of one operator: conv, depthwise, gemm, attention, memory (with its sub-kind) or host."""
    op = k.op
    if k.view:
        return "host", "view"
    if op in CONV_OPS:
        return ("depthwise", "") if _depthwise(k) else ("conv", "")
    if op == "convolution_backward":
        return "conv_backward", ""
    if op in NORM_BACKWARD_OPS:
        return "memory", "norm"
    if op in SOFTMAX_BACKWARD_OPS:
        return "memory", "softmax"
    if op in POOL_BACKWARD_OPS:
        return "memory", "pool"
    if op in ("embedding_dense_backward", "index_put", "index_put_", "_index_put_impl_"):
        return "memory", "gather"
    if op in ("nll_loss_forward", "nll_loss_backward", "nll_loss2d_forward", "nll_loss2d_backward"):
        return "memory", "reduction"
    if op.endswith("_backward") and op[:-len("_backward")].rstrip("_") in _POINTWISE_NAMES | _ACTIVATIONS:
        return "memory", "pointwise"
    if op in GEMM_OPS:
        return "gemm", ""
    if op in ATTENTION_OPS:
        return "attention", ""
    if op in FACTORY_OPS:
        return ("memory", "fill") if op in FILLS and k.outputs else ("host", "alloc")
    if op in FILLS:
        return "memory", "fill"
    if k.attrs.get("cast"):
        return "memory", "cast"
    if op in NORM_OPS:
        return "memory", "norm"
    if op in SOFTMAX_OPS:
        return "memory", "softmax"
    if op in POOL_OPS:
        return "memory", "pool"
    if op in REDUCTION_OPS:
        return "memory", "reduction"
    if op in GATHER_OPS:
        return "memory", "gather"
    if op in COPY_OPS:
        return "memory", "copy"
    if k.attrs.get("pointwise") or op.rstrip("_") in _POINTWISE_NAMES:
        return "memory", "pointwise"
    if not k.outputs:
        return "host", "alloc"
    return "memory", "other"


_POINTWISE_NAMES = frozenset("""add sub mul div relu relu6 gelu silu sigmoid tanh hardswish hardsigmoid hardtanh
mish elu leaky_relu softplus threshold clamp clamp_min clamp_max neg abs exp log sqrt rsqrt pow erf where
masked_fill addcmul addcdiv lerp maximum minimum bitwise_and logical_not eq ne lt le gt ge sign floor ceil round
reciprocal square native_dropout bernoulli""".split())


_ACTIVATIONS = frozenset({"threshold", "gelu", "silu", "hardswish", "hardsigmoid", "sigmoid", "tanh", "elu",
                          "leaky_relu", "mish", "softplus", "hardtanh", "native_dropout", "relu"})


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
    """The peak key of a matrix op on ``dtype``: fp16/bf16 as they are; float32 on a GPU in TF32 where
    PyTorch's settings allow it for that kind (cuDNN convolutions: on by default; matmuls: off)."""
    if dtype in ("float16", "bfloat16"):
        return "fp16" if dtype == "float16" else "bf16"
    if dtype == "int8":
        return "int8"
    if target.kind == "gpu" and target.compute_capability >= 8.0:
        allowed = tf32.get("conv" if kind in ("conv", "depthwise") else "matmul", False)
        if allowed and kind != "depthwise":
            return "tf32"
    return "fp32"


def sdpa_backend(k: OpCall, target: Target, runtime: str) -> str:
    """Which kernel runs ``scaled_dot_product_attention`` (PyTorch ≥ 2.2 selection, simplified): flash
    for fp16/bf16 without a mask on sm80+ with head dims ≤ 256 in multiples of 8; memory-efficient for
    fp32 or with a mask (head dims in multiples of 8); the fused CPU kernel on a CPU; else the math
    path (its parts run as written). An engine always has a fused kernel."""
    q = k.inputs[0]
    e = q.shape[-1] if q.shape else 0
    ev = k.inputs[2].shape[-1] if len(k.inputs) > 2 and k.inputs[2].shape else e
    if target.kind == "cpu":
        return "cpu" if q.dtype in ("float32", "bfloat16") else "math"
    if runtime == "engine":
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
         tf32: Optional[dict] = None, channels_last: bool = False, int8: bool = False, sdpa: str = "auto") -> Plan:
    """The steps ``kernels`` (already at their run-time dtypes: ``perf.precision.apply``) run as.
    ``sdpa='math'``: attention calls run their math path (a PyTorch without fused attention kernels)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}")
    tf32 = dict(tf32 or {"conv": True, "matmul": False})
    builder = _Builder(calls, runtime, target, tf32, channels_last or runtime != "eager", int8)
    builder.sdpa = sdpa
    steps = builder.build()
    weights = {t.id for k in calls for t in k.inputs if t.weight or t.role == "const"}
    for s in steps:
        s.weight_read = min(s.read, sum(n for t, n in dict(s.inputs).items() if t in weights))
    return Plan(runtime, precision, steps, tf32, builder.notes, builder.unknown)


class _Builder:
    def __init__(self, calls, runtime, target, tf32, channels_last, int8):
        self.calls = calls
        self.runtime = runtime
        self.target = target
        self.tf32 = tf32
        self.channels_last = channels_last
        self.int8 = int8
        self.sdpa = "auto"
        self.notes: list[str] = []
        self.unknown: dict[str, int] = {}
        self.parts: dict[int, list[int]] = {}
        for i, k in enumerate(calls):
            if k.part_of >= 0:
                self.parts.setdefault(k.part_of, []).append(i)

    # ---- one operator as its own kernel (eager) --------------------------------------------------------
    def single(self, k: OpCall) -> list[DeviceKernel]:
        kind, sub = classify(k)
        if kind == "host":
            return [DeviceKernel("host", sub, (k.op,), (k.row,), host_ops=("view" if sub == "view" else "alloc",),
                         phase=k.phase)]
        read = sum(t.nbytes for t in k.inputs)
        written = sum(t.nbytes for t in k.outputs)
        io = dict(inputs=tuple((t.id, t.nbytes) for t in k.inputs), outputs=tuple((t.id, t.nbytes) for t in k.outputs),
                  phase=k.phase)
        if kind in ("conv", "depthwise"):
            return self.conv(k, kind, read, written, io)
        if kind == "conv_backward":
            return self.conv_backward(k)
        if kind == "gemm":
            dtype = _activation_dtype(k)
            return [DeviceKernel("gemm", "", (k.op,), (k.row,), k.macs, read, written,
                         math_of(dtype, "gemm", self.target, self.tf32), gemm_dims(k), ("gemm",), **io)]
        if kind == "attention":
            return [DeviceKernel("attention", "", (k.op,), (k.row,), k.macs, read, written,
                         math_of(k.inputs[0].dtype, "attention", self.target, self.tf32), attention_dims(k),
                         ("attention",), backend="cpu" if self.target.kind == "cpu" else "flash", **io)]
        if sub == "other":
            self.unknown[k.op] = self.unknown.get(k.op, 0) + 1
        if k.op in ("max_pool2d_with_indices", "max_pool3d_with_indices") and self.target.kind == "gpu":
            pass  # its indices are one of its outputs already
        elif k.op == "max_pool2d" and self.target.kind == "gpu" and k.outputs:
            # on CUDA, max_pool2d runs max_pool2d_with_indices: it also writes int64 indices
            written += k.outputs[0].numel * 8
        host = "norm" if sub == "norm" else "pointwise"
        if sub == "fill":
            read = 0
        if k.op in BN_OPS and k.attrs.get("training") and k.inputs:
            read += k.inputs[0].nbytes          # the batch's statistics: one more pass over the input
        elif k.op in BN_OPS and k.outputs:
            written = k.outputs[0].nbytes       # at inference it saves no statistics
        if sub == "gather" and k.outputs and k.inputs and k.op not in ("index_put", "index_put_", "_index_put_impl_"):
            # a gather reads what it picks (and its indices), not the whole source
            read = min(read, sum(t.nbytes for t in k.outputs) + sum(t.nbytes for t in k.inputs[1:]))
        return [DeviceKernel("memory", sub, (k.op,), (k.row,), 0, read, written, "", (), (host,), **io)]

    def conv(self, k: OpCall, kind: str, read: int, written: int, io: dict) -> list[DeviceKernel]:
        x = k.inputs[0]
        dtype = _activation_dtype(k)
        math = math_of(dtype, kind, self.target, self.tf32)
        steps = []
        transposed = False
        bias = len(k.inputs) > 2 and k.inputs[2].role == "param" and k.inputs[2].numel > 0
        layout = "nhwc" if (self.channels_last or x.layout == "channels_last") else "nchw"
        tensor_math = math in ("fp16", "bf16", "tf32", "int8")
        if (self.target.kind == "gpu" and self.runtime == "eager" and layout == "nchw" and tensor_math
                and kind == "conv" and len(x.shape) >= 4):
            transposed = True
            steps.append(DeviceKernel("memory", "transpose", ("nchw_to_nhwc",), (k.row,), 0, x.nbytes, x.nbytes,
                              host_ops=(), inputs=((x.id, x.nbytes),), outputs=((-x.id - 7, x.nbytes),),
                              phase=k.phase, note="cuDNN's tensor-core kernels take NHWC: the NCHW input is "
                                                  "transposed"))
        separate_bias = bias and self.runtime == "eager"
        conv_read = read - (k.inputs[2].nbytes if separate_bias else 0)
        conv_io = dict(io)
        if separate_bias:
            conv_io["inputs"] = tuple(x for x in io["inputs"] if x[0] != k.inputs[2].id)
        steps.append(DeviceKernel(kind, "", (k.op,), (k.row,), k.macs, conv_read, written, math,
                          conv_dims(k), ("conv",), backend=layout, **conv_io))
        if transposed and k.outputs:
            y = k.outputs[0]
            steps.append(DeviceKernel("memory", "transpose", ("nhwc_to_nchw",), (k.row,), 0, y.nbytes, y.nbytes,
                              inputs=((-y.id - 7, y.nbytes),), outputs=((y.id, y.nbytes),), phase=k.phase,
                              note="… and the NHWC output transposed back to NCHW"))
        if separate_bias and k.outputs:
            y = k.outputs[0]
            b = k.inputs[2]
            steps.append(DeviceKernel("memory", "pointwise", ("add_",), (k.row,), 0, y.nbytes + b.nbytes, y.nbytes,
                              host_ops=("pointwise",), inputs=((y.id, y.nbytes), (b.id, b.nbytes)),
                              outputs=((y.id, y.nbytes),), phase=k.phase,
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
        depthwise = groups > 1 and c_in_g == 1
        dtype = grad_out.dtype
        kind = "depthwise" if depthwise else "conv"
        math = math_of(dtype, kind, self.target, self.tf32)
        steps = []
        by_shape = {t.shape: t for t in k.outputs}
        gx, gw = by_shape.get(x.shape), by_shape.get(w.shape)
        gb = next((t for t in k.outputs if len(t.shape) == 1 and t.shape[0] == c_out), None)
        if gx is not None:
            steps.append(DeviceKernel(kind, "", ("convolution_backward.input",), (k.row,), macs,
                              grad_out.nbytes + w.nbytes, gx.nbytes, math,
                              (groups, in_positions, c_in_g, (c_out // groups) * taps, taps), ("conv",),
                              ((grad_out.id, grad_out.nbytes), (w.id, w.nbytes)), ((gx.id, gx.nbytes),),
                              k.phase, backend="nhwc"))
        if gw is not None:
            steps.append(DeviceKernel(kind, "", ("convolution_backward.weight",), (k.row,), macs,
                              grad_out.nbytes + x.nbytes, gw.nbytes, math,
                              (groups, c_out // groups, c_in_g * taps, out_positions, taps), (),
                              ((grad_out.id, grad_out.nbytes), (x.id, x.nbytes)), ((gw.id, gw.nbytes),),
                              k.phase, backend="nhwc"))
        if gb is not None:
            steps.append(DeviceKernel("memory", "reduction", ("convolution_backward.bias",), (k.row,), 0, grad_out.nbytes,
                              gb.nbytes, host_ops=(), inputs=((grad_out.id, grad_out.nbytes),),
                              outputs=((gb.id, gb.nbytes),), phase=k.phase))
        return steps

    # ---- whole ops -----------------------------------------------------------------------------------
    def attention(self, i: int, k: OpCall) -> Optional[list[DeviceKernel]]:
        """A recorded-whole attention call as the fused kernel its backend runs (None: its math path)."""
        backend = sdpa_backend(k, self.target, self.runtime)
        if backend == "math":
            return None
        q, key, v = k.inputs[0], k.inputs[1], k.inputs[2]
        mask = k.inputs[3] if len(k.inputs) > 3 else None
        read = q.nbytes + key.nbytes + v.nbytes + (mask.nbytes if mask is not None else 0)
        written = sum(t.nbytes for t in k.outputs)
        return [DeviceKernel("attention", "", (k.op,), (k.row,), k.macs, read, written,
                     math_of(q.dtype, "attention", self.target, self.tf32), attention_dims(k), ("attention",),
                     inputs=tuple((t.id, t.nbytes) for t in k.inputs),
                     outputs=tuple((t.id, t.nbytes) for t in k.outputs), phase=k.phase, backend=backend)]

    # ---- the runtimes ----------------------------------------------------------------------------------
    def build(self) -> list[DeviceKernel]:
        units = self.units()
        if self.runtime == "eager":
            return [s for _, steps in units for s in steps]
        return self.fuse(units)

    def units(self) -> list[tuple[int, list[DeviceKernel]]]:
        """(kernel index, its steps as eager runs them) for every top-level operator; an attention
        call on the math path becomes its parts."""
        out = []
        for i, k in enumerate(self.calls):
            if k.part_of >= 0:
                continue
            if i in self.parts and k.op in ATTENTION_OPS:
                fused = self.attention(i, k) if self.sdpa != "math" else None
                if fused is not None:
                    out.append((i, fused))
                    continue
                for j in self.parts[i]:
                    out.append((j, self.single(self.calls[j])))
                continue
            out.append((i, self.single(k)))
        return out

    def fuse(self, units: list[tuple[int, list[DeviceKernel]]]) -> list[DeviceKernel]:
        """compile and engine: chains of fusible steps that feed one another become one kernel; an
        engine also folds batch norm into the convolution before it and runs the pointwise ops after
        a convolution or matrix product in its epilogue."""
        steps: list[DeviceKernel] = []
        group: Optional[DeviceKernel] = None
        produced: set[int] = set()           # storages written by the open group
        consumers = self._consumers()
        epilogue_of: Optional[DeviceKernel] = None   # engine: the matrix step the following pointwise ops join
        epilogue_out: set[int] = set()

        def close():
            nonlocal group, produced
            if group is not None:
                _finish(group, consumers)
                steps.append(group)
            group, produced = None, set()

        for _i, unit in units:
            for s in unit:
                if s.kind == "host":
                    if self.runtime == "eager":
                        steps.append(s)
                    continue       # views and allocations are compiled away
                if s.kind in ("conv", "depthwise", "gemm", "attention"):
                    close()
                    if self.int8 and s.kind in ("conv", "depthwise", "gemm"):
                        s = _to_int8(s)
                    steps.append(s)
                    epilogue_of = s if self.runtime == "engine" and s.kind in ("conv", "gemm", "depthwise") else None
                    epilogue_out = {t for t, _ in s.outputs}
                    continue
                reads = {t for t, _ in s.inputs}
                if (self.runtime == "engine" and epilogue_of is not None and reads & epilogue_out
                        and ((s.sub in ("pointwise", "norm") and s.ops[0] in BN_OPS | _EPILOGUE)
                             or s.sub == "pointwise")):
                    # folded (batch norm) or run in the epilogue: the matrix step writes this one's output
                    _absorb(epilogue_of, s, epilogue_out)
                    epilogue_out |= {t for t, _ in s.outputs}
                    continue
                epilogue_of = None
                if s.sub not in FUSIBLE:
                    close()
                    steps.append(s)
                    continue
                if group is not None and not (reads & produced):
                    close()
                if group is None:
                    group = DeviceKernel("memory", s.sub, (), (), phase=s.phase)
                _join(group, s)
                produced |= {t for t, _ in s.outputs}
        close()
        return steps

    def _consumers(self) -> dict[int, int]:
        """storage → how many top-level operators read it (over the whole program)."""
        count: dict[int, int] = {}
        for k in self.calls:
            if k.part_of >= 0:
                continue
            for t in k.inputs:
                count[t.id] = count.get(t.id, 0) + 1
        return count


_EPILOGUE = frozenset({"relu", "relu_", "gelu", "gelu_", "silu", "silu_", "hardswish", "hardswish_", "add", "add_",
                       "mul", "mul_", "sigmoid", "hardsigmoid", "clamp", "hardtanh", "hardtanh_", "leaky_relu"})


def _activation_dtype(k: OpCall) -> str:
    acts = [t for t in k.inputs if not t.weight and t.floating]
    return (acts[0] if acts else k.inputs[0]).dtype if k.inputs else "float32"


def _join(group: DeviceKernel, s: DeviceKernel) -> None:
    """Add a fusible step to a generated kernel (its traffic is settled when the group closes)."""
    group.ops += s.ops
    group.rows += tuple(r for r in s.rows if r not in group.rows)
    group.inputs += s.inputs
    group.outputs += s.outputs
    group.host_ops = ("fused",)
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
        group.sub = "fused"


def _absorb(matrix: DeviceKernel, s: DeviceKernel, produced: set[int]) -> None:
    """Run ``s`` in ``matrix``'s epilogue: it reads ``s``'s other inputs and writes ``s``'s output
    instead of its own (a folded batch norm's parameters are in the folded weights)."""
    scale = 0.5 if matrix.math == "int8" else 1.0     # an int8 epilogue reads and writes int8 (fp16 in the plan)
    extra = sum(n for t, n in s.inputs if t not in produced and s.ops[0] not in BN_OPS)
    matrix.read += int(extra * scale)
    matrix.written = int(sum(n for _, n in s.outputs) * scale) if s.outputs else matrix.written
    matrix.ops += s.ops
    matrix.outputs = s.outputs or matrix.outputs
    matrix.note = "with " + ", ".join(matrix.ops[1:]) + " fused"


def _to_int8(s: DeviceKernel) -> DeviceKernel:
    """An engine's int8 matrix op: operands and output at one byte per element."""
    scale = lambda n: max(1, n // 2) if n else 0
    s.read, s.written, s.math = scale(s.read), scale(s.written), "int8"
    s.inputs = tuple((t, scale(n)) for t, n in s.inputs)
    s.outputs = tuple((t, scale(n)) for t, n in s.outputs)
    return s


def bytes_of(t: TensorRef) -> int:
    return t.numel * DTYPE_BYTES.get(t.dtype, 4)
