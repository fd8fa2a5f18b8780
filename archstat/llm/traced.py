"""Any other decoder (``module:PKG.MOD:FACTORY`` or an ``nn.Module`` without a config of a family archstat
reads): its phases traced by archstat's tracer (``trace.analyze.analyze_module``, on the meta device) and
predicted by the same performance model.

- the prefill is the module's forward over ``batch`` prompts of ``input_len`` token ids (``int64``): every
  operator it runs, counted exactly;
- a decode step is its forward over one token per sequence. A plain forward shows the tracer no KV cache, so the
  step's attention over the cached context is missing from it (its MACs and the cache's bytes): a **lower
  bound** of the step, said so in the result's warnings;
- the parameters are the module's own (every one counted once; routing is not seen, so ``params.active`` is
  the total); the weights are stored in the activations' dtype; the KV cache, the activations and so the
  largest batch are not counted (``null`` in JSON): give the model's config.json, or a transformers model, for
  those. Static serving only (in-flight batching needs the KV budget).
"""

from __future__ import annotations

from typing import Any, Optional

from archstat.dtypes import WEIGHT_FORMATS, quant_format
from archstat.errors import UsageError
from archstat.llm.memory import WORKSPACE_BYTES, Memory
from archstat.llm.result import LLMResult, Phase

__all__ = ["estimate_traced"]


def _phase(name: str, calls: list, spec, *, runtime: str, act: str, batch: int, tokens: int, eff: float) -> Phase:
    from archstat.perf.predict import predict

    p = predict(calls, spec, batch=batch, runtime=runtime, dtype="fp16" if act == "float16" else "bf16")
    kernels = [x for x in p.costs if x.kernel.kind != "host"]
    device_s = sum(x.device_s for x in kernels)
    mem_s = sum(x.device_s for x in kernels if x.bound == "memory")
    share = mem_s / device_s if device_s else 0.0
    bound = "host" if p.schedule.host_bound else "memory" if share >= 0.5 else "compute"
    return Phase(name=name, batch=batch, tokens=tokens, context=tokens, macs=sum(k.macs for k in calls),
                 read_bytes=sum(x.kernel.read for x in kernels), written_bytes=sum(x.kernel.written for x in kernels),
                 weight_bytes=sum(x.kernel.weight_read for x in kernels), latency_s=p.latency_s / eff,
                 device_s=device_s, host_s=p.schedule.host_s, comm_s=0.0, kernels=len(kernels),
                 memory_bound_share=share, bound=bound, efficiency=eff)


def estimate_traced(module: Any, name: str, device: str, *, dtype: Optional[str] = None, batch: Optional[int] = None,
                    max_batch: bool = False, input_len: int = 1024, output_len: int = 256, runtime: str = "engine",
                    serving: str = "static", tp: int = 1, notes: tuple[str, ...] = ()) -> LLMResult:
    from archstat.llm.coefficients import serving_coefficients
    from archstat.llm.estimate import device_for, spec_for
    from archstat.trace.analyze import analyze_module

    if serving != "static" or max_batch:
        raise UsageError(f"{name}: a traced module shows no KV cache, so the largest batch is unknown: give --batch "
                         "with static serving, or the model's config.json (or a transformers model) for in-flight "
                         "serving and --max-batch")
    if tp != 1:
        raise UsageError(f"{name}: tensor parallelism needs the model's shapes (its config.json)")
    weights = quant_format(dtype or "bf16", WEIGHT_FORMATS, path="--dtype")
    if weights.bits != 16:
        raise UsageError(f"--dtype {weights.name}: a traced module runs in bf16 or fp16 (quantized formats need the "
                         "model's config.json)")
    act = weights.torch
    d = device_for(device)
    spec = spec_for(d, weights, act)
    b = batch or 1
    prefill = analyze_module(module, f"int64:{input_len}", name=name, batch=b)
    step = analyze_module(module, "int64:1", name=name, batch=b)
    eff = serving_coefficients()["engine_efficiency"] if runtime == "engine" else 1.0
    pf = _phase("prefill", prefill.op_calls, spec, runtime=runtime, act=act, batch=b, tokens=input_len, eff=eff)
    dc = _phase("decode", step.op_calls, spec, runtime=runtime, act=act, batch=b, tokens=1, eff=eff)
    params = prefill.totals.params
    latency = pf.latency_s + (output_len - 1) * dc.latency_s
    mem = Memory(int(d.memory_gb * (1 << 30)), params * 2, None, None, None, WORKSPACE_BYTES)
    warnings = ["a traced module shows no KV cache: the decode step is its one-token forward, without attention "
                "over the cached context (a lower bound), and the KV cache, the activations and the largest batch "
                "are not counted"]
    if not prefill.totals.complete:
        warnings.append("some operators have no MAC formula: the MACs are a lower bound")
    return LLMResult(
        model=name, family="traced", source=name, architecture=f"traced module: {len(prefill.op_calls):,} operator "
        f"calls in a prefill of {input_len:,} tokens", device=d.key, device_name=d.name, gpus=1, runtime=runtime,
        serving=serving, dtype=weights.name, dtype_summary=weights.summary, kv_dtype="—", activations=act,
        input_len=input_len, output_len=output_len, batch=b, params_total=params, params_active=params,
        params_parts={"total": params, "active": params}, memory=mem, max_batch=None, ttft_s=pf.latency_s,
        tpot_s=dc.latency_s, request_latency_s=latency, throughput=b * output_len / latency, prefill=pf, decode=dc,
        coefficients={"engine_efficiency": eff} if runtime == "engine" else {}, notes=notes,
        warnings=tuple(warnings))
