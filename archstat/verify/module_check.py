"""``archstat verify module:...``: a traced module's numbers against independent counters.

- params: the rows' total (+ modules that did not run in eval mode) == ``sum(p.numel())``;
- MACs == ``FlopCounterMode`` / 2 on the meta device, op by op; where they differ, the ops that
  FlopCounterMode has no formula for are named (the difference is explained, not a mismatch);
- MACs against fvcore's matrix-product and conv operators on real CPU tensors, naming the ops
  fvcore skips (``aten::scaled_dot_product_attention``, for example);
- shapes and activation elements of every leaf-module row == a real CPU forward at batch 1.

The real CPU checks run only when the module's parameters and activations fit under
``memory_cap`` bytes; otherwise they are skipped, saying how much they would take.
"""

from __future__ import annotations

import logging
import warnings

from archstat.builder import require_torch
from archstat.verify.crosscheck import FAIL, PASS, SKIP, Check

EXPLAINED = "differs, explained"
SHAPES = "shapes and activations (real CPU forward)"
DEFAULT_CAP = 2_000_000_000


def verify_module(target: str, input_shape, *, fvcore: bool = True,
                  memory_cap: int = DEFAULT_CAP) -> list[Check]:
    """``input_shape``: anything ``trace.inputs.normalize`` takes; None: the factory's example
    inputs or the model's own size (timm, torchvision), as ``table`` does."""
    from archstat.trace.analyze import analyze_module
    from archstat.trace.factory import build_target_on_cpu, find_input, load_target

    torch = require_torch()
    built = load_target(target)
    model = built.model
    inputs = find_input(model, input_shape, target=target, example=built.inputs)
    from archstat.zoo import shown_name

    name = shown_name(target)
    stats = analyze_module(model, inputs, name=name, fold=False, memory_cap=memory_cap,
                           cpu_model=lambda: build_target_on_cpu(target))
    checks = [_params(name, model, stats), _complete(name, stats), _flop_counter(name, model, inputs, stats)]
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    real_bytes = held + stats.totals.activation_bytes
    if real_bytes > memory_cap:
        why = (f"a real CPU forward would take ~{real_bytes / 1e6:,.0f} MB (parameters and buffers "
               f"{held / 1e6:,.0f} MB), over the cap of {memory_cap / 1e6:,.0f} MB")
        checks += [Check(name, "MACs vs fvcore", "", "", SKIP, why), Check(name, SHAPES, "", "", SKIP, why)]
        return checks
    torch.manual_seed(0)
    real = build_target_on_cpu(target).eval()
    if fvcore:
        checks.append(_fvcore(name, real, inputs, stats))
    checks.append(_shapes(name, real, inputs, stats))
    return checks


def _params(name, model, stats) -> Check:
    total = sum(p.numel() for p in model.parameters())
    ours = stats.totals.params + stats.aux_params
    detail = (f"{stats.aux_params:,} of them in modules that did not run in eval mode" if stats.aux_params else "")
    return Check(name, "params total", f"{ours:,}", f"{total:,}", PASS if ours == total else FAIL, detail)


def _complete(name, stats) -> Check:
    t = stats.totals
    return Check(name, "every costly op has a formula", "complete" if t.complete else "a lower bound", "",
                 PASS if t.complete else FAIL, t.uncounted_text())


def _compare_ops(ours: dict, theirs: dict, reference: str) -> tuple[str, str]:
    """(status, detail): equal totals pass; a difference made only of ops the reference leaves at
    zero is explained; any other difference is a mismatch."""
    ops = sorted(set(ours) | set(theirs))
    diff = [(op, ours.get(op, 0), theirs.get(op, 0)) for op in ops if ours.get(op, 0) != theirs.get(op, 0)]
    if not diff:
        return PASS, f"{len(ops)} operator kinds equal"
    missed = [op for op, a, b in diff if b == 0]
    text = "; ".join(f"{op}: {a:,} vs {b:,}" for op, a, b in diff[:4])
    if len(missed) == len(diff):
        return EXPLAINED, f"{reference} has no formula for {', '.join(missed)} ({text})"
    return FAIL, text


def flop_counter_by_op(model, inputs, batch: int) -> dict:
    """FlopCounterMode / 2 per aten op of one forward on the meta device at ``batch``."""
    torch = require_torch()
    from torch.utils.flop_counter import FlopCounterMode

    from archstat.trace.analyze import meta_copy

    meta = model if all(p.device.type == "meta" for p in model.parameters()) else meta_copy(model)
    meta.eval()
    args, kwargs = inputs.make(meta, batch, "meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(*args, **kwargs)
    return {f"aten.{str(op).split('.')[-1]}" if "." in str(op) else f"aten.{op}": n // 2
            for op, n in counter.get_flop_counts().get("Global", {}).items()}


def _flop_counter(name, model, inputs, stats) -> Check:
    """Op by op at the batch archstat traced (its rows at batch 1 are one sample's share of that
    trace), and the totals at batch 1."""
    bt = stats.batch_trace
    traced = bt.batches[0] if bt is not None else 1
    try:
        theirs = flop_counter_by_op(model, inputs, traced)
        theirs_one = flop_counter_by_op(model, inputs, 1) if traced != 1 else theirs
    except Exception as exc:
        return Check(name, "MACs vs FlopCounterMode/2", f"{stats.totals.macs:,}", "", SKIP,
                     f"FlopCounterMode failed on the meta device: {type(exc).__name__}: {exc}")
    ours = bt.main.by_op if bt is not None and traced != stats.batch else stats.macs_by_op
    status, detail = _compare_ops(ours, theirs, "FlopCounterMode")
    if traced != 1:
        detail = f"op by op at batch {traced}: {detail}"
        if status == PASS and sum(theirs_one.values()) != stats.totals.macs:
            status, detail = FAIL, f"{detail}; but at batch 1 {stats.totals.macs:,} vs {sum(theirs_one.values()):,}"
    return Check(name, "MACs vs FlopCounterMode/2", f"{stats.totals.macs:,}", f"{sum(theirs_one.values()):,}",
                 status, detail)


FVCORE_MATMUL = ("conv", "linear", "addmm", "matmul", "bmm", "einsum", "baddbmm", "mm", "conv_transpose")


def _fvcore(name, real, inputs, stats) -> Check:
    torch = require_torch()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fvcore.nn import FlopCountAnalysis
    except ImportError:
        from archstat.install import install_hint

        return Check(name, "MACs vs fvcore", "", "", SKIP, f"fvcore is not installed ({install_hint('torch')})")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            args, kwargs = inputs.make(real, 1, "cpu")
            if kwargs:
                raise ValueError("fvcore traces positional inputs only")
            analysis = FlopCountAnalysis(real, tuple(args))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_operator = analysis.by_operator()
            skipped = analysis.unsupported_ops()
    except Exception as exc:
        return Check(name, "MACs vs fvcore", f"{stats.totals.macs:,}", "", SKIP,
                     f"fvcore failed: {type(exc).__name__}: {exc}")
    theirs = sum(v for k, v in by_operator.items() if k in FVCORE_MATMUL)
    ours = stats.totals.macs
    if ours == theirs:
        return Check(name, "MACs vs fvcore", f"{ours:,}", f"{theirs:,}", PASS,
                     "fvcore's conv and matrix-product operators, batch 1, eval")
    costly = sorted(op for op in skipped if "attention" in op or "fft" in op or "conv" in op or "mm" in op)
    detail = (f"fvcore skips {', '.join(costly)}" if costly else
              "fvcore's own operator table differs: " + ", ".join(f"{k} {v:,}" for k, v in by_operator.items()))
    return Check(name, "MACs vs fvcore", f"{ours:,}", f"{theirs:,}", EXPLAINED if costly and theirs < ours else FAIL,
                 detail)


def real_leaf_outputs(model, input_shape, batch: int = 1) -> dict:
    """Per leaf-module call of a real CPU forward: (elements it allocated — 0 for a view or an
    in-place result — and its full shape), named as the traced rows are (``name#2`` for a second call)."""
    torch = require_torch()
    from archstat.trace.inputs import normalize
    from archstat.trace.recorder import is_leaf

    seen: dict[str, tuple[int, tuple[int, ...]]] = {}
    calls: dict[str, int] = {}
    handles = []

    def hook(name):
        def record(module, inputs, out):
            ptrs = {t.untyped_storage().data_ptr() for t in inputs if torch.is_tensor(t)}
            out = out[0] if isinstance(out, (tuple, list)) else out
            if not torch.is_tensor(out):
                return
            calls[name] = calls.get(name, 0) + 1
            key = name if calls[name] == 1 else f"{name}#{calls[name]}"
            seen[key] = (0 if out.untyped_storage().data_ptr() in ptrs else out.numel(), tuple(out.shape))
        return record
    for name, m in model.named_modules():
        if name and is_leaf(m):
            handles.append(m.register_forward_hook(hook(name)))
    args, kwargs = normalize(input_shape).make(model, batch, "cpu")
    try:
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return seen


def _shapes(name, real, inputs, stats) -> Check:
    try:
        seen = real_leaf_outputs(real, inputs)
    except Exception as exc:  # the meta device accepted a forward that real tensors refuse
        return Check(name, SHAPES, "", "torch", FAIL,
                     f"the real forward failed: {type(exc).__name__}: {exc}")
    rows = {r.name: r for r in stats.rows}
    bad = []
    for key, (elements, shape) in seen.items():
        row = rows.get(key)
        if row is None:
            continue  # a leaf inside a module archstat costs as one row (a merge's branches)
        ours = tuple(row.output_shape) if row.full_shape else (1, *row.output_shape)
        if (row.activation_elements, ours) != (elements, shape):
            bad.append(f"{key}: {ours} ({row.activation_elements:,}) vs {shape} ({elements:,})")
    return Check(name, SHAPES, f"{len(seen)} leaf calls", "torch",
                 PASS if not bad else FAIL, "; ".join(bad[:3]) if bad else "batch 1, every leaf module's output")
