"""One forward pass, followed op by op: a ``TorchDispatchMode`` sees every aten operator, and
module pre/post hooks keep the stack of running modules, so each operator lands in a row.

- A **leaf module** call (no children, or a class a registry op builds) is one row: the MACs of
  every operator its forward ran, the parameters those operators read (and any it owns), the
  output it allocated.
- An operator run **outside any leaf** (``F.linear``, ``x + y``, attention in a block's forward)
  is its own row, named under the innermost running module (``blocks.0.attn.bmm2``). Views are
  no row at all.
- A tensor's storage says what is new: an output sharing an input's storage (a view, an in-place
  op) allocates nothing; parameters are known by their storages, so one used through
  ``F.linear`` or a ``.t()`` view is still found, and counted once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.trace import aten_costs


def storage_key(t) -> int:
    """One number per allocation, shared by its views (meta tensors have storages too)."""
    return t.untyped_storage()._cdata


def tensors_in(value) -> list:
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


@dataclass
class Acc:
    """What one row has gathered so far."""
    name: str
    module: Any = None                     # the leaf module, or None for a functional op
    op: str = ""                           # the aten op of a functional row
    macs: int = 0
    ops: int = 0                           # elementwise operations of a functional row
    unknown: dict[str, int] = field(default_factory=dict)   # aten op → calls with no formula
    params: list[tuple[str, Any]] = field(default_factory=list)
    allocated: set[int] = field(default_factory=set)
    out: Any = None
    inputs: tuple = ()
    saved_bytes: int = 0


class Recorder:
    def __init__(self, model):
        self.names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
        self.leaf_ids = {id(m) for m in model.modules() if is_leaf(m)}
        self.param_storages: dict[int, list[tuple[str, Any]]] = {}
        for pname, p in model.named_parameters():
            self.param_storages.setdefault(storage_key(p), []).append((pname, p))
        self.counted_storages: set[int] = set()
        self.stack: list[tuple[str, Optional[Acc]]] = []     # (module name, its leaf row or None)
        self.rows: list[Acc] = []
        self.calls: dict[str, int] = {}
        self.fn_counts: dict[tuple[str, str], int] = {}
        self.called: set[str] = set()
        self.last: Optional[Acc] = None       # the row an autograd pack hook belongs to
        self.keep: list = []                  # saved tensors stay referenced: storage keys stay unique
        self.by_op: dict[str, int] = {}       # MACs per aten op (what verify compares with other counters)

    # -- modules --------------------------------------------------------------------------------
    def pre(self, module, inputs):
        name = self.names.get(id(module), type(module).__name__)
        self.called.add(name)
        if self.leaf_row() is None and id(module) in self.leaf_ids:
            self.calls[name] = self.calls.get(name, 0) + 1
            shown = (name or type(module).__name__) + (f"#{self.calls[name]}" if self.calls[name] > 1 else "")
            acc = Acc(shown, module=module, inputs=tuple(inputs))
            self.rows.append(acc)
            self.last = acc
            self.stack.append((name, acc))
        else:
            self.stack.append((name, None))

    def post(self, module, inputs, output):
        if not self.stack:
            return
        _, acc = self.stack.pop()
        if acc is not None:
            acc.out = output
            spec_multi = getattr(_spec(module), "multi_input", False)
            for p in module.parameters(recurse=not spec_multi):   # owned, even if read no op
                self.claim(acc, p)

    def leaf_row(self) -> Optional[Acc]:
        for _, acc in self.stack:
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
        acc = self.leaf_row()
        if acc is None:
            if view or not outs:
                return
            parent = self.stack[-1][0] if self.stack else ""
            name = op_name.lstrip("_")
            key = (parent, name)
            self.fn_counts[key] = self.fn_counts.get(key, 0) + 1
            label = f"{name}{self.fn_counts[key]}"
            acc = Acc(f"{parent}.{label}" if parent else label, op=name, out=out, inputs=tuple(ins))
            if kind == "zero" and new and pointwise:
                acc.ops = sum(t.numel() for t in new)
            self.rows.append(acc)
            self.last = acc
        acc.allocated.update(storage_key(t) for t in new)
        for t in ins:
            key = storage_key(t)
            if key in self.param_storages and key not in self.counted_storages:
                self.counted_storages.add(key)
                acc.params.extend(self.param_storages[key])
        if kind == "macs":
            n = aten_costs.macs(func, args, kwargs, out)
            acc.macs += n
            name = f"aten.{op_name}"
            self.by_op[name] = self.by_op.get(name, 0) + n
        elif kind == "unknown":
            name = f"aten.{op_name}"
            acc.unknown[name] = acc.unknown.get(name, 0) + 1

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
            key = storage_key(t)
            if key not in seen and key not in self.param_storages and self.last is not None:
                seen.add(key)
                self.keep.append(t)
                storage = t.untyped_storage().nbytes()
                size = storage // t.element_size() * nbytes if t.is_floating_point() else storage
                self.last.saved_bytes += size
            return t

        return pack, (lambda t: t)


def _spec(module):
    from archstat.ops.registry import op_for_module

    return op_for_module(module)


def is_leaf(module) -> bool:
    """A module costed as one row: no children, or a class a registry op builds (a merge, whose
    children are the branches it joins; LeNet's table conv, whose children are its parts)."""
    return not module._modules or _spec(module) is not None
