"""One forward pass, followed op by op: a ``TorchDispatchMode`` sees every aten operator, and
module pre/post hooks keep the stack of running modules, so each operator lands in a row.

- A **leaf module** call (no children, or a class a registry op builds) is one row: the MACs of
  every operator its forward ran, the parameters those operators read (and any it owns), the
  output it allocated. An RNN (``nn.RNN``/``LSTM``/``GRU``) is costed by its formula (``rnn.py``).
- An operator run **outside any leaf** (``F.linear``, ``x + y``, attention in a block's forward)
  is its own row, named under the innermost running module (``blocks.0.attn.bmm2``). Views are
  no row at all. A **data-dependent** operator (``nms``, ``roi_align``, ``nonzero``) run outside a
  leaf is one row per kind under its module, with its number of calls.
- A tensor's storage says what is new: an output sharing an input's storage (a view, an in-place
  op) allocates nothing; parameters are known by their storages, so one used through
  ``F.linear`` or a ``.t()`` view is still found, and counted once.
- ``scaled_dot_product_attention`` is **one op**: a function mode sees the call before dispatch
  decomposes it (the meta device runs its math path: mul, bmm, softmax, bmm), so the row is
  ``….scaled_dot_product_attention1`` and the operators it ran are its parts. Its MACs are the
  sum of theirs, the same as the attention formula.
- Every operator is also logged as a :class:`~archstat.ir.program.OpCall` (``op_calls``): the
  aten op, the row it belongs to, each tensor it read and wrote (shape, dtype, storage, whether a
  parameter) and its MACs. The performance model plans the runtime's kernels from this log, and
  ``batch.py`` compares two such logs to find the batch dimension of every tensor.
- Rows keep the shapes, dtypes and sizes of the tensors they read and wrote (``TInfo``), not the
  tensors, so a forward on real CPU tensors frees its activations as it would without archstat.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

from archstat.trace import aten_costs


def storage_key(t) -> int:
    """One number per allocation, shared by its views (meta tensors have storages too)."""
    return t.untyped_storage()._cdata


def tensors_in(value, _depth: int = 0) -> list:
    """Every tensor in a value: tensors, tuples and lists (namedtuples), dicts (HF ModelOutput),
    dataclasses; other objects hold none that archstat follows."""
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        return [value]
    if _depth > 32:
        return []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v, _depth + 1)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v, _depth + 1)]
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields:
        return [t for f in fields for t in tensors_in(getattr(value, f, None), _depth + 1)]
    return []


class TInfo(NamedTuple):
    """What a row keeps of one tensor."""
    shape: tuple
    dtype: str
    numel: int
    nbytes: int
    new: bool          # allocated by this row (not a view or an in-place result of its inputs)


def info(t, new: bool = False) -> TInfo:
    return TInfo(tuple(t.shape), str(t.dtype).replace("torch.", ""), t.numel(), t.numel() * t.element_size(), new)


@dataclass
class Acc:
    """What one row has gathered so far."""
    name: str
    module: Any = None                     # the leaf module, or None for a functional op
    op: str = ""                           # the aten op of a functional row
    macs: int = 0
    ops: int = 0                           # elementwise operations (functional rows; roi_align's samples)
    unknown: dict[str, int] = field(default_factory=dict)   # aten op → calls with no formula
    data: dict[str, int] = field(default_factory=dict)      # data-dependent aten op → calls
    params: list[tuple[str, Any]] = field(default_factory=list)
    allocated: set[int] = field(default_factory=set)
    outs: list = field(default_factory=list)   # TInfo of each output tensor
    ins: list = field(default_factory=list)    # TInfo of each input tensor
    saved_bytes: int = 0
    calls: int = 1                         # a data-dependent row: how many calls it stands for
    tokens: int = 0                        # an RNN: time steps × samples it ran
    kind: str = ""                         # "rnn" for a module costed by formula
    elements: Optional[int] = None         # a data-dependent row: elements its calls allocated together
    fused: str = ""                        # an op recorded whole (scaled_dot_product_attention)
    read_elements: int = 0                 # elements it reads of tensors derived from the model's input
    constant_elements: int = 0             # elements it reads of tensors computed from weights alone


class Recorder:
    def __init__(self, model):
        self.names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
        self.leaf_ids = {id(m) for m in model.modules() if is_leaf(m)}
        self.param_storages: dict[int, list[tuple[str, Any]]] = {}
        for pname, p in model.named_parameters():
            self.param_storages.setdefault(storage_key(p), []).append((pname, p))
        self.counted_storages: set[int] = set()
        # per thread: (module name, its leaf row or None, its input TInfos) of the modules running in it; a
        # thread the forward starts begins with its parent's stack (``enter_thread``); a thread archstat does
        # not follow has none, and the modules it runs are kept in ``foreign``
        self.stacks: dict[int, list[tuple[str, Optional[Acc], list[TInfo]]]] = {threading.get_ident(): []}
        self.foreign: dict[str, int] = {}     # module → calls run in a thread whose operators were not seen
        self.rows: list[Acc] = []
        self.calls: dict[str, int] = {}
        self.fn_counts: dict[tuple[str, str], int] = {}
        self.data_rows: dict[tuple[str, str], Acc] = {}
        self.called: set[str] = set()
        self.last: Optional[Acc] = None       # the row an autograd pack hook belongs to
        self.keep: list = []                  # saved tensors stay referenced: storage keys stay unique
        self.by_op: dict[str, int] = {}       # MACs per aten op (what verify compares with other counters)
        self.op_calls: list = []            # one ir.program.OpCall per operator, in order
        self.whole: Optional[Acc] = None      # the op being recorded whole (its parts land in it)
        self.whole_index: int = -1            # its entry in ``op_calls``
        self.buffer_storages = {storage_key(b) for b in model.buffers()}
        # storage → whether its contents derive from the model's input (set at every write, so a storage
        # address reused after a free takes the status of its new contents)
        self.derived: dict[int, bool] = {}
        self.functions_log: list[FnCall] = []  # top-level torch calls (what fvcore's trace sees; conventions.py)
        self.patched_log: list[FnCall] = []    # calls through what ptflops patches (conventions.py)
        self.packed: set[int] = set()         # quantized ops' prepacked weights already counted
        self.modules: list[tuple] = []        # every module call: (name, module, input TInfos, output TInfos)
        self.failed_op: Optional[str] = None  # the operator that raised, if the forward failed in one
        self.phase = "forward"                # what the operators logged now belong to (backward, optimizer)
        self.module_calls = 0                 # nn.Module calls (each a Python call: host time in eager)
        self.drew_random = False              # the forward drew random numbers (run.seeded)
        self.in_kernel = 0                    # > 0 while an operator's kernel runs (its Python calls are not logged)
        # on the meta device every tensor an operator makes is kept until the trace ends (it costs no
        # memory there): no storage address is reused, so each storage is one tensor's (a tensor made
        # without dispatch, an index list, cannot take a freed activation's identity)
        self.hold: Optional[list] = None
        # the trace is over: a thread the forward started and left running (a pool kept between calls) still
        # holds this recorder's modes, which then pass every call through untouched
        self.closed = False
        self.outlived = 0                     # threads the forward started that were still running after it

    # -- threads --------------------------------------------------------------------------------
    @property
    def stack(self) -> list:
        """The running modules of this thread (an empty list for a thread archstat does not follow)."""
        return self.stacks.get(threading.get_ident(), [])

    def followed(self) -> bool:
        return threading.get_ident() in self.stacks

    def snapshot(self) -> list:
        return list(self.stack)

    def enter_thread(self, parent: list) -> None:
        """A thread the forward started: its operators land under the modules running where it started."""
        self.stacks[threading.get_ident()] = list(parent)

    def leave_thread(self) -> None:
        self.stacks.pop(threading.get_ident(), None)   # (a later thread may reuse the identifier)

    # -- modules --------------------------------------------------------------------------------
    def pre(self, module, args, kwargs=None):
        if self.closed:
            return
        name = self.names.get(id(module), type(module).__name__)
        if not self.followed():   # hooks are global, dispatch modes are not: its operators go unseen
            self.foreign[name] = self.foreign.get(name, 0) + 1
            return
        self.module_calls += 1
        self.called.add(name)
        tensors = tensors_in(args) + tensors_in(kwargs or {})
        ins = [info(t) for t in tensors]
        if self.leaf_row() is None and id(module) in self.leaf_ids:
            self.calls[name] = self.calls.get(name, 0) + 1
            shown = (name or type(module).__name__) + (f"#{self.calls[name]}" if self.calls[name] > 1 else "")
            acc = Acc(shown, module=module, ins=ins)
            self.count_reads(acc, tensors)
            self.rows.append(acc)
            self.last = acc
            self.stack.append((name, acc, ins))
        else:
            self.stack.append((name, None, ins))

    def post(self, module, args, kwargs, output):
        """A forward hook registered ``with_kwargs=True``."""
        if not self.followed() or not self.stack:
            return
        name, acc, ins = self.stack.pop()
        outs = tensors_in(output)
        plain = {k: v for k, v in (kwargs or {}).items() if isinstance(v, (bool, int, float, str, type(None)))}
        if len(args) >= 3:   # self-attention: query, key and value one tensor (nn.MultiheadAttention's fast path)
            plain["_same_qkv"] = args[0] is args[1] is args[2]
        masks = [kwargs.get(k) for k in ("attn_mask", "key_padding_mask") if kwargs] + [
            args[i] for i in (3, 5) if len(args) > i]
        plain["_float_mask"] = any(getattr(m, "is_floating_point", lambda: False)() for m in masks
                                   if m is not None and hasattr(m, "dtype"))
        self.modules.append((name, module, ins, [info(t) for t in outs], plain))
        if acc is not None:
            acc.outs = [info(t, storage_key(t) in acc.allocated) for t in outs]
            spec_multi = getattr(_spec(module), "multi_input", False)
            for p in module.parameters(recurse=not spec_multi):   # owned, even if read no op
                self.claim(acc, p)
            from archstat.trace import rnn

            if rnn.is_rnn(module):
                acc.macs, acc.tokens = rnn.module_macs(module, args, kwargs)
                acc.kind = "rnn"
                acc.unknown.clear()   # what the RNN's kernels are (mkldnn on the CPU) the formula covers

    def leaf_row(self) -> Optional[Acc]:
        if self.whole is not None:
            return self.whole
        for _, acc, _ in self.stack:
            if acc is not None:
                return acc
        return None

    # -- operators ------------------------------------------------------------------------------
    def op(self, func, args, kwargs, out) -> None:
        kind, op_name, view, pointwise = aten_costs.describe(func)
        ins = tensors_in(args) + tensors_in(kwargs) if kwargs else tensors_in(args)
        outs = tensors_in(out)
        in_keys = {storage_key(t) for t in ins}
        new = [t for t in outs if storage_key(t) not in in_keys]
        new_keys = {storage_key(t) for t in new}
        # a factory reads its input for its dtype and device only (x.new_zeros): what it makes is not derived
        derived = op_name not in _NOT_DERIVED and any(self.derived.get(k, False) for k in in_keys)
        for t in outs:
            if not view or derived or op_name in _NOT_DERIVED:
                self.derived[storage_key(t)] = derived
        if self.hold is not None:
            self.hold.extend(new)
        if self.phase != "forward":   # a backward pass: logged as calls, no rows
            n = aten_costs.macs(func, args, kwargs, out) if kind == "macs" else 0
            self.log(func, op_name, None, ins, outs, new, view, n, args, kwargs)
            return
        acc = self.leaf_row()
        name = op_name.lstrip("_")
        if acc is None:
            if view or not outs:
                self.log(func, op_name, None, ins, outs, new, view, 0, args, kwargs)
                return
            parent = self.stack[-1][0] if self.stack else ""
            if kind == "data":   # one row per kind under its module, however many calls
                acc = self.data_rows.get((parent, name))
                if acc is not None:
                    acc.calls += 1
                    acc.elements += sum(t.numel() for t in outs[:1] if storage_key(t) in new_keys)
                    self.count_reads(acc, ins)
            if acc is None:
                acc = self.functional_row(name, ins, outs, new_keys, data=kind == "data")
            if kind == "zero" and new and pointwise:
                acc.ops += sum(t.numel() for t in new)
        elif acc is self.whole and acc.fused and kind == "zero" and new and pointwise:
            acc.ops += sum(t.numel() for t in new)   # the elementwise parts of an op recorded whole
        acc.allocated.update(new_keys)
        for t in ins:
            key = storage_key(t)
            if key in self.param_storages and key not in self.counted_storages:
                self.counted_storages.add(key)
                acc.params.extend(self.param_storages[key])
        n = 0
        if kind == "macs" and func._schema.name.startswith("quantized::"):
            self.claim_packed(acc, args[1])
        if kind == "macs":
            n = aten_costs.macs(func, args, kwargs, out)
            acc.macs += n
            label = f"aten.{op_name}"
            self.by_op[label] = self.by_op.get(label, 0) + n
        elif kind == "unknown":
            label = f"aten.{op_name}"
            acc.unknown[label] = acc.unknown.get(label, 0) + 1
        elif kind == "data":
            label = aten_costs.qualified(func)
            acc.data[label] = acc.data.get(label, 0) + 1
            acc.ops += aten_costs.data_ops(func, args, kwargs, out)
        self.log(func, op_name, acc, ins, outs, new, view, n, args, kwargs)

    def functional_row(self, name: str, ins, outs, new_keys=frozenset(), data: bool = False) -> Acc:
        """A row for an operator run outside any leaf module, named under the innermost module (a
        data-dependent op: one row per kind under it, without a number)."""
        parent = self.stack[-1][0] if self.stack else ""
        if data:
            label = name
        else:
            key = (parent, name)
            self.fn_counts[key] = self.fn_counts.get(key, 0) + 1
            label = f"{name}{self.fn_counts[key]}"
        acc = Acc(f"{parent}.{label}" if parent else label, op=name, ins=[info(t) for t in ins],
                  outs=[info(t, storage_key(t) in new_keys) for t in outs])
        if data:
            self.data_rows[(parent, name)] = acc
            acc.elements = sum(t.numel() for t in outs[:1] if storage_key(t) in new_keys)
        self.count_reads(acc, ins)
        self.rows.append(acc)
        self.last = acc
        return acc

    def mark_inputs(self, value) -> None:
        """The model's inputs: what every activation derives from."""
        for t in tensors_in(value):
            self.derived[storage_key(t)] = True

    def count_reads(self, acc: Acc, ins) -> None:
        """What a row reads: activations (derived from the input) apart from tensors computed from
        weights alone (a bias-table lookup); its parameters and buffers are counted as its weights."""
        for t in ins:
            key = storage_key(t)
            if self.derived.get(key, False):
                acc.read_elements += t.numel()
            elif key not in self.param_storages and key not in self.buffer_storages:
                acc.constant_elements += t.numel()

    # -- the kernel log (the performance model's input) -----------------------------------------
    def tensor(self, t):
        from archstat.ir.program import TensorRef

        key = storage_key(t)
        role = ("param" if key in self.param_storages else "buffer" if key in self.buffer_storages
                else "" if self.derived.get(key, False) else "const")
        return TensorRef(tuple(t.shape), str(t.dtype).removeprefix("torch."), key, role,
                         _layout(t), _distinct(t))

    def log(self, func, op_name, acc, ins, outs, new, view, macs, args, kwargs) -> None:
        from archstat.ir.program import OpCall

        written = new if new else [t for t in outs if _writes(func)] if not view else []
        parent = self.whole_index if self.whole is not None and acc is self.whole else -1
        attrs = aten_costs.attrs(op_name, args, kwargs)
        if aten_costs.describe(func)[3]:
            attrs["pointwise"] = True
        self.op_calls.append(OpCall(op_name, acc.name if acc is not None else "", tuple(self.tensor(t) for t in ins),
                                   tuple(self.tensor(t) for t in written), macs, view=view,
                                   inplace=bool(outs) and not new and not view, attrs=attrs, part_of=parent,
                                   phase=self.phase))

    # -- ops recorded whole ---------------------------------------------------------------------
    def begin_whole(self, name: str, args, kwargs) -> Optional[Acc]:
        """Start an op recorded whole (its decomposition lands in its row); None inside another."""
        if self.whole is not None:
            return None
        from archstat.ir.program import OpCall

        ins = tensors_in(args) + tensors_in(kwargs)
        acc = self.leaf_row()
        outer = acc
        if acc is None:
            acc = self.functional_row(name, ins, [])
            acc.fused = name
        self.whole, self.whole_index = acc, len(self.op_calls)
        self.op_calls.append(OpCall(name, acc.name, tuple(self.tensor(t) for t in ins), (), 0,
                                   attrs=aten_costs.whole_attrs(name, args, kwargs)))
        return outer if outer is not None else acc

    def end_whole(self, out) -> None:
        acc, index = self.whole, self.whole_index
        self.whole, self.whole_index = None, -1
        if acc is None:
            return
        if not acc.outs:
            acc.outs = [info(t, storage_key(t) in acc.allocated) for t in tensors_in(out)]
        k = self.op_calls[index]
        parts = [p for p in self.op_calls[index + 1:] if p.part_of == index]
        self.op_calls[index] = k.with_result(tuple(self.tensor(t) for t in tensors_in(out)),
                                            sum(p.macs for p in parts))

    def functions(self):
        """A TorchFunctionMode that records ``scaled_dot_product_attention`` as one op and logs the Python-level
        torch calls a counter that traces (fvcore) sees at the top level (``functions_log``)."""
        torch = sys.modules["torch"]
        from torch.overrides import TorchFunctionMode

        sdpa = torch.nn.functional.scaled_dot_product_attention
        recorder = self

        logged = _logged_functions(torch)

        class Whole(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                func = _original(func)   # one of ours, wrapped for ptflops' view
                if recorder.closed:
                    return func(*args, **kwargs)
                name = logged.get(func)
                if func is not sdpa or recorder.whole is not None:
                    out = func(*args, **kwargs)
                    if name is not None and recorder.whole is None:
                        recorder.functions_log.append(recorder.fn_call(name, args, kwargs, out))
                    return out
                recorder.begin_whole("scaled_dot_product_attention", args, kwargs)
                try:
                    out = func(*args, **kwargs)
                except BaseException:
                    recorder.whole, recorder.whole_index = None, -1
                    raise
                recorder.end_whole(out)
                if name is not None:
                    recorder.functions_log.append(recorder.fn_call(name, args, kwargs, out))
                return out

        return Whole()

    def fn_call(self, name: str, args, kwargs, out=None) -> FnCall:
        """One Python-level call: its name, the innermost running module, its arguments (a tensor by its shape)
        and the shape of its first tensor output."""
        outs = tensors_in(out) if out is not None else []
        return FnCall(name, self.stack[-1][0] if self.stack else "", tuple(_arg(a) for a in args),
                      {k: _arg(v) for k, v in kwargs.items()}, Shape(outs[0].shape) if outs else None)

    def patched(self):
        """The functions ptflops patches, wrapped the same way for the trace (``patched_log``): ptflops sees a call
        through the attribute it patched (``F.relu``, ``torch.bmm``, ``Tensor.add``) wherever it is made, inside
        torch's own functions too (``nn.ReLU`` calling ``F.relu``, ``multi_head_attention_forward`` calling
        ``torch.bmm``), and never an operator (``x + y``, ``x @ w``) or ``F.linear``."""
        torch = sys.modules["torch"]
        recorder = self
        F = torch.nn.functional
        targets = [(F, n, f"F.{n}") for n in PTFLOPS_FUNCTIONAL if hasattr(F, n)]
        targets += [(torch, n, f"torch.{n}") for n in PTFLOPS_TENSOR_OPS]
        targets += [(torch.Tensor, n, f"Tensor.{n}") for n in PTFLOPS_TENSOR_METHODS]

        @contextlib.contextmanager
        def patch():
            saved = [(owner, n, getattr(owner, n)) for owner, n, _ in targets]
            for (owner, n, shown), (_, _, original) in zip(targets, saved):
                setattr(owner, n, _wrapped(recorder, shown, original))
            try:
                yield
            finally:
                for owner, n, original in saved:
                    setattr(owner, n, original)

        return patch()

    def log_patched(self, name: str, args, kwargs) -> None:
        if not self.closed and self.followed() and self.whole is None and not self.in_kernel:
            self.patched_log.append(self.fn_call(name, args, kwargs))

    def claim_packed(self, acc: Acc, packed) -> None:
        """A quantized op's prepacked weight and bias (not nn.Parameters): counted once, in its row."""
        if id(packed) in self.packed:
            return
        self.packed.add(id(packed))
        self.keep.append(packed)
        w, b = packed.unpack()
        acc.params.append((f"{acc.name}.weight", w))
        if b is not None:
            acc.params.append((f"{acc.name}.bias", b))

    def claim(self, acc: Acc, p) -> None:
        key = storage_key(p)
        if key in self.param_storages and key not in self.counted_storages:
            self.counted_storages.add(key)
            acc.params.extend(self.param_storages[key])

    # -- training: what autograd saves ----------------------------------------------------------
    def saved_hooks(self, nbytes: int):
        """(pack, unpack) for ``saved_tensors_hooks``: each storage once, parameters excluded
        (they are counted as parameters); floating tensors at ``nbytes`` per element."""
        seen: set[int] = set()

        def pack(t):
            if self.closed:
                return t
            key = storage_key(t)
            if key not in seen and key not in self.param_storages and self.last is not None:
                seen.add(key)
                self.keep.append(t)
                storage = t.untyped_storage().nbytes()
                size = storage // t.element_size() * nbytes if t.is_floating_point() else storage
                self.last.saved_bytes += size
            return t

        return pack, (lambda t: t)


class Shape(tuple):
    """A tensor argument of a logged call, by its shape (apart from a tuple given as a value)."""


class FnCall(NamedTuple):
    """A Python-level torch call: ``args`` and ``kwargs`` hold each tensor's Shape, each plain value as it is
    (numbers, strings, tuples of them) and None for anything else; ``out``: its first output's Shape."""
    name: str
    module: str
    args: tuple
    kwargs: dict
    out: Optional[Shape]


def _arg(value):
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        return Shape(value.shape)
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, (bool, int, float)) for v in value):
        return tuple(value)
    return None


def _wrapped(recorder: Recorder, name: str, original):
    def wrapper(*args, **kwargs):
        recorder.log_patched(name, args, kwargs)
        return original(*args, **kwargs)

    wrapper.__archstat_original__ = original  # type: ignore[attr-defined]
    return wrapper


# what ptflops 0.7.5 patches while it counts (pytorch_engine.py: patch_functional, patch_tensor_ops)
PTFLOPS_FUNCTIONAL = ("relu", "prelu", "elu", "relu6", "gelu", "avg_pool1d", "avg_pool2d", "avg_pool3d",
                      "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
                      "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
                      "softmax", "upsample", "interpolate", "silu")
PTFLOPS_TENSOR_OPS = ("matmul", "mm", "bmm", "addmm", "baddbmm", "mul", "add")
PTFLOPS_TENSOR_METHODS = ("matmul", "mm", "bmm", "addmm", "mul", "add")

_LOGGED: dict = {}


def _original(func):
    """A function as torch defines it (not the wrapper ``patched`` put in its place)."""
    return getattr(func, "__archstat_original__", func)


def _logged_functions(torch) -> dict:
    """The torch functions whose top-level calls a tracing counter (fvcore) sees, by object → 'F.layer_norm'."""
    if not _LOGGED:
        F = torch.nn.functional
        for n in ("batch_norm", "instance_norm", "layer_norm", "group_norm", "interpolate", "upsample",
                  "upsample_nearest", "upsample_bilinear", "adaptive_avg_pool2d", "grid_sample", "linear",
                  "scaled_dot_product_attention"):
            if hasattr(F, n):
                _LOGGED[_original(getattr(F, n))] = f"F.{n}"
        for n in ("matmul", "mm", "bmm", "einsum"):
            _LOGGED[_original(getattr(torch, n))] = f"torch.{n}"
    return _LOGGED


_NOT_DERIVED = frozenset({"new_zeros", "new_ones", "new_full", "new_empty", "new_empty_strided", "empty_like",
                          "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "lift_fresh",
                          "lift_fresh_copy", "scalar_tensor", "arange", "zeros", "ones", "full", "empty"})


def _distinct(t) -> Optional[int]:
    """The elements behind a broadcast view (stride 0 along some dims: ``x.expand(...)``), or None when it
    has as many as its shape."""
    try:
        strides = t.stride()
    except RuntimeError:
        return None
    if 0 not in strides:
        return None
    n = 1
    for size, stride in zip(t.shape, strides):
        if stride:
            n *= size
    return n


def _layout(t) -> str:
    """'channels_last' for a 4-d (or 5-d) tensor laid out channels-last, else '' (contiguous or other)."""
    torch = sys.modules["torch"]
    try:
        if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
            return "channels_last"
        if t.dim() == 5 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last_3d):
            return "channels_last"
        if not t.is_contiguous():
            return "strided"
    except RuntimeError:   # sparse or nested tensors have no strides
        return "other"
    return ""


def _writes(func) -> bool:
    """Whether an op whose outputs share an input's storage writes them (``relu_``, ``add_``, ``out=``)."""
    schema = func._schema
    return any(r.alias_info is not None and r.alias_info.is_write for r in schema.returns) or any(
        a.alias_info is not None and a.alias_info.is_write for a in schema.arguments)


def _spec(module):
    from archstat.builder.torch_ops import op_for_module

    return op_for_module(module)


def is_leaf(module) -> bool:
    """A module costed as one row: no children, or a class a registry op builds (a merge, whose
    children are the branches it joins; LeNet's table conv, whose children are its parts), or an
    RNN (costed by its formula)."""
    from archstat.trace import rnn

    return not module._modules or _spec(module) is not None or rnn.is_rnn(module)
