"""A decoder model served on a device: memory per GPU, the largest batch, and the phases' times predicted by the
performance model (``perf.predict``) from their operator calls (``llm.program``), put together into time to
first token, time per output token, request latency and throughput.

- **static** serving (a fixed batch, as TensorRT-LLM's 0.5–0.9 tables and ``generate`` run it): the batch's
  prompts prefilled at once (TTFT), then ``output_len − 1`` decode steps at the mean context
  (input + output/2); throughput = batch × output / request latency.
- **inflight** serving (continuous batching, as TensorRT-LLM's in-flight batcher and vLLM run it): the
  scheduler keeps as many sequences decoding as the KV cache holds at the full context (``max_batch``, or
  ``batch`` where that is fewer); new prompts are prefilled in chunks of up to ``MAX_NUM_TOKENS`` tokens; in the
  steady state every ``output_len`` tokens of each sequence cost one decode step's share and one prompt's share
  of a chunk: throughput = B × output / (B × prefill per prompt + (output − 1) × decode step). TTFT is the
  chunk's prefill. An iteration holds at most ``MAX_NUM_TOKENS`` tokens, so B ≤ 8,192.

Under ``engine`` every step's time is divided by the fitted ``engine_efficiency`` (``llm.coefficients``): the
share of the performance model's speed that the serving engines' steps reach on these models.

A step's time is the prediction's latency (the device's kernels, the host's launches overlapped with them) plus
tensor parallelism's collectives on the link (``llm.comm``), which the engines run between the kernels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from archstat.dtypes import KV_FORMATS, WEIGHT_FORMATS, QuantFormat, quant_format
from archstat.errors import UsageError
from archstat.llm import comm, count
from archstat.llm.config import LLMConfig
from archstat.llm.memory import (
    BLOCK_TOKENS,
    KV_FRACTION,
    WORKSPACE_BYTES,
    Memory,
    activation_bytes,
    kv_bytes,
    kv_bytes_per_token,
    weight_bytes,
)
from archstat.llm.program import Run, decode_calls, prefill_calls, sample_layers, shards, signature
from archstat.llm.result import LayerRow, LLMResult, Phase

__all__ = ["MAX_NUM_TOKENS", "RUNTIMES", "SERVING", "estimate", "formats"]

RUNTIMES = ("engine", "compile", "eager")
SERVING = ("static", "inflight")
MAX_NUM_TOKENS = 8192      # tokens an in-flight batcher prefills in one iteration (TensorRT-LLM's default)
MAX_SEARCH = 1 << 20       # the largest batch the search for max_batch considers


def formats(c: LLMConfig, dtype: Optional[str], kv_dtype: Optional[str]) -> tuple[QuantFormat, QuantFormat, str]:
    """(weights, KV cache, the activations' torch dtype): ``dtype`` bf16 (default; fp16 where the published
    weights are float16), fp16, fp8, int8, int4 or fp4; the KV cache in the activations' dtype, or fp8 with
    fp8 or fp4 weights, unless ``kv_dtype`` says."""
    default = "fp16" if c.dtype == "float16" else "bf16"
    weights = quant_format(dtype or default, WEIGHT_FORMATS, path="--dtype")
    if weights.bits == 16:
        act = weights.torch
    else:
        act = "float16" if c.dtype == "float16" else "bfloat16"
    if kv_dtype is None:
        kv = WEIGHT_FORMATS["fp8"] if weights.name in ("fp8", "fp4") else WEIGHT_FORMATS["fp16" if act == "float16"
                                                                                            else "bf16"]
    else:
        if kv_dtype in WEIGHT_FORMATS and kv_dtype not in KV_FORMATS:
            raise UsageError(f"--kv-dtype {kv_dtype}: a weight format; the KV cache is stored in "
                             f"{', '.join(KV_FORMATS)}")
        kv = quant_format(kv_dtype, KV_FORMATS, path="--kv-dtype")
    return weights, kv, act


def device_for(key: str):
    """The devices.yaml entry of ``key`` (a GPU with its memory size), or a one-line UsageError."""
    from archstat.analyze import devices

    d = devices.lookup(key)
    if d is None:
        from archstat.errors import UnknownNameError

        raise UnknownNameError("device", key, list(devices.devices()), path="--device",
                               hint_extra=" (archstat devices lists them)")
    if d.kind != "gpu":
        raise UsageError(f"--device {key}: archstat llm predicts serving on GPUs; {d.name} is a {d.kind}")
    if not d.memory_gb:
        raise UsageError(f"--device {key}: its entry gives no memory size")
    return d


def spec_for(d, weights: QuantFormat, act: str):
    """The cost model's device: a one-byte product (``int8`` in the plan) runs at the part's peak of the
    weights' format (fp8, int8 or fp4); a UsageError where the part has no such tensor cores."""
    from archstat.perf.device import from_device

    spec = from_device(d)
    need = weights.math or ("fp16" if act == "float16" else "bf16")
    peak = spec.peak(need)
    if not peak:
        alt = {"fp8": "int8, int4, bf16 or fp16", "fp4": "fp8, int4 or bf16", "bf16": "fp16"}.get(need, "bf16")
        raise UsageError(f"--dtype {weights.name}: {d.name} has no {need} tensor cores (use --dtype {alt})")
    if weights.math in ("fp8", "fp4"):
        spec = dataclasses.replace(spec, peaks={**spec.peaks, "int8": peak})
    return spec


@dataclass
class _Stat:
    """One row's share of a phase (a decoder layer, the embedding, the LM head) on one GPU."""

    device_s: float = 0.0
    host_s: float = 0.0
    read: int = 0
    written: int = 0
    weight_read: int = 0
    kernels: int = 0
    memory_s: float = 0.0       # device time in memory-bound kernels
    macs: int = 0
    comm_s: float = 0.0


def _phase(name: str, build, c: LLMConfig, spec, *, runtime: str, act: str, batch: int, tokens: int, context: int,
           link: Optional[comm.Link], tp: int, coefficients: Optional[dict], sample: bool = True):
    """A phase predicted by the performance model. ``build(layers)`` writes its operator calls for those decoder
    layers; with ``sample`` only the first two layers of each kind (``program.sample_layers``) are predicted
    and every other layer is its kind's second (the calls of layers of a kind are the same; an engine's time
    is additive over its kernels, so the whole program's is exactly this; with per-kernel host time, a layer
    adds the larger of its host and device time, the steady state of the host running ahead)."""
    from archstat.perf.predict import predict

    sampled = sample_layers(c) if sample else list(range(c.layers))
    calls = build(sampled if sample else None)
    steady = {signature(c, i): f"layers.{i}" for i in sampled}      # the last sampled layer of each kind
    runs = {f"layers.{i}": 1 for i in sampled}      # how many layers each written layer stands for
    for i in range(c.layers):
        if f"layers.{i}" not in runs:
            runs[steady[signature(c, i)]] += 1

    def repeats(k) -> int:   # the clock a power limit holds is the whole program's, every layer counted
        return runs.get(_layer_key(k.rows[0]), 1) if k.rows else 1

    p = predict(calls, spec, batch=batch, runtime=runtime, dtype="fp16" if act == "float16" else "bf16",
                coefficients_=coefficients, repeats=repeats if sample else None)
    stats: dict[str, _Stat] = {}
    for x in p.costs:
        k = x.kernel
        st = stats.setdefault(_layer_key(k.rows[0]) if k.rows else "embed", _Stat())
        st.host_s += x.host_s
        if k.kind != "host":
            st.device_s += x.device_s
            st.read += k.read
            st.written += k.written
            st.weight_read += k.weight_read
            st.kernels += 1
            st.macs += k.macs
            st.memory_s += x.device_s if x.bound == "memory" else 0.0
    if tp > 1 and link is not None:
        for k in calls:
            if k.op == "all_reduce":
                stats[_layer_key(k.row)].comm_s += comm.all_reduce_s(k.inputs[0].nbytes, tp, link)
            elif k.op == "all_gather_into_tensor":
                stats[_layer_key(k.row)].comm_s += comm.all_gather_s(k.inputs[0].nbytes, tp, link)
    rows = {"embed": stats.get("embed", _Stat())}
    extra = 0.0
    for i in range(c.layers):
        key = f"layers.{i}"
        if key in stats:
            rows[key] = stats[key]
        else:
            rows[key] = st = stats[steady[signature(c, i)]]
            extra += max(st.host_s, st.device_s)
    rows["lm_head"] = stats.get("lm_head", _Stat())
    total = list(rows.values())
    device_s = sum(r.device_s for r in total)
    comm_s = sum(r.comm_s for r in total)
    mem_s = sum(r.memory_s for r in total)
    share = mem_s / device_s if device_s else 0.0
    bound = "host" if p.schedule.host_bound else "memory" if share >= 0.5 else "compute"
    phase = Phase(name=name, batch=batch, tokens=tokens, context=context, macs=sum(r.macs for r in total),
                  read_bytes=sum(r.read for r in total), written_bytes=sum(r.written for r in total),
                  weight_bytes=sum(r.weight_read for r in total), latency_s=p.latency_s + extra + comm_s,
                  device_s=device_s, host_s=sum(r.host_s for r in total), comm_s=comm_s,
                  kernels=sum(r.kernels for r in total), memory_bound_share=share, bound=bound)
    return phase, rows, list(p.warnings)


def _max_batch(fits, cap: int = MAX_SEARCH) -> int:
    """The largest B ≥ 0 with fits(B) (fits is monotone: true up to some B, false after)."""
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= cap and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, cap + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _check(c: LLMConfig, runtime: str, serving: str, input_len: int, output_len: int) -> str:
    """The options a run can take (a usage error otherwise), and a warning when the context is past the
    model's positions."""
    if runtime not in RUNTIMES:
        raise UsageError(f"--runtime {runtime}: choose from {', '.join(RUNTIMES)}")
    if serving not in SERVING:
        raise UsageError(f"--serving {serving}: choose from {', '.join(SERVING)}")
    if input_len < 1 or output_len < 1:
        raise UsageError("--input-len and --output-len: at least 1 token each")
    if c.max_context and input_len + output_len > c.max_context:
        return f"input + output = {input_len + output_len:,} tokens is past {c.name}'s {c.max_context:,} positions"
    return ""


def estimate(c: LLMConfig, device: str, *, dtype: Optional[str] = None, kv_dtype: Optional[str] = None,
             tp: int = 1, batch: Optional[int] = None, max_batch: bool = False, input_len: int = 1024,
             output_len: int = 256, runtime: str = "engine", serving: str = "static",
             coefficients: Optional[dict] = None, efficiency: Optional[float] = None,
             sample: bool = True) -> LLMResult:
    """``c`` served on ``tp`` GPUs of ``device`` (see the module's docstring). ``efficiency``: the share of the
    performance model's step speed a serving engine reaches (``runtime='engine'``; a fitted coefficient ≤ 1,
    default the shipped one, ``llm.coefficients``; eager and compile: 1, the cost model's own fit)."""
    from archstat.llm.coefficients import serving_coefficients

    warn_context = _check(c, runtime, serving, input_len, output_len)
    d = device_for(device)
    weights, kv, act = formats(c, dtype, kv_dtype)
    try:
        shards(c, tp)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run = Run(weights, kv, act, tp, fused=runtime != "eager")
    spec = spec_for(d, weights, act)
    notes: list[str] = []
    warnings: list[str] = [warn_context] if warn_context else []
    link = None
    if tp > 1:
        link = comm.link_of(d)
        if link is None:
            raise UsageError(f"--tp {tp}: devices.yaml gives no link between {d.name} GPUs (nvlink_gb_s or "
                             "host_link) and archstat.llm.comm has none for it")
        notes.append(f"collectives over {link.describe()}")
    if weights.math == "fp4" and runtime != "engine":
        raise UsageError("--dtype fp4: NVFP4 products run in an engine (TensorRT-LLM, vLLM): use --runtime engine")

    # memory and the largest batch
    context = input_len + output_len
    block = BLOCK_TOKENS if runtime == "engine" else 1
    capacity = int(d.memory_gb * (1 << 30))
    w_bytes = weight_bytes(c, run)
    kv_seq = kv_bytes(c, run, context, 1, block)

    def prefill_tokens(b: int) -> tuple[int, int]:
        if serving == "static":
            return b * input_len, b
        chunk = max(1, min(b, MAX_NUM_TOKENS // input_len))
        return chunk * input_len, chunk

    def fits(b: int) -> bool:
        tokens, seqs = prefill_tokens(b)
        free = capacity - w_bytes - WORKSPACE_BYTES - activation_bytes(c, run, tokens, seqs)
        return b * kv_seq <= KV_FRACTION * free

    most = _max_batch(fits)
    if serving == "inflight":
        most_step = min(most, MAX_NUM_TOKENS)       # an iteration decodes one token of each sequence
        used = max(1, min(batch, most_step) if batch else most_step)
        if batch and batch > most:
            notes.append(f"in-flight batching keeps at most {most:,} sequences at {context:,} tokens in the KV "
                         f"cache: the batch is {used:,}, not {batch:,}")
    else:
        used = most if max_batch else (batch or 1)
        if max_batch and most == 0:
            used = 1
    tokens, seqs = prefill_tokens(used)
    mem = Memory(capacity, w_bytes, kv_bytes_per_token(c, run), kv_bytes(c, run, context, used, block),
                 activation_bytes(c, run, tokens, seqs), WORKSPACE_BYTES)
    if most == 0:
        warnings.append(f"one sequence of {context:,} tokens does not fit on a {d.name}: weights "
                        f"{w_bytes / 1e9:,.1f} GB per GPU of {capacity / 1e9:,.1f} GB" + ("" if tp > 1 else
                                                                                          " (try --tp)"))
    elif not mem.fits or used > most:
        warnings.append(f"batch {used:,} does not fit: at most {most:,} sequences of {context:,} tokens")

    # the phases
    dec_context = input_len + max(1, output_len // 2)
    coeffs = coefficients
    pf_phase, pf_rows, pf_warn = _phase(
        "prefill", lambda layers: prefill_calls(c, run, batch=seqs, prompt=input_len, layers=layers), c, spec,
        runtime=runtime, act=act, batch=seqs, tokens=input_len, context=input_len, link=link, tp=tp,
        coefficients=coeffs, sample=sample)
    dc_phase, dc_rows, dc_warn = _phase(
        "decode", lambda layers: decode_calls(c, run, batch=used, context=dec_context, layers=layers), c, spec,
        runtime=runtime, act=act, batch=used, tokens=1, context=dec_context, link=link, tp=tp, coefficients=coeffs,
        sample=sample)
    for w in dict.fromkeys(pf_warn + dc_warn):
        warnings.append(w)
    applied: dict = {}
    eff = efficiency if efficiency is not None else (
        serving_coefficients()["engine_efficiency"] if runtime == "engine" else 1.0)
    if not 0 < eff <= 1:
        raise UsageError(f"efficiency {eff}: a share in (0, 1]")
    if runtime == "engine" or efficiency is not None:
        applied["engine_efficiency"] = eff
        pf_phase = dataclasses.replace(pf_phase, latency_s=pf_phase.latency_s / eff, efficiency=eff)
        dc_phase = dataclasses.replace(dc_phase, latency_s=dc_phase.latency_s / eff, efficiency=eff)
    ttft = pf_phase.latency_s
    tpot = dc_phase.latency_s
    latency = ttft + (output_len - 1) * tpot
    if serving == "static":
        throughput = used * output_len / latency
    else:
        per_prompt = pf_phase.latency_s / seqs
        throughput = used * output_len / (used * per_prompt + (output_len - 1) * tpot)

    layers = _layer_rows(c, pf_rows, dc_rows)
    params = count.params(c)
    return LLMResult(
        model=c.name, family=c.family, source=c.source, architecture=c.summary(), device=d.key, device_name=d.name,
        gpus=tp, runtime=runtime, serving=serving, dtype=weights.name, dtype_summary=weights.summary,
        kv_dtype=kv.name, activations=act, input_len=input_len, output_len=output_len, batch=used,
        params_total=params.total, params_active=params.active, params_parts=params.as_dict(), memory=mem,
        max_batch=most, ttft_s=ttft, tpot_s=tpot, request_latency_s=latency, throughput=throughput,
        prefill=pf_phase, decode=dc_phase, layers=tuple(layers), link=link.describe() if link else None,
        coefficients=applied, notes=tuple(notes), warnings=tuple(warnings))


def _layer_key(row: str) -> str:
    """'layers.3.attention' → 'layers.3'; 'embed', 'lm_head' as they are."""
    parts = row.split(".")
    return ".".join(parts[:2]) if parts[0] == "layers" else parts[0]


def _layer_rows(c: LLMConfig, pf: dict[str, _Stat], dc: dict[str, _Stat]) -> list[LayerRow]:
    p = count.params(c)
    norm = 2 * c.hidden if c.norm == "layer" else c.hidden
    rows = [LayerRow("embed", "embedding", p.embedding + p.positions, pf["embed"].macs, dc["embed"].macs,
                     pf["embed"].device_s, dc["embed"].device_s)]
    for i in range(c.layers):
        if c.is_moe(i):
            mlp = c.hidden * c.experts + c.experts * p.expert_size + p.shared_expert // max(1, p.moe_layer_count)
        else:
            mlp = count.mlp_params(c, c.intermediate, c.mlp_bias)
        key = f"layers.{i}"
        kind = ("moe" if c.is_moe(i) else "dense") + ("/window" if c.windowed(i) else "")
        rows.append(LayerRow(key, kind, count.attention_params(c) + mlp + c.norms_per_layer * norm, pf[key].macs,
                             dc[key].macs, pf[key].device_s, dc[key].device_s))
    rows.append(LayerRow("lm_head", "head", p.lm_head + norm, pf["lm_head"].macs, dc["lm_head"].macs,
                         pf["lm_head"].device_s, dc["lm_head"].device_s))
    return rows
