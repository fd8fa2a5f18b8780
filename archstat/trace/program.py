"""The operators a module runs, for the performance model (torch imported only when called)."""

from __future__ import annotations

from dataclasses import dataclass

from archstat.ir.program import BatchPair


@dataclass
class TracedProgram:
    pair: BatchPair            # the operator log at two batch sizes: any batch follows (BatchPair.at)
    macs: int                  # forward MACs at the first of the two batches
    module_calls: int
    device: str                # where it was traced: meta, or cpu (a forward that needs real data)


def trace_program(module, input_shape, *, batch: int, mode: str = "eval") -> TracedProgram:
    """Every operator of one forward (``mode='eval'``), or of one training step's forward, loss and
    backward (``mode='train'``), traced at ``batch`` and the next batch size."""
    from archstat.trace.analyze import analyze_module

    stats = analyze_module(module, input_shape, batch=batch, mode=mode, fold=False, backward=mode == "train")
    device = "cpu" if "cpu device" in stats.description else "meta"
    return TracedProgram(stats.batch_trace.call_pair(), stats.totals.macs, stats.module_calls, device)
