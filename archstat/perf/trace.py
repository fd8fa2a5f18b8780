"""The operators a module runs, for the performance model (torch imported only when called)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.perf.kernels import Kernel


@dataclass
class TracedProgram:
    kernels: list[Kernel]
    macs: int                  # forward MACs, batch included
    module_calls: int
    device: str                # where it was traced: meta, or cpu (a forward that needs real data)


def trace_program(module, input_shape: tuple[int, ...], *, batch: int, mode: str = "eval") -> TracedProgram:
    """Every operator of one forward (``mode='eval'``), or of one training step's forward, loss and
    backward (``mode='train'``), at ``batch``."""
    from archstat.trace.analyze import analyze_module

    stats = analyze_module(module, tuple(input_shape), batch=batch, mode=mode, fold=False,
                           backward=mode == "train")
    device = "cpu" if "cpu device" in stats.description else "meta"
    return TracedProgram(stats.kernels, stats.totals.macs, stats.module_calls, device)
