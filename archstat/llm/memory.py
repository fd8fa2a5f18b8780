"""Memory per GPU: the weights at their format, the KV cache, the prefill's activations and the workspace, and
the largest batch that fits. Pure arithmetic on the config and the run (no torch).

- **weights**: every matrix of the blocks (Q, K, V, O, the MLP's, the experts') at the weight format, its group
  scales included (``QuantFormat.nbytes``), one GPU's share under tensor parallelism (column-parallel
  matrices split along their outputs, row-parallel ones along their inputs, so a row-parallel matrix's groups
  are counted on its shard); the embedding, the norms and the router in the activations' dtype, replicated; the
  LM head in the activations' dtype, a 1/tp slice of the vocabulary (none of its own when tied);
- **KV cache**: per sequence, per layer, K and V of every cached token (a sliding-window layer keeps its
  window), a GPU's KV heads (replicated where there are fewer KV heads than GPUs), at the KV format; an
  engine allocates it in blocks of ``BLOCK_TOKENS`` tokens (paged), so a sequence's cache is rounded up to a
  whole block;
- **activations**: the prefill's largest working set of one layer (the residual, the normalised input, the
  widest product's output — Q/K/V, or gate and up with their product, or the routed tokens' — and the
  logits), for the tokens prefilled at once;
- **workspace**: the CUDA context and the libraries' workspaces, ``WORKSPACE_BYTES`` (an assumption).

The KV cache gets ``KV_FRACTION`` of what the weights, activations and workspace leave (TensorRT-LLM's
``kv_cache_free_gpu_mem_fraction`` default, 0.9), and the largest batch is the most sequences whose cache at
the full context (input + output) fits in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from archstat.llm.config import LLMConfig
from archstat.llm.program import Run, shards

__all__ = ["BLOCK_TOKENS", "KV_FRACTION", "WORKSPACE_BYTES", "Memory", "activation_bytes", "kv_bytes",
           "kv_bytes_per_token", "weight_bytes"]

BLOCK_TOKENS = 64               # TensorRT-LLM's default tokens per KV-cache block (vLLM's is 16)
KV_FRACTION = 0.9               # TensorRT-LLM's kv_cache_free_gpu_mem_fraction default
WORKSPACE_BYTES = 1 << 30       # CUDA context, cuBLAS/CUTLASS and NCCL workspaces: 1 GiB (an assumption)


def _act_bytes(run: Run) -> int:
    return 1 if run.act == "int8" else 2 if run.act in ("float16", "bfloat16") else 4


def weight_bytes(c: LLMConfig, run: Run) -> int:
    """The bytes of one GPU's weights (with group scales)."""
    s = shards(c, run.tp)
    f, a = run.weights, _act_bytes(run)
    d, hd = c.hidden, c.head_dim
    qw, kw = s.heads * hd, s.kv_heads * hd

    def mat(n: int, k: int) -> int:       # an n×k weight (k the reduction dim) at the weight format
        return f.nbytes(n, k)

    attn = mat(qw, d) + 2 * mat(kw, d) + mat(d, qw)
    attn += a * ((qw + 2 * kw if c.qkv_bias else 0) + (d if c.o_bias else 0) + (2 * hd if c.qk_norm else 0))

    def mlp(width: int, bias: bool) -> int:
        n = (2 * mat(width, d) if c.gated else mat(width, d)) + mat(d, width)
        return n + (a * ((2 if c.gated else 1) * width + d) if bias else 0)

    total = 0
    for i in range(c.layers):
        total += attn
        if c.is_moe(i):
            total += a * d * c.experts + c.experts * mlp(s.expert_intermediate, False)
            if c.shared_intermediate:
                total += mlp(s.shared_intermediate, False) + (a * d if c.shared_gate else 0)
        else:
            total += mlp(s.intermediate, c.mlp_bias)
    norm = 2 * d if c.norm == "layer" else d
    total += a * (c.layers * c.norms_per_layer * norm + norm)
    total += a * (c.vocab + c.learned_positions) * d
    if not c.tied:
        total += a * s.vocab * d
    if c.lm_head_bias:
        total += a * s.vocab
    return total


def kv_bytes_per_token(c: LLMConfig, run: Run) -> int:
    """One GPU's KV cache per token of context: 2 (K and V) × layers × its KV heads × head dim × bytes."""
    s = shards(c, run.tp)
    return 2 * c.layers * s.kv_heads * c.head_dim * run.kv.bits // 8


def kv_bytes(c: LLMConfig, run: Run, context: int, batch: int = 1, block: int = 1) -> int:
    """One GPU's KV cache for ``batch`` sequences at ``context`` tokens (windows capped; whole blocks of
    ``block`` tokens)."""
    s = shards(c, run.tp)
    per_token_layer = 2 * s.kv_heads * c.head_dim * run.kv.bits // 8
    per_seq = 0
    for i in range(c.layers):
        kept = c.attended(i, context)
        per_seq += -(-kept // block) * block * per_token_layer
    return batch * per_seq


def activation_bytes(c: LLMConfig, run: Run, tokens: int, sequences: int) -> int:
    """The prefill's peak working set for ``tokens`` tokens (of ``sequences`` prompts) at once."""
    s = shards(c, run.tp)
    a = _act_bytes(run)
    qkv = (s.heads + 2 * s.kv_heads) * c.head_dim
    widest = qkv
    for i in range(c.layers):
        if c.is_moe(i):
            widest = max(widest, c.top_k * (c.hidden + 3 * s.expert_intermediate))
        else:
            widest = max(widest, (3 if c.gated else 2) * s.intermediate)
    logits = sequences * s.vocab * 4          # float32 logits of the last tokens
    return tokens * (2 * c.hidden + widest) * a + logits


@dataclass(frozen=True)
class Memory:
    """One GPU's memory at a batch and context (None: not counted, as for a traced module's KV cache; the total
    is then a lower bound, ``complete`` False)."""

    capacity: int                  # the device's memory (bytes)
    weights: int
    kv_per_token: Optional[int]
    kv: Optional[int]              # at batch × context
    activations: Optional[int]
    workspace: int

    @property
    def complete(self) -> bool:
        return None not in (self.kv_per_token, self.kv, self.activations)

    @property
    def total(self) -> int:
        return self.weights + (self.kv or 0) + (self.activations or 0) + self.workspace

    @property
    def fits(self) -> bool:
        return self.capacity <= 0 or self.total <= self.capacity

    def as_dict(self) -> dict:
        return {"capacity_bytes": self.capacity, "weights_bytes": self.weights,
                "kv_bytes_per_token": self.kv_per_token, "kv_bytes": self.kv,
                "activation_bytes": self.activations, "workspace_bytes": self.workspace,
                "total_bytes": self.total, "complete": self.complete, "fits": self.fits}
