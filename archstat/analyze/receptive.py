"""Receptive fields across chains, branches and merges.

For each node and each spatial axis: ``size`` (input pixels one output unit sees),
``jump`` (input pixels between neighbouring output units: the effective stride)
and ``start`` (the input coordinate of the first pixel of the first unit's field;
negative when it begins in the padding). For an op with kernel k, stride s,
dilation d and padding p, with k' = d(k-1)+1::

    size' = size + (k' - 1) * jump     jump' = jump * s     start' = start - p * jump

A merge takes the largest field of its inputs. A layer that sees its whole input
(linear after flatten, pooling to 1×1) has a global field: the whole extent of
the map it reads.

Fields grow geometrically with stride (a chain of stride-2 layers doubles ``jump`` each time): past
``RF_LIMIT`` a field stops growing and says so (``> 10^30``), rather than carrying integers of
thousands of digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from archstat.graph import Graph
from archstat.ops.conv import conv_out_len
from archstat.ops.pool import adaptive_window
from archstat.ops.registry import RFStep, all_ops

RF_LIMIT = 10**30


@dataclass(frozen=True)
class RF:
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    extent: tuple[int, int]        # the spatial size of the map (kept through flatten)
    is_global: bool = False
    beyond_limit: bool = False     # the field grew past RF_LIMIT and was stopped there

    def step(self, st: RFStep, extent: tuple[int, int]) -> RF:
        if self.beyond_limit:
            return RF(self.size, self.jump, self.start, extent, self.is_global, True)
        if self.is_global:   # units that already see the whole input (after a gate) see no more
            return RF(self.size, self.jump, self.start, extent, True)
        def span(i: int) -> int:
            return st.dilation[i] * (st.kernel[i] - 1) + 1

        size = _pair(lambda i: self.size[i] + (span(i) - 1) * self.jump[i])
        jump = _pair(lambda i: self.jump[i] * st.stride[i])
        start = _pair(lambda i: self.start[i] - st.padding[i] * self.jump[i])
        return _bounded(RF(size, jump, start, extent, self.is_global))

    def whole(self) -> RF:
        """Every output sees the whole map this field's units tile."""
        if self.beyond_limit:
            return RF(self.size, self.jump, self.start, (1, 1), True, True)
        size = _pair(lambda i: self.size[i] + (self.extent[i] - 1) * self.jump[i])
        jump = _pair(lambda i: self.jump[i] * self.extent[i])
        return _bounded(RF(size, jump, self.start, (1, 1), True))

    def text(self) -> str:
        if self.beyond_limit:
            return "> 10^30" + (" (global)" if self.is_global else "")
        s = str(self.size[0]) if self.size[0] == self.size[1] else f"{self.size[0]}×{self.size[1]}"
        return s + (" (global)" if self.is_global else "")


def _pair(f: Callable[[int], int]) -> tuple[int, int]:
    """``(f(0), f(1))``: one value per spatial axis."""
    return f(0), f(1)


def _tiled(extent: tuple[int, int], st: RFStep) -> tuple[int, int]:
    """The number of positions of ``st`` along each axis of a map of ``extent``."""
    return _pair(lambda i: conv_out_len(extent[i], st.kernel[i], st.stride[i], st.padding[i], st.dilation[i]))


def _bounded(rf: RF) -> RF:
    """``rf``, or, once any of its numbers passes RF_LIMIT, a field stopped at the limit."""
    if all(abs(v) <= RF_LIMIT for v in (*rf.size, *rf.jump, *rf.start)):
        return rf
    cap = (RF_LIMIT, RF_LIMIT)
    return RF(cap, cap, (-RF_LIMIT, -RF_LIMIT), rf.extent, rf.is_global, True)


def _spatial(shape) -> tuple[int, int]:
    return (shape[1], shape[2]) if len(shape) == 3 else (1, 1)


def _adaptive_step(node) -> RFStep:
    """Adaptive pooling as an ordinary pool: exact when the output divides the input; otherwise
    its largest window and the floor of the stride."""
    _, h, w = node.in_shapes[0]
    oh, ow = node.shape[1], node.shape[2]

    def largest(n: int, o: int) -> int:   # exact for up to 4096 windows; beyond, the bound ceil(n/o) + 1
        return max(adaptive_window(n, o, i) for i in range(o)) if o <= 4096 else -(-n // o) + (n % o != 0)

    kernel = (largest(h, oh), largest(w, ow))
    stride = (max(1, h // oh), max(1, w // ow))
    return RFStep(kernel, stride, (1, 1), (0, 0))


def receptive_fields(graph: Graph) -> dict[str, RF]:
    ops = all_ops()
    out: dict[str, RF] = {}
    for node in graph.nodes:
        if node.op == "input":
            out[node.name] = RF((1, 1), (1, 1), (0, 0), _spatial(node.shape))
            continue
        spec = ops[node.op]
        inputs = [out[i] for i in node.inputs]
        rf = max(inputs, key=lambda r: (r.size[0] * r.size[1], r.is_global)) if len(inputs) > 1 else inputs[0]
        extent = _spatial(node.shape) if len(node.shape) == 3 else rf.extent
        if spec.rf is not None:
            step = spec.rf(node.args)
            if len(node.shape) != 3:   # a strided op that leaves the map (patch embedding → tokens) tiles it
                extent = _tiled(rf.extent, step)
            rf = rf.step(step, extent)
        elif node.op == "adaptive_avgpool":
            rf = rf.step(_adaptive_step(node), extent)
            if extent == (1, 1):
                rf = replace(rf, extent=(1, 1), is_global=True)
        elif not rf.is_global and spec.sees_all(node.in_shapes):
            rf = rf.whole()
        elif len(node.shape) == 3:
            rf = replace(rf, extent=extent)
        out[node.name] = rf
    return out


def weighted_depth(graph: Graph, include_aux: bool = False, expected: bool = False,
                   kinds: tuple[str, ...] = ("conv", "linear")) -> dict[str, float]:
    """Layers of the registry's ``layer`` kinds on the longest path to each node — how papers count
    depth. ``expected``: each layer weighted by its survival probability (stochastic depth, training)."""
    ops = all_ops()
    depth: dict[str, float] = {}
    for node in graph.nodes:
        if node.aux and not include_aux:
            continue
        # a gate's factors (squeeze-and-excitation's FC layers) are not counted in depth: its shortest input
        pick = min if node.op != "input" and ops[node.op].gate else max
        before = pick((depth.get(i, 0) for i in node.inputs), default=0)
        weight = node.survival if expected else 1
        counts = node.op != "input" and ops[node.op].layer in kinds
        depth[node.name] = before + (weight if counts else 0)
    return depth
