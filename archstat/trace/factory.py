"""``module:`` targets: where the factory is, its literal arguments, and building it.

``module:PKG.MOD:FACTORY``, ``module:FILE.py:FACTORY``, and either with literal arguments:
``module:timm:create_model('vit_base_patch16_224', num_classes=10)``. The arguments are parsed
with ``ast`` and read with ``ast.literal_eval`` (strings, numbers, tuples, lists, dicts, True,
False, None): never evaluated as code.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from archstat.builder import require_torch
from archstat.errors import UsageError

USAGE = "expected module:PACKAGE.MODULE:FACTORY or module:FILE.py:FACTORY, optionally FACTORY('literal', n=1)"


def parse_target(target: str) -> tuple[str, str, tuple, dict]:
    """``module:where:attr(args)`` → (where, attr, args, kwargs)."""
    body = target[len("module:"):] if target.startswith("module:") else target
    call = ""
    paren = body.find("(")
    if paren != -1:
        body, call = body[:paren], body[paren:]
    where, sep, attr = body.rpartition(":")
    if not sep or not where or not attr:
        raise UsageError(f"'{target}': {USAGE}")
    args, kwargs = _literal_call(target, attr, call) if call else ((), {})
    return where, attr, args, kwargs


def _literal_call(target: str, attr: str, call: str) -> tuple[tuple, dict]:
    try:
        node = ast.parse(f"f{call}", mode="eval").body
        if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
            raise ValueError("not a call with literal arguments")
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except (SyntaxError, ValueError) as exc:
        raise UsageError(f"'{target}': the arguments of {attr} must be literals (strings, numbers, "
                         f"tuples, lists, dicts, True/False/None): {exc}") from None
    return args, kwargs


def load_factory(target: str):
    """The callable (or module instance) a target names, and its literal arguments."""
    where, attr, args, kwargs = parse_target(target)
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
    return getattr(mod, attr), args, kwargs


def build_target_on_cpu(target: str):
    """The module a target makes, with real CPU tensors (its buffers hold their values)."""
    torch = require_torch()
    factory, args, kwargs = load_factory(target)
    if isinstance(factory, torch.nn.Module):
        import copy

        return copy.deepcopy(factory).to("cpu")
    return _on_cpu(target, factory, args, kwargs)


def build_target(target: str) -> tuple[Any, list[str]]:
    """The module a target makes, on the meta device; a factory that fails there (one that needs
    real tensors while it initialises) is called again on the CPU: (module, notes)."""
    torch = require_torch()
    factory, args, kwargs = load_factory(target)
    notes: list[str] = []
    if isinstance(factory, torch.nn.Module):
        model = factory
    else:
        try:
            with torch.device("meta"):
                model = factory(*args, **kwargs)
        except Exception as meta_exc:
            try:  # computations on the CPU, each parameter sent to the meta device as it is made
                with _parameters_on_meta(torch):
                    model = factory(*args, **kwargs)
                return _checked(target, model, torch), notes
            except Exception:
                pass
            model = _on_cpu(target, factory, args, kwargs)
            size = sum(p.numel() * p.element_size() for p in model.parameters())
            size += sum(b.numel() * b.element_size() for b in model.buffers())
            notes.append(f"the factory failed on the meta device ({type(meta_exc).__name__}: {meta_exc}); "
                         f"it was built on the CPU, taking {size / 1e6:.1f} MB of parameters and buffers")
    return _checked(target, model, torch), notes


def _checked(target, model, torch):
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"'{target}': the factory returned {type(model).__name__}, not an nn.Module")
    return model


@contextmanager
def _parameters_on_meta(torch):
    """A factory whose own arithmetic needs real tensors (``torch.linspace(...).tolist()`` for
    drop-path rates) runs on the CPU, while every parameter and buffer it registers moves to the
    meta device (so no weights are initialised or kept)."""
    module = torch.nn.Module
    original = module.register_parameter

    def register_parameter(self, name, param):
        if param is not None and param.device.type != "meta":
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and tensor.device.type != "meta":
            tensor = tensor.to("meta")
        original_buffer(self, name, tensor, persistent)

    original_buffer = module.register_buffer
    module.register_parameter, module.register_buffer = register_parameter, register_buffer
    try:
        yield
    finally:
        module.register_parameter, module.register_buffer = original, original_buffer


def _on_cpu(target, factory, args, kwargs):
    try:
        return factory(*args, **kwargs)
    except Exception as exc:
        raise UsageError(f"'{target}': calling the factory failed: {type(exc).__name__}: {exc}") from None


def require_input(target: str, input_shape) -> tuple[int, ...]:
    """A module has no input shape of its own: the command line must give one."""
    if input_shape is None:
        raise UsageError(f"'{target}': a module needs --input (e.g. --input 3x224x224)")
    return tuple(input_shape)


def analyze_target(target: str, input_shape: Optional[tuple[int, ...]], **kw):
    """The CLI's ``module:...`` models."""
    from archstat.trace.analyze import analyze_module

    input_shape = require_input(target, input_shape)
    model, notes = build_target(target)
    return analyze_module(model, input_shape, name=target[len("module:"):], notes=tuple(notes),
                          cpu_model=lambda: build_target_on_cpu(target), **kw)
