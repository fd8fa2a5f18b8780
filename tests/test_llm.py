"""archstat llm's arithmetic (no torch): the zoo's configs, parameters, KV cache, MACs, the operator calls,
memory per GPU and the serving estimate's rules. Numbers are pinned with their arithmetic; the counts are also
checked against transformers on the meta device (tests/test_llm_transformers.py, benchmarks/llm/crosscheck.md)."""

import json

import pytest

from archstat.dtypes import KV_FORMATS, WEIGHT_FORMATS, quant_format
from archstat.errors import ConfigError, UnknownNameError, UsageError
from archstat.llm import config, count, memory, program
from archstat.llm.estimate import estimate
from archstat.llm.program import Run

ZOO = ("gemma-2-9b", "gpt-j-6b", "gpt2", "llama-2-13b", "llama-2-70b", "llama-2-7b", "llama-3.1-405b", "llama-3.1-70b",
       "llama-3.1-8b", "llama-3.3-70b", "mistral-7b", "mixtral-8x22b", "mixtral-8x7b", "qwen2.5-7b", "qwen3-235b-a22b",
       "qwen3-30b-a3b")
BF16 = Run(WEIGHT_FORMATS["bf16"], KV_FORMATS["bf16"])


def test_the_zoo_has_every_config_with_its_source():
    assert config.zoo_names() == tuple(sorted(ZOO))
    for name in ZOO:
        entry = config.zoo_entry(name)
        assert entry["source"]["config"].startswith("https://huggingface.co/") and entry["source"]["config"].endswith(
            "/config.json")
        assert config.load(name).name == name


def test_llama_3_1_8b_parameters():
    p = count.params(config.load("llama-3.1-8b"))
    # per layer: Q 4096·4096 + K, V 2·4096·1024 + O 4096·4096 = 41,943,040; MLP 3·4096·14336 = 176,160,768;
    # two RMSNorms 8,192 → 218,112,000 × 32 layers; embedding and LM head 128256·4096 = 525,336,576 each; final norm
    assert p.total == 8_030_261_248 == 32 * 218_112_000 + 2 * 525_336_576 + 4096
    assert p.active == p.total


@pytest.mark.parametrize("name, total, active", [
    # 32 layers × (41,943,040 attention + 8 experts × 176,160,768 + router 4096·8 + norms 8,192) + 2·32000·4096 + 4096;
    # active: 6 of the 8 experts idle in each of the 32 layers
    ("mixtral-8x7b", 46_702_792_704, 46_702_792_704 - 6 * 176_160_768 * 32),
    # 48 layers × (attention 18,874,624 incl. Q/K norms 2·128 + 128 experts × 3·2048·768 + router 2048·128 + 4,096)
    # + 2·151936·2048 + 2048; active: 120 idle experts of 4,718,592 in each layer
    ("qwen3-30b-a3b", 48 * (18_874_624 + 128 * 4_718_592 + 262_144 + 4_096) + 2 * 151_936 * 2048 + 2048,
     30_532_122_624 - 120 * 4_718_592 * 48),
    # gemma 2: 42 × (Q 3584·4096 + K, V 2·3584·2048 + O 4096·3584 = 3·3584·4096, MLP 3·3584·14336, four norms
    # 4·3584) + the tied embedding 256000·3584 + the final norm
    ("gemma-2-9b", 42 * (3 * 3584 * 4096 + 3 * 3584 * 14336 + 4 * 3584) + 256_000 * 3584 + 3584, None),
    # GPT-2: 12 × (c_attn 768·2304 + 2304, c_proj 768·768 + 768, MLP 768·3072 + 3072 + 3072·768 + 768, 2 LN 4·768)
    # + wte 50257·768 + wpe 1024·768 + ln_f 2·768 (the head is tied)
    ("gpt2", 12 * (768 * 2304 + 2304 + 768 * 768 + 768 + 2 * 768 * 3072 + 3072 + 768 + 4 * 768) + 50257 * 768
     + 1024 * 768 + 2 * 768, None),
])
def test_parameters_with_their_arithmetic(name, total, active):
    p = count.params(config.load(name))
    assert p.total == total
    assert p.active == (total if active is None else active)


def test_kv_bytes_per_token():
    c = config.load("llama-3.1-8b")
    assert count.kv_bytes_per_token(c, 2) == 2 * 32 * 8 * 128 * 2 == 131_072   # K and V × layers × KV heads × dim × B
    assert memory.kv_bytes_per_token(c, BF16) == 131_072
    fp8 = Run(WEIGHT_FORMATS["bf16"], KV_FORMATS["fp8"])
    assert memory.kv_bytes_per_token(c, fp8) == 65_536
    # GQA under TP 2: four of the eight KV heads per GPU
    assert memory.kv_bytes_per_token(c, Run(WEIGHT_FORMATS["bf16"], KV_FORMATS["bf16"], tp=2)) == 65_536
    # MQA-like sharding: TP 16 over 8 KV heads replicates one KV head per GPU
    c70 = config.load("llama-3.1-405b")
    assert memory.kv_bytes_per_token(c70, Run(WEIGHT_FORMATS["bf16"], KV_FORMATS["bf16"], tp=16)) == 2 * 126 * 128 * 2


def test_sliding_windows_cap_the_cache():
    m = config.load("mistral-7b")          # every layer slides over 4,096 tokens
    per = 2 * 8 * 128 * 2                  # one token of one layer: K and V, 8 KV heads × 128, bf16
    assert memory.kv_bytes(m, BF16, 1000) == 32 * 1000 * per
    assert memory.kv_bytes(m, BF16, 8192) == 32 * 4096 * per
    g = config.load("gemma-2-9b")          # 21 sliding layers (window 4,096) and 21 global ones
    per = 2 * 8 * 256 * 2
    assert memory.kv_bytes(g, BF16, 8192) == (21 * 4096 + 21 * 8192) * per
    assert g.window_layers[:4] == (True, False, True, False)
    # paged: whole blocks of 64 tokens
    assert memory.kv_bytes(config.load("llama-3.1-8b"), BF16, 100, block=64) == 128 * 131_072


def test_decode_macs_with_their_arithmetic():
    c = config.load("llama-3.1-8b")
    layers, head = count.decode_macs(c, 17)
    # per layer: projections 41,943,040 + attention 2·32 heads·17 keys·128 + MLP 176,160,768; the head 4096·128256
    # (FlopCounterMode / 2 of transformers' one-token forward over a 16-token cache gives the same: crosscheck.md)
    assert count.total(layers, head) == 32 * (41_943_040 + 2 * 32 * 17 * 128 + 176_160_768) + 525_336_576 \
        == 7_509_114_880
    mx = config.load("mixtral-8x7b")
    layers, head = count.decode_macs(mx, 1)
    # the router 4096·8 and two experts 2·3·4096·14336 per token
    assert layers[0].mlp == 4096 * 8 + 2 * 3 * 4096 * 14336


def test_prefill_counts_the_lm_head_on_the_last_token_only():
    c = config.load("llama-3.1-8b")
    _, head = count.prefill_macs(c, 1000, batch=3)
    assert head == 3 * 4096 * 128_256


@pytest.mark.parametrize("name", ZOO)
def test_the_operator_calls_count_what_the_formulas_count(name):
    c = config.load(name)
    sample = program.sample_layers(c)
    for phase, calls, (layers, head) in (
            ("decode", program.decode_calls(c, BF16, batch=3, context=5000, layers=sample),
             count.decode_macs(c, 5000, batch=3)),
            ("prefill", program.prefill_calls(c, BF16, batch=2, prompt=64, layers=sample),
             count.prefill_macs(c, 64, batch=2))):
        by_layer: dict = {}
        for k in calls:
            key = ".".join(k.row.split(".")[:2]) if k.row.startswith("layers.") else k.row
            by_layer[key] = by_layer.get(key, 0) + k.macs
        for i in sample:
            assert by_layer[f"layers.{i}"] == layers[i].total, (phase, i)
        assert by_layer["lm_head"] == head and by_layer["embed"] == 0


@pytest.mark.parametrize("fmt", ["fp8", "int8", "int4", "fp4"])
def test_quantized_calls_keep_the_macs_and_read_the_packed_weights(fmt):
    c = config.load("mixtral-8x7b")
    run = Run(WEIGHT_FORMATS[fmt], KV_FORMATS["fp8"])
    calls = program.decode_calls(c, run, batch=4, context=100, layers=[0])
    layers, head = count.decode_macs(c, 100, batch=4)
    assert sum(k.macs for k in calls) == layers[0].total + head
    f = WEIGHT_FORMATS[fmt]
    o = next(k for k in calls if k.row == "layers.0.attention" and k.outputs and k.outputs[0].shape == (4, 4096)
             and k.macs)
    weights = sum(t.nbytes for t in o.inputs if t.role == "param")
    assert weights == f.nbytes(4096, 4096)   # the O projection: 4096 × 4096 at the format, its group scales included


def test_quantized_formats_bytes():
    # int4: 4096·4096 / 2 bytes + one fp16 scale and zero (4 bytes) per 128 weights of each of 4096 rows
    assert quant_format("int4").nbytes(4096, 4096) == 4096 * 4096 // 2 + 4096 * 32 * 4 == 8_912_896
    # NVFP4: half a byte each + an e4m3 scale per 16 weights
    assert quant_format("fp4").nbytes(4096, 4096) == 4096 * 4096 // 2 + 4096 * 256 == 9_437_184
    assert quant_format("fp4").bytes_per_element == 0.5625
    assert quant_format("fp8").nbytes(10, 10) == 100
    with pytest.raises(UnknownNameError, match="did you mean 'fp8'"):
        quant_format("fp9")


def test_weights_per_gpu():
    c = config.load("llama-3.1-8b")
    assert memory.weight_bytes(c, BF16) == 2 * 8_030_261_248
    # TP 2: the blocks' matrices and the LM head halved; the embedding and the norms whole on each GPU
    tp2 = Run(WEIGHT_FORMATS["bf16"], KV_FORMATS["bf16"], tp=2)
    blocks = 32 * (41_943_040 + 176_160_768) // 2
    assert memory.weight_bytes(c, tp2) == 2 * (blocks + 32 * 8192 + 4096 + 525_336_576 + 525_336_576 // 2)


def test_touched_experts():
    assert program.touched_experts(8, 2, 1) == 2
    assert program.touched_experts(8, 2, 4) == 6           # 8 · (1 − 0.75⁴) = 5.47, rounded up
    assert program.touched_experts(128, 8, 1000) == 128
    assert program.touched_experts(0, 0, 5) == 0


def test_tensor_parallelism_must_divide_the_heads():
    c = config.load("llama-3.1-8b")
    with pytest.raises(ValueError, match="--tp 3 does not divide the 32 attention heads"):
        program.shards(c, 3)
    assert program.shards(c, 16).kv_heads == 1          # 8 KV heads over 16 GPUs: one each, replicated


@pytest.mark.parametrize("content, message", [
    ({"model_type": "llama", "hiden_size": 8}, "hidden_size: missing (the config must give it) (did you mean 'hiden_size'?)"),
    ({"model_type": "lama"}, "model_type: unknown family 'lama' (did you mean 'llama'?)"),
    ({"hidden_size": 8}, "model_type: missing"),
    ({"model_type": "llama", "hidden_size": "8"}, "hidden_size: expected an integer, got str '8'"),
    ({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 8,
      "num_key_value_heads": 3}, "num_key_value_heads: 3 KV heads do not divide the 8 query heads"),
])
def test_a_bad_config_is_one_line_naming_the_file_and_the_key(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as exc:
        config.load(str(path))
    text = exc.value.format()
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match=r"config.json:1:2: not JSON"):
        config.load(str(path))
    with pytest.raises(ConfigError, match="no such file"):
        config.load(str(tmp_path / "missing.json"))


def test_an_unknown_name_suggests_one():
    with pytest.raises(UnknownNameError, match=r"did you mean 'llama-3\.1-8b'"):
        config.load("llama-3.1-8")


def test_a_config_by_path_reads_its_family(tmp_path):
    entry = config.zoo_entry("qwen2.5-7b")
    path = tmp_path / "Qwen2.5-7B" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(entry["config"]))
    c = config.load(str(path))
    assert c.name == "Qwen2.5-7B" and c.qkv_bias and c.kv_heads == 4
    assert count.params(c).total == count.params(config.load("qwen2.5-7b")).total


# -- the serving estimate ----------------------------------------------------------------------------------

def test_sampled_layers_predict_what_the_whole_program_does():
    c = config.load("llama-3.1-8b")
    a = estimate(c, "h100", batch=8, input_len=256, output_len=64)
    b = estimate(c, "h100", batch=8, input_len=256, output_len=64, sample=False)
    # an engine's time is additive over its kernels: the same up to rounding
    assert a.tpot_s == pytest.approx(b.tpot_s, rel=1e-9) and a.ttft_s == pytest.approx(b.ttft_s, rel=1e-3)
    assert (a.decode.read_bytes, a.decode.macs, a.decode.kernels) == (b.decode.read_bytes, b.decode.macs,
                                                                       b.decode.kernels)
    g = config.load("gemma-2-9b")
    a = estimate(g, "a100", batch=2, input_len=128, output_len=16, runtime="eager")
    b = estimate(g, "a100", batch=2, input_len=128, output_len=16, runtime="eager", sample=False)
    assert a.tpot_s == pytest.approx(b.tpot_s, rel=0.01)


def test_decode_is_memory_bound_at_batch_1_and_compute_bound_at_a_large_batch():
    c = config.load("llama-3.1-8b")
    small = estimate(c, "h100", batch=1, input_len=128, output_len=16)
    large = estimate(c, "h100", batch=2048, input_len=64, output_len=2, dtype="fp8")
    assert small.decode.bound == "memory" and large.decode.bound == "compute"
    # batch 1 reads every weight once (the embedding's one row aside): 16.06 GB less 128256 − 1 rows of the table
    assert small.decode.weight_bytes == 2 * 8_030_261_248 - 2 * (128_256 - 1) * 4096


def test_static_and_inflight_serving():
    c = config.load("llama-3.1-8b")
    r = estimate(c, "h100", max_batch=True, input_len=1024, output_len=256)
    assert r.batch == r.max_batch > 1 and r.memory.fits
    assert r.request_latency_s == pytest.approx(r.ttft_s + 255 * r.tpot_s)
    assert r.throughput == pytest.approx(r.batch * 256 / r.request_latency_s)
    flight = estimate(c, "h100", serving="inflight", input_len=1024, output_len=256)
    assert flight.batch == flight.max_batch
    # one more sequence than max_batch would not fit in the KV budget
    assert flight.memory.kv + memory.kv_bytes(c, BF16, 1280, 1, block=64) > memory.KV_FRACTION * (
        flight.memory.capacity - flight.memory.weights - flight.memory.workspace - flight.memory.activations)


def test_tensor_parallel_adds_the_collectives():
    c = config.load("llama-3.1-70b")
    r = estimate(c, "h100", tp=2, batch=4, input_len=128, output_len=8, dtype="fp8")
    assert r.decode.comm_s > 0 and "nvlink 450 GB/s each way" in (r.link or "")
    assert r.gpus == 2 and r.throughput_per_gpu == pytest.approx(r.throughput / 2)


def test_a_model_that_does_not_fit_says_so():
    r = estimate(config.load("llama-3.1-70b"), "h100", input_len=128, output_len=8)
    assert r.max_batch == 0 and not r.fits
    assert any("does not fit" in w for w in r.warnings)


@pytest.mark.parametrize("kw, message", [
    (dict(device="a100", dtype="fp8"), "--dtype fp8: NVIDIA A100 SXM4 80GB has no fp8 tensor cores"),
    (dict(device="h100", dtype="fp4"), "--dtype fp4: NVIDIA H100 SXM5 80GB has no fp4 tensor cores"),
    (dict(device="h100", tp=3), "--tp 3 does not divide the 32 attention heads of llama-3.1-8b"),
    (dict(device="i9-10940x"), "archstat llm predicts serving on GPUs"),
])
def test_refusals_are_one_line(kw, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        estimate(config.load("llama-3.1-8b"), **kw)


def test_fp4_on_blackwell():
    c = config.load("llama-3.1-8b")
    r = estimate(c, "b200", dtype="fp4", batch=64)
    assert r.dtype == "fp4" and r.kv_dtype == "fp8"
    assert r.memory.weights < memory.weight_bytes(c, BF16) / 2
    # a prompt of 4,096 tokens is compute-bound: fp4's products run at the part's fp4 peak, twice fp8's
    # (with an L2 and a power limit that never bind: what those do is the cost model's, tests/test_perf.py)
    import copy

    from archstat.perf.predict import coefficients

    free = copy.deepcopy(coefficients())
    for values in free["sets"].values():
        values.update(l2_bytes_per_clock=1e6, static_share=0.0, busy_power_w=0.0, energy_tensor_pj=1e-6)
    fp4 = estimate(c, "b200", dtype="fp4", input_len=4096, output_len=1, coefficients=free)
    fp8 = estimate(c, "b200", dtype="fp8", input_len=4096, output_len=1, coefficients=free)
    assert fp4.prefill.bound == "compute" and fp4.ttft_s < 0.75 * fp8.ttft_s


def test_low_precision_products_run_at_their_peak():
    from archstat.llm.estimate import spec_for
    from archstat.perf.predict import predict

    c = config.load("llama-3.1-8b")
    for fmt in ("fp8", "fp4"):
        run = Run(WEIGHT_FORMATS[fmt], KV_FORMATS["fp8"])
        calls = program.prefill_calls(c, run, batch=1, prompt=256, layers=[0])
        spec = spec_for(__import__("archstat.analyze.devices", fromlist=["lookup"]).lookup("b200"),
                        WEIGHT_FORMATS[fmt], "bfloat16")
        p = predict(calls, spec, batch=1, runtime="engine", dtype="bf16")
        maths = {k.math for k in p.plan.kernels if k.ops and k.ops[0] == "_scaled_mm"}
        assert maths == {"int8"}        # the plan's one-byte math, at the peak spec_for put there
        assert spec.peak("int8") == spec.peak(fmt)


def test_the_link_is_read_from_the_device_entry():
    from types import SimpleNamespace

    from archstat.llm import comm

    nv = comm.link_of(SimpleNamespace(key="x", nvlink_gb_s=900))
    assert (nv.kind, nv.bytes_per_s) == ("nvlink", 450e9)          # 900 GB/s both ways: 450 each way
    pcie = comm.link_of(SimpleNamespace(key="x", nvlink_gb_s=None,
                                        host_link={"kind": "pcie", "gen": 5, "lanes": 16, "gb_s": 64}))
    assert (pcie.kind, pcie.bytes_per_s) == ("pcie", 64e9)
    assert comm.link_of(SimpleNamespace(key="no-such-part")) is None
    c2c = SimpleNamespace(key="x", nvlink_gb_s=None, host_link={"kind": "nvlink-c2c", "gb_s": 450})
    assert comm.link_of(c2c) is None                  # a Grace CPU's link: not one between GPUs
    from archstat.analyze.devices import devices

    assert comm.link_of(devices()["gh200"]).bytes_per_s == 450e9    # its 900 GB/s NVLink, half each way
    # a ring all-reduce of 1 MB over 2 GPUs sends and receives (2 − 1)/2 · 2 · 1 MB each way
    assert comm.all_reduce_s(1e6, 2, nv) == pytest.approx(1e6 / 450e9 + 8e-6)
    assert comm.all_reduce_s(1e6, 1, nv) == 0.0


def test_any_other_module_is_traced():
    """A decoder without a config archstat reads: its prefill and a one-token forward traced on the meta
    device; the KV cache and the largest batch are unknown (null), and the result says so."""
    torch = pytest.importorskip("torch")
    import archstat

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(100, 16)
            self.mlp = torch.nn.Linear(16, 16)
            self.head = torch.nn.Linear(16, 100, bias=False)

        def forward(self, ids):
            return self.head(torch.relu(self.mlp(self.embed(ids))))

    r = archstat.llm(Tiny(), device="h100", input_len=8, output_len=4)
    assert r.params_total == 100 * 16 + 16 * 16 + 16 + 16 * 100
    assert r.prefill.macs == 8 * (16 * 16 + 16 * 100) and r.decode.macs == 16 * 16 + 16 * 100
    d = r.to_dict()
    assert d["memory"]["kv_bytes_per_token"] is None and d["max_batch"] is None and not d["memory"]["complete"]
    assert "no KV cache" in r.warnings[0]
    with pytest.raises(UsageError, match="the largest batch is unknown"):
        archstat.llm(Tiny(), device="h100", serving="inflight")
