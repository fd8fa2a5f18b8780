"""The aten operators archstat knows: one table, one row per operator, every fact about it in that row.

A row says, for one aten operator (``addmm``, ``relu_``, ``native_layer_norm``):

- ``cost``: what it costs in multiply-accumulates. ``macs`` (a formula, the pure function registered
  beside it, reading only its tensors' ``.shape``), ``zero`` (norms, activations, pooling,
  reductions, copies, indexing, factories: no MAC of a matrix product or a convolution), ``view``
  (aliases its input, writes nothing) or ``data`` (what it does depends on the values: ``nms``,
  ``nonzero``). An operator with no row is *unknown* to the counter unless torch's own tags say it is
  pointwise or a view (``trace/aten_costs.py``): its row is marked not counted, never a silent zero.
- ``kind`` and ``sub``: the device kernel it runs as (``perf/plan.py``): a convolution, a matrix
  product, fused attention, or a memory kernel of a sub-kind (pointwise, reduction, norm, softmax,
  pool, copy, gather, fill, …); a factory that only allocates is host time.
- ``autocast``: its class under CUDA autocast (``aten/src/ATen/autocast_mode.h``): ``lower`` (runs in
  the autocast dtype), ``fp32`` (runs in float32), ``promote`` (the widest dtype of its inputs, the
  default) or ``keep_input`` (batch norm: its output keeps the activation's dtype); ``reads_half``:
  softmax reads a half input as it is and writes float32.
- ``epilogue``: whether an inference engine runs it in the epilogue of the convolution or matrix
  product before it (``activation``: pointwise ops) or folds it into that product's weights (``fold``:
  batch norm at inference).

Rows are registered once (a second registration of a name is an error, as torch's flop counter
refuses a duplicate formula); ``tests/test_aten_table.py`` checks every row is complete and that the
tracer, the planner and the precision pass read nothing else. Supporting a new aten operator is one
``register`` call (with its formula when it has MACs) and a test of that formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import prod
from typing import Any, Optional

from archstat.enums import StrEnum
from archstat.ops.arith import attention_macs, conv_transpose_macs, linear_macs, matmul_macs
from archstat.ops.conv import conv_macs

__all__ = ["TABLE", "AtenOp", "Autocast", "Cost", "DuplicateOp", "Epilogue", "Kind", "Sub", "get", "in_place_base",
           "register"]


class Cost(StrEnum):
    MACS = "macs"          # a formula
    ZERO = "zero"          # no MAC of a matrix product or convolution
    VIEW = "view"          # aliases its input: no data moves
    DATA = "data"          # data-dependent: depends on the values
    DECOMPOSED = "decomposed"   # reaches the dispatcher as its parts; arriving whole, it is not counted


class Kind(StrEnum):
    """The device kernel an operator runs as."""

    CONV = "conv"
    DEPTHWISE = "depthwise"            # a convolution with one input channel per group (decided by shape)
    CONV_BACKWARD = "conv_backward"    # a convolution's data, weight and bias gradients
    GEMM = "gemm"
    ATTENTION = "attention"
    MEMORY = "memory"                  # bound by the bytes it moves
    HOST = "host"                      # launches no kernel: a view, an allocation


class Sub(StrEnum):
    """What kind of memory kernel (or host step) it is."""

    NONE = ""
    POINTWISE = "pointwise"
    REDUCTION = "reduction"
    NORM = "norm"
    SOFTMAX = "softmax"
    POOL = "pool"
    COPY = "copy"
    TRANSPOSE = "transpose"            # a layout change the plan inserts (NCHW ↔ NHWC)
    GATHER = "gather"
    CAST = "cast"                      # a dtype conversion autocast inserts
    FILL = "fill"
    FUSED = "fused"                    # a generated kernel of several operators (compile, engine)
    OTHER = "other"                    # no kernel model: a generic pass over its bytes
    VIEW = "view"                      # host: a view
    ALLOC = "alloc"                    # host: an allocation


class Autocast(StrEnum):
    LOWER = "lower"
    FP32 = "fp32"
    PROMOTE = "promote"
    KEEP_INPUT = "keep_input"


class Epilogue(StrEnum):
    NONE = "none"
    ACTIVATION = "activation"          # runs in a matrix kernel's epilogue
    FOLD = "fold"                      # folded into the convolution's weights


@dataclass(frozen=True)
class AtenOp:
    name: str
    cost: Cost
    kind: Kind
    sub: Sub = Sub.NONE
    macs: Optional[Callable[..., int]] = None
    autocast: Autocast = Autocast.PROMOTE
    reads_half: bool = False
    epilogue: Epilogue = Epilogue.NONE
    factory: bool = False              # allocates its output; with ``sub == fill`` it also writes it

    def __post_init__(self) -> None:
        if (self.cost is Cost.MACS) != (self.macs is not None):
            raise ValueError(f"aten.{self.name}: a formula exactly when its cost is 'macs'")
        if (self.kind is Kind.MEMORY) == (self.sub in (Sub.NONE, Sub.VIEW, Sub.ALLOC)):
            raise ValueError(f"aten.{self.name}: a memory kernel has a memory sub-kind, nothing else does")


TABLE: dict[str, AtenOp] = {}


class DuplicateOp(ValueError):
    """An aten operator registered twice."""


def register(names: str | Iterable[str], cost: Cost, kind: Kind, sub: Sub = Sub.NONE, **facts: Any) -> None:
    """One row per name (``names``: one name, or several separated by white space, that share every fact)."""
    for name in names.split() if isinstance(names, str) else names:
        if name in TABLE:
            raise DuplicateOp(f"aten.{name} is registered twice")
        TABLE[name] = AtenOp(name, cost, kind, sub, **facts)


def get(name: str) -> Optional[AtenOp]:
    """The row of ``name`` (exactly as the dispatcher names it), or None."""
    return TABLE.get(name)


def in_place_base(name: str) -> Optional[AtenOp]:
    """``hardtanh_`` → the row of ``hardtanh`` when ``hardtanh`` is pointwise (the in-place form of a
    pointwise op runs the same kernel; not every one carries torch's tag)."""
    base = TABLE.get(name.rstrip("_")) if name.endswith("_") else None
    return base if base is not None and base.sub is Sub.POINTWISE else None


# -- the formulas (tensors are read for their .shape only) -----------------------------------------------

def mm(a, b, *_):
    """(m×k)·(k×n)."""
    return matmul_macs(1, a.shape[0], a.shape[1], b.shape[1])


def addmm(_bias, a, b, *_args, **_kw):
    """bias + (m×k)·(k×n): the bias add is not a MAC."""
    return mm(a, b)


def bmm(a, b, *_):
    """B products of (m×k)·(k×n)."""
    return matmul_macs(a.shape[0], a.shape[1], a.shape[2], b.shape[2])


def baddbmm(_bias, a, b, *_args, **_kw):
    return bmm(a, b)


def addbmm(_bias, a, b, *_args, **_kw):
    """The B products summed into one m×n matrix: the same MACs as bmm."""
    return bmm(a, b)


def mv(a, v, *_):
    """(m×n)·n: a product with one column."""
    return matmul_macs(1, a.shape[0], a.shape[1], 1)


def addmv(_bias, a, v, *_args, **_kw):
    return mv(a, v)


def dot(a, _b, *_):
    return matmul_macs(1, 1, a.shape[0], 1)


def linear(x, w, *_args, **_kw):
    """x[..., in] · Wᵀ[in, out]: every leading element of x is one row."""
    rows = prod(x.shape[:-1])
    return linear_macs(w.shape[1], w.shape[0], rows)


def convolution(x, w, _bias, _stride, _padding, _dilation, transposed, _output_padding, groups, *_, out=None):
    """N-d convolution (``aten.convolution``: conv1d/2d/3d and their transposes reach it).

    Direct: one MAC per weight of a group per *output* position. Transposed: one MAC per weight
    of a group per *input* position (each input scatters through the kernel). The spatial dims
    fold into the 2-D formula's two factors (their product is what counts)."""
    kernel = list(w.shape[2:])
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[1] != c_in:  # the meta device does not check this for transposed convolutions
        raise ValueError(f"convolution expects {c_in} input channels, got {x.shape[1]}")
    if transposed:  # weight: C_in × C_out/groups × k...
        return x.shape[0] * conv_transpose_macs(prod(x.shape[2:]), x.shape[1], w.shape[1] * groups, prod(kernel),
                                                groups)
    return x.shape[0] * conv_macs(two(out.shape[2:]), x.shape[1], w.shape[0], two(kernel), groups)


def two(dims) -> tuple[int, int]:
    """N spatial dims as the 2-D formula's two factors (their product is what counts)."""
    dims = list(dims)
    return (prod(dims[:-1]), dims[-1]) if dims else (1, 1)


def sdpa_bhle(q, k, v, *_args, **_kw):
    """Scaled dot-product attention on (B, H, L, E) tensors (the math path, the fused CPU path,
    cuDNN, flash and memory-efficient kernels as ``scaled_dot_product_attention`` calls them):
    Q·Kᵀ then softmax·V, B·H·L·S·E + B·H·L·S·Ev."""
    *lead, l, e = q.shape
    s, ev = k.shape[-2], v.shape[-1]
    return attention_macs(prod(lead), l, s, e, ev)


def sdpa_blhe(q, k, v, *_args, **_kw):
    """The same for kernels that take (B, L, H, E) (``_flash_attention_forward``,
    ``_efficient_attention_forward``)."""
    b, l, h, e = q.shape
    return attention_macs(b * h, l, k.shape[1], e, v.shape[-1])


def native_mha(query, key, value, embed_dim, num_heads, *_args, **_kw):
    """``_native_multi_head_attention`` (nn.MultiheadAttention's inference fast path, batch first):
    the Q, K and V projections, attention over the heads, and the output projection."""
    b, l, d = query.shape
    s = key.shape[1]
    return (linear_macs(d, d, b * l) + 2 * linear_macs(d, d, b * s) + attention_macs(b * num_heads, l, s,
            embed_dim // num_heads, embed_dim // num_heads) + linear_macs(d, d, b * l))


def mkldnn_rnn_layer(x, w_ih, w_hh, *_args, **_kw):
    """One layer and direction of an RNN on the CPU (oneDNN): every token times the input and
    hidden gate weights (``trace/rnn.py``'s formula; ``x`` is T×B×I or B×T×I)."""
    return prod(x.shape[:-1]) * (w_ih.shape[0] * w_ih.shape[1] + w_hh.shape[0] * w_hh.shape[1])


def quantized_conv(x, packed, *_args, out=None, **_kw):
    """``quantized::conv2d`` (and ``_relu``, 1-d, 3-d): the prepacked weight's shape and groups, the
    output's positions: the same formula as ``convolution``."""
    w, _ = packed.unpack()
    groups = packed.groups()
    return x.shape[0] * conv_macs(two(out.shape[2:]), x.shape[1], w.shape[0], two(list(w.shape[2:])), groups)


def quantized_linear(x, packed, *_args, **_kw):
    """``quantized::linear`` (and ``_relu``, dynamic): rows × in × out of the prepacked weight."""
    w, _ = packed.unpack()
    return linear_macs(w.shape[1], w.shape[0], prod(x.shape[:-1]))


def scaled_mm(a, b, *_args, **_kw):
    """``_scaled_mm`` (fp8, int8 and block-scaled fp4 GEMMs): (m×k)·(k×n); ``b`` may be packed along k
    (fp4: two values a byte), so k is read from ``a`` and n from ``b``'s last dim."""
    return matmul_macs(1, prod(a.shape[:-1]), a.shape[-1], b.shape[-1])


def weight_int4pack_mm(x, _w, _group, scales_and_zeros, *_args, **_kw):
    """``_weight_int4pack_mm`` (int4 weight-only, W4A16): x[..., k] times packed int4 weights; n is read
    from the group scales and zeros, (k/group) × n × 2, whatever the packed weight's tiling."""
    return matmul_macs(1, prod(x.shape[:-1]), x.shape[-1], scales_and_zeros.shape[-2])


def weight_int8pack_mm(x, w, *_args, **_kw):
    """``_weight_int8pack_mm`` (int8 weight-only): x[..., k] · (n×k)ᵀ."""
    return matmul_macs(1, prod(x.shape[:-1]), x.shape[-1], w.shape[0])


def grouped_mm(a, b, *_args, **_kw):
    """``_grouped_mm`` / ``_scaled_grouped_mm`` (a mixture of experts' GEMMs): the routed rows of ``a``
    (t×k, grouped by expert) each times its group's k×n matrix of ``b`` (g×k×n): t·k·n."""
    return matmul_macs(1, prod(a.shape[:-1]), a.shape[-1], b.shape[-1])


# -- the rows ------------------------------------------------------------------------------------------
M, Z, D, V = Cost.MACS, Cost.ZERO, Cost.DATA, Cost.VIEW
LOWER, FP32 = Autocast.LOWER, Autocast.FP32
ACT = Epilogue.ACTIVATION

# matrix products and convolutions: formulas, autocast's lower-precision list
register("mm", M, Kind.GEMM, macs=mm, autocast=LOWER)
register("addmm _addmm_activation", M, Kind.GEMM, macs=addmm, autocast=LOWER)
register("bmm", M, Kind.GEMM, macs=bmm, autocast=LOWER)
register("baddbmm", M, Kind.GEMM, macs=baddbmm, autocast=LOWER)
register("addbmm", M, Kind.GEMM, macs=addbmm, autocast=LOWER)
register("mv", M, Kind.GEMM, macs=mv, autocast=LOWER)
register("addmv", M, Kind.GEMM, macs=addmv, autocast=LOWER)
register("dot vdot", M, Kind.GEMM, macs=dot)
register("linear", M, Kind.GEMM, macs=linear, autocast=LOWER)
register("_linear", M, Kind.GEMM, macs=linear)
register("convolution _convolution", M, Kind.CONV, macs=convolution, autocast=LOWER)
# low-precision and grouped matrix products (archstat llm writes them; torch runs them for quantized models)
register("_scaled_mm", M, Kind.GEMM, macs=scaled_mm)
register("_weight_int4pack_mm", M, Kind.GEMM, macs=weight_int4pack_mm)
register("_weight_int8pack_mm", M, Kind.GEMM, macs=weight_int8pack_mm)
register("_grouped_mm _scaled_grouped_mm", M, Kind.GEMM, macs=grouped_mm)
register("convolution_backward", Z, Kind.CONV_BACKWARD)
# composites that reach the dispatcher decomposed (counted through their parts), planned as their kind
C = Cost.DECOMPOSED
register("matmul", C, Kind.GEMM, autocast=LOWER)
register("conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d", C, Kind.MEMORY, Sub.OTHER,
         autocast=LOWER)
register("addr chain_matmul linalg_multi_dot einsum linalg_vecdot", C, Kind.MEMORY, Sub.OTHER, autocast=LOWER)
register("prelu", Z, Kind.MEMORY, Sub.OTHER, autocast=LOWER)
register("_prelu_kernel", Z, Kind.MEMORY, Sub.OTHER, autocast=LOWER)
register("_thnn_fused_lstm_cell _thnn_fused_gru_cell lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell lstm gru rnn_tanh "
         "rnn_relu", C, Kind.MEMORY, Sub.OTHER, autocast=LOWER)
register("mkldnn_rnn_layer", M, Kind.MEMORY, Sub.OTHER, macs=mkldnn_rnn_layer)
register("_native_multi_head_attention", M, Kind.MEMORY, Sub.OTHER, macs=native_mha)

# attention: every kernel scaled_dot_product_attention may call, and the call itself (recorded whole)
register("scaled_dot_product_attention _scaled_dot_product_flash_attention "
         "_scaled_dot_product_efficient_attention _scaled_dot_product_cudnn_attention", M, Kind.ATTENTION,
         macs=sdpa_bhle, autocast=LOWER)
register("_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_fused_attention_overrideable", M,
         Kind.ATTENTION, macs=sdpa_bhle)
register("_flash_attention_forward _efficient_attention_forward", M, Kind.ATTENTION, macs=sdpa_blhe)

# norms
_BN = ("native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training "
       "_native_batch_norm_legit_functional batch_norm cudnn_batch_norm")
register(_BN, Z, Kind.MEMORY, Sub.NORM, autocast=Autocast.KEEP_INPUT, epilogue=Epilogue.FOLD)
register("instance_norm", Z, Kind.MEMORY, Sub.OTHER, autocast=Autocast.KEEP_INPUT)
register("native_layer_norm layer_norm native_group_norm group_norm _fused_rms_norm rms_norm", Z, Kind.MEMORY,
         Sub.NORM, autocast=FP32)
register("native_batch_norm_backward cudnn_batch_norm_backward native_layer_norm_backward native_group_norm_backward "
         "_fused_rms_norm_backward batch_norm_backward", Z, Kind.MEMORY, Sub.NORM)

# softmax
register("_softmax softmax _log_softmax log_softmax _safe_softmax", Z, Kind.MEMORY, Sub.SOFTMAX, autocast=FP32,
         reads_half=True)
register("_softmax_backward_data _log_softmax_backward_data", Z, Kind.MEMORY, Sub.SOFTMAX)

# pooling
register("max_pool2d_with_indices max_pool2d max_pool3d_with_indices avg_pool2d avg_pool1d avg_pool3d "
         "adaptive_avg_pool2d _adaptive_avg_pool2d adaptive_max_pool2d adaptive_avg_pool3d _adaptive_avg_pool3d "
         "max_pool1d", Z, Kind.MEMORY, Sub.POOL)
register("max_pool3d adaptive_avg_pool1d adaptive_max_pool3d", Z, Kind.MEMORY, Sub.OTHER)
register("max_pool2d_with_indices_backward avg_pool2d_backward adaptive_avg_pool2d_backward "
         "_adaptive_avg_pool2d_backward max_pool3d_with_indices_backward avg_pool3d_backward "
         "adaptive_max_pool2d_backward", Z, Kind.MEMORY, Sub.POOL)

# reductions
register("mean amax amin max min var var_mean std std_mean norm argmax argmin any all", Z, Kind.MEMORY,
         Sub.REDUCTION)
register("sum prod cumsum logsumexp linalg_vector_norm", Z, Kind.MEMORY, Sub.REDUCTION, autocast=FP32)
register("cumprod", Z, Kind.MEMORY, Sub.OTHER, autocast=FP32)
register("nll_loss_forward nll_loss2d_forward", Z, Kind.MEMORY, Sub.REDUCTION, autocast=FP32)
register("nll_loss_backward nll_loss2d_backward", Z, Kind.MEMORY, Sub.REDUCTION)
register("count_nonzero", Z, Kind.MEMORY, Sub.OTHER)

# copies and layout
register("clone contiguous copy copy_ _to_copy cat stack constant_pad_nd roll flip repeat expand_copy slice_scatter "
         "select_scatter pad tril triu reflection_pad2d replication_pad2d alias_copy _copy_from", Z, Kind.MEMORY,
         Sub.COPY)
register("_unsafe_view", V, Kind.MEMORY, Sub.COPY)
register("_copy_from_and_resize resize_ set_ detach_copy reflection_pad1d reflection_pad3d replication_pad1d "
         "replication_pad3d _pad_circular rot90 tile repeat_interleave tril_ triu_ split_with_sizes_copy unbind_copy "
         "diagonal_scatter as_strided_scatter im2col col2im pixel_shuffle pixel_unshuffle channel_shuffle "
         "native_channel_shuffle one_hot sort topk kthvalue searchsorted bucketize equal allclose isclose is_nonzero "
         "is_same_size _pdist_forward", Z, Kind.MEMORY, Sub.OTHER)

# indexing and resampling
register("index index_select gather embedding _unsafe_index index_put index_put_ _index_put_impl_ scatter "
         "scatter_add scatter_add_ _unsafe_index_put masked_fill masked_fill_ where embedding_bag grid_sampler_2d",
         Z, Kind.MEMORY, Sub.GATHER)
register("upsample_nearest2d upsample_bilinear2d _upsample_bilinear2d_aa upsample_bicubic2d", Z, Kind.MEMORY,
         Sub.GATHER, autocast=FP32)
register("embedding_dense_backward", Z, Kind.MEMORY, Sub.GATHER)
register("scatter_ masked_scatter _embedding_bag affine_grid_generator", Z, Kind.MEMORY, Sub.OTHER)
register("upsample_nearest1d upsample_nearest3d upsample_linear1d upsample_trilinear3d _upsample_nearest_exact2d",
         Z, Kind.MEMORY, Sub.OTHER, autocast=FP32)

# factories: allocate (host time), or allocate and fill (a write-only kernel)
register("empty empty_like empty_strided new_empty new_empty_strided lift_fresh_copy scalar_tensor sym_size sym_numel "
         "sym_stride", Z, Kind.HOST, Sub.ALLOC, factory=True)
register("_local_scalar_dense", Z, Kind.HOST, Sub.ALLOC, factory=True)
register("lift_fresh detach", V, Kind.HOST, Sub.ALLOC, factory=True)
register("zeros ones full zeros_like ones_like full_like new_zeros new_ones new_full arange linspace eye", Z,
         Kind.MEMORY, Sub.FILL, factory=True)
register("fill_ zero_ fill", Z, Kind.MEMORY, Sub.FILL)
register("logspace tensor rand rand_like randn randn_like randint randperm normal_ uniform_ exponential_ multinomial",
         Z, Kind.MEMORY, Sub.OTHER)
register("item _assert_async _assert_tensor_metadata _functional_assert_async", Z, Kind.MEMORY, Sub.OTHER)

# collectives (torch.ops._c10d_functional, keyed by bare name as the tracer keys other namespaces' ops):
# on the device a reduction kernel that reads and writes its buffer; the time on the link between the GPUs
# is not the cost model's (archstat/llm/comm.py adds it)
register("all_reduce all_gather_into_tensor", Z, Kind.MEMORY, Sub.COPY)

# quantized tensors
register("quantize_per_tensor quantize_per_channel dequantize quantize_per_tensor_dynamic "
         "fake_quantize_per_tensor_affine fake_quantize_per_channel_affine", Z, Kind.MEMORY, Sub.OTHER)

# pointwise: activations (their backward too) and elementwise arithmetic; an engine runs them in the
# epilogue of the matrix product before them
_ACTIVATIONS = ("threshold gelu silu hardswish hardsigmoid sigmoid tanh elu leaky_relu mish softplus hardtanh "
                "native_dropout relu").split()
_POINTWISE = ("add sub mul div relu6 clamp clamp_min clamp_max neg abs exp log sqrt rsqrt pow erf addcmul addcdiv "
              "lerp maximum minimum bitwise_and logical_not eq ne lt le gt ge sign floor ceil round reciprocal "
              "square bernoulli").split()
_FP32_POINTWISE = frozenset("exp log rsqrt pow reciprocal softplus".split())
for _name in _ACTIVATIONS + _POINTWISE:
    register(_name, Z, Kind.MEMORY, Sub.POINTWISE, epilogue=ACT,
             autocast=FP32 if _name in _FP32_POINTWISE else Autocast.PROMOTE)
register([f"{n}_backward" for n in _ACTIVATIONS if n != "relu"], Z, Kind.MEMORY, Sub.POINTWISE,
         epilogue=ACT)   # relu's backward is threshold_backward
register("relu_ gelu_ silu_ hardswish_ hardtanh_ add_ mul_", Z, Kind.MEMORY, Sub.POINTWISE, epilogue=ACT)
register("selu celu glu dropout", Z, Kind.MEMORY, Sub.OTHER)
# autocast's fp32 list, beyond the rows above: pointwise math, and composites (losses, distances, norms)
register("acos asin cosh erfinv expm1 log10 log2 log1p sinh tan", Z, Kind.MEMORY, Sub.POINTWISE, epilogue=ACT,
         autocast=FP32)
register("frobenius_norm nuclear_norm cosine_similarity poisson_nll_loss cosine_embedding_loss nll_loss nll_loss2d "
         "hinge_embedding_loss kl_div l1_loss smooth_l1_loss huber_loss mse_loss margin_ranking_loss "
         "multilabel_margin_loss soft_margin_loss triplet_margin_loss multi_margin_loss "
         "binary_cross_entropy_with_logits dist pdist cdist renorm _upsample_nearest_exact1d _upsample_nearest_exact3d "
         "_upsample_bicubic2d_aa linalg_matrix_norm", C, Kind.MEMORY, Sub.OTHER, autocast=FP32)

# views the schema does not mark as read-only aliases (and in-place views: new metadata, no data)
register("unsafe_split unsafe_split_with_sizes unsafe_chunk _reshape_alias alias _nested_view_from_buffer as_strided_ "
         "squeeze_ unsqueeze_ transpose_ t_ swapdims_ swapaxes_ detach_", V, Kind.HOST, Sub.VIEW)

# data-dependent: what they do depends on the values; no MACs
register("nms roi_align roi_pool ps_roi_align ps_roi_pool nonzero masked_select unique _unique2 unique_dim "
         "unique_consecutive argwhere", D, Kind.MEMORY, Sub.OTHER)

# quantized:: operators (prepacked weights), keyed with their namespace
register("quantized::conv1d quantized::conv2d quantized::conv3d quantized::conv1d_relu quantized::conv2d_relu "
         "quantized::conv3d_relu", M, Kind.MEMORY, Sub.OTHER, macs=quantized_conv)
register("quantized::linear quantized::linear_relu quantized::linear_dynamic", M, Kind.MEMORY, Sub.OTHER,
         macs=quantized_linear)
register(("quantized::" + n for n in """add add_relu add_scalar add_scalar_relu mul mul_relu mul_scalar cat cat_relu
hardswish relu6 leaky_relu sigmoid batch_norm1d batch_norm2d batch_norm3d batch_norm2d_relu layer_norm group_norm
instance_norm threshold elu celu hardtanh embedding_bag_byte_rowwise_offsets""".split()), Z, Kind.MEMORY, Sub.OTHER)
del _name
