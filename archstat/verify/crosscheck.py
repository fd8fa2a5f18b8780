"""``archstat verify``: every number archstat computes, checked against independent counters.

For one model:

- shapes: every node's output shape == what the built module produces on the meta device
  (training mode, batch 2, so auxiliary heads run and batch norm accepts the input);
- params: per node and in total == ``sum(p.numel())`` of the built module;
- types: each node's module is the torch class its op declares;
- MACs == ``FlopCounterMode`` count / 2, per conv/linear/attention module and in total (meta device,
  where ``scaled_dot_product_attention`` decomposes into counted ``bmm``s; on the CPU its fused
  kernel is not counted);
- MACs == fvcore's ``FlopCountAnalysis`` (one "flop" per multiply-add), per conv/linear/attention
  module and for its conv + linear (+ attention) operators in total. fvcore traces, which fails on
  meta tensors, so this check runs on real CPU tensors at batch 1 in eval mode (auxiliary heads do
  not run there). fvcore cannot count attention: it is given archstat's formula on the traced shapes.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Optional

from archstat.analyze.stats import analyze_graph
from archstat.builder import require_torch
from archstat.builder.torch_builder import build_graph
from archstat.graph import Graph
from archstat.ops.arith import attention_macs
from archstat.ops.registry import all_ops

PASS, FAIL, SKIP = "ok", "MISMATCH", "skipped"
# fvcore's jit trace grows faster than linearly with depth (ResNet-1202: about 40 s, a 5,000-conv chain
# minutes); past this many conv/linear layers its check is shown as skipped, FlopCounterMode's still runs
FVCORE_MAX_LAYERS = 500


@dataclass
class Check:
    model: str
    check: str
    archstat: str
    reference: str
    status: str
    detail: str = ""


def _mismatches(pairs) -> list[str]:
    return [f"{name}: {a} vs {b}" for name, a, b in pairs if a != b]


def _summary(model: str, check: str, pairs, what: str, reference: str) -> Check:
    pairs = list(pairs)
    bad = _mismatches(pairs)
    detail = "; ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
    return Check(model, check, f"{len(pairs)} {what}", reference,
                 PASS if not bad else FAIL, detail if bad else f"{len(pairs) - len(bad)}/{len(pairs)} equal")


def _type_as_declared(spec, module) -> str:
    """The module's class name, as the op's main torch type when it is one of its aliases."""
    name = type(module).__name__
    return spec.torch_type if name in spec.torch_aliases else name


def _own_params(module, is_merge: bool) -> int:
    """A row's own parameters: a merge's children are the branches it joins, not its own."""
    return sum(p.numel() for p in module.parameters(recurse=not is_merge))


def verify_graph(graph: Graph, *, fvcore: bool = True) -> list[Check]:
    torch = require_torch()
    from torch.utils.flop_counter import FlopCounterMode

    ops = all_ops()
    model = graph.name
    batch = 2
    train = analyze_graph(graph, batch=batch, fold=False, mode="train")
    rows = {r.name: r for r in train.rows}
    nodes = [n for n in graph.nodes if n.op != "input"]
    checks: list[Check] = []

    module = build_graph(graph, device="meta")
    module.train()
    modules = dict(module.named_modules())
    seen: dict[str, tuple] = {}
    hooks = [modules[n.name].register_forward_hook(
        lambda mod, inp, out, _n=n.name: seen.__setitem__(_n, tuple(out.shape))) for n in nodes]
    x = torch.empty(batch, *graph.input_shape, device="meta")
    failure = None
    try:
        with FlopCounterMode(display=False) as counter:
            module(x)
    except Exception as exc:  # the built module disagrees with itself: a wrong formula built it
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        for h in hooks:
            h.remove()
    if failure:
        checks.append(Check(model, "forward pass (meta device)", "", "", FAIL, failure[:300]))

    checks.append(_summary(model, "output shapes (meta device)",
                           ((n.name, (batch, *n.shape), seen.get(n.name)) for n in nodes), "rows", "torch"))
    checks.append(_summary(model, "params per row",
                           ((n.name, rows[n.name].params, _own_params(modules[n.name], ops[n.op].multi_input))
                            for n in nodes), "rows", "p.numel()"))
    total = sum(p.numel() for p in module.parameters())
    checks.append(Check(model, "params total (all heads)", f"{train.totals.params:,}", f"{total:,}",
                        PASS if total == train.totals.params else FAIL))
    checks.append(_summary(model, "torch module types",
                           ((n.name, ops[n.op].torch_type, _type_as_declared(ops[n.op], modules[n.name]))
                            for n in nodes), "rows", "type()"))

    if failure:
        return checks
    per_module = counter.get_flop_counts()
    prefix = type(module).__name__ + "."
    counted = [n for n in nodes if ops[n.op].layer]
    checks.append(_summary(model, "MACs per conv/linear row",
                           ((n.name, rows[n.name].macs, sum(per_module.get(prefix + n.name, {}).values()) // 2)
                            for n in counted), "rows", "FlopCounterMode/2"))
    flop_total = counter.get_total_flops()
    checks.append(Check(model, "MACs total (all heads)", f"{train.totals.macs:,}",
                        f"{flop_total // 2:,}", PASS if flop_total == 2 * train.totals.macs else FAIL,
                        f"batch {batch}; FlopCounterMode counts 2 per multiply-add"))
    if fvcore:
        if len(counted) > FVCORE_MAX_LAYERS:
            checks.append(Check(model, "MACs vs fvcore", "", "", SKIP,
                                f"{len(counted):,} conv/linear layers: fvcore's trace of more than "
                                f"{FVCORE_MAX_LAYERS} takes minutes (FlopCounterMode checked every one above)"))
        else:
            checks.extend(_fvcore_checks(graph, model))
    return checks


SDPA = "aten::scaled_dot_product_attention"


def _fvcore_attention(inputs, outputs) -> int:
    """fvcore has no count for scaled dot-product attention: archstat's formula on the query, key and
    value shapes fvcore traced (this checks the shapes the module feeds it, not the formula, which
    FlopCounterMode checks independently: on the meta device attention decomposes into bmm)."""
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(t) for t in inputs[:3])
    batch_heads = 1
    for d in q[:-2]:
        batch_heads *= d
    return attention_macs(batch_heads, q[-2], k[-2], q[-1], v[-1])


def _fvcore_checks(graph: Graph, model: str) -> list[Check]:
    torch = require_torch()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # importing fvcore runs torch.jit.script, deprecated in torch 2.x
            from fvcore.nn import FlopCountAnalysis
    except ImportError:
        from archstat.install import install_hint

        return [Check(model, "MACs vs fvcore", "", "", SKIP, f"fvcore is not installed ({install_hint('torch')})")]
    stats = analyze_graph(graph, batch=1, fold=False, mode="eval")
    rows = {r.name: r for r in stats.rows}
    ops = all_ops()
    counted = [n for n in graph.nodes if n.op != "input" and ops[n.op].layer and not n.aux]
    torch.manual_seed(0)
    module = build_graph(graph, device="cpu").eval()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore traces with torch.jit, which warns that it is deprecated
        analysis = FlopCountAnalysis(module, torch.zeros(1, *graph.input_shape))
        analysis.set_op_handle(SDPA, _fvcore_attention)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_module = analysis.by_module()
        by_operator = analysis.by_operator()
    out = [_summary(model, "MACs per conv/linear row",
                    ((n.name, rows[n.name].macs, by_module.get(n.name, 0)) for n in counted), "rows",
                    "fvcore (batch 1)")]
    ours = sum(rows[n.name].macs for n in counted)
    theirs = sum(v for k, v in by_operator.items() if k in ("conv", "linear", "addmm", "matmul", SDPA[6:]))
    out.append(Check(model, "MACs total, conv + linear", f"{ours:,}", f"{theirs:,}",
                     PASS if ours == theirs else FAIL, "fvcore: one flop per multiply-add, eval mode"
                     + ("; attention: archstat's formula on fvcore's traced shapes" if SDPA[6:] in by_operator
                        else "")))
    return out


def verify(name: str, params: Optional[dict] = None, *, fvcore: bool = True) -> list[Check]:
    from archstat.api import load

    return verify_graph(load(name, params), fvcore=fvcore)
