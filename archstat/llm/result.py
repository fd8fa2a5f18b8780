"""What ``archstat llm`` answers: :class:`LLMResult`, one model served on one device (a group of ``gpus`` of it).

``to_dict()`` is the command's JSON, whose keys are stable (docs/llm.md): ``params.total``, ``params.active``,
``memory.weights_bytes``, ``memory.kv_bytes_per_token``, ``memory.kv_bytes``, ``memory.total_bytes``,
``max_batch``, ``ttft_s``, ``tpot_s``, ``request_latency_s``, ``throughput.output_tokens_per_s`` and
``throughput.output_tokens_per_s_per_gpu``, with the rest beside them. Memory is per GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from archstat._version import __version__
from archstat.llm.memory import Memory

__all__ = ["LLMResult", "LayerRow", "Phase"]


@dataclass(frozen=True, kw_only=True)
class Phase:
    """One phase (a prefill, or one decode step) on one GPU: its counts and predicted time."""

    name: str                  # "prefill" or "decode"
    batch: int                 # sequences
    tokens: int                # tokens per sequence this phase runs (the prompt, or 1)
    context: int               # keys each query sees at most
    macs: int                  # one GPU's
    read_bytes: int
    written_bytes: int
    weight_bytes: int          # of the bytes read: weights
    latency_s: float           # the step: device and host overlapped, plus the collectives
    device_s: float
    host_s: float
    comm_s: float              # tensor parallelism's collectives on the link
    kernels: int
    memory_bound_share: float  # of the device time, in memory-bound kernels
    bound: str                 # "memory", "compute" or "host"
    efficiency: float = 1.0    # the fitted engine efficiency the latency is divided by

    def as_dict(self) -> dict:
        return {"batch": self.batch, "tokens": self.tokens, "context": self.context, "macs": self.macs,
                "flops": 2 * self.macs, "read_bytes": self.read_bytes, "written_bytes": self.written_bytes,
                "weight_read_bytes": self.weight_bytes, "latency_s": self.latency_s, "device_s": self.device_s,
                "host_s": self.host_s, "comm_s": self.comm_s, "kernels": self.kernels,
                "memory_bound_time_share": self.memory_bound_share, "bound": self.bound,
                "efficiency": self.efficiency}


@dataclass(frozen=True)
class LayerRow:
    """One row of the per-layer breakdown: the embedding, a decoder layer, or the LM head (one GPU's)."""

    name: str                  # "embed", "layers.0", …, "lm_head"
    kind: str                  # "embedding", "dense", "moe", "dense/window", "head"
    params: int                # the whole model's parameters in this row
    prefill_macs: int
    decode_macs: int
    prefill_s: float           # device time
    decode_s: float

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "params": self.params, "prefill_macs": self.prefill_macs,
                "decode_macs": self.decode_macs, "prefill_s": self.prefill_s, "decode_s": self.decode_s}


@dataclass(frozen=True)
class LLMResult:
    """One decoder model served on one device: parameters, memory per GPU, the largest batch that fits,
    time to first token, time per output token, request latency and throughput, per phase and per layer."""

    model: str
    family: str
    source: str
    architecture: str
    device: str                        # the devices.yaml key
    device_name: str
    gpus: int                          # the tensor-parallel group
    runtime: str
    serving: str                       # "static" or "inflight"
    dtype: str                         # the weights' format
    dtype_summary: str
    kv_dtype: str
    activations: str                   # the activations' dtype
    input_len: int
    output_len: int
    batch: int                         # sequences decoded together (in-flight: the concurrency)
    params_total: int
    params_active: int
    params_parts: dict
    memory: Memory                     # per GPU, at batch × (input + output)
    max_batch: Optional[int]           # the most sequences at input + output tokens that fit (None: unknown)
    ttft_s: float
    tpot_s: float
    request_latency_s: float
    throughput: float                  # output tokens/s of the group
    prefill: Phase
    decode: Phase
    layers: tuple[LayerRow, ...] = ()
    link: Optional[str] = None         # the link the collectives run over (tp > 1)
    coefficients: dict = field(default_factory=dict)   # the fitted serving coefficients applied
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def context(self) -> int:
        return self.input_len + self.output_len

    @property
    def throughput_per_gpu(self) -> float:
        return self.throughput / self.gpus

    @property
    def fits(self) -> bool:
        return self.memory.fits

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``archstat llm --format json`` prints (keys documented in docs/llm.md)."""
        return {
            "archstat_version": __version__, "model": self.model, "family": self.family, "source": self.source,
            "architecture": self.architecture,
            "device": {"key": self.device, "name": self.device_name, "gpus": self.gpus, "link": self.link},
            "runtime": self.runtime, "serving": self.serving, "dtype": self.dtype, "kv_dtype": self.kv_dtype,
            "activations": self.activations, "input_len": self.input_len, "output_len": self.output_len,
            "batch": self.batch,
            "params": {"total": self.params_total, "active": self.params_active, **{
                k: v for k, v in self.params_parts.items() if k not in ("total", "active")}},
            "memory": self.memory.as_dict(),
            "max_batch": self.max_batch,
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "request_latency_s": self.request_latency_s,
            "throughput": {"output_tokens_per_s": self.throughput,
                           "output_tokens_per_s_per_gpu": self.throughput_per_gpu},
            "phases": {"prefill": self.prefill.as_dict(), "decode": self.decode.as_dict()},
            "layers": [r.as_dict() for r in self.layers],
            "coefficients": dict(self.coefficients),
            "notes": list(self.notes), "warnings": list(self.warnings),
        }
