"""Tensor parallelism's collectives: an all-reduce's (and an all-gather's) time on the link between the GPUs.

The performance model costs what a collective does on each GPU's memory (``all_reduce`` is a memory kernel
in ``ir/aten.py``); the time its bytes spend on the link is not a kernel's, so it is added here:

    ring all-reduce of n bytes over g GPUs:  2·(g − 1)/g · n / link + latency
    ring all-gather of n bytes (each GPU's share) over g GPUs:  (g − 1)/g · g·n / link + latency

``link`` is the bandwidth one GPU sends at in one direction: half the NVLink figure vendors quote (the two
directions added: H100 SXM 900 GB/s is 450 GB/s each way), or the PCIe link's per-direction figure for
parts without NVLink. It is read from the device's devices.yaml entry (``nvlink_gb_s``; else
``host_link.gb_s``); where the entry gives neither, this module's table below (with its sources) is used
and the result says so. ``latency`` is one collective's fixed cost (a kernel launch and the handshake between
the GPUs), a coefficient stated in ``LATENCY_S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["LATENCY_S", "Link", "all_gather_s", "all_reduce_s", "link_of"]

# One collective's fixed cost (seconds): an ASSUMPTION of the order of a kernel launch plus the GPUs'
# handshake (NCCL's and TensorRT-LLM's all-reduce of a small message takes microseconds on NVLink, more
# through PCIe and the host); not fitted (benchmarks/llm/results.md shows how the TP rows fare with it).
LATENCY_S = {"nvlink": 8e-6, "pcie": 25e-6}

# Where devices.yaml gives no link figure yet: vendors' figures, GB/s in both directions (NVLink) or one
# direction (PCIe, x16), with their sources.
FALLBACK = {
    "h100": ("nvlink", 900.0, "NVIDIA H100 datasheet, SXM: NVLink 900 GB/s"),
    "h200": ("nvlink", 900.0, "NVIDIA H200 datasheet, SXM: NVLink 900 GB/s"),
    "gh200": ("nvlink", 900.0, "NVIDIA GH200 datasheet: NVLink 900 GB/s between GPUs (NVLink Switch System)"),
    "gh200-144gb": ("nvlink", 900.0, "NVIDIA GH200 datasheet: NVLink 900 GB/s"),
    "h100-nvl": ("nvlink", 600.0, "NVIDIA H100 NVL datasheet: NVLink bridge 600 GB/s"),
    "h200-nvl": ("nvlink", 900.0, "NVIDIA H200 NVL datasheet: NVLink bridge 900 GB/s"),
    "a100": ("nvlink", 600.0, "NVIDIA A100 datasheet, SXM: NVLink 600 GB/s"),
    "a100-40gb": ("nvlink", 600.0, "NVIDIA A100 datasheet, SXM: NVLink 600 GB/s"),
    "b200": ("nvlink", 1800.0, "NVIDIA DGX B200 datasheet: NVLink 5, 1.8 TB/s per GPU"),
    "gb200": ("nvlink", 1800.0, "NVIDIA GB200 NVL72 datasheet: NVLink 5, 1.8 TB/s per GPU"),
    "v100": ("nvlink", 300.0, "NVIDIA V100 datasheet, SXM2: NVLink 300 GB/s"),
    "h100-pcie": ("pcie", 64.0, "PCIe Gen5 x16: 64 GB/s each way (H100 PCIe datasheet: 128 GB/s both ways)"),
    "a100-pcie": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way (A100 PCIe datasheet: 64 GB/s both ways)"),
    "a100-pcie-40gb": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way"),
    "l40s": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way (L40S datasheet: PCIe Gen4 x16 64 GB/s both ways)"),
    "l40": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way"),
    "l4": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way (L4 datasheet: 64 GB/s both ways)"),
    "a10": ("pcie", 32.0, "PCIe Gen4 x16: 32 GB/s each way"),
    "t4": ("pcie", 16.0, "PCIe Gen3 x16: 16 GB/s each way"),
}


@dataclass(frozen=True)
class Link:
    """What one GPU sends over to the others of its group."""

    kind: str                 # "nvlink" or "pcie"
    bytes_per_s: float        # one direction
    latency_s: float
    source: str               # where the figure comes from

    def describe(self) -> str:
        return (f"{self.kind} {self.bytes_per_s / 1e9:,.0f} GB/s each way, {self.latency_s * 1e6:.0f} µs per "
                f"collective ({self.source})")


def link_of(device: Any) -> Optional[Link]:
    """The link of a devices.yaml entry (an ``analyze.devices.Device``): its ``nvlink_gb_s`` (both
    directions, as vendors quote it), else its ``host_link`` ({kind, gen, lanes, gb_s}: one direction), else
    this module's fallback table; None where nothing is known."""
    nvlink = getattr(device, "nvlink_gb_s", None)
    if nvlink:
        return Link("nvlink", float(nvlink) * 1e9 / 2, LATENCY_S["nvlink"], f"devices.yaml {device.key}: nvlink_gb_s")
    host = getattr(device, "host_link", None)
    gb_s = host.get("gb_s") if isinstance(host, dict) else getattr(host, "gb_s", None)
    if gb_s:
        return Link("pcie", float(gb_s) * 1e9, LATENCY_S["pcie"], f"devices.yaml {device.key}: host_link.gb_s")
    found = FALLBACK.get(getattr(device, "key", ""))
    if found is None:
        return None
    kind, gb_s, source = found
    per_direction = gb_s / 2 if kind == "nvlink" else gb_s
    return Link(kind, per_direction * 1e9, LATENCY_S[kind],
                f"devices.yaml gives no link for {device.key}: archstat.llm.comm's table, {source}")


def all_reduce_s(nbytes: float, gpus: int, link: Link) -> float:
    """A ring all-reduce of ``nbytes`` (each GPU's whole buffer) over ``gpus`` GPUs."""
    if gpus <= 1:
        return 0.0
    return 2.0 * (gpus - 1) / gpus * nbytes / link.bytes_per_s + link.latency_s


def all_gather_s(nbytes: float, gpus: int, link: Link) -> float:
    """A ring all-gather of ``nbytes`` per GPU (each receives the others' shares)."""
    if gpus <= 1:
        return 0.0
    return (gpus - 1) * nbytes / link.bytes_per_s + link.latency_s
