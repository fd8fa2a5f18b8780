"""Host and device time put together: the latency of one step of the program.

On a GPU the host enqueues kernels and runs ahead of the device: kernel *i* starts when the host has
launched it and the device has finished kernel *i − 1*::

    host_i  = host_{i-1} + host cost of step i
    start_i = max(host_i, end_{i-1});   end_i = start_i + device time of step i

so a batch takes about ``max(host, device)`` over the program, not their sum: the host dominates at
batch 1, the device at large batch. The program ends with a synchronisation (``sync_s``), as a
measured step does. On a CPU the host is the device: every step's host and compute time add up.
"""

from __future__ import annotations

from dataclasses import dataclass

from archstat.enums import StrEnum
from archstat.perf.cost import KernelCost


class Bound(StrEnum):
    """What sets a program's latency: launching its kernels (``host``) or running them (``device``)."""

    HOST = "host"
    DEVICE = "device"


@dataclass(frozen=True)
class Schedule:
    latency_s: float
    host_s: float                   # the host's time to launch everything
    device_s: float                 # the device's busy time
    idle_s: float                   # device time spent waiting for the host
    host_bound: bool                # the host took longer to launch the program than the device to run it

    @property
    def bound(self) -> Bound:
        """What sets the latency: ``host`` when launching the program takes longer than running it on the
        device (the device waits between kernels), else ``device``."""
        return Bound.HOST if self.host_bound else Bound.DEVICE


def schedule(costs: list[KernelCost], *, overlap: bool = True, launch_s: float = 0.0, sync_s: float = 0.0) -> Schedule:
    """The latency of the steps in order (``launch_s``: a fixed host cost before the first, e.g. a
    CUDA graph's launch)."""
    host = launch_s
    end = launch_s
    busy = 0.0
    idle = 0.0
    if not overlap:
        total = launch_s + sum(c.host_s + c.device_s for c in costs) + sync_s
        busy = sum(c.device_s for c in costs)
        return Schedule(total, sum(c.host_s for c in costs) + launch_s, busy, 0.0, False)
    for c in costs:
        host += c.host_s
        if c.device_s <= 0:
            continue
        start = max(host, end)
        idle += max(0.0, host - end)
        end = start + c.device_s
        busy += c.device_s
    latency = max(host, end) + sync_s
    return Schedule(latency, host, busy, idle, host > busy)
