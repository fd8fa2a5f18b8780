"""Tensor parallelism's collectives: an all-reduce's (and an all-gather's) time on the link between the GPUs.

The performance model costs what a collective does on each GPU's memory (``all_reduce`` is a memory kernel
in ``ir/aten.py``); the time its bytes spend on the link is not a kernel's, so it is added here:

    ring all-reduce of n bytes over g GPUs:  2·(g − 1)/g · n / link + latency
    ring all-gather of n bytes (each GPU's share) over g GPUs:  (g − 1)/g · g·n / link + latency

``link`` is the bandwidth one GPU sends at in one direction: half the NVLink figure vendors quote (the two
directions added: H100 SXM 900 GB/s is 450 GB/s each way), or the PCIe link's per-direction figure for
parts without NVLink. It is read from the device's devices.yaml entry (``nvlink_gb_s``; else a PCIe
``host_link.gb_s``), where every figure cites its source; an entry with neither has no tensor parallelism.
``latency`` is one collective's fixed cost (a kernel launch and the handshake between
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
    """The link between GPUs of a devices.yaml entry (an ``analyze.devices.Device``): its ``nvlink_gb_s``
    (both directions, as vendors quote it), else its PCIe ``host_link`` ({kind, gen, lanes, gb_s}: one
    direction; an NVLink-C2C host link joins the CPU, not another GPU); None where the entry gives neither."""
    nvlink = getattr(device, "nvlink_gb_s", None)
    if nvlink:
        return Link("nvlink", float(nvlink) * 1e9 / 2, LATENCY_S["nvlink"], f"devices.yaml {device.key}: nvlink_gb_s")
    host = getattr(device, "host_link", None)
    host = host if isinstance(host, dict) else {}
    if host.get("kind") == "pcie" and host.get("gb_s"):
        return Link("pcie", float(host["gb_s"]) * 1e9, LATENCY_S["pcie"], f"devices.yaml {device.key}: host_link.gb_s")
    return None


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
