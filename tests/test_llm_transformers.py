"""archstat llm's analytic counts against transformers' models on the meta device (skipped without
transformers): parameters sum(p.numel()), and MACs = FlopCounterMode / 2 of a prefill and of a one-token decode
step over its cache, for a small config of every family (the same code paths as the zoo's full-size configs,
which benchmarks/llm/crosscheck.py checks: crosscheck.md). Windows are set below the prompt so that the decode
step attends within them."""

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archstat.llm import config, count  # noqa: E402

SMALL = {
    "gpt2": {"model_type": "gpt2", "vocab_size": 101, "n_positions": 64, "n_embd": 32, "n_layer": 2, "n_head": 4},
    "gptj": {"model_type": "gptj", "vocab_size": 101, "n_positions": 64, "n_embd": 32, "n_layer": 2, "n_head": 4,
             "rotary_dim": 4},
    "llama": {"model_type": "llama", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
              "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2},
    "mistral": {"model_type": "mistral", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
                "num_attention_heads": 4, "num_key_value_heads": 1, "num_hidden_layers": 2, "sliding_window": 6},
    "mixtral": {"model_type": "mixtral", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
                "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "num_local_experts": 4,
                "num_experts_per_tok": 2},
    "qwen2": {"model_type": "qwen2", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
              "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2},
    "qwen3_moe": {"model_type": "qwen3_moe", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
                  "moe_intermediate_size": 16, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                  "num_hidden_layers": 2, "num_experts": 8, "num_experts_per_tok": 2},
    "gemma2": {"model_type": "gemma2", "vocab_size": 101, "hidden_size": 32, "intermediate_size": 48,
               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 2,
               "sliding_window": 6, "query_pre_attn_scalar": 16},
}


def build(fields: dict):
    fields = dict(fields)
    cfg = transformers.AutoConfig.for_model(fields.pop("model_type"), **fields)
    attn = "eager" if cfg.model_type == "gemma2" else "sdpa"
    with torch.device("meta"):
        try:
            return transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=attn,
                                                                 experts_implementation="batched_mm")
        except (TypeError, ValueError):
            return transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=attn)


@pytest.mark.parametrize("family", sorted(SMALL))
def test_counts_equal_transformers_on_the_meta_device(family):
    fields = SMALL[family]
    c = config.load(fields, name=family)
    model = build(fields)
    assert sum(p.numel() for p in model.parameters()) == count.params(c).total
    prompt = 10
    ids = torch.zeros(1, prompt, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as fc:
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    layers, head = count.prefill_macs(c, prompt)
    assert fc.get_total_flops() // 2 == count.total(layers, head)
    with FlopCounterMode(display=False) as fc:
        model(input_ids=torch.zeros(1, 1, dtype=torch.long, device="meta"), past_key_values=out.past_key_values,
              use_cache=True)
    layers, head = count.decode_macs(c, prompt + 1)
    assert fc.get_total_flops() // 2 == count.total(layers, head)


def test_a_transformers_model_by_module_target(tmp_path, monkeypatch):
    """module:PKG.MOD:FACTORY builds the model (on the meta device) and reads its .config."""
    import archstat

    (tmp_path / "tinyllm.py").write_text(
        "import transformers\n\n\ndef make():\n"
        f"    cfg = transformers.AutoConfig.for_model(**{SMALL['llama']!r})\n"
        "    return transformers.AutoModelForCausalLM.from_config(cfg)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    r = archstat.llm("module:tinyllm:make", device="h100")
    assert r.params_total == count.params(config.load(SMALL["llama"])).total
    assert r.family == "llama" and r.model == "tinyllm:make"
