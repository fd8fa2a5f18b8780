"""Any ``nn.Module`` → the same ModelStats as a YAML config, from one traced forward pass.

The module runs on the meta device (no memory, no compute); a module whose forward needs real
data runs on the CPU instead, with a note. Every aten operator is followed (``recorder``) and
costed by its formula (``aten_costs``); what archstat cannot cost is a row marked *not counted*
and the totals say they are a lower bound (``totals.complete``, ``totals.uncounted``).
"""

from __future__ import annotations

import copy
import sys
from typing import Optional

from archstat.analyze.stats import DTYPE_BYTES, ModelStats, Row, Totals, accumulate, collapse
from archstat.builder import require_torch
from archstat.errors import ConfigError, UsageError
from archstat.ops.registry import numel
from archstat.trace.recorder import Acc, Recorder, storage_key, tensors_in

DESCRIPTION = "an nn.Module (traced op by op on the {device} device)"


def analyze_module(model, input_shape: tuple[int, ...], *, name: Optional[str] = None, batch: int = 1,
                   dtype: str = "float32", fold: bool = True, depth: Optional[int] = None, mode: str = "eval",
                   optimizer: str = "adam", amp: bool = False, notes: tuple[str, ...] = (),
                   device: str = "meta", cpu_model=None, backward: bool = False) -> ModelStats:
    """Rows and totals for any ``nn.Module`` on an input of ``input_shape`` (batch excluded).

    A module with real parameters is copied to the meta device first (the caller's module is never
    touched); a forward that fails there runs on a CPU copy (``cpu_model()`` when given: a meta
    module's buffers hold no values). ``device='cpu'`` runs real tensors from the start.
    ``backward`` (with ``mode='train'``) also runs a loss and its backward pass, whose operators join
    the kernel log (``stats.kernels``, phase "backward") but not the rows."""
    torch = require_torch()
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"expected an nn.Module, got {type(model).__name__}")
    notes = list(notes)
    on_meta = all(t.device.type == "meta" for t in (*model.parameters(), *model.buffers()))
    work = model if on_meta else meta_copy(model)
    try:
        if device != "meta":
            raise _RealTensors()
        rec, output = _trace(work, input_shape, batch, "meta", mode, DTYPE_BYTES[dtype] if not amp else 2,
                             backward)
    except Exception as meta_exc:  # a forward that needs real data (.item(), data-dependent shapes)
        real = cpu_model() if cpu_model is not None else copy.deepcopy(model)
        if any(p.device.type == "meta" for p in real.parameters()):
            real = real.to_empty(device="cpu")
        try:
            rec, output = _trace(real, input_shape, batch, "cpu", mode, DTYPE_BYTES[dtype] if not amp else 2,
                                 backward)
        except Exception as exc:
            raise ConfigError(f"the module's forward failed on a {'×'.join(map(str, (batch, *input_shape)))} "
                              f"input: {type(exc).__name__}: {exc}") from None
        if not isinstance(meta_exc, _RealTensors):
            notes.append(f"the forward failed on the meta device ({type(meta_exc).__name__}: {meta_exc}); "
                         f"it ran on real CPU tensors, taking {_real_bytes(real, rec) / 1e6:.1f} MB "
                         "(parameters, buffers and the outputs it allocated)")
        device, work = "cpu", real
    nbytes = DTYPE_BYTES[dtype]
    rows = [Row("input", "INPUT", "input", tuple(input_shape), numel(input_shape) * batch,
                numel(input_shape) * batch * nbytes, 0, 0, 0, 0)]
    rows += [_row(acc, batch, nbytes) for acc in rec.rows]
    aux_params, unused = _params_left(work, rec)
    if unused:
        rows.append(Row("(parameters of modules that ran, read by no op)", "PARAMS", "params", (), 0, 0,
                        sum(p.numel() for n, p in unused if not n.endswith("bias")),
                        sum(p.numel() for n, p in unused if n.endswith("bias")), 0, 0,
                        note=", ".join(n for n, _ in unused[:5])))
    if fold:
        rows = _fold(rows)
    totals = Totals()
    for r in rows:
        accumulate(totals, r)
    totals.uncounted = uncounted(rec.rows)
    totals.complete = not totals.uncounted
    training = _training(rows, dtype, optimizer, amp) if mode == "train" else None
    if depth is not None:
        labels = {n: type(m).__name__ for n, m in work.named_modules()}
        rows = collapse(rows, depth, labels)
    out = _first(output)
    return ModelStats(model=name or type(model).__name__, description=DESCRIPTION.format(device=device),
                      input_shape=tuple(input_shape), output_shape=_shape(out, batch)[0] if out is not None else (),
                      batch=batch, dtype=dtype, bytes_per_element=nbytes, rows=rows, totals=totals,
                      per_sample=totals.per_sample(batch), folded=fold, depth=depth, mode=mode, layers=None,
                      receptive_field=None, source="module", aux_params=aux_params, training=training,
                      notes=notes, macs_by_op=dict(rec.by_op), kernels=rec.kernels,
                      module_calls=rec.module_calls)


def meta_copy(model):
    """A copy of a real module on the meta device, without copying its data."""
    torch = sys.modules["torch"]
    memo = {}
    for t in (*model.parameters(), *model.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = torch.nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(
            t, torch.nn.Parameter) else meta
    return copy.deepcopy(model, memo)


def _real_bytes(model, rec: Recorder) -> int:
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return held + sum(t.numel() * t.element_size() for acc in rec.rows for t in tensors_in(acc.out)
                      if storage_key(t) in acc.allocated)


class _RealTensors(Exception):
    """Asked for real CPU tensors."""


def _trace(model, input_shape, batch, device, mode, saved_nbytes, backward=False):
    """Run the forward once under the recorder (and, with ``backward``, a loss and its backward
    pass): (recorder, output)."""
    torch = sys.modules["torch"]
    from torch.utils._python_dispatch import TorchDispatchMode

    rec = Recorder(model)
    if device == "meta":
        rec.hold = []

    class Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            rec.op(func, args, kwargs, out)
            return out

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(rec.pre))
        handles.append(m.register_forward_hook(rec.post))
    train = mode == "train"
    model.train(train)
    x = example_input(model, input_shape, batch, device)
    rec.mark_inputs(x)
    fastpath = getattr(torch.backends, "mha", None)
    was_fast = fastpath.get_fastpath_enabled() if fastpath else None
    try:
        if fastpath:  # the same operators on meta and CPU: MultiheadAttention's math, not its fused kernel
            fastpath.set_fastpath_enabled(False)
        if train:
            pack, unpack = rec.saved_hooks(saved_nbytes)
            with torch.autograd.graph.saved_tensors_hooks(pack, unpack), rec.functions(), Dispatch():
                output = model(x)
                if backward:
                    for p in model.parameters():   # gradients start empty, as after zero_grad(set_to_none=True)
                        p.grad = None
                    rec.phase = "backward"
                    stand_in_loss(output).backward()
                    rec.phase = "forward"
                    for p in model.parameters():
                        p.grad = None
        else:
            with torch.no_grad(), rec.functions(), Dispatch():
                output = model(x)
    finally:
        for h in handles:
            h.remove()
        if fastpath:
            fastpath.set_fastpath_enabled(was_fast)
    return rec, output


def stand_in_loss(output):
    """What a training step's loss costs: cross-entropy against class 0 on (batch, classes) logits (as
    timm's train benchmark), else the mean of the first output."""
    torch = sys.modules["torch"]
    out = _first(output)
    if out.dim() == 2 and out.is_floating_point():
        target = torch.zeros(out.shape[0], dtype=torch.long, device=out.device)
        return torch.nn.functional.cross_entropy(out, target)
    return out.float().mean()


def example_input(model, input_shape, batch: int = 1, device: str = "meta"):
    """Zeros of (batch, *input_shape): floats, or int64 token ids for a model that starts with an
    Embedding."""
    torch = sys.modules["torch"]
    return torch.zeros(batch, *input_shape, device=device, dtype=torch.long if takes_tokens(model) else None)


def takes_tokens(model) -> bool:
    """Whether the input is token ids (int64): the first module holding parameters is an Embedding."""
    torch = sys.modules["torch"]
    for m in model.modules():
        if next(m.parameters(recurse=False), None) is not None:
            return isinstance(m, torch.nn.Embedding)
    return False


def _shape(t, batch: int) -> tuple[tuple[int, ...], bool]:
    """(the shape shown, whether it is the full shape): per sample when dim 0 is the batch."""
    shape = tuple(t.shape)
    if shape and shape[0] == batch:
        return shape[1:], False
    return shape, True


def _first(out):
    ts = tensors_in(out)
    return ts[0] if ts else None


def _row(acc: Acc, batch: int, nbytes: int) -> Row:
    out = _first(acc.out)
    shape, full = _shape(out, batch) if out is not None else ((), False)
    elements = out.numel() if out is not None and storage_key(out) in acc.allocated else 0
    weights = sum(p.numel() for n, p in acc.params if not n.endswith("bias"))
    biases = sum(p.numel() for n, p in acc.params if n.endswith("bias"))
    label, op, ops, formula = _describe(acc, batch, shape)
    note = ", ".join(f"no formula for {k}" + (f" (×{n})" if n > 1 else "") for k, n in acc.unknown.items())
    row = Row(acc.name, label, op, shape, elements, elements * nbytes, weights, biases, acc.macs, ops,
              formula=formula, saved_bytes=acc.saved_bytes, counted=not acc.unknown, note=note)
    row.full_shape = full
    row.output_elements = out.numel() if out is not None else 0   # what it writes (in place too), batch included
    row.input_elements = acc.read_elements          # what it reads of activations (the roofline's traffic)
    row.constant_elements = acc.constant_elements   # … and of tensors computed from weights alone
    return row


def _describe(acc: Acc, batch: int, out_shape) -> tuple[str, str, int, str]:
    """(label, op, elementwise ops, weights formula): the registry's where it knows the module
    class and its formula applies (the same row as a YAML config's), else the class name."""
    if acc.module is None:
        return f"aten.{acc.op}", acc.op, acc.ops, ""
    from archstat.ops.registry import op_for_module

    type_name = type(acc.module).__name__
    spec = op_for_module(acc.module)
    values = spec.args_of_module(acc.module) if spec is not None else None
    if values is None:
        return type_name, type_name, 0, ""
    try:
        args = spec.make_args(values)
        shapes = [_shape(t, batch)[0] for t in acc.inputs if hasattr(t, "shape")]
        formula = spec.formula(args, shapes) if spec.formula and acc.params else ""
        return (spec.label(args, shapes, out_shape), spec.name, spec.ops(args, shapes, out_shape) * batch, formula)
    except Exception:  # the module is used beyond what the op describes (tokens into a flat linear)
        return type_name, type_name, 0, ""


def _params_left(model, rec: Recorder):
    """(params of modules that never ran, e.g. auxiliary heads in eval mode; params of modules
    that ran but that no op read)."""
    aux, unused = 0, []
    for pname, p in model.named_parameters():
        if storage_key(p) in rec.counted_storages:
            continue
        owner = pname.rpartition(".")[0]
        if owner in rec.called:
            unused.append((pname, p))
        else:
            aux += p.numel()
    return aux, unused


def uncounted(accs: list[Acc]) -> list[dict]:
    """The operators archstat has no formula for: kind, calls, and the rows they are in."""
    found: dict[str, dict] = {}
    for acc in accs:
        for op, n in acc.unknown.items():
            entry = found.setdefault(op, {"op": op, "calls": 0, "rows": []})
            entry["calls"] += n
            entry["rows"].append(acc.name)
    return list(found.values())


def _fold(rows: list[Row]) -> list[Row]:
    """Rows that allocate nothing and cost nothing (in-place ops, views) fold into the row before."""
    out: list[Row] = []
    for r in rows:
        if out and r.counted and r.activation_elements == 0 and not r.params and not r.macs and r.op != "input":
            out[-1].ops += r.ops
            out[-1].saved_bytes += r.saved_bytes
            out[-1].folded.append(r.name)
            continue
        out.append(r)
    return out


def _training(rows, dtype, optimizer, amp):
    """Parameters, gradients, optimizer state, and the saved-for-backward bytes measured on the
    traced forward (each storage once)."""
    from archstat.analyze.training import OPTIMIZER_STATES, TrainingMemory

    params = sum(r.params for r in rows)
    elem = 4 if amp else DTYPE_BYTES[dtype]
    saved = sum(r.saved_bytes for r in rows)
    return TrainingMemory(optimizer=optimizer, amp=amp, param_bytes=params * elem, grad_bytes=params * elem,
                          optimizer_bytes=OPTIMIZER_STATES[optimizer] * params * elem,
                          weight_copy_bytes=params * 2 if amp else 0, saved_bytes=saved,
                          per_node={r.name: r.saved_bytes for r in rows})

