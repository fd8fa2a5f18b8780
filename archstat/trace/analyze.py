"""Any ``nn.Module`` → the same ModelStats as a YAML config, from two traced forward passes.

The module runs on the meta device (no memory, no compute) at the batch asked for and at the next
one (``batch.py``): the pair tells which dimension of every tensor is the batch, and refuses a
forward whose costs are not those of independent samples. A module whose forward needs real data
runs on the CPU instead, with a note, when a real run fits under a memory cap. Every aten operator
is followed (``recorder``) and costed by its formula (``aten_costs``); what archstat cannot cost
is a row marked *not counted* and the totals say they are a lower bound (``totals.complete``,
``totals.uncounted``); what depends on the data (``nms``) is said in ``totals.data_dependent``.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Optional

from archstat.analyze.stats import ModelStats, Row, Totals, accumulate, collapse
from archstat.builder import require_torch
from archstat.dtypes import DTYPES, STORAGE, canonical
from archstat.errors import ArchstatError, ConfigError, UsageError
from archstat.ops.registry import numel
from archstat.trace.batch import UNKNOWN, BatchTrace, compare, other_batch, signature
from archstat.trace.inputs import InputSet, normalize, takes_tokens  # noqa: F401  (takes_tokens: API)
from archstat.trace.recorder import Acc, Recorder, storage_key

DESCRIPTION = "an nn.Module (traced op by op on the {device} device)"
FALLBACK_CAP = 4_000_000_000   # bytes a real CPU forward may take when the meta device cannot run it


def analyze_module(model, input_shape, *, name: Optional[str] = None, batch: int = 1,
                   dtype: str = "float32", fold: bool = True, depth: Optional[int] = None, mode: str = "eval",
                   optimizer: str = "adam", amp: bool = False, notes: tuple[str, ...] = (),
                   device: str = "meta", cpu_model=None, memory_cap: int = FALLBACK_CAP,
                   convention: Optional[str] = None, backward: bool = False) -> ModelStats:
    """Rows and totals for any ``nn.Module`` on ``input_shape`` (anything ``inputs.normalize``
    takes: one per-sample shape, a list of shapes, a dict of name → shape, grammar strings, an
    InputSet).

    A module with real parameters is copied to the meta device first (the caller's module is never
    touched); a forward that fails there for want of real data runs on a CPU copy (``cpu_model()``
    when given: a meta module's buffers hold no values) when parameters, buffers and activations
    fit under ``memory_cap`` bytes. ``device='cpu'`` runs real tensors from the start.
    ``backward`` (with ``mode='train'``) also runs a stand-in loss and its backward pass, whose
    operators join the kernel log (``stats.op_calls``, phase "backward") but not the rows."""
    from archstat.trace.run import recursion_room

    with recursion_room(model):
        return _analyze_module(model, input_shape, name=name, batch=batch, dtype=dtype, fold=fold, depth=depth,
                               mode=mode, optimizer=optimizer, amp=amp, notes=notes, device=device,
                               cpu_model=cpu_model, memory_cap=memory_cap, convention=convention, backward=backward)


def _analyze_module(model, input_shape, *, name, batch, dtype, fold, depth, mode, optimizer, amp, notes, device,
                    cpu_model, memory_cap, convention, backward) -> ModelStats:
    dtype = canonical(dtype, STORAGE, path=None)
    inputs = _checked_inputs(model, input_shape, batch)
    said = list(notes)   # the notes given, and those the trace adds
    saved = DTYPES[dtype].bytes if not amp else 2
    backward = backward and mode == "train"
    bt, device, work = _traced(model, inputs, batch, device, mode, saved, backward, cpu_model, memory_cap, said)
    bt = _proven(bt, work, inputs, batch, device, mode, saved, backward, said)
    rec, bt = _at_batch(bt, work, inputs, batch, device, mode, saved, backward, said)
    nbytes = DTYPES[dtype].bytes
    aux_params, unused = _params_left(work, rec)
    rows = _module_rows(rec, inputs, batch, nbytes, bt, fold, unused)
    totals = _totals(rows, rec)
    per_sample = _per_sample(rows, batch, totals)
    training = _training(rows, dtype, optimizer, amp) if mode == "train" else None
    if depth is not None:
        labels = {n: type(m).__name__ for n, m in work.named_modules()}
        rows = collapse(rows, depth, labels)
    outputs = _outputs(bt, batch)
    first = next((o for o in outputs if "shape" in o), None)
    out_shape, full = _shown_shape(first["shape"], first["batch_dim"], first.get("per_sample", 1)) if first else ((),
                                                                                                                 False)
    first_data = next((i for i, acc in enumerate(rec.rows) if acc.data), None)
    if first_data is not None:
        said.append(_data_note(rec, first_data, rows, inputs))
    stats = ModelStats(model=name or type(model).__name__, description=DESCRIPTION.format(device=device),
                       input_shape=inputs.first_shape(), output_shape=out_shape, batch=batch, dtype=dtype,
                       bytes_per_element=nbytes, rows=rows, totals=totals, per_sample=per_sample, folded=fold,
                       depth=depth, mode=mode, layers=None, receptive_field=None, source="module",
                       aux_params=aux_params, training=training, notes=said,
                       macs_by_op=dict(rec.by_op), inputs=[s.as_dict(batch) for s in inputs.specs], outputs=outputs,
                       input_source=inputs.source, output_full_shape=full, batch_trace=bt, op_calls=list(rec.op_calls),
                       outputs_total=max(bt.outputs_total, len(outputs)),
                       module_calls=getattr(rec, "module_calls", bt.main.module_calls))
    if convention is not None:
        from archstat.trace.conventions import peer_count

        stats.conventions = peer_count(convention, stats, bt, work, inputs, traced=bt.traced.get(batch))
    return stats


def _checked_inputs(model, input_shape, batch: int, where: str = "input_shape") -> InputSet:
    """The step before tracing: a module, and its inputs resolved for it (token ids for an Embedding)."""
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"expected an nn.Module, got {type(model).__name__}")
    inputs = normalize(input_shape, where)
    if inputs is None:
        raise UsageError("analyzing an nn.Module needs input_shape, e.g. (3, 224, 224)")
    if batch > 1 and not inputs.batched:
        raise UsageError(f"--batch {batch}: no input has a batch dimension (every one is unbatched: or a value)")
    return inputs.resolved(model)


def _traced(model, inputs: InputSet, batch: int, device: str, mode: str, saved: int, backward: bool, cpu_model,
            memory_cap: int, notes: list):
    """The forward traced at two batches: on the meta device (a copy of ``model``), or on real CPU tensors
    when it needs real data (a note says so). → (BatchTrace, the device it ran on, the module that ran)."""
    on_meta = all(t.device.type == "meta" for t in (*model.parameters(), *model.buffers()))
    work = model if on_meta else meta_copy(model)
    try:
        if device != "meta":
            raise _RealTensors()
        materialize_lazy(work, inputs, batch, "meta", mode)
        return _trace_pair(work, inputs, batch, "meta", mode, saved, backward), device, work
    except ArchstatError:
        raise
    except Exception as meta_exc:  # a forward that needs real data (.item(), data-dependent shapes)
        if not isinstance(meta_exc, _RealTensors):
            meta_exc = _at_asked_batch(meta_exc, work, inputs, batch, mode, saved, backward)
            _may_fall_back(meta_exc, work, inputs, batch, memory_cap)
        real = cpu_model() if cpu_model is not None else copy.deepcopy(model)
        materialize_lazy(real, inputs, batch, "cpu", mode)
        if any(p.device.type == "meta" for p in real.parameters()):
            real = real.to_empty(device="cpu")
        try:
            bt = _trace_pair(real, inputs, batch, "cpu", mode, saved, backward)
        except ArchstatError:
            raise
        except Exception as exc:
            raise ConfigError(f"the module's forward failed on {_inputs_text(inputs, batch)}: "
                              f"{type(exc).__name__}: {exc}") from None
        if not isinstance(meta_exc, _RealTensors):
            notes.append(f"the forward failed on the meta device ({type(meta_exc).__name__}: {_short(meta_exc)}); "
                         f"it ran on real CPU tensors, taking {_real_bytes(real, bt.main) / 1e6:.1f} MB "
                         "(parameters, buffers and the outputs it allocated)")
        return bt, "cpu", real


def _module_rows(rec, inputs: InputSet, batch: int, nbytes: int, bt: BatchTrace, fold: bool, unused) -> list[Row]:
    """The input rows, one row per traced module or op, a row for parameters no op read; folded."""
    after_data = _after_data(rec)
    rows = _input_rows(inputs, batch, nbytes)
    rows += [_row(acc, batch, nbytes, bt, acc.name in after_data) for acc in rec.rows]
    if unused:
        rows.append(Row(name="(parameters of modules that ran, read by no op)", label="PARAMS", op="params",
                        output_shape=(), activation_elements=0, activation_bytes=0,
                        weights=sum(p.numel() for n, p in unused if not is_bias(n)),
                        biases=sum(p.numel() for n, p in unused if is_bias(n)), macs=0, ops=0,
                        note=", ".join(n for n, _ in unused[:5]), scales="fixed"))
    return _fold(rows) if fold else rows


def _totals(rows: list[Row], rec) -> Totals:
    totals = Totals()
    for r in rows:
        accumulate(totals, r)
    totals.uncounted = uncounted(rec.rows) + foreign_work(rec)
    totals.complete = not totals.uncounted
    totals.data_dependent = data_dependent(rec.rows)
    return totals


def first_traced(batch: int) -> int:
    """The first batch traced: the one asked for, or 2 for batch 1 (at batch 1 torch may take
    another path: a size-1 dimension is contiguous whatever its stride, so a transposed batch of one
    needs no copy and ``linear`` runs as ``addmm``, where any larger batch runs ``mm`` after a copy)."""
    return max(batch, 2)


def _run(model, inputs, batch, device, mode, saved, backward=False, seed: int = 0):
    from archstat.trace.run import run_forward

    return run_forward(model, inputs, batch, device, mode, saved, backward=backward, seed=seed)


def _trace_pair(model, inputs: InputSet, batch: int, device: str, mode: str, saved: int,
                backward: bool = False) -> BatchTrace:
    a = first_traced(batch)
    b = other_batch(a)
    main, out_a = _run(model, inputs, a, device, mode, saved, backward)
    second, out_b = _run(model, inputs, b, device, mode, saved, backward)
    return compare(main, second, out_a, out_b, a, b)


RANDOM_SEEDS = 8   # traces at other seeds of a forward that draws random numbers (a fair coin slips past 1 in 128)


def _proven(bt: BatchTrace, model, inputs, batch: int, device, mode, saved, backward, notes: list) -> BatchTrace:
    """The pair of traces, once nothing it says is left unproven: every row's cost fixed or in proportion to the
    batch, rows only one trace has from a loop over the samples, the same forward at one batch from one call to
    the next and whatever random numbers it draws. A first call that does work later calls skip (a cache it
    fills) is traced again; anything else is refused, saying which it is."""
    message = _problem(bt)
    if message:
        again = _trace_pair(model, inputs, batch, device, mode, saved, backward)
        if _problem(again) is None and _repeats(again, model, inputs, device, mode, saved, backward):
            notes.append("the first call of the forward did work later calls skip (a cache it fills): counted as "
                         "a later call runs")
            bt, message = again, None
        elif signature(again.main) != signature(bt.main):
            raise UsageError(_changes(bt, again.main, "from one call to the next: it keeps state between calls"))
    if message:
        raise UsageError(message)
    if bt.main.outlived:
        notes.append(f"the forward started {bt.main.outlived:,} thread{'s' if bt.main.outlived > 1 else ''} (a pool "
                     "kept between calls) still running after it: work they do after a forward is not counted, "
                     "and a later forward's work in them is not seen")
    if bt.main.drew_random or bt.other.drew_random:
        a = bt.batches[0]
        for seed in range(1, RANDOM_SEEDS):
            other, _ = _run(model, inputs, a, device, mode, saved, backward, seed=seed)
            if signature(other) != signature(bt.main):
                raise UsageError(_changes(bt, other, f"with the random numbers it draws (seeds 0 and {seed})"))
    return bt


def _problem(bt: BatchTrace):
    from archstat.trace.batch import problem

    return problem(bt, _after_data(bt.main) | _after_data(bt.other))


def _repeats(bt: BatchTrace, model, inputs, device, mode, saved, backward) -> bool:
    """Whether the forward at the pair's first batch does the same work once more."""
    again, _ = _run(model, inputs, bt.batches[0], device, mode, saved, backward)
    return signature(again) == signature(bt.main)


def _changes(bt: BatchTrace, other, why: str) -> str:
    a = bt.batches[0]
    first, second = sum(acc.macs for acc in bt.main.rows), sum(acc.macs for acc in other.rows)
    rows = (f"{len(bt.main.rows):,} and {len(other.rows):,} rows" if len(bt.main.rows) != len(other.rows)
            else "other costs")
    return (f"the forward is not deterministic: two traces at batch {a} ran {first:,} and {second:,} MACs "
            f"({rows}), so its cost changes {why}; archstat cannot give one count")


def _at_batch(bt: BatchTrace, model, inputs, batch: int, device, mode, saved, backward=False, notes=None):
    """(the rows at ``batch``, the BatchTrace their batch dims come from). Batch 1 is derived from
    the traces at 2 and 3 (one sample's share of each sample-wise cost), unless the forward loops
    over the samples (rows only one trace has) or its two traces do not run the same operators,
    when batch 1 is traced on its own."""
    from archstat.ir.program import BatchMismatch
    from archstat.trace.batch import derive

    notes = notes if notes is not None else []
    if bt.batches[0] == batch:
        return bt.main, bt
    try:
        one, out_one = _run(model, inputs, batch, device, mode, saved, backward)
    except ArchstatError:
        raise
    except Exception as exc:   # a forward that refuses one sample (batch norm in training): the pair's share
        failed = ConfigError(f"the module's forward failed on {_inputs_text(inputs, batch)}: {type(exc).__name__}: "
                             f"{_short(exc)}")
        if bt.loop_rows:
            raise failed from None
        try:
            derived = derive(bt, batch)
        except BatchMismatch:
            raise failed from None
        notes.append(f"the forward fails at batch {batch} ({type(exc).__name__}: {_short(exc, 120)}): the rows are "
                     f"one sample's share of the traces at batches {bt.batches[0]} and {bt.batches[1]}")
        return derived, bt
    _same_share(one, bt, batch)
    bt.traced[batch] = one
    if not bt.loop_rows:
        try:
            return derive(bt, batch), bt
        except BatchMismatch:   # the two traces ran other operators: batch 1 gets its own trace
            pass
    pair = compare(one, bt.main, out_one, bt.output, batch, bt.batches[0])
    return one, pair


def _same_share(one, bt: BatchTrace, batch: int) -> None:
    """The trace at batch 1 against what the pair at 2 and 3 says one sample costs: torch may run other operators
    at batch 1 (a view for a copy, ``addmm`` for ``mm``), but the same MACs, row by row; a forward that branches
    on the batch size does other work, which no per-sample cost describes, and is refused."""
    a, b = bt.batches
    after = _after_data(one) | _after_data(bt.main) | _after_data(bt.other)
    at_a, at_b, traced = (_macs_by_module(rec, after) for rec in (bt.main, bt.other, one))
    share = {}
    for name in set(at_a) | set(at_b):
        x, y = at_a.get(name, 0), at_b.get(name, 0)
        share[name] = x - (x - y) // (a - b) * (a - batch) if (x - y) % (a - b) == 0 else None
    if bt.loop_rows:   # a loop over the samples: the totals only
        expected = sum(at_a.values()) - (sum(at_a.values()) - sum(at_b.values())) // (a - b) * (a - batch)
        found = sum(traced.values())
        if found == expected:
            return
    else:
        differ = sorted(n for n in set(share) | set(traced) if share.get(n, 0) != traced.get(n, 0))
        if not differ:
            return
        expected, found = sum(v or 0 for v in share.values()), sum(traced.values())
    raise UsageError(f"the forward does other work at batch {batch} ({found:,} MACs) than the traces at batches "
                     f"{a} and {b} give one sample ({expected:,}): it branches on the batch size, so no per-sample "
                     f"cost describes it; trace it at another batch (--batch {a} or more)")


def _macs_by_module(rec, left_out: set[str]) -> dict[str, int]:
    """MACs per module: a leaf's row, and the operators run outside a leaf under the module that ran them (at
    batch 1 torch may run ``addmm`` where larger batches run ``mm``, a row of another name under the same
    module)."""
    out: dict[str, int] = {}
    for acc in rec.rows:
        if acc.name in left_out:
            continue
        owner = acc.name.split("#")[0] if acc.module is not None else acc.name.rpartition(".")[0]
        out[owner] = out.get(owner, 0) + acc.macs
    return out


def _after_data(rec) -> set[str]:
    """The rows from the first data-dependent op on (they ran on what it returned)."""
    first = next((i for i, acc in enumerate(rec.rows) if acc.data), None)
    return {acc.name for acc in rec.rows[first:]} if first is not None else set()


def _inputs_text(inputs: InputSet, batch: int) -> str:
    """'a 1×3×8×8 input', 'inputs 1×8, mask=1×8', 'an input of type int' (a value passed as it is)."""
    shapes = [(f"{s.name}=" if s.name else "") + (f"{type(s.value).__name__} {_short_value(s.value)}" if s.is_value
                                                   else "×".join(map(str, s.whole(batch))) or "scalar")
              for s in inputs.specs]
    if len(shapes) == 1:
        return f"an input of type {shapes[0]}" if inputs.specs[0].is_value else f"a {shapes[0]} input"
    return f"inputs {', '.join(shapes)}"


def _short_value(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _at_asked_batch(exc: Exception, model, inputs, batch: int, mode: str, saved: int,
                    backward: bool = False) -> Exception:
    """The meta failure at the batch asked for (the pair is traced from batch 2: a message should
    show the user's batch), or ``exc`` itself."""
    if first_traced(batch) == batch:
        return exc
    try:
        _run(model, inputs, batch, "meta", mode, saved, backward)
    except ArchstatError:
        raise
    except Exception as again:
        return again
    return exc


def _may_fall_back(meta_exc: Exception, model, inputs: InputSet, batch: int, cap: int) -> None:
    """Refuse the CPU run when the meta failure is one a CPU run would repeat (a shape error), or
    when parameters + buffers + a bound for activations exceed ``cap``; say why."""
    from archstat.trace.run import needs_data

    rec = getattr(meta_exc, "archstat_recorder", None)
    cause = f"{type(meta_exc).__name__}: {_short(meta_exc)}"
    if not needs_data(meta_exc, rec):
        raise ConfigError(f"the module's forward failed on {_inputs_text(inputs, batch)}: {cause}")
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    other = other_batch(batch)
    ins = sum(numel(s.whole(other)) * 8 for s in inputs.specs if not s.is_value)
    acts = sum(t.nbytes for acc in (rec.rows if rec else []) for t in acc.outs if t.new) * other // batch
    estimate = held + ins + acts
    if estimate > cap:
        raise ConfigError(f"the forward cannot run on the meta device ({cause}) and a real CPU run would take at "
                          f"least {estimate / 1e6:,.0f} MB (parameters and buffers {held / 1e6:,.0f} MB, inputs and "
                          f"activations so far {(ins + acts) / 1e6:,.0f} MB), over the {cap / 1e6:,.0f} MB cap "
                          "(--memory-cap)")


def lazy_names(model) -> list[str]:
    """The parameters and buffers of lazy modules not yet materialised (``nn.LazyLinear`` before its first
    forward)."""
    from torch.nn.parameter import is_lazy

    return [n for n, t in (*model.named_parameters(), *model.named_buffers()) if is_lazy(t)]


def materialize_lazy(model, inputs: InputSet, batch: int, device: str, mode: str = "eval") -> None:
    """Lazy modules take their shapes from their first forward: one dry forward (not traced) on ``model`` (a
    copy archstat made) materialises them, as torch's documentation says to do; one that does not is refused
    by name."""
    lazy = lazy_names(model)
    if not lazy:
        return
    torch = sys.modules["torch"]
    from archstat.trace.run import user_code

    shown = ", ".join(lazy[:4]) + (f" and {len(lazy) - 4} more" if len(lazy) > 4 else "")
    model.train(mode == "train")
    args, kwargs = inputs.make(model, batch, device)
    try:
        with torch.no_grad(), user_code("the forward"):
            model(*args, **kwargs)
    except ArchstatError:
        raise
    except Exception as exc:
        raise ConfigError(f"lazy modules ({shown}) take their shapes from a first forward, which failed on "
                          f"{_inputs_text(inputs, batch)}: {type(exc).__name__}: {_short(exc)}") from None
    left = lazy_names(model)
    if left:
        raise UsageError(f"lazy parameters {', '.join(left[:4])} are not materialised by a forward on "
                         f"{_inputs_text(inputs, batch)} (their modules never ran): archstat cannot count them")


def meta_copy(model):
    """A copy of a real module on the meta device, without copying its data (a lazy module's parameters stay
    lazy, on the meta device)."""
    torch = sys.modules["torch"]
    from torch.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

    memo = {}
    on_meta: dict[str, Any] = {"device": "meta"}   # (the stubs leave out the factory keywords torch takes)
    for t in (*model.parameters(), *model.buffers()):
        if is_lazy(t):
            memo[id(t)] = UninitializedParameter(requires_grad=t.requires_grad, **on_meta) if isinstance(
                t, torch.nn.Parameter) else UninitializedBuffer(requires_grad=t.requires_grad, **on_meta)
            continue
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = torch.nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(
            t, torch.nn.Parameter) else meta
    return copy.deepcopy(model, memo)


def _real_bytes(model, rec: Recorder) -> int:
    held = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return held + sum(t.nbytes for acc in rec.rows for t in acc.outs if t.new)


class _RealTensors(Exception):
    """Asked for real CPU tensors."""


def example_inputs(model, input_shape, batch: int = 1, device: str = "meta") -> tuple[list, dict]:
    """(args, kwargs) of one forward call: ``input_shape`` as ``inputs.normalize`` takes it."""
    return normalize(input_shape).make(model, batch, device)


def _input_rows(inputs: InputSet, batch: int, nbytes: int) -> list[Row]:
    tensors = [s for s in inputs.specs if not s.is_value]
    rows = []
    for i, s in enumerate(tensors):
        elements = numel(s.whole(batch))
        name = "input" if len(tensors) == 1 else f"input.{s.name or i}"
        shape = tuple(s.shape) if s.batch_dim == 0 else s.whole(batch)
        row = Row(name=name, label="INPUT", op="input", output_shape=shape, activation_elements=elements,
                  activation_bytes=elements * nbytes, weights=0, biases=0, macs=0, ops=0, input_elements=0,
                  full_shape=s.batch_dim != 0, batch_dim=s.batch_dim,
                  scales="batch" if s.batch_dim is not None else "fixed")
        rows.append(row)
    return rows


def _shown_shape(shape, batch_dim, per_sample: int = 1) -> tuple[tuple, bool]:
    """(the shape a table shows, whether it is the whole tensor's): one sample's when dim 0 is the batch."""
    if batch_dim == 0 and per_sample == 1:
        return tuple(shape[1:]), False
    return tuple(shape), True


def _row(acc: Acc, batch: int, nbytes: int, bt: BatchTrace, after_data: bool) -> Row:
    rt = bt.rows.get(acc.name)
    out = acc.outs[0] if acc.outs else None
    bd = rt.outs[0].batch if rt is not None and rt.outs else UNKNOWN
    if out is not None:
        shape, full = _shown_shape(out.shape, bd.dim if bd.known else None, bd.per_sample)
    else:
        shape, full = (), False
    if acc.elements is not None:
        elements = acc.elements
    else:
        elements = out.numel if out is not None and out.new else 0
    weights = sum(p.numel() for n, p in acc.params if not is_bias(n))
    biases = sum(p.numel() for n, p in acc.params if is_bias(n))
    per = [_per_sample_in(t, rt.ins[i] if rt is not None and i < len(rt.ins) else None)
           for i, t in enumerate(acc.ins)]
    if all(p is not None for p in per) and not full:
        label, op, ops, formula = _describe(acc, batch, shape, per)
    else:   # a tensor whose batch is not its dim 0 (windows): the formulas on the whole tensors, at this batch
        label, op, ops, formula = _describe(acc, 1, out.shape if out is not None else (), [t.shape for t in acc.ins])
    note = ", ".join(f"no formula for {k}" + (f" (×{n})" if n > 1 else "") for k, n in acc.unknown.items())
    if acc.kind == "rnn":
        from archstat.trace.rnn import formula_text

        note = formula_text(acc.module, acc.tokens)
    if acc.data:
        note = ", ".join(f"{k} ×{n}: depends on the data" for k, n in acc.data.items())
        label = ", ".join(f"{k} ×{n}" for k, n in acc.data.items()) if acc.module is None else label
    scales = _scales(rt)
    row = Row(name=acc.name, label=label, op=op, output_shape=shape, activation_elements=elements,
              activation_bytes=elements * nbytes, weights=weights, biases=biases, macs=acc.macs, ops=ops,
              formula=formula, saved_bytes=acc.saved_bytes, counted=not acc.unknown, note=note,
              full_shape=full, batch_dim=bd.dim if bd.known else None, batch_factor=bd.per_sample,
              scales=scales, calls=acc.calls, depends_on_data=after_data)
    row.output_elements = out.numel if out is not None else 0   # what it writes (in place too), batch included
    row.input_elements = acc.read_elements          # what it reads of activations (the roofline's traffic)
    row.constant_elements = acc.constant_elements   # … and of tensors computed from weights alone
    return row


def is_bias(name: str) -> bool:
    """``fc.bias``, an RNN's ``bias_ih_l0``: a bias, by its name."""
    return name.rpartition(".")[2].startswith("bias")


def _scales(rt) -> str:
    """'batch' when any of its costs grows with the batch, 'fixed' when none does, 'loop' for a row
    of the kind a loop over the samples repeats (one sample's), '' when unknown."""
    if rt is None:
        return ""
    if rt.loop:
        return "loop"
    values = {rt.scales[q] for q in ("macs", "ops", "elements")}
    if "neither" in values:
        return "neither"
    return "batch" if "batch" in values else "fixed"


def _per_sample_in(t, tt):
    """One sample's shape of an input tensor (None when its batch is not dim 0, one per sample)."""
    if tt is not None and tt.batch.known and tt.batch.dim == 0 and tt.batch.per_sample == 1:
        return tuple(t.shape[1:])
    return None


def _describe(acc: Acc, batch: int, out_shape, in_shapes) -> tuple[str, str, int, str]:
    """(label, op, elementwise ops, weights formula): the registry's where it knows the module
    class and its formula applies (the same row as a YAML config's), else the class name."""
    if acc.module is None:
        return f"aten.{acc.op}", acc.op, acc.ops, ""
    from archstat.builder.torch_ops import op_for_module

    type_name = type(acc.module).__name__
    spec = op_for_module(acc.module)
    values = spec.args_of_module(acc.module) if spec is not None else None
    if spec is None or values is None:
        return type_name, type_name, acc.ops, ""
    try:
        args = spec.make_args(values)
        formula = spec.formula(args, in_shapes) if spec.formula and acc.params else ""
        return (spec.label(args, in_shapes, out_shape), spec.name, spec.ops(args, in_shapes, out_shape) * batch,
                formula)
    except Exception:  # the module is used beyond what the op describes (tokens into a flat linear)
        return type_name, type_name, acc.ops, ""


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


FOREIGN = ("work in a thread archstat does not follow (started before this forward, such as a pool made in "
           "__init__ or kept from an earlier call): its operators are not seen")


def foreign_work(rec) -> list[dict]:
    """Module calls made in a thread the trace did not follow: the total is a lower bound."""
    foreign = getattr(rec, "foreign", {})
    if not foreign:
        return []
    return [{"op": FOREIGN, "calls": sum(foreign.values()), "rows": list(foreign)}]


def data_dependent(accs: list[Acc]) -> list[dict]:
    """The data-dependent operators (nms, roi_align, nonzero): kind, calls, and their rows."""
    found: dict[str, dict] = {}
    for acc in accs:
        for op, n in acc.data.items():
            entry = found.setdefault(op, {"op": op, "calls": 0, "rows": []})
            entry["calls"] += n
            entry["rows"].append(acc.name)
    return list(found.values())


def _data_note(rec: Recorder, first: int, rows: list[Row], inputs: InputSet) -> str:
    dep = [r for r in rows if r.depends_on_data]
    macs = sum(r.macs for r in dep)
    ops = ", ".join(f"{d['op']} ×{d['calls']}" for d in data_dependent(rec.rows))
    return (f"data-dependent ops ({ops}): the {len(dep)} rows from {rec.rows[first].name} on ran on what they returned "
            f"for this input ({values_text(inputs)}), so their MACs ({macs:,}), operations and activations depend on "
            "the data")


def values_text(inputs: InputSet) -> str:
    """What the input tensors held: the factory's example values where it gave real ones, else zeros (ones for
    masks and bools), as ``inputs.make_tensor`` makes them."""
    kinds = []
    for s in inputs.specs:
        if s.is_value:
            continue
        if s.value is not None and getattr(s.value, "device", None) is not None and s.value.device.type != "meta":
            kinds.append("the factory's example values")
        elif s.dtype == "bool" or "mask" in (s.name or "").lower():
            kinds.append("ones")
        else:
            kinds.append("zeros")
    unique = list(dict.fromkeys(kinds))
    return unique[0] if len(unique) == 1 else " and ".join(unique) if unique else "no tensor"


def _per_sample(rows: list[Row], batch: int, totals: Totals) -> Totals:
    """Totals at batch 1: a fixed row counts once, a sample-wise row its share."""
    t = Totals(complete=totals.complete, uncounted=totals.uncounted, data_dependent=totals.data_dependent)
    for r in rows:
        k = 1 if r.scales == "fixed" else batch
        t.weights += r.weights
        t.biases += r.biases
        t.macs += r.macs // k
        t.ops += r.ops // k
        t.activation_elements += r.activation_elements // k
        t.activation_bytes += r.activation_bytes // k
    return t


def _outputs(bt: BatchTrace, batch: int) -> list[dict]:
    """The model's outputs: each tensor's name (path), whole shape, dtype and batch dim; other values by type."""
    out = []
    for path, value in bt.outputs:
        if isinstance(value, str):
            out.append({"name": path, "type": value})
            continue
        d = {"name": path, "shape": list(value.shape_at(batch) or value.shape), "dtype": value.dtype,
             "batch_dim": value.batch.dim if value.batch.known else None}
        if value.batch.known and value.batch.per_sample != 1:
            d["per_sample"] = value.batch.per_sample
        if not value.batch.known:
            d["batch_dim_known"] = False
        out.append(d)
    return out


def _fold(rows: list[Row]) -> list[Row]:
    """Rows that allocate nothing and cost nothing (in-place ops, views) fold into the row before."""
    out: list[Row] = []
    for r in rows:
        if (out and r.counted and r.activation_elements == 0 and not r.params and not r.macs and r.op != "input"
                and r.calls == 1 and not r.note):
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
    elem = 4 if amp else DTYPES[dtype].bytes
    saved = sum(r.saved_bytes for r in rows)
    return TrainingMemory(optimizer=optimizer, amp=amp, param_bytes=params * elem, grad_bytes=params * elem,
                          optimizer_bytes=OPTIMIZER_STATES[optimizer] * params * elem,
                          weight_copy_bytes=params * 2 if amp else 0, saved_bytes=saved,
                          per_node={r.name: r.saved_bytes for r in rows})
