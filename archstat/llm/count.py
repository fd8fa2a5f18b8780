"""What a decoder model holds and computes, by integer arithmetic on its :class:`~archstat.llm.config.LLMConfig`
(no torch): parameters (total, and active per token for a mixture of experts), the KV cache's bytes per
token, and the multiply-accumulates of a prefill and of one decode step, per layer and in total.

Conventions (archstat's, as torch's ``FlopCounterMode`` counts them, /2):

- a matrix product is rows × in × out MACs; biases, norms, activations, rotary embeddings, softmax and the
  router's top-k are not MACs; the embedding lookup is none;
- attention is Q·Kᵀ and P·V: heads × queries × keys × head_dim each, the keys being every key a query can
  see in the cache (the sliding window caps them), in a prefill every key of the prompt (torch counts the
  causal half that the mask hides, and so does this);
- a mixture-of-experts layer: the router (d × experts per token) and, per token, its top-k experts;
- the LM head runs for the tokens whose logits are needed: the last of each prompt in a prefill (as
  ``generate`` asks for, ``logits_to_keep=1``) and every decoded token.
"""

from __future__ import annotations

from dataclasses import dataclass

from archstat.llm.config import LLMConfig

__all__ = ["LayerMacs", "ParamCount", "decode_macs", "kv_bytes_per_token", "kv_elements", "params", "prefill_macs"]


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part (each counted once: a tied LM head is the embedding's)."""

    embedding: int
    positions: int
    attention: int        # Q, K, V, O projections and their biases, Q/K norms, over all layers
    mlp: int              # dense MLPs over all layers
    router: int           # MoE routers
    experts: int          # routed experts, all of them
    shared_expert: int    # shared experts (and their gates)
    norms: int            # the blocks' norms and the final norm
    lm_head: int          # 0 when tied
    expert_size: int      # one routed expert of one layer
    moe_layer_count: int
    top_k: int
    experts_per_layer: int

    @property
    def total(self) -> int:
        return (self.embedding + self.positions + self.attention + self.mlp + self.router + self.experts
                + self.shared_expert + self.norms + self.lm_head)

    @property
    def active(self) -> int:
        """What one token's forward reads: everything but the routed experts it is not sent to."""
        idle = (self.experts_per_layer - self.top_k) * self.expert_size * self.moe_layer_count
        return self.total - idle

    def as_dict(self) -> dict:
        return {"total": self.total, "active": self.active, "embedding": self.embedding, "positions": self.positions,
                "attention": self.attention, "mlp": self.mlp, "router": self.router, "experts": self.experts,
                "shared_expert": self.shared_expert, "norms": self.norms, "lm_head": self.lm_head}


def _norm(c: LLMConfig, width: int) -> int:
    return 2 * width if c.norm == "layer" else width


def attention_params(c: LLMConfig) -> int:
    """One layer's Q, K, V and O projections (and biases, and Q/K norms)."""
    d, q, kv = c.hidden, c.q_width, c.kv_width
    n = d * q + 2 * d * kv + q * d
    if c.qkv_bias:
        n += q + 2 * kv
    if c.o_bias:
        n += d
    if c.qk_norm:
        n += 2 * c.head_dim
    return n


def mlp_params(c: LLMConfig, width: int, bias: bool) -> int:
    """An MLP of ``width``: gate and up (or up) d×width, down width×d, with their biases."""
    d = c.hidden
    n = (3 if c.gated else 2) * d * width
    if bias:
        n += (2 if c.gated else 1) * width + d
    return n


def params(c: LLMConfig) -> ParamCount:
    d = c.hidden
    moe_layers = sum(1 for i in range(c.layers) if c.is_moe(i))
    dense_layers = c.layers - moe_layers
    expert = mlp_params(c, c.expert_intermediate, False) if c.moe else 0
    shared = (mlp_params(c, c.shared_intermediate, False) + (d if c.shared_gate else 0)) if c.shared_intermediate else 0
    return ParamCount(
        embedding=c.vocab * d,
        positions=c.learned_positions * d,
        attention=c.layers * attention_params(c),
        mlp=dense_layers * mlp_params(c, c.intermediate, c.mlp_bias),
        router=moe_layers * d * c.experts,
        experts=moe_layers * c.experts * expert,
        shared_expert=moe_layers * shared,
        norms=c.layers * c.norms_per_layer * _norm(c, d) + _norm(c, d),
        lm_head=(0 if c.tied else c.vocab * d) + (c.vocab if c.lm_head_bias else 0),
        expert_size=expert, moe_layer_count=moe_layers, top_k=c.top_k, experts_per_layer=c.experts)


# -- the KV cache ------------------------------------------------------------------------------------------

def kv_elements(c: LLMConfig, context: int) -> int:
    """Elements of one sequence's KV cache at ``context`` tokens: per layer, K and V of every cached token
    (a sliding-window layer keeps its window)."""
    return sum(2 * c.attended(i, context) * c.kv_width for i in range(c.layers))


def kv_bytes_per_token(c: LLMConfig, bytes_per_element: float) -> float:
    """2 (K and V) × layers × KV heads × head dim × bytes: one token of context inside every window."""
    return 2 * c.layers * c.kv_width * bytes_per_element


# -- MACs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerMacs:
    """One layer's MACs in one phase (the whole batch)."""

    index: int
    projections: int     # Q, K, V and O
    attention: int       # Q·Kᵀ and P·V
    mlp: int             # the dense MLP, or the router, the routed experts and the shared expert
    kind: str            # "dense" or "moe"; with "/window" for a sliding-window layer

    @property
    def total(self) -> int:
        return self.projections + self.attention + self.mlp


def _mlp_macs(c: LLMConfig, layer: int, tokens: int) -> int:
    d = c.hidden
    if not c.is_moe(layer):
        return tokens * (3 if c.gated else 2) * d * c.intermediate
    n = tokens * d * c.experts + tokens * c.top_k * 3 * d * c.expert_intermediate
    if c.shared_intermediate:
        n += tokens * 3 * d * c.shared_intermediate + (tokens * d if c.shared_gate else 0)
    return n


def _layer(c: LLMConfig, i: int, tokens: int, attention: int) -> LayerMacs:
    d = c.hidden
    proj = tokens * (d * c.q_width + 2 * d * c.kv_width + c.q_width * d)
    kind = ("moe" if c.is_moe(i) else "dense") + ("/window" if c.windowed(i) else "")
    return LayerMacs(i, proj, attention, _mlp_macs(c, i, tokens), kind)


def prefill_macs(c: LLMConfig, prompt: int, batch: int = 1) -> tuple[list[LayerMacs], int]:
    """The layers' MACs of a prefill of ``batch`` prompts of ``prompt`` tokens, and the LM head's (the last
    token of each prompt)."""
    tokens = batch * prompt
    layers = [_layer(c, i, tokens, batch * 2 * c.heads * prompt * _keys_prefill(c, i, prompt) * c.head_dim)
              for i in range(c.layers)]
    return layers, batch * c.hidden * c.vocab


def _keys_prefill(c: LLMConfig, layer: int, prompt: int) -> int:
    """Keys per query a prefill's attention kernel is charged with: the whole prompt (torch's count: the
    causal mask hides half, the count does not); a windowed layer's mask hides more, and is counted whole
    as well (transformers runs it as one masked product)."""
    del layer
    return prompt


def decode_macs(c: LLMConfig, context: int, batch: int = 1) -> tuple[list[LayerMacs], int]:
    """One decode step of ``batch`` sequences at ``context`` tokens (the new one included), and the LM head's."""
    layers = [_layer(c, i, batch, batch * 2 * c.heads * c.attended(i, context) * c.head_dim)
              for i in range(c.layers)]
    return layers, batch * c.hidden * c.vocab


def total(layers: list[LayerMacs], head: int) -> int:
    return sum(x.total for x in layers) + head
