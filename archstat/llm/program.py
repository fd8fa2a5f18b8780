"""A decoder model's prefill and decode step as operator calls (``ir.program.OpCall``), per GPU, without torch:
the program the performance model (``perf.predict``) plans, costs and schedules like any traced model's.

What each call reads and writes is written down as the serving engines run it (TensorRT-LLM, vLLM): one
GPU's share under tensor parallelism (``tp``: a 1/tp slice of the heads, of the MLP's width, of every
expert and of the vocabulary; KV heads replicated where there are fewer than ``tp``); an all-reduce after
the attention's output projection and after the MLP (one per GPT-J block, whose attention and MLP are
summed first); the KV cache read from memory, the new token's K and V written into it.

- **prefill** (``prefill_calls``): ``batch`` prompts of ``prompt`` tokens: the embedding, per layer the
  norm, the Q/K/V projection, rotary, the cache write, causal attention (``scaled_dot_product_attention``,
  flash), the output projection, the residual, the norm, the MLP (or the router, the routed tokens'
  grouped expert GEMMs and their combination), the residual; the final norm and the LM head on the last
  token of each prompt.
- **decode** (``decode_calls``): one token for each of ``batch`` sequences at ``context`` tokens. Attention
  over the cache is Q·Kᵀ and P·V as batched products over the KV heads (each KV head's query group, L = 1,
  against its S cached keys): the batched-GEMV that decode kernels run, bound by reading the cache.
  A mixture-of-experts layer reads the experts its tokens are routed to: with ``batch`` tokens and top-k
  routing spread evenly, E·(1 − (1 − k/E)^batch) of the E experts.

Precision (``Run``): weights in bf16/fp16 (``mm``/``addmm``), fp8 or int8 W8A8 and NVFP4 W4A4
(``_scaled_mm``: the activation feeding a product is written in one byte by the op before it, as engines
fuse the quantization there), int4 W4A16 (``_weight_int4pack_mm``: packed weights and their group scales
and zeros read, the activations in bf16/fp16). A one-byte tensor is typed ``int8`` (the plan's vocabulary has
no fp8: its products run at the peak the caller puts under ``int8`` in the device spec, the part's fp8 or
fp4 peak). The KV cache in bf16/fp16, or fp8/int8 (one byte). ``fused``: Q/K/V and gate/up as one product
each (compile, engine); eager runs them as transformers does, one product per matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Optional

from archstat.dtypes import QuantFormat
from archstat.ir.program import OpCall, TensorRef
from archstat.llm.config import LLMConfig

__all__ = ["Run", "decode_calls", "prefill_calls", "sample_layers", "shards", "signature", "touched_experts"]

ONE_BYTE = "int8"      # a one-byte tensor (fp8 or int8) as the plan sees it


@dataclass(frozen=True)
class Run:
    """How the model runs: the things that change its operator calls."""

    weights: QuantFormat
    kv: QuantFormat
    act: str = "bfloat16"        # the activations' dtype (and the unquantized weights': norms, embedding, LM head)
    tp: int = 1
    fused: bool = True           # Q/K/V and gate/up each one product (compile, engine)

    @property
    def w8a8(self) -> bool:
        return self.weights.math in ("fp8", "int8")

    @property
    def w4a4(self) -> bool:
        return self.weights.math == "fp4"

    @property
    def quantized_acts(self) -> bool:
        return self.w8a8 or self.w4a4

    @property
    def kv_dtype(self) -> str:
        return self.act if self.kv.bits == 16 else ONE_BYTE


@dataclass(frozen=True)
class Shards:
    """One GPU's share of a layer under tensor parallelism."""

    heads: int
    kv_heads: int
    intermediate: int
    expert_intermediate: int
    shared_intermediate: int
    vocab: int


def shards(c: LLMConfig, tp: int) -> Shards:
    """The heads, widths and vocabulary of one of ``tp`` GPUs (a ValueError where ``tp`` does not divide them)."""
    if tp < 1:
        raise ValueError(f"tensor parallelism {tp}: at least 1")
    if c.heads % tp:
        raise ValueError(f"--tp {tp} does not divide the {c.heads} attention heads of {c.name}")
    if c.kv_heads % tp and tp % c.kv_heads:
        raise ValueError(f"--tp {tp} and the {c.kv_heads} KV heads of {c.name}: neither divides the other")
    for what, width in (("MLP width", c.intermediate if not c.moe or not all(c.moe_layers) else 0),
                        ("expert width", c.expert_intermediate), ("shared expert width", c.shared_intermediate)):
        if width and width % tp:
            raise ValueError(f"--tp {tp} does not divide the {what} {width} of {c.name}")
    return Shards(c.heads // tp, max(1, c.kv_heads // tp), c.intermediate // tp, c.expert_intermediate // tp,
                  c.shared_intermediate // tp, ceil(c.vocab / tp))


def touched_experts(experts: int, top_k: int, tokens: int) -> int:
    """Experts of a layer at least one of ``tokens`` is routed to, routing spread evenly: the expectation
    E·(1 − (1 − k/E)^tokens), rounded up, at least k."""
    if not experts:
        return 0
    expected = experts * (1.0 - (1.0 - top_k / experts) ** tokens)
    return max(top_k, min(experts, ceil(expected - 1e-9)))


class _Builder:
    def __init__(self, c: LLMConfig, run: Run):
        self.c, self.run = c, run
        self.s = shards(c, run.tp)
        self.calls: list[OpCall] = []
        self.n = 0
        self.named: dict[str, int] = {}

    # -- tensors ------------------------------------------------------------------------------------------
    def _id(self, name: str | None = None) -> int:
        if name is not None and name in self.named:
            return self.named[name]
        self.n += 1
        if name is not None:
            self.named[name] = self.n
        return self.n

    def t(self, shape, dtype: str | None = None, role: str = "", tid: int | None = None) -> TensorRef:
        return TensorRef(tuple(int(x) for x in shape), dtype or self.run.act, self._id() if tid is None else tid,
                         role)

    def param(self, name: str, shape, dtype: str | None = None) -> TensorRef:
        return TensorRef(tuple(int(x) for x in shape), dtype or self.run.act, self._id(name), "param")

    def buffer(self, name: str, shape, dtype: str | None = None) -> TensorRef:
        return TensorRef(tuple(int(x) for x in shape), dtype or self.run.act, self._id(name), "buffer")

    def rows_of(self, name: str, shape, rows: int) -> TensorRef:
        """A table a lookup reads ``rows`` rows of (at most all of it): the bytes it moves are those rows'."""
        full = self.param(name, shape)
        return TensorRef(full.shape, full.dtype, full.id, full.role, elements=min(rows, shape[0]) * shape[1])

    def op(self, op: str, row: str, ins, outs, macs: int = 0, **attrs) -> None:
        self.calls.append(OpCall(op, row, tuple(ins), tuple(outs), macs, inplace=op.endswith("_"), attrs=attrs))

    def gemm_input(self, shape) -> TensorRef:
        """The output of an op that feeds a product: one byte where the product quantizes its activations."""
        return self.t(shape, ONE_BYTE if self.run.quantized_acts else None)

    # -- pieces -----------------------------------------------------------------------------------------------
    def linear(self, x: TensorRef, n: int, name: str, row: str, bias: bool = False, quantized: bool = True,
               out: TensorRef | None = None) -> TensorRef:
        """x (T×k) times the weight (k×n) of ``name`` at the run's weight format (``quantized=False``:
        in the activations' dtype: the LM head, the router)."""
        rows, k = x.shape
        y = out if out is not None else self.t((rows, n))
        macs = rows * k * n
        b = [self.param(f"{name}.bias", (n,))] if bias else []
        f = self.run.weights
        if not quantized or f.bits == 16:
            w = self.param(f"{name}.weight", (k, n))
            if x.dtype == ONE_BYTE:     # an input written in one byte for products that are quantized
                x = self.t(x.shape, tid=x.id)
            self.op("addmm" if b else "mm", row, [*b, x, w] if b else [x, w], [y], macs)
        elif f.math == "":              # weight-only int4: packed weights, an fp16 scale and zero per group
            w = self.param(f"{name}.weight", (-(-k // 2), n), "uint8")
            sz = self.param(f"{name}.scales_and_zeros", (-(-k // f.group), n, 2))
            self.op("_weight_int4pack_mm", row, [x, w, sz, *b], [y], macs, group=f.group)
        elif f.bits == 8:               # W8A8: one-byte activations and weights, per-tensor scales
            w = self.param(f"{name}.weight", (k, n), ONE_BYTE)
            scales = [self.buffer(f"{name}.input_scale", ()), self.buffer(f"{name}.weight_scale", ())]
            self.op("_scaled_mm", row, [x, w, *scales, *b], [y], macs)
        else:                           # W4A4 (NVFP4): packed e2m1 weights and activations, an e4m3 scale per group
            w = self.param(f"{name}.weight", (-(-k // 2), n), "uint8")
            sw = self.param(f"{name}.weight_scale", (-(-k // f.group), n), "uint8")
            xp = self.t((rows, -(-k // 2)), ONE_BYTE, tid=x.id)    # two e2m1 values a byte
            sx = self.t((rows, -(-k // f.group)), "uint8")
            self.op("_scaled_mm", row, [xp, w, sx, sw, *b], [y], macs)
        return y

    def norm(self, x: TensorRef, name: str, row: str, feeds_gemm: bool = True) -> TensorRef:
        d = x.shape[-1]
        ps = [self.param(f"{name}.weight", (d,))]
        if self.c.norm == "layer":
            ps.append(self.param(f"{name}.bias", (d,)))
        y = self.gemm_input(x.shape) if feeds_gemm else self.t(x.shape)
        self.op("native_layer_norm" if self.c.norm == "layer" else "rms_norm", row, [x, *ps], [y])
        return y

    def pointwise(self, op: str, ins, row: str, shape=None, feeds_gemm: bool = False) -> TensorRef:
        shape = shape or ins[0].shape
        y = self.gemm_input(shape) if feeds_gemm else self.t(shape)
        self.op(op, row, ins, [y], pointwise=True)
        return y

    def all_reduce(self, x: TensorRef, row: str) -> TensorRef:
        if self.run.tp == 1:
            return x
        y = self.t(x.shape)
        self.op("all_reduce", row, [x], [y], group=self.run.tp)
        return y

    def gelu_or_silu(self) -> str:
        act = self.c.activation
        return "silu" if act in ("silu", "swish") else "gelu"

    # -- a layer ------------------------------------------------------------------------------------------
    def qkv(self, x: TensorRef, i: int, row: str) -> tuple[TensorRef, TensorRef, TensorRef]:
        """Q, K and V of one GPU's heads (T×width each), rotated where the model is rotary."""
        c, s = self.c, self.s
        rows = x.shape[0]
        qw, kw = s.heads * c.head_dim, s.kv_heads * c.head_dim
        p = f"layers.{i}.attn"
        if self.run.fused:
            out = self.linear(x, qw + 2 * kw, f"{p}.qkv_proj", row, bias=c.qkv_bias)
            q = TensorRef((rows, qw), out.dtype, out.id)
            k = TensorRef((rows, kw), out.dtype, out.id)
            v = TensorRef((rows, kw), out.dtype, out.id)
        else:
            q = self.linear(x, qw, f"{p}.q_proj", row, bias=c.qkv_bias)
            k = self.linear(x, kw, f"{p}.k_proj", row, bias=c.qkv_bias)
            v = self.linear(x, kw, f"{p}.v_proj", row, bias=c.qkv_bias)
        if c.qk_norm:           # RMSNorm over each head's channels
            q = self.norm(TensorRef((rows * s.heads, c.head_dim), q.dtype, q.id), f"{p}.q_norm", row, False)
            k = self.norm(TensorRef((rows * s.kv_heads, c.head_dim), k.dtype, k.id), f"{p}.k_norm", row, False)
            q, k = TensorRef((rows, qw), q.dtype, q.id), TensorRef((rows, kw), k.dtype, k.id)
        if c.rotary_dim:
            cos = self.buffer("rotary.cos_sin", (rows, c.rotary_dim))
            q = self.pointwise("mul", [q, cos], row)
            k = self.pointwise("mul", [k, cos], row)
        return q, k, v

    def cache_write(self, k: TensorRef, v: TensorRef, i: int, row: str) -> None:
        """The new tokens' K and V into the cache, one kernel (into slots of their own: the cache behind them
        is read from memory, not from the L2 this write leaves them in)."""
        slots = [self.t(x.shape, self.run.kv_dtype) for x in (k, v)]
        self.op("copy_", row, [k, v], slots, cache=f"layers.{i}")

    def attention_decode(self, q: TensorRef, i: int, row: str, batch: int, context: int) -> TensorRef:
        """One token per sequence against its cached keys: for each KV head, the g = H/KV query heads that
        share it are the rows of one fused attention (as GQA decode kernels pack them), so K and V are read
        once per KV head; L = g queries × S keys × head dim, twice."""
        c, s = self.c, self.s
        keys = c.attended(i, context)
        g, e = s.heads // s.kv_heads, c.head_dim
        kv = self.run.kv_dtype
        qg = TensorRef((batch, s.kv_heads, g, e), q.dtype, q.id)
        k = self.t((batch, s.kv_heads, keys, e), kv, tid=self._id(f"cache.{i}.k"))   # state, not weights
        v = self.t((batch, s.kv_heads, keys, e), kv, tid=self._id(f"cache.{i}.v"))
        out = self.gemm_input((batch, s.kv_heads, g, e))
        self.op("scaled_dot_product_attention", row, [qg, k, v], [out], batch * s.heads * keys * 2 * e,
                is_causal=False, mask=False, decode=True)
        return TensorRef((batch, s.heads * e), out.dtype, out.id)

    def attention_prefill(self, q: TensorRef, k: TensorRef, v: TensorRef, i: int, row: str, batch: int,
                          prompt: int) -> TensorRef:
        c, s = self.c, self.s
        e = c.head_dim
        q4 = TensorRef((batch, s.heads, prompt, e), q.dtype, q.id)
        k4 = TensorRef((batch, s.kv_heads, prompt, e), k.dtype, k.id)
        v4 = TensorRef((batch, s.kv_heads, prompt, e), v.dtype, v.id)
        out = self.gemm_input((batch, s.heads, prompt, e))
        macs = batch * s.heads * prompt * prompt * 2 * e
        self.op("scaled_dot_product_attention", row, [q4, k4, v4], [out], macs, is_causal=True, mask=False,
                window=c.window if c.windowed(i) else 0)
        return TensorRef((batch * prompt, s.heads * e), out.dtype, out.id)

    def mlp(self, x: TensorRef, i: int, row: str) -> TensorRef:
        c = self.c
        if c.is_moe(i):
            return self.moe(x, i, row)
        return self.dense_mlp(x, self.s.intermediate, f"layers.{i}.mlp", row, c.mlp_bias)

    def dense_mlp(self, x: TensorRef, width: int, name: str, row: str, bias: bool) -> TensorRef:
        rows = x.shape[0]
        act = self.gelu_or_silu()
        if self.c.gated:
            if self.run.fused:
                gu = self.linear(x, 2 * width, f"{name}.gate_up_proj", row, bias=bias)
                gate = TensorRef((rows, width), gu.dtype, gu.id)
                up = TensorRef((rows, width), gu.dtype, gu.id)
            else:
                gate = self.linear(x, width, f"{name}.gate_proj", row, bias=bias)
                up = self.linear(x, width, f"{name}.up_proj", row, bias=bias)
            h = self.pointwise(act, [gate], row)
            h = self.pointwise("mul", [h, up], row, feeds_gemm=True)
        else:
            up = self.linear(x, width, f"{name}.fc_in", row, bias=bias)
            h = self.pointwise(act, [up], row, feeds_gemm=True)
        return self.linear(h, self.c.hidden, f"{name}.{'down_proj' if self.c.gated else 'fc_out'}", row, bias=bias)

    def moe(self, x: TensorRef, i: int, row: str) -> TensorRef:
        c, s = self.c, self.s
        tokens, d = x.shape
        name = f"layers.{i}.moe"
        logits = self.linear(x, c.experts, f"{name}.router", row, quantized=False)
        probs = self.t(logits.shape, "float32")
        self.op("_softmax", row, [logits], [probs])
        picked = self.t((tokens, c.top_k), "float32")
        index = self.t((tokens, c.top_k), "int64")
        self.op("topk", row, [probs], [picked, index])
        routed = tokens * c.top_k
        touched = touched_experts(c.experts, c.top_k, tokens)
        gathered = self.gemm_input((routed, d))
        self.op("index_select", row, [x, index], [gathered])
        w = s.expert_intermediate
        gu = self.grouped(gathered, touched, 2 * w, f"{name}.experts.gate_up_proj", row)
        gate = TensorRef((routed, w), gu.dtype, gu.id)
        up = TensorRef((routed, w), gu.dtype, gu.id)
        h = self.pointwise(self.gelu_or_silu(), [gate], row)
        h = self.pointwise("mul", [h, up], row, feeds_gemm=True)
        down = self.grouped(h, touched, d, f"{name}.experts.down_proj", row)
        y = self.t((tokens, d))
        self.op("scatter_add", row, [down, index, picked], [y])
        if c.shared_intermediate:
            sh = self.dense_mlp(x, s.shared_intermediate, f"{name}.shared_expert", row, False)
            if c.shared_gate:
                g = self.linear(x, 1, f"{name}.shared_expert_gate", row, quantized=False)
                sh = self.pointwise("mul", [sh, g], row)
            y = self.pointwise("add", [y, sh], row)
        return y

    def grouped(self, x: TensorRef, touched: int, n: int, name: str, row: str) -> TensorRef:
        """The routed rows (grouped by expert) times the ``touched`` experts' k×n matrices."""
        rows, k = x.shape
        y = self.t((rows, n))
        f = self.run.weights
        if f.bits == 16:
            self.op("_grouped_mm", row, [x, self.param(f"{name}", (touched, k, n))], [y], rows * k * n)
        elif f.math == "":
            w = self.param(name, (touched, -(-k // 2), n), "uint8")
            sz = self.param(f"{name}.scales_and_zeros", (touched, -(-k // f.group), n, 2))
            self.op("_grouped_mm", row, [x, w, sz], [y], rows * k * n, weight_only=f.name)
        elif f.bits == 8:
            w = self.param(name, (touched, k, n), ONE_BYTE)
            scales = [self.buffer(f"{name}.input_scale", ()), self.buffer(f"{name}.weight_scale", (touched,))]
            self.op("_scaled_grouped_mm", row, [x, w, *scales], [y], rows * k * n)
        else:
            w = self.param(name, (touched, -(-k // 2), n), "uint8")
            sw = self.param(f"{name}.weight_scale", (touched, -(-k // f.group), n), "uint8")
            xp = self.t((rows, -(-k // 2)), ONE_BYTE, tid=x.id)    # two e2m1 values a byte
            sx = self.t((rows, -(-k // f.group)), "uint8")
            self.op("_scaled_grouped_mm", row, [xp, w, sx, sw], [y], rows * k * n)
        return y

    def layer(self, x: TensorRef, i: int, batch: int, tokens_per_seq: int, context: int, decode: bool) -> TensorRef:
        c = self.c
        attn_row, mlp_row = f"layers.{i}.attention", f"layers.{i}.{'moe' if c.is_moe(i) else 'mlp'}"
        h = self.norm(x, f"layers.{i}.input_norm", attn_row)
        q, k, v = self.qkv(h, i, attn_row)
        self.cache_write(k, v, i, attn_row)
        if decode:
            a = self.attention_decode(q, i, attn_row, batch, context)
        else:
            a = self.attention_prefill(q, k, v, i, attn_row, batch, tokens_per_seq)
        o = self.linear(a, c.hidden, f"layers.{i}.attn.o_proj", attn_row, bias=c.o_bias)
        if c.parallel_block:       # GPT-J: the MLP reads the same normalised input; one all-reduce of the sum
            m = self.mlp(h, i, mlp_row)
            both = self.pointwise("add", [o, m], mlp_row)
            both = self.all_reduce(both, mlp_row)
            return self.pointwise("add", [x, both], mlp_row)
        if c.family == "gemma2":
            o = self.norm(o, f"layers.{i}.post_attention_norm", attn_row, feeds_gemm=False)
        o = self.all_reduce(o, attn_row)
        x = self.pointwise("add", [x, o], attn_row)
        h = self.norm(x, f"layers.{i}.{'pre_feedforward_norm' if c.family == 'gemma2' else 'post_attention_norm'}",
                      mlp_row)
        m = self.mlp(h, i, mlp_row)
        if c.family == "gemma2":
            m = self.norm(m, f"layers.{i}.post_feedforward_norm", mlp_row, feeds_gemm=False)
        m = self.all_reduce(m, mlp_row)
        return self.pointwise("add", [x, m], mlp_row)

    def forward(self, batch: int, tokens_per_seq: int, context: int, decode: bool,
                layers: Optional[Sequence[int]] = None) -> list[OpCall]:
        c, s = self.c, self.s
        tokens = batch * tokens_per_seq
        ids = self.t((tokens,), "int64")
        x = self.t((tokens, c.hidden))
        self.op("embedding", "embed", [self.rows_of("embed.weight", (c.vocab, c.hidden), tokens), ids], [x])
        if c.learned_positions:
            pos = self.t((tokens, c.hidden))
            self.op("embedding", "embed", [self.rows_of("embed.positions", (c.learned_positions, c.hidden),
                                                        tokens), ids], [pos])
            x = self.pointwise("add", [x, pos], "embed")
        if c.family == "gemma2":       # the embedding scaled by √d
            x = self.pointwise("mul", [x], "embed")
        for i in range(c.layers) if layers is None else layers:
            x = self.layer(x, i, batch, tokens_per_seq, context, decode)
        x = self.norm(x, "final_norm", "lm_head", feeds_gemm=False)
        last = x if decode else TensorRef((batch, c.hidden), x.dtype, x.id)   # the last token of each prompt
        logits = self.linear(last, s.vocab, "lm_head", "lm_head", bias=c.lm_head_bias, quantized=False)
        if c.family == "gemma2":       # final logit soft-capping
            logits = self.pointwise("tanh", [logits], "lm_head")
        if self.run.tp > 1:            # the vocabulary's shards gathered
            gathered = self.t((batch, s.vocab * self.run.tp))
            self.op("all_gather_into_tensor", "lm_head", [logits], [gathered], group=self.run.tp)
        return self.calls


def prefill_calls(c: LLMConfig, run: Run, *, batch: int, prompt: int,
                  layers: Optional[Sequence[int]] = None) -> list[OpCall]:
    """One GPU's operator calls of a prefill of ``batch`` prompts of ``prompt`` tokens (``layers``: only these
    decoder layers, in this order; default all)."""
    return _Builder(c, run).forward(batch, prompt, prompt, decode=False, layers=layers)


def decode_calls(c: LLMConfig, run: Run, *, batch: int, context: int,
                 layers: Optional[Sequence[int]] = None) -> list[OpCall]:
    """One GPU's operator calls of one decode step of ``batch`` sequences at ``context`` tokens (the new
    token included)."""
    return _Builder(c, run).forward(batch, 1, context, decode=True, layers=layers)


def signature(c: LLMConfig, layer: int) -> tuple[bool, bool]:
    """What makes one layer's operator calls differ from another's: a mixture of experts or not, windowed or
    not (layers of one signature run the same calls on tensors of the same shapes)."""
    return c.is_moe(layer), c.windowed(layer)


def sample_layers(c: LLMConfig) -> list[int]:
    """The first two layers of every signature, in order: enough to predict every other layer as the second
    of its kind (the steady state, where the previous layer's outputs are what it reads)."""
    seen: dict[tuple[bool, bool], int] = {}
    picked = []
    for i in range(c.layers):
        sig = signature(c, i)
        if seen.get(sig, 0) < 2:
            seen[sig] = seen.get(sig, 0) + 1
            picked.append(i)
    return picked
