"""Which dimension is the batch, found by tracing the forward at two batch sizes.

Nothing is guessed from a size: the same forward runs at batch ``a`` and at batch ``b`` (the batch
asked for and the next one, so the two are coprime), and every recorded tensor is compared with
itself. The dimension whose size changes is the batch dimension, with its size per sample
(``BatchDim(dim=0, per_sample=4)``: Swin's windows, 4 per image); a tensor whose shape does not
change has no batch dimension (an attention mask built from the sizes, a position table); one
whose rank changes, or in which more than one dimension changes, has none archstat can name.

Every row's MACs, operations and allocated elements must be the same at both batches (a fixed
cost) or in proportion to the batch (a sample-wise cost). Anything else (a row that costs 4× at
twice the batch: the samples of the batch are mixed, the batch read as a sequence) means archstat
cannot tell what one sample costs, and ``problem`` says so with the row and its two figures (the
refusal ``analyze`` gives).

The API for other code (the performance model reads shapes at any batch from one pair of traces):

- ``trace_batches(model, inputs, batch) -> BatchTrace``;
- ``BatchTrace.rows[name]``: a ``RowTrace`` with ``outs``/``ins`` (``TensorTrace``: ``shape`` at
  the first batch, ``dtype``, ``batch``: its ``BatchDim``, ``shape_at(n)``), and ``scales``
  ({"macs", "ops", "elements"} → "batch" | "fixed" | "neither");
- ``BatchTrace.ops``: one ``OpTrace`` per aten call of the rows whose operator sequences agree in
  both traces (``row``, ``op``, ``ins``, ``outs``, ``macs``, ``macs_scale``, ``macs_at(n)``);
- ``BatchTrace.outputs``: the model's outputs, each ``(path, TensorTrace or a type name)``;
- ``BatchTrace.call_pair()``: the two kernel logs as ``ir.program.BatchPair`` (``at(n)``,
  ``batch_dims()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class BatchDim:
    dim: Optional[int]          # the dimension that grows with the batch; None: none does
    per_sample: int = 1         # its size per sample
    known: bool = True          # False: the two traces disagree in rank, or in more than one dimension

    def text(self) -> str:
        if not self.known:
            return "unknown"
        if self.dim is None:
            return "none"
        return f"dim {self.dim}" + (f" ({self.per_sample} per sample)" if self.per_sample != 1 else "")


NO_BATCH = BatchDim(None)
UNKNOWN = BatchDim(None, 1, False)


def find_batch_dim(sa: tuple, sb: tuple, a: int, b: int) -> BatchDim:
    """The batch dimension of a tensor of shape ``sa`` at batch ``a`` and ``sb`` at batch ``b``."""
    if len(sa) != len(sb):
        return UNKNOWN
    diff = [i for i, (x, y) in enumerate(zip(sa, sb)) if x != y]
    if not diff:
        return NO_BATCH
    if len(diff) > 1:
        return UNKNOWN
    i = diff[0]
    if sa[i] * b == sb[i] * a and sa[i] % a == 0:
        return BatchDim(i, sa[i] // a)
    return UNKNOWN


def scaling(qa: int, qb: int, a: int, b: int) -> str:
    """'fixed' (the same at both batches), 'batch' (in proportion) or 'neither'."""
    if qa == qb:
        return "fixed"
    if qa * b == qb * a:
        return "batch"
    return "neither"


def at_batch(q: int, scale: str, a: int, n: int) -> Optional[int]:
    """A quantity measured at batch ``a``, at batch ``n``."""
    if scale == "fixed":
        return q
    if scale == "batch":
        return q // a * n
    return None


@dataclass(frozen=True)
class TensorTrace:
    shape: tuple                # at the first batch
    dtype: str
    batch: BatchDim
    at: int                     # the batch ``shape`` was traced at

    def shape_at(self, n: int) -> Optional[tuple]:
        """The shape at batch ``n`` (None when the batch dimension is unknown)."""
        if not self.batch.known:
            return None if n != self.at else self.shape
        if self.batch.dim is None:
            return self.shape
        s = list(self.shape)
        s[self.batch.dim] = self.batch.per_sample * n
        return tuple(s)

    def per_sample(self) -> Optional[tuple]:
        """The shape of one sample: the batch dimension removed (None unless it is 1 per sample)."""
        if self.batch.known and self.batch.dim is not None and self.batch.per_sample == 1:
            return self.shape[:self.batch.dim] + self.shape[self.batch.dim + 1:]
        return None


def _tensors(infos_a, infos_b, a, b) -> list[TensorTrace]:
    if len(infos_a) != len(infos_b):
        return [TensorTrace(t.shape, t.dtype, UNKNOWN, a) for t in infos_a]
    return [TensorTrace(x.shape, x.dtype, find_batch_dim(x.shape, y.shape, a, b), a) for x, y in zip(infos_a, infos_b)]


@dataclass
class OpTrace:
    row: str
    op: str
    ins: list[TensorTrace]
    outs: list[TensorTrace]
    macs: int                   # at the first batch
    macs_scale: str             # "batch" | "fixed" | "neither"
    at: int

    def macs_at(self, n: int) -> Optional[int]:
        return at_batch(self.macs, self.macs_scale, self.at, n)


@dataclass
class RowTrace:
    name: str
    outs: list[TensorTrace]
    ins: list[TensorTrace]
    scales: dict[str, str]
    values: dict[str, tuple[int, int]]    # quantity → (at a, at b)
    loop: bool = False                    # of a kind a loop over the samples repeats (rows per image)


@dataclass
class BatchTrace:
    batches: tuple[int, int]
    main: Any                   # the Recorder at the first batch (what the rows show)
    other: Any                  # the Recorder at the second
    output: Any                 # the model's output at the first batch
    other_output: Any
    rows: dict[str, RowTrace] = field(default_factory=dict)
    ops: list[OpTrace] = field(default_factory=list)
    aligned: bool = True        # every row and every operator call found in both traces
    outputs: list = field(default_factory=list)   # (path, TensorTrace | type name)
    loop_rows: list[str] = field(default_factory=list)   # rows of one trace only (a loop over the samples)
    outputs_total: int = 0      # how many outputs the model returned (``outputs`` lists the first MAX_OUTPUTS)
    traced: dict = field(default_factory=dict)   # batch → the Recorder traced at it (the pair's, and batch 1's)

    def call_pair(self):
        """The two traces' kernel logs as a ``ir.program.BatchPair`` (raises BatchMismatch when
        they do not line up op for op)."""
        from archstat.ir.program import BatchPair

        return BatchPair(self.main.op_calls, self.other.op_calls, *self.batches)

    def row_problems(self) -> list[tuple[str, str]]:
        """(row, what) of the rows whose costs are neither fixed nor in proportion to the batch."""
        a, b = self.batches
        out = []
        for r in self.rows.values():
            for q, scale in r.scales.items():
                if scale == "neither" and q in _WORDS:
                    va, vb = r.values[q]
                    out.append((r.name, f"row '{r.name}' has {va:,} {_WORDS[q]} at batch {a} and {vb:,} at batch {b}"))
                    break
        return out


_WORDS = {"macs": "MACs", "ops": "operations", "elements": "activation elements"}


def _row_values(acc) -> dict[str, int]:
    elements = acc.elements if acc.elements is not None else sum(t.numel for t in acc.outs[:1] if t.new)
    return {"macs": acc.macs, "ops": acc.ops, "elements": elements}


def _other_values(acc) -> dict[str, int]:
    """What a row reads (the roofline's traffic) and saves for backward: scaled, never refused on."""
    return {"saved": acc.saved_bytes, "reads": acc.read_elements, "constant": acc.constant_elements}





def compare(main, other, out_a, out_b, a: int, b: int) -> BatchTrace:
    """Two recorded forwards (at batches ``a`` and ``b``) → a BatchTrace."""
    from archstat.trace.outputs import count, flatten

    bt = BatchTrace((a, b), main, other, out_a, out_b)
    bt.traced = {a: main, b: other}
    other_rows = {acc.name: acc for acc in other.rows}
    main_names = {acc.name for acc in main.rows}
    for acc in main.rows:
        twin = other_rows.get(acc.name)
        if twin is None:
            bt.loop_rows.append(acc.name)
            bt.aligned = False
            continue
        va, vb = _row_values(acc), _row_values(twin)
        scales = {q: scaling(va[q], vb[q], a, b) for q in va}
        oa, ob = _other_values(acc), _other_values(twin)
        scales.update({q: scaling(oa[q], ob[q], a, b) for q in oa})
        bt.rows[acc.name] = RowTrace(acc.name, _tensors(acc.outs, twin.outs, a, b), _tensors(acc.ins, twin.ins, a, b),
                                     scales, {q: (va[q], vb[q]) for q in va})
    extra = [n for n in other_rows if n not in main_names]
    if extra:
        bt.aligned = False
        bt.loop_rows.extend(extra)
    # a row the same at both batches that a loop over the samples repeats (a row only the other trace has is
    # of its kind and its cost): one sample's, not fixed
    repeated = {(_group(n), tuple(sorted(_row_values(other_rows[n]).items()))) for n in extra}
    for r in bt.rows.values():
        fixed = all(r.scales[q] == "fixed" for q in ("macs", "ops", "elements"))
        r.loop = fixed and (_group(r.name), tuple(sorted((q, v[1]) for q, v in r.values.items()))) in repeated
    # operator calls, row by row where the two traces ran the same operators
    calls_a, calls_b = _by_row(main.op_calls), _by_row(other.op_calls)
    for name, ca in calls_a.items():
        cb = calls_b.get(name)
        if cb is None or [c.op for c in ca] != [c.op for c in cb]:
            bt.aligned = False
            continue
        for x, y in zip(ca, cb):
            bt.ops.append(OpTrace(name, x.op, _tensors(x.inputs, y.inputs, a, b), _tensors(x.outputs, y.outputs, a, b),
                                  x.macs, scaling(x.macs, y.macs, a, b), a))
    fa, fb = flatten(out_a), dict((p, v) for p, v in flatten(out_b))
    bt.outputs_total = count(out_a)
    for path, value in fa:
        other_value = fb.get(path)
        if isinstance(value, tuple) and isinstance(other_value, tuple):
            shape, dtype = value
            bt.outputs.append((path, TensorTrace(shape, dtype, find_batch_dim(shape, other_value[0], a, b), a)))
        elif isinstance(value, tuple):
            bt.outputs.append((path, TensorTrace(value[0], value[1], UNKNOWN, a)))
        else:
            bt.outputs.append((path, value))
    return bt


def _group(name: str) -> str:
    """'rpn.clamp12' → 'rpn.clamp', 'head#3' → 'head': the kind of row a loop repeats."""
    return name.split("#")[0].rstrip("0123456789")


def _by_row(log) -> dict[str, list]:
    out: dict[str, list] = {}
    for call in log:
        out.setdefault(call.row, []).append(call)
    return out


def other_batch(batch: int) -> int:
    """The second batch size traced: the next one (coprime with the first, so a proportion is exact)."""
    return batch + 1


def trace_batches(model, inputs, batch: int = 1, *, other: Optional[int] = None, device: str = "meta",
                  mode: str = "eval", saved_nbytes: int = 4) -> BatchTrace:
    """Trace ``model`` on ``inputs`` (an InputSet, or anything ``inputs.normalize`` takes) at
    ``batch`` and at ``other`` (default ``batch + 1``), and compare the two."""
    from archstat import argcheck
    from archstat.analyze.stats import MODES
    from archstat.trace.analyze import _checked_inputs, meta_copy
    from archstat.trace.run import run_forward

    fn = "archstat.trace.batch.trace_batches"
    argcheck.expect_int(batch, fn, "batch", 1, argcheck.MAX_BATCH)
    argcheck.expect_int(other, fn, "other", 1, argcheck.MAX_BATCH, optional=True)
    other = other_batch(batch) if other is None else other
    if other == batch:
        raise argcheck.ArgumentValueError(f"the second batch must differ from the first ({batch}): two traces at "
                                          "one batch cannot tell which dimension is the batch",
                                          path=argcheck.where(fn, "other"))
    argcheck.expect_choice(device, fn, "device", ("meta", "cpu"))
    argcheck.expect_choice(mode, fn, "mode", MODES)
    argcheck.expect_int(saved_nbytes, fn, "saved_nbytes", 1, 8)
    if inputs is None:
        raise argcheck.ArgumentTypeError("expected the inputs, e.g. (3, 224, 224)", path=argcheck.where(fn, "inputs"))
    inputs = _checked_inputs(model, inputs, max(batch, other), where=argcheck.where(fn, "inputs"))
    if device == "meta" and not all(t.device.type == "meta" for t in (*model.parameters(), *model.buffers())):
        model = meta_copy(model)   # a real module is traced on a copy, left untouched
    main, out_a = run_forward(model, inputs, batch, device, mode, saved_nbytes)
    second, out_b = run_forward(model, inputs, other, device, mode, saved_nbytes)
    return compare(main, second, out_a, out_b, batch, other)


HOW = ("the samples of a batch mix: an input whose batch is not where the model reads it (say where it goes: "
       "--input 20xBx32 for a sequence-first RNN), or an input without a batch dimension (mark it: "
       "--input unbatched:8x256)")


def problem(bt: BatchTrace, after_data: frozenset[str] | set[str] = frozenset()) -> Optional[str]:
    """Why the pair cannot be read as one sample's cost times the batch (the message the refusal gives), or
    None: a row's cost neither fixed nor in proportion to the batch, or a kind of row run a number of times
    that is neither fixed nor grows with the batch (rows computed on what a data-dependent op returned,
    ``after_data``, depend on the data and are left out). ``analyze`` refuses with it once a second pair of
    traces has not explained it (a first call that fills a cache)."""
    problems = [text for name, text in bt.row_problems() if name not in after_data]
    if problems:
        more = f" (and {len(problems) - 1} more rows)" if len(problems) > 1 else ""
        return (f"cannot tell which dimension is the batch: {problems[0]}{more}, neither the same nor in "
                f"proportion; {HOW}")
    loops = loop_problems(bt, after_data)
    if loops:
        more = f" (and {len(loops) - 1} more)" if len(loops) > 1 else ""
        return (f"the forward runs other operators at the two batches: {loops[0]}{more}, neither a fixed number "
                "nor a number that grows with the batch (a loop over the samples), so archstat cannot tell what "
                "one sample costs")
    return None


def loop_problems(bt: BatchTrace, after_data: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Rows that only one trace has (``loop_rows``) must come from a loop over the samples: each kind of row
    (``rpn.clamp12`` → ``rpn.clamp``) runs c + k·n times at batch n (c fixed, k per sample, both ≥ 0)."""
    from collections import Counter

    a, b = bt.batches
    kinds = {_group(n) for n in bt.loop_rows if n not in after_data}
    if not kinds:
        return []
    ca = Counter(_group(acc.name) for acc in bt.main.rows if acc.name not in after_data)
    cb = Counter(_group(acc.name) for acc in bt.other.rows if acc.name not in after_data)
    out = []
    for kind in sorted(kinds):
        x, y = ca.get(kind, 0), cb.get(kind, 0)
        k, rest = divmod(y - x, b - a)
        if rest or k < 0 or x - k * a < 0:
            out.append(f"'{kind}' runs {x:,} time{'s' if x != 1 else ''} at batch {a} and {y:,} at batch {b}")
    return out


def signature(rec) -> list[tuple]:
    """What a trace costs, row by row (name, MACs, operations, allocated elements): two traces of one forward at
    one batch are the same forward when their signatures are equal."""
    return [(acc.name, *_row_values(acc).values()) for acc in rec.rows]



def derive(bt: BatchTrace, n: int):
    """The rows at batch ``n`` from the pair of traces (every row found in both): a fixed cost as
    it is, a sample-wise one in proportion, each shape with its batch dimension set to ``n``.
    Returns a recorder-like object (``rows``, ``by_op``, ``called``, ``counted_storages``)."""
    import copy
    from types import SimpleNamespace


    a = bt.batches[0]
    rows = []
    for acc in bt.main.rows:
        rt = bt.rows[acc.name]
        new = copy.copy(acc)
        scale = rt.scales
        new.macs = at_batch(acc.macs, scale["macs"], a, n)
        new.ops = at_batch(acc.ops, scale["ops"], a, n)
        new.saved_bytes = at_batch(acc.saved_bytes, scale["saved"], a, n) or 0
        new.read_elements = _or_share(acc.read_elements, scale["reads"], a, n)
        new.constant_elements = _or_share(acc.constant_elements, scale["constant"], a, n)
        if acc.tokens:
            new.tokens = at_batch(acc.tokens, scale["macs"], a, n) or acc.tokens
        if acc.elements is not None:
            new.elements = at_batch(acc.elements, scale["elements"], a, n)
        new.outs = [_tensor_at(t, tt, a, n) for t, tt in zip(acc.outs, rt.outs)]
        new.ins = [_tensor_at(t, tt, a, n) for t, tt in zip(acc.ins, rt.ins)]
        rows.append(new)
    by_op = {}
    for op, qa in bt.main.by_op.items():
        qb = bt.other.by_op.get(op, 0)
        q = at_batch(qa, scaling(qa, qb, a, bt.batches[1]), a, n)
        if q is None:
            q = sum(o.macs_at(n) or 0 for o in bt.ops if f"aten.{o.op}" == op)
        by_op[op] = q
    from archstat.ir.program import BatchPair

    calls = BatchPair(bt.main.op_calls, bt.other.op_calls, a, bt.batches[1]).at(n)   # BatchMismatch: not aligned
    return SimpleNamespace(rows=rows, by_op=by_op, called=bt.main.called, counted_storages=bt.main.counted_storages,
                           op_calls=calls, modules=bt.main.modules, foreign=bt.main.foreign)


def _or_share(q: int, scale: str, a: int, n: int) -> int:
    """A quantity at batch ``n``; one that is neither fixed nor in proportion, its share per sample."""
    v = at_batch(q, scale, a, n)
    return v if v is not None else q // a * n


def _tensor_at(t, tt: TensorTrace, a: int, n: int):
    from archstat.trace.recorder import TInfo

    shape = tt.shape_at(n)
    if shape is None:   # no batch dimension archstat can name: the size in proportion, the shape as traced
        return TInfo(t.shape, t.dtype, t.numel // a * n, t.nbytes // a * n, t.new)
    numel = 1
    for d in shape:
        numel *= d
    per = t.nbytes // t.numel if t.numel else 0
    return TInfo(shape, t.dtype, numel, numel * per, t.new)
