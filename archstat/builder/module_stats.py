"""Analysis of any ``nn.Module`` into the same ModelStats as a YAML config.

The module runs once on the meta device (no memory, no compute) with forward hooks on its
leaf modules. A module of a type archstat knows is costed with the registry's formulas (the
same code as YAML configs); any other module, and any functional op called outside a leaf
module (``torch.cat``, ``x + y``, ``F.conv2d``...), becomes a row too: mapped to a registry op
where one fits, otherwise marked *not counted* — never counted as zero in silence. Parameters
shared between modules count once.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Optional

from archstat.analyze.stats import DTYPE_BYTES, ModelStats, Row, Totals, accumulate
from archstat.builder import require_torch
from archstat.errors import ConfigError, UsageError
from archstat.ops.registry import all_ops, numel, op_for_module

# functional calls (outside leaf modules) that map to a registry op
_FUNCTIONAL = {"cat": "concat", "concat": "concat", "add": "add", "__add__": "add", "__iadd__": "add",
               "__radd__": "add", "add_": "add", "relu": "relu", "relu_": "relu", "flatten": "flatten",
               "view": "flatten", "reshape": "flatten", "dropout": "dropout",
               "adaptive_avg_pool2d": "adaptive_avgpool"}
# functional calls that only look at a tensor, or return a view of it: no row at all
_IGNORED = {"size", "dim", "__get__", "__getitem__", "contiguous", "numel", "__len__", "__bool__",
            "__format__", "__repr__", "__eq__", "__ne__", "type", "to", "detach", "stride", "is_contiguous"}


def _module_args(module) -> Optional[tuple[str, dict]]:
    """(registry op, its arguments) for a torch module archstat knows, else None: the registry
    knows which torch class each op builds and how to read its arguments back."""
    spec = op_for_module(module)
    if spec is None:
        return None
    values = spec.args_of_module(module)
    return None if values is None else (spec.name, values)


def _is_leaf(module) -> bool:
    """A module archstat costs as one row: no children, or a class an op builds (a merge, whose
    children are the branches it joins; LeNet's table conv, whose children are its parts)."""
    return not module._modules or op_for_module(module) is not None


def _shape(t) -> Optional[tuple[int, ...]]:
    return tuple(t.shape[1:]) if hasattr(t, "shape") and len(t.shape) >= 1 else None


def _first_tensor(out):
    torch = sys.modules["torch"]
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


class _Recorder:
    """Collects one row per leaf-module call and per functional op called between them."""

    def __init__(self, model, batch: int, nbytes: int):
        self.batch, self.nbytes = batch, nbytes
        self.rows: list[Row] = []
        self.names = {id(m): n for n, m in model.named_modules()}
        self.calls: dict[str, int] = {}
        self.stack: list[tuple] = []        # (name, leaf, row) of the modules being run
        self.depth_in_leaf = 0
        self.counted_params: set[int] = set()
        self.fn_counts: dict[tuple[str, str], int] = {}
        self.called: set[str] = {""}

    # -- leaf modules -------------------------------------------------------------------------------
    def pre(self, module, inputs):
        name = self.names[id(module)]
        self.called.add(name)
        leaf = _is_leaf(module)
        # (name, is a leaf, is a row: a leaf not inside another leaf, e.g. not a table conv's parts)
        self.stack.append((name, leaf, leaf and self.depth_in_leaf == 0))
        if leaf:
            self.depth_in_leaf += 1

    def post(self, module, inputs, output):
        name, leaf, row = self.stack.pop()
        if leaf:
            self.depth_in_leaf -= 1
        if not row:
            return
        self.calls[name] = self.calls.get(name, 0) + 1
        row_name = name if self.calls[name] == 1 else f"{name}#{self.calls[name]}"
        in_shapes = [_shape(t) for t in inputs if hasattr(t, "shape")]
        out = _first_tensor(output)
        out_shape = _shape(out) if out is not None else ()
        spec = op_for_module(module)
        # a merge's children are the branches it joins, not its own; other ops own their parts
        recurse = spec is not None and not spec.multi_input
        own = [p for p in module.parameters(recurse=recurse) if id(p) not in self.counted_params]
        self.counted_params.update(id(p) for p in own)
        mapped = _module_args(module)
        self.rows.append(self._row(row_name, type(module).__name__, mapped, in_shapes, out_shape, own,
                                   inplace=out is not None and any(out is t for t in inputs)))

    # -- functional ops -------------------------------------------------------------------------
    def functional(self, func, args, kwargs, result):
        if self.depth_in_leaf:
            return
        fname = getattr(func, "__name__", str(func))
        if fname in _IGNORED or fname.startswith("_") and fname not in _FUNCTIONAL:
            return
        out = _first_tensor(result)
        if out is None:
            return
        tensors = [a for a in args if hasattr(a, "shape")]
        if fname in ("cat", "concat") and args and isinstance(args[0], (list, tuple)):
            tensors = list(args[0])
        parent = self.stack[-1][0] if self.stack else ""
        op = _FUNCTIONAL.get(fname)
        key = (parent, op or fname)
        self.fn_counts[key] = self.fn_counts.get(key, 0) + 1
        label = f"{op or fname}{self.fn_counts[key]}"
        name = f"{parent}.{label}" if parent else label
        values: dict[str, Any] = {}
        if op == "adaptive_avgpool":
            size = args[1] if len(args) > 1 else kwargs.get("output_size")
            values = {"out": list(size) if isinstance(size, (list, tuple)) else size}
        in_shapes = [_shape(t) for t in tensors]
        if op == "flatten" and len(_shape(out) or ()) != 1:
            return  # a reshape that is not a flatten: a view, no row
        self.rows.append(self._row(name, f"{fname}()", (op, values) if op else None, in_shapes, _shape(out), [],
                                   inplace=fname.endswith("_") or fname == "__iadd__" or
                                   (op == "flatten")))

    # -- rows -----------------------------------------------------------------------------------
    def _row(self, name, type_name, mapped, in_shapes, out_shape, own_params, inplace: bool) -> Row:
        b, nbytes = self.batch, self.nbytes
        p_weights = sum(p.numel() for n, p in self._named(own_params) if not n.endswith("bias"))
        p_biases = sum(p.numel() for n, p in self._named(own_params) if n.endswith("bias"))
        elements = 0 if inplace else numel(out_shape or ()) * b
        if mapped is not None:
            op, values = mapped
            spec = all_ops()[op]
            try:
                args = spec.make_args(values)
                shapes = [s for s in in_shapes if s is not None]
                weights, biases = spec.weights(args, shapes), spec.biases(args, shapes)
                if own_params and (weights, biases) != (p_weights, p_biases):
                    raise ValueError("its parameters differ from the formula's")
                if not own_params:
                    weights = biases = 0  # shared: counted at its first call
                macs = spec.macs(args, shapes, out_shape) * b
                ops = spec.ops(args, shapes, out_shape) * b
                label = spec.label(args, shapes, out_shape)
                formula = spec.formula(args, shapes) if spec.formula and own_params else ""
                if spec.inplace(args):
                    elements = 0
                return Row(name, label, op, out_shape, elements, elements * nbytes, weights, biases, macs, ops,
                           formula=formula)
            except Exception as exc:  # a module archstat's formula does not fit: say so
                return Row(name, type_name, type_name, out_shape, elements, elements * nbytes, p_weights,
                           p_biases, 0, 0, counted=False, note=f"formula does not apply: {exc}")
        return Row(name, type_name, type_name, out_shape, elements, elements * nbytes, p_weights, p_biases,
                   0, 0, counted=False, note=f"no formula for {type_name}")

    def _named(self, params):
        wanted = {id(p) for p in params}
        return [(n, p) for n, p in self._all_named if id(p) in wanted]


def analyze_module(model, input_shape: tuple[int, ...], *, name: Optional[str] = None, batch: int = 1,
                   dtype: str = "float32", fold: bool = True) -> ModelStats:
    """Rows and totals for any ``nn.Module`` on an input of ``input_shape`` (C, H, W; batch excluded)."""
    torch = require_torch()
    from torch.overrides import TorchFunctionMode

    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"expected an nn.Module, got {type(model).__name__}")
    on_meta = all(p.device.type == "meta" for p in model.parameters())
    if not on_meta:  # never touch the caller's module or allocate activations: a meta copy
        model = copy.deepcopy(model).to("meta")
    model.eval()
    recorder = _Recorder(model, batch, DTYPE_BYTES[dtype])
    recorder._all_named = list(model.named_parameters(remove_duplicate=False))

    class Functional(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            recorder.functional(func, args, kwargs or {}, result)
            return result

    handles = []
    for m in model.modules():
        if m is model:
            continue
        handles.append(m.register_forward_pre_hook(recorder.pre))
        handles.append(m.register_forward_hook(recorder.post))
    x = torch.empty(batch, *input_shape, device="meta")
    nbytes = DTYPE_BYTES[dtype]
    rows = [Row("input", "INPUT", "input", tuple(input_shape), numel(input_shape) * batch,
                numel(input_shape) * batch * nbytes, 0, 0, 0, 0)]
    try:
        with torch.no_grad(), Functional():
            output = model(x)
    except Exception as exc:
        raise ConfigError(f"the module's forward failed on a {'×'.join(map(str, (batch, *input_shape)))} "
                          f"input: {type(exc).__name__}: {exc}") from None
    finally:
        for h in handles:
            h.remove()
    rows += recorder.rows
    # parameters no leaf module counted: owned by a module that ran (used functionally: counted,
    # MACs unknown), or by modules that never ran in eval mode (auxiliary heads: left out, as YAML does)
    seen = recorder.counted_params
    used, unused = [], []
    for pname, p in model.named_parameters():
        if id(p) not in seen:
            owner = pname.rpartition(".")[0]
            (used if owner in recorder.called else unused).append((pname, p))
    if used:
        rows.append(Row("(parameters used functionally)", "PARAMS", "params", (), 0, 0,
                        sum(p.numel() for n, p in used if not n.endswith("bias")),
                        sum(p.numel() for n, p in used if n.endswith("bias")), 0, 0, counted=False,
                        note="parameters not owned by a leaf module: " + ", ".join(n for n, _ in used[:5])))
    aux_params = sum(p.numel() for _, p in unused)
    if fold:
        rows = _fold(rows)
    totals = Totals()
    for r in rows:
        accumulate(totals, r)
    out = _first_tensor(output)
    return ModelStats(model=name or type(model).__name__, description="an nn.Module (analyzed by forward hooks "
                      "on the meta device)", input_shape=tuple(input_shape),
                      output_shape=_shape(out) if out is not None else (), batch=batch, dtype=dtype,
                      bytes_per_element=nbytes, rows=rows, totals=totals, per_sample=totals.per_sample(batch), folded=fold,
                      layers=None, receptive_field=None, source="module", aux_params=aux_params)


def _fold(rows: list[Row]) -> list[Row]:
    """In-place ops and views (no activation of their own, no params) fold into the row before."""
    out: list[Row] = []
    for r in rows:
        if out and r.counted and r.activation_elements == 0 and not r.params and r.op != "input":
            out[-1].ops += r.ops
            out[-1].folded.append(r.name)
            continue
        out.append(r)
    return out


def load_factory(target: str):
    """``module:pkg.mod:factory`` or ``module:path/to/file.py:factory`` → the callable or module."""
    body = target[len("module:"):] if target.startswith("module:") else target
    where, sep, attr = body.rpartition(":")
    if not sep or not where or not attr:
        raise UsageError(f"'{target}': expected module:PACKAGE.MODULE:FACTORY or module:FILE.py:FACTORY")
    if where.endswith(".py"):
        path = Path(where)
        if not os.path.isfile(path):   # False too for a name too long
            raise UsageError(f"'{target}': no such file {where}")
        spec = importlib.util.spec_from_file_location(f"archstat_user_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as exc:
            raise UsageError(f"'{target}': importing {where} failed: {type(exc).__name__}: {exc}") from None
    else:
        if where.startswith("."):
            raise UsageError(f"'{target}': {where} is a relative module name; give the full dotted name")
        try:
            mod = importlib.import_module(where)
        except Exception as exc:   # ImportError, or whatever the module's own code raised
            raise UsageError(f"'{target}': cannot import {where}: {exc}") from None
    if not hasattr(mod, attr):
        from archstat.errors import did_you_mean

        guess = did_you_mean(attr, [a for a in dir(mod) if not a.startswith("_")])
        raise UsageError(f"'{target}': {where} has no attribute '{attr}'"
                         + (f" (did you mean '{guess}'?)" if guess else ""))
    return getattr(mod, attr)


def analyze_target(target: str, input_shape: Optional[tuple[int, ...]], **kw) -> ModelStats:
    """The CLI's ``module:...`` models: the factory is called under the meta device."""
    torch = require_torch()
    if input_shape is None:
        raise UsageError(f"'{target}': a module needs --input (e.g. --input 3x224x224)")
    factory = load_factory(target)
    if isinstance(factory, torch.nn.Module):
        model = factory
    else:
        try:
            with torch.device("meta"):
                model = factory()
        except Exception as exc:
            raise UsageError(f"'{target}': calling the factory failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"'{target}': the factory returned {type(model).__name__}, not an nn.Module")
    return analyze_module(model, input_shape, name=target[len("module:"):], **kw)
