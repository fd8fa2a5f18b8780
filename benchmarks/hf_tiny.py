"""Hugging Face models built from small configs (no weights, no download), each returning its
example inputs as ``(model, args, kwargs)`` in archstat's input grammar: used by
benchmarks/verify_wide.py and benchmarks/conventions.py (needs ``transformers``)."""

from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
    T5Model,
    ViTMAEConfig,
    ViTMAEModel,
)

SMALL = dict(attn_implementation="sdpa")


def bert():
    cfg = BertConfig(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=256, max_position_embeddings=128, **SMALL)
    return BertModel(cfg), (), {"input_ids": "int64:32", "attention_mask": "int64:32"}


def gpt2():
    cfg = GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4, n_positions=128, use_cache=False, **SMALL)
    return GPT2LMHeadModel(cfg), (), {"input_ids": "int64:32"}


def t5():
    cfg = T5Config(vocab_size=1000, d_model=128, d_kv=32, d_ff=256, num_layers=2, num_heads=4, use_cache=False,
                   **SMALL)
    return T5Model(cfg), (), {"input_ids": "int64:32", "decoder_input_ids": "int64:16"}


def llama():
    cfg = LlamaConfig(vocab_size=1000, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, use_cache=False,
                      **SMALL)
    return LlamaForCausalLM(cfg), (), {"input_ids": "int64:32"}


def vit_mae():
    cfg = ViTMAEConfig(image_size=64, patch_size=8, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=256, mask_ratio=0.75, **SMALL)
    return ViTMAEModel(cfg), ("3x64x64",), {}
