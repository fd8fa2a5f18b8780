"""A decoder language model's architecture from its Hugging Face ``config.json``, without torch.

:func:`load` takes a zoo name (``llama-3.1-8b``: a JSON file under ``archstat/llm/configs/`` holding the fields
of the model's ``config.json`` and the address it was copied from), a path to a ``config.json``, or a
mapping of its fields. Families read: gpt2, gptj, llama, mistral, mixtral, qwen2, qwen3, qwen3_moe, qwen2_moe
and gemma2 (``model_type``). Everything the counts, the memory and the operator calls need is put in one
:class:`LLMConfig` (hidden size, heads, KV heads, head dim, MLP kind, experts, biases, norms, sliding windows),
each field read from the key that family names it by. A missing or malformed key is one line naming the
file and the key (with a did-you-mean for a misspelt one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from archstat.errors import ConfigError, UnknownNameError, did_you_mean

__all__ = ["FAMILIES", "LLMConfig", "load", "zoo_names"]

# model_type → (what it is, the keys it may hold beyond the common ones)
FAMILIES = {
    "gpt2": "GPT-2: learned positions, LayerNorm, fused QKV with biases, GELU MLP, tied LM head",
    "gptj": "GPT-J: rotary (partial), one LayerNorm per block, attention and MLP in parallel, LM head with a bias",
    "llama": "Llama: RMSNorm, rotary, grouped-query attention, SwiGLU MLP",
    "mistral": "Mistral: Llama with a sliding attention window",
    "mixtral": "Mixtral: Mistral with a top-k mixture of SwiGLU experts",
    "qwen2": "Qwen2: Llama with Q, K and V biases",
    "qwen2_moe": "Qwen2-MoE: Qwen2 with routed experts and a gated shared expert",
    "qwen3": "Qwen3: Llama with RMSNorm on each head's queries and keys",
    "qwen3_moe": "Qwen3-MoE: Qwen3 with routed experts",
    "gemma2": "Gemma 2: four RMSNorms per block, GeGLU MLP, alternating sliding and global attention, tied head",
}


@dataclass(frozen=True)
class LLMConfig:
    """One decoder model's architecture: every count, memory figure and operator call is a function of it."""

    name: str
    family: str                          # model_type
    source: str                          # where the fields come from (a URL, a path)
    vocab: int
    hidden: int                          # d
    layers: int
    heads: int                           # query heads H
    kv_heads: int                        # KV heads (H: MHA; 1: MQA; between: GQA)
    head_dim: int
    intermediate: int                    # the dense MLP's width I
    gated: bool                          # gate·up (SwiGLU/GeGLU: three matrices) or up (two)
    activation: str
    norm: str                            # "rms" or "layer" (LayerNorm: weight and bias)
    norms_per_layer: int                 # 2 (pre-attention, pre-MLP); 1 (GPT-J); 4 (Gemma 2)
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    qk_norm: bool                        # RMSNorm over each head's queries and keys (Qwen3)
    tied: bool                           # the LM head is the embedding's matrix
    lm_head_bias: bool
    learned_positions: int               # rows of a learned position table (GPT-2), 0 with rotary
    rotary_dim: int                      # channels of each head rotated (0: no rotary)
    parallel_block: bool                 # attention and MLP read the same normalised input (GPT-J)
    experts: int = 0                     # routed experts per MoE layer (0: dense)
    top_k: int = 0                       # experts each token is routed to
    expert_intermediate: int = 0         # each routed expert's width
    shared_intermediate: int = 0         # a shared expert's width (0: none)
    shared_gate: bool = False            # a sigmoid gate on the shared expert's output (Qwen2-MoE)
    moe_layers: tuple[bool, ...] = ()    # per layer: MoE (True) or dense MLP
    window: int = 0                      # the sliding attention window (0: none)
    window_layers: tuple[bool, ...] = () # per layer: whether it attends within the window
    max_context: int = 0                 # max_position_embeddings
    dtype: str = ""                      # torch_dtype of the published weights

    @property
    def moe(self) -> bool:
        return self.experts > 0

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def is_moe(self, layer: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[layer]

    def windowed(self, layer: int) -> bool:
        return bool(self.window) and bool(self.window_layers) and self.window_layers[layer]

    def attended(self, layer: int, context: int) -> int:
        """Keys a query at ``context`` (itself included) attends to in ``layer``: the window caps it."""
        return min(context, self.window) if self.windowed(layer) else context

    def summary(self) -> str:
        attn = ("MHA" if self.kv_heads == self.heads else "MQA" if self.kv_heads == 1
                else f"GQA {self.heads}/{self.kv_heads}")
        moe = f", {self.experts} experts top-{self.top_k}" if self.moe else ""
        win = f", window {self.window}" if self.window else ""
        return (f"{self.family}: {self.layers} layers, d {self.hidden}, {attn} × {self.head_dim}, "
                f"MLP {self.expert_intermediate if self.moe else self.intermediate}{moe}{win}, vocab {self.vocab}")


# -- the zoo --------------------------------------------------------------------------------------------

def _zoo_dir():
    return resources.files("archstat.llm") / "configs"


@cache
def zoo_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _zoo_dir().iterdir() if p.name.endswith(".json")))


def zoo_entry(name: str) -> dict:
    """The zoo file of ``name``: {"name", "source": {"model_card", "config", "note"}, "config": {…}}."""
    return json.loads((_zoo_dir() / f"{name}.json").read_text(encoding="utf-8"))


def looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith(".json") or text.startswith(".") or os.path.exists(text)


def load(model: str | Path | Mapping[str, Any], *, name: Optional[str] = None) -> LLMConfig:
    """A zoo name, a path to a ``config.json`` or the config's fields → its :class:`LLMConfig`."""
    if isinstance(model, Mapping):
        return parse(dict(model), name or str(model.get("_name_or_path") or model.get("model_type") or "config"),
                     "the mapping given")
    if not isinstance(model, (str, Path)):
        raise ConfigError(f"expected a model name, a config.json path or a mapping, got {type(model).__name__}")
    text = str(model)
    if not text:
        raise ConfigError("empty model name")
    if isinstance(model, Path) or looks_like_path(text):
        return _from_file(Path(text), name)
    if text in zoo_names():
        entry = zoo_entry(text)
        return parse(entry["config"], text, entry["source"]["config"])
    raise UnknownNameError("language model", text, zoo_names(),
                           hint_extra=" (a path to a config.json must end in .json or contain '/'; "
                                      "module:PKG.MOD:FACTORY for any other model)")


def _from_file(path: Path, name: Optional[str]) -> LLMConfig:
    shown = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{shown}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{shown}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and "source" in data:
        data = data["config"]     # a zoo-style file: {"source": …, "config": {…}}
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a JSON object (a config.json), got {type(data).__name__}")
    stem = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return parse(data, name or stem, shown)


# -- reading one config ---------------------------------------------------------------------------------

class _Reader:
    """Typed access to a config's keys; a wrong one is one line naming the file and the key."""

    def __init__(self, data: dict, where: str):
        self.data, self.where = data, where

    def fail(self, key: str, message: str, hint: Optional[str] = None) -> ConfigError:
        return ConfigError(message, path=f"{self.where}: {key}", hint=hint)

    def integer(self, key: str, default: Optional[int] = None, *, low: int = 1,
                aliases: tuple[str, ...] = ()) -> int:
        for k in (key, *aliases):
            if k in self.data and self.data[k] is not None:
                key = k
                break
        else:
            if default is not None:
                return default
            guess = did_you_mean(key, [k for k in self.data if isinstance(k, str)])
            raise self.fail(key, "missing (the config must give it)",
                            hint=f"did you mean '{guess}'?" if guess else None)
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.fail(key, f"expected an integer, got {type(value).__name__} {value!r}")
        if value < low:
            raise self.fail(key, f"expected an integer ≥ {low}, got {value}")
        return value

    def opt_int(self, key: str) -> int:
        """An integer or null/absent (0)."""
        return self.integer(key, 0, low=0) if self.data.get(key) is not None else 0

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {type(value).__name__} {value!r}")
        return value

    def text(self, key: str, default: str, *aliases: str) -> str:
        for k in (key, *aliases):
            value = self.data.get(k)
            if value is not None:
                if not isinstance(value, str):
                    raise self.fail(k, f"expected a string, got {type(value).__name__} {value!r}")
                return value
        return default

    def int_list(self, key: str) -> list[int]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.fail(key, f"expected a list of layer indices, got {value!r}")
        return value


def parse(data: dict, name: str, source: str) -> LLMConfig:
    """The :class:`LLMConfig` of a config's fields (``source``: where they come from, for messages)."""
    r = _Reader(data, source)
    family = data.get("model_type")
    if family is None:
        raise r.fail("model_type", f"missing (one of {', '.join(FAMILIES)}; module:PKG.MOD:FACTORY for any "
                                   "other model)")
    if not isinstance(family, str) or family not in FAMILIES:
        guess = did_you_mean(str(family), FAMILIES)
        raise r.fail("model_type", f"unknown family '{family}'" + ("" if guess else
                     f" (archstat reads {', '.join(FAMILIES)}; module:PKG.MOD:FACTORY for any other model)"),
                     hint=f"did you mean '{guess}'?" if guess else None)
    if family in ("gpt2", "gptj"):
        return _gpt(r, family, name, source)
    return _llama_like(r, family, name, source)


def _gpt(r: _Reader, family: str, name: str, source: str) -> LLMConfig:
    d = r.integer("n_embd", aliases=("hidden_size",))
    layers = r.integer("n_layer", aliases=("num_hidden_layers",))
    heads = r.integer("n_head", aliases=("num_attention_heads",))
    if d % heads:
        raise r.fail("n_head", f"{heads} heads do not divide the hidden size {d}")
    inner = r.opt_int("n_inner") or 4 * d
    vocab = r.integer("vocab_size")
    positions = r.integer("n_positions", aliases=("max_position_embeddings",))
    gptj = family == "gptj"
    head_dim = d // heads
    rotary = r.opt_int("rotary_dim") if gptj else 0
    if rotary > head_dim:
        raise r.fail("rotary_dim", f"{rotary} is more than a head's {head_dim} channels")
    return LLMConfig(
        name=name, family=family, source=source, vocab=vocab, hidden=d, layers=layers, heads=heads, kv_heads=heads,
        head_dim=head_dim, intermediate=inner, gated=False, activation=r.text("activation_function", "gelu_new"),
        norm="layer", norms_per_layer=1 if gptj else 2, qkv_bias=not gptj, o_bias=not gptj, mlp_bias=True,
        qk_norm=False, tied=r.flag("tie_word_embeddings", not gptj), lm_head_bias=gptj,
        learned_positions=0 if gptj else positions, rotary_dim=rotary, parallel_block=gptj, max_context=positions,
        dtype=r.text("torch_dtype", "", "dtype"))


def _llama_like(r: _Reader, family: str, name: str, source: str) -> LLMConfig:
    d = r.integer("hidden_size")
    layers = r.integer("num_hidden_layers")
    heads = r.integer("num_attention_heads")
    kv = r.integer("num_key_value_heads", heads)
    if heads % kv:
        raise r.fail("num_key_value_heads", f"{kv} KV heads do not divide the {heads} query heads")
    head_dim = r.integer("head_dim", 0, low=0) or (d // heads)
    if not r.data.get("head_dim") and d % heads:
        raise r.fail("num_attention_heads", f"{heads} heads do not divide the hidden size {d} (and no head_dim)")
    inter = r.integer("intermediate_size")
    gemma = family == "gemma2"
    qwen2 = family in ("qwen2", "qwen2_moe")
    attention_bias = r.flag("attention_bias", False)
    experts = top_k = expert_inter = shared = 0
    shared_gate = False
    moe_layers: tuple[bool, ...] = ()
    if family == "mixtral":
        experts = r.integer("num_local_experts")
        top_k = r.integer("num_experts_per_tok")
        expert_inter = inter
        moe_layers = (True,) * layers
    elif family in ("qwen3_moe", "qwen2_moe"):
        experts = r.integer("num_experts")
        top_k = r.integer("num_experts_per_tok")
        expert_inter = r.integer("moe_intermediate_size")
        step = r.integer("decoder_sparse_step", 1)
        dense = set(r.int_list("mlp_only_layers"))
        moe_layers = tuple(i not in dense and (i + 1) % step == 0 for i in range(layers))
        if family == "qwen2_moe":
            shared = r.opt_int("shared_expert_intermediate_size")
            shared_gate = shared > 0
    if experts and top_k > experts:
        raise r.fail("num_experts_per_tok", f"{top_k} experts per token of {experts}")
    window, window_layers = _windows(r, family, layers)
    return LLMConfig(
        name=name, family=family, source=source, vocab=r.integer("vocab_size"), hidden=d, layers=layers, heads=heads,
        kv_heads=kv, head_dim=head_dim, intermediate=inter, gated=True,
        activation=r.text("hidden_activation", "silu", "hidden_act") if gemma else r.text("hidden_act", "silu"),
        norm="rms", norms_per_layer=4 if gemma else 2, qkv_bias=qwen2 or attention_bias, o_bias=attention_bias,
        mlp_bias=r.flag("mlp_bias", False), qk_norm=family in ("qwen3", "qwen3_moe"),
        tied=r.flag("tie_word_embeddings", gemma), lm_head_bias=False, learned_positions=0, rotary_dim=head_dim,
        parallel_block=False, experts=experts, top_k=top_k, expert_intermediate=expert_inter,
        shared_intermediate=shared, shared_gate=shared_gate, moe_layers=moe_layers, window=window,
        window_layers=window_layers, max_context=r.integer("max_position_embeddings", 0, low=0),
        dtype=r.text("torch_dtype", "", "dtype"))


def _windows(r: _Reader, family: str, layers: int) -> tuple[int, tuple[bool, ...]]:
    """The sliding window and the layers that use it, as transformers builds each family."""
    window = r.opt_int("sliding_window")
    if not window:
        return 0, ()
    if family == "gemma2":        # even layers slide, odd layers attend globally
        return window, tuple(i % 2 == 0 for i in range(layers))
    if family in ("mistral", "mixtral"):
        return window, (True,) * layers
    if family.startswith("qwen"):  # only with use_sliding_window, and from max_window_layers on
        if not r.flag("use_sliding_window", False):
            return 0, ()
        first = r.integer("max_window_layers", layers, low=0)
        return window, tuple(i >= first for i in range(layers))
    return 0, ()
