"""archstat llm on the command line and archstat.llm in Python: the formats, the stable JSON keys, one-line
errors (exit 2), several devices, the result object equal to the command's JSON."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

import archstat
from archstat.cli import app
from archstat.errors import ArgumentTypeError, ArgumentValueError
from archstat.llm.result import LLMResult

runner = CliRunner()

KEYS = ["params.total", "params.active", "memory.weights_bytes", "memory.kv_bytes_per_token", "memory.kv_bytes",
        "memory.total_bytes", "max_batch", "ttft_s", "tpot_s", "request_latency_s", "throughput.output_tokens_per_s",
        "throughput.output_tokens_per_s_per_gpu"]


def run(*args, env=None):
    return runner.invoke(app, ["llm", *args], env=env)


def get(d: dict, dotted: str):
    for part in dotted.split("."):
        d = d[part]
    return d


def test_json_has_the_documented_keys():
    r = run("llama-3.1-8b", "--device", "h100", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    for key in KEYS:
        assert isinstance(get(d, key), (int, float)), key
    assert get(d, "params.total") == 8_030_261_248
    assert get(d, "memory.kv_bytes_per_token") == 131_072     # 2 × 32 layers × 8 KV heads × 128 × 2 bytes
    assert get(d, "memory.weights_bytes") == 2 * 8_030_261_248
    assert d["device"] == {"key": "h100", "name": "NVIDIA H100 SXM5 80GB", "gpus": 1, "link": None}
    assert get(d, "throughput.output_tokens_per_s") == pytest.approx(1 * 256 / d["request_latency_s"])


def test_the_python_api_returns_what_the_command_prints():
    result = archstat.llm("mixtral-8x7b", device="h100", tp=2, dtype="fp8", serving="inflight", input_len=512,
                          output_len=128)
    assert isinstance(result, LLMResult)
    r = run("mixtral-8x7b", "--device", "h100", "--tp", "2", "--dtype", "fp8", "--serving", "inflight",
            "--input-len", "512", "--output-len", "128", "--format", "json")
    assert r.exit_code == 0, r.stderr
    printed = json.loads(r.stdout)
    assert json.loads(json.dumps(result.to_dict())) == printed
    assert result.params_active == 12_879_925_248 and result.gpus == 2


def test_the_table_fits_80_columns():
    r = run("gemma-2-9b", "--device", "a100", "--batch", "4", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = r.stdout
    for expected in ("gemma-2-9b on NVIDIA A100 SXM4 80GB (a100)", "params      9,241,705,984", "max batch",
                     "TTFT", "prefill", "decode", "layers 0,2,…,40", "layers 1,3,…,41", "lm_head"):
        assert expected in text, expected


def test_csv_and_markdown():
    r = run("llama-2-7b", "--device", "h100,l40s", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [x["device"] for x in rows] == ["h100", "l40s"]
    for key in KEYS:
        assert key in rows[0]
    md = run("llama-2-7b", "--device", "h100", "--format", "markdown")
    assert md.exit_code == 0 and md.stdout.startswith("## llama-2-7b on h100")
    assert "| prefill |" in md.stdout and "| layers 0–31 | dense | 32 |" in md.stdout


def test_several_devices():
    r = run("llama-3.1-8b", "--device", "h100,a100,l40s", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "h100" in r.stdout and "a100" in r.stdout and "l40s" in r.stdout
    js = run("llama-3.1-8b", "--device", "h100,a100", "--format", "json")
    assert [d["device"]["key"] for d in json.loads(js.stdout)] == ["h100", "a100"]
    assert [x.device for x in archstat.llm("llama-3.1-8b", device=["h100", "a100"])] == ["h100", "a100"]


@pytest.mark.parametrize("args, message", [
    (["llama-3.1-8", "--device", "h100"], "error: unknown language model 'llama-3.1-8' (did you mean 'llama-3.1-8b'?)"),
    (["llama-3.1-8b", "--device", "h10"], "error: --device: unknown device 'h10' (did you mean 'h100'?)"),
    (["llama-3.1-8b", "--dtype", "fp9"], "error: --dtype: unknown dtype 'fp9' (did you mean 'fp8'?)"),
    (["llama-3.1-8b", "--kv-dtype", "int4"], "error: --kv-dtype int4: a weight format; the KV cache is stored in bf16, fp16, fp8, int8"),
    (["llama-3.1-8b", "--kv-dtype", "fp7"], "error: --kv-dtype: unknown dtype 'fp7' (did you mean 'fp8'?)"),
    (["llama-3.1-8b", "--tp", "3"], "error: --tp 3 does not divide the 32 attention heads of llama-3.1-8b"),
    (["llama-3.1-8b", "--device", "a100", "--dtype", "fp8"],
     "error: --dtype fp8: NVIDIA A100 SXM4 80GB has no fp8 tensor cores (use --dtype int8, int4, bf16 or fp16)"),
    (["llama-3.1-8b", "--batch", "4", "--max-batch"], "error: --batch and --max-batch: give one"),
    (["llama-3.1-8b", "--serving", "dynamic"], "error: --serving: unknown value 'dynamic'"),
    (["llama-3.1-8b", "--input-len", "0"], "error: --input-len 0: at least 1 token"),
])
def test_errors_are_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(message), r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_a_bad_config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layer": 2}))
    r = run(str(path))
    assert r.exit_code == 2
    assert r.stderr == (f"error: {path}: num_hidden_layers: missing (the config must give it) "
                        "(did you mean 'num_hidden_layer'?)\n")


def test_api_arguments_are_checked():
    with pytest.raises(ArgumentTypeError, match=r"archstat\.llm: device"):
        archstat.llm("llama-3.1-8b", device=3)
    with pytest.raises(ArgumentValueError, match=r"archstat\.llm: tp"):
        archstat.llm("llama-3.1-8b", tp=0)
    with pytest.raises(ArgumentValueError, match="give batch or max_batch, not both"):
        archstat.llm("llama-3.1-8b", batch=2, max_batch=True)
    assert archstat.llm.config.zoo_names()[0] == "gemma-2-9b"     # the subpackage is still there


def test_the_result_shows_itself():
    r = archstat.llm("gpt2", device="l4")
    assert repr(r).startswith("<LLMResult gpt2 on 1×l4: 124,439,808 params")
    assert "<pre>" in r._repr_html_()
