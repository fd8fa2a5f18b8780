"""archstat llm NAME|CONFIG.json|module:… --device D[,D…]: a decoder language model served on GPUs: memory per
GPU, the largest batch, time to first token, time per output token, throughput."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import UsageError

WEIGHT_HELP = ("The weights' format: bf16 (default; fp16 where the published weights are), fp16, fp8 (W8A8), int8 "
               "(W8A8), int4 (W4A16, group 128) or fp4 (NVFP4 W4A4, group 16).")


@app.command("llm")
def llm_cmd(
    model: str = typer.Argument(..., help="A zoo name (docs/llm.md lists them), a config.json path or "
                                "module:PKG.MOD:FACTORY (a transformers model).",
                                metavar="NAME|CONFIG.json|module:..."),
    device: str = typer.Option("h100", "--device", help="A devices.yaml GPU (archstat devices), or several: "
                               "h100,a100."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help=WEIGHT_HELP),
    kv_dtype: Optional[str] = typer.Option(None, "--kv-dtype", help="The KV cache's format: bf16, fp16, fp8 or "
                                           "int8 (default: the activations', fp8 with fp8 or fp4 weights)."),
    tp: int = typer.Option(1, "--tp", help="Tensor parallelism: the model split over this many GPUs of one node."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Sequences decoded together (static; "
                                        "in-flight: at most this many)."),
    max_batch: bool = typer.Option(False, "--max-batch", help="The batch: the most sequences that fit."),
    input_len: int = typer.Option(1024, "--input-len", help="Prompt tokens per request."),
    output_len: int = typer.Option(256, "--output-len", help="Generated tokens per request."),
    runtime: str = typer.Option("engine", "--runtime", help="engine (TensorRT-LLM, vLLM: fused kernels, CUDA "
                                "graphs, paged KV cache), compile or eager (transformers)."),
    serving: str = typer.Option("static", "--serving", help="static (a fixed batch) or inflight (continuous "
                                "batching under the KV budget)."),
    fmt: options.Format = "table",
    wide: options.Wide = False,
):
    """A decoder language model from its configuration (no weights): parameters, memory per GPU, the largest
    batch that fits, time to first token, time per output token and tokens/s, per phase and per layer."""
    from archstat import api
    from archstat.llm.estimate import RUNTIMES, SERVING
    from archstat.report import llm_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    runtime = options.choice(runtime, RUNTIMES, "--runtime")
    serving = options.choice(serving, SERVING, "--serving")
    if batch is not None:
        options.parse_batch(batch)
        if max_batch:
            raise UsageError("--batch and --max-batch: give one")
    if tp < 1:
        raise UsageError(f"--tp {tp}: at least 1")
    for flag, value in (("--input-len", input_len), ("--output-len", output_len)):
        if value < 1:
            raise UsageError(f"{flag} {value}: at least 1 token")
    names = [d.strip() for d in device.split(",")]
    if not all(names):
        raise UsageError(f"--device '{device}': an empty name in the list")
    result = api.llm(model, device=names if len(names) > 1 else names[0], dtype=dtype, kv_dtype=kv_dtype, tp=tp,
                     batch=batch, max_batch=max_batch, input_len=input_len, output_len=output_len, runtime=runtime,
                     serving=serving)
    results = result if isinstance(result, list) else [result]
    emit(llm_report.render(results, fmt, output.view(None, wide)))
