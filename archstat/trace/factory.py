"""``module:`` targets: where the factory is, its literal arguments, and building it.

``module:PKG.MOD:FACTORY``, ``module:FILE.py:FACTORY``, and either with literal arguments:
``module:timm:create_model('vit_base_patch16_224', num_classes=10)``. The arguments are parsed
with ``ast`` and read with ``ast.literal_eval`` (strings, numbers, tuples, lists, dicts, True,
False, None): never evaluated as code.

A factory returns a module, ``(module, example_inputs)`` (a tensor, a tuple of positional inputs
or a dict of keyword inputs) or ``(module, args, kwargs)``; see ``inputs.from_example``. Its code
runs with stdout sent to stderr and its ``SystemExit`` turned into a located error (``run.py``).
Without ``--input``, a timm model's ``pretrained_cfg['input_size']`` or a torchvision model's
weights (their transforms' crop or resize size, a video's clip length) give the input.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archstat.builder import require_torch
from archstat.errors import ArchstatError, UsageError
from archstat.trace.run import user_code

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
        if spec is None or spec.loader is None:   # never for a .py file: Python's own source loader reads it
            raise UsageError(f"'{target}': {where} cannot be imported")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        try:
            with user_code(f"'{target}': importing {where}"):
                spec.loader.exec_module(mod)
        except ArchstatError:
            raise
        except Exception as exc:
            raise UsageError(f"'{target}': importing {where} failed: {type(exc).__name__}: {exc}") from None
    else:
        if where.startswith("."):
            raise UsageError(f"'{target}': {where} is a relative module name; give the full dotted name")
        try:
            with user_code(f"'{target}': importing {where}"):
                mod = importlib.import_module(where)
        except ArchstatError:
            raise
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
    return _split(target, _on_cpu(target, factory, args, kwargs), torch)[0]


def build_target(target: str) -> tuple[Any, list[str]]:
    """The module a target makes, on the meta device: (module, notes)."""
    built = load_target(target)
    return built.model, built.notes


class Target:
    """What a ``module:`` target makes: the module, notes on how, and the factory's example inputs."""

    def __init__(self, model, notes: list[str], inputs=None):
        self.model, self.notes, self.inputs = model, notes, inputs


def load_target(target: str) -> Target:
    """The module a target makes, on the meta device; a factory that fails there (one that needs
    real tensors while it initialises) is called again on the CPU."""
    torch = require_torch()
    factory, args, kwargs = load_factory(target)
    notes: list[str] = []
    if isinstance(factory, torch.nn.Module):
        return Target(factory, notes)
    try:
        with torch.device("meta"), user_code(f"'{target}': the factory"):
            made = factory(*args, **kwargs)
    except ArchstatError:
        raise
    except Exception as meta_exc:
        try:  # computations on the CPU, each parameter sent to the meta device as it is made
            with _parameters_on_meta(torch), user_code(f"'{target}': the factory"):
                made = factory(*args, **kwargs)
            model, inputs = _split(target, made, torch)
            return Target(model, notes, inputs)
        except ArchstatError:
            raise
        except Exception:
            pass
        made = _on_cpu(target, factory, args, kwargs)
        model, inputs = _split(target, made, torch)
        size = sum(p.numel() * p.element_size() for p in model.parameters())
        size += sum(b.numel() * b.element_size() for b in model.buffers())
        notes.append(f"the factory failed on the meta device ({type(meta_exc).__name__}: {meta_exc}); "
                     f"it was built on the CPU, taking {size / 1e6:.1f} MB of parameters and buffers")
        return Target(model, notes, inputs)
    model, inputs = _split(target, made, torch)
    if inputs is not None and any(_on_meta(s.value) for s in inputs.specs):
        inputs = _with_values(target, factory, args, kwargs, inputs, notes, torch)
    return Target(model, notes, inputs)


def _on_meta(value) -> bool:
    return getattr(getattr(value, "device", None), "type", None) == "meta"


EXAMPLE_CAP = 256 * 2**20   # bytes one tensor may take while the factory runs again for its example values


def _with_values(target, factory, args, kwargs, inputs, notes: list, torch):
    """The factory's example inputs with their values: made under the meta device they hold none, so the
    factory runs once more on the CPU, every parameter and buffer sent to the meta device as it is registered
    and no tensor over EXAMPLE_CAP allowed (``_memory_guard``), and its example tensors are taken when they
    have the same shapes and dtypes. When that run fails, the shapes are kept and a note says the values were
    not (zeros stand in where a real run needs them)."""
    try:
        with _parameters_on_meta(torch), _memory_guard(torch), user_code(f"'{target}': the factory"):
            made = factory(*args, **kwargs)
        _model, real = _split(target, made, torch)
    except Exception as exc:   # (an ArchstatError too: the first run succeeded, its shapes stand)
        notes.append(f"the factory's example values could not be kept ({type(exc).__name__}: "
                     f"{_short(str(exc))}): zeros stand in for them where a real run needs values")
        return inputs
    def layout(s):
        return (s.name, s.shape, s.dtype, s.is_value, type(s.value).__name__)
    if real is None or [layout(s) for s in real.specs] != [layout(s) for s in inputs.specs]:
        notes.append("the factory's example inputs differ from one call to the next: their values were not kept "
                     "(zeros stand in for them where a real run needs values)")
        return inputs
    return real


@contextmanager
def _memory_guard(torch):
    """While a factory runs again for its example values: any tensor over EXAMPLE_CAP refused before it is made
    (a creation op's size argument) or as soon as it is (any other op), so that a second run never allocates a
    model's worth of memory."""
    from torch.utils._python_dispatch import TorchDispatchMode

    def too_big(numel: int, dtype) -> bool:
        return numel * (dtype.itemsize if dtype is not None else 8) > EXAMPLE_CAP

    class Guard(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            size = next((a for a, spec in zip(args, func._schema.arguments) if spec.name == "size"),
                        kwargs.get("size"))
            if isinstance(size, (list, tuple)) and all(isinstance(d, int) for d in size):
                numel = 1
                for d in size:
                    numel *= d
                if too_big(numel, kwargs.get("dtype")) and kwargs.get("device") != torch.device("meta"):
                    raise MemoryError(f"a tensor of {numel:,} elements while making the example inputs")
            out = func(*args, **kwargs)
            for t in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(t, torch.Tensor) and t.device.type != "meta" and too_big(t.numel(), t.dtype):
                    raise MemoryError(f"a tensor of {t.numel():,} elements while making the example inputs")
            return out

    with Guard():
        yield


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


SHAPES = "a factory returns a module, (module, example_inputs) or (module, args, kwargs)"


def _split(target, made, torch):
    """(module, the factory's example inputs or None) of what a factory returned."""
    from archstat.trace.inputs import from_example

    if isinstance(made, torch.nn.Module):
        return made, None
    if isinstance(made, tuple) and made and isinstance(made[0], torch.nn.Module):
        where = f"'{target}': the factory's example inputs"
        if len(made) == 2:
            example = made[1]
            if isinstance(example, dict):
                return made[0], from_example((), example, where)
            if isinstance(example, (tuple, list)):
                return made[0], from_example(tuple(example), {}, where)
            return made[0], from_example((example,), {}, where)
        if len(made) == 3 and isinstance(made[1], (tuple, list)) and isinstance(made[2], dict):
            return made[0], from_example(tuple(made[1]), made[2], where)
        raise UsageError(f"'{target}': the factory returned a tuple of {len(made)}; {SHAPES}")
    raise UsageError(f"'{target}': the factory returned {type(made).__name__}, not an nn.Module ({SHAPES})")


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
        with user_code(f"'{target}': the factory"):
            return factory(*args, **kwargs)
    except ArchstatError:
        raise
    except Exception as exc:
        raise UsageError(f"'{target}': calling the factory failed: {type(exc).__name__}: {exc}") from None


def require_input(target: str, input_shape):
    """A module has no input shape of its own: the command line must give one (a plain shape
    stays a tuple; several, named or typed inputs are an InputSet)."""
    if input_shape is None:
        raise UsageError(f"'{target}': a module needs --input (e.g. --input 3x224x224)")
    if isinstance(input_shape, (tuple, list)) and all(isinstance(d, int) for d in input_shape):
        return tuple(input_shape)
    from archstat.trace.inputs import normalize

    return normalize(input_shape, "--input")


def default_input(target: str, model):
    """The model's own input (an InputSet), or None: a timm model's ``pretrained_cfg['input_size']``;
    a torchvision model's weights: a classifier's crop size, a video model's crop and clip length,
    segmentation's resize size, a detector's transform size, optical flow's minimum size (two images)."""
    from archstat.trace.inputs import InputSet, InputSpec

    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    if isinstance(cfg, dict) and cfg.get("input_size") is not None:
        size = cfg["input_size"]
        if not (isinstance(size, (tuple, list)) and size and all(
                isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 10**7 for d in size)):
            shown = repr(size) if len(repr(size)) <= 40 else repr(size)[:37] + "..."
            raise UsageError(f"'{target}': the model's pretrained_cfg['input_size'] is {type(size).__name__} "
                             f"{shown}, not a shape such as (3, 224, 224): give --input")
        timm_size = tuple(size)
        return InputSet((InputSpec(timm_size),),
                        f"timm's pretrained_cfg['input_size'] {'×'.join(map(str, timm_size))}")
    if not type(model).__module__.startswith("torchvision.models"):
        return None
    import re

    torchvision = sys.modules.get("torchvision")
    _where, attr, args, _kwargs = parse_target(target)
    builder = args[0] if attr == "get_model" and args and isinstance(args[0], str) else attr
    if torchvision is None:   # a class of torchvision.models, yet torchvision not imported: nothing to ask
        return None
    try:
        weights = torchvision.models.get_model_weights(builder).DEFAULT
    except Exception:
        return None
    transforms = weights.transforms()
    kind = type(transforms).__name__
    crop = list(getattr(transforms, "crop_size", None) or [])
    resize = list(getattr(transforms, "resize_size", None) or [])
    said = f"torchvision's {weights} transforms"
    if kind == "VideoClassification" and crop:
        frames = re.findall(r"clip_len=(\d+)", weights.meta.get("_docs", ""))
        h, w = (crop * 2)[:2]
        t = int(frames[0]) if frames else 16
        return InputSet((InputSpec((3, t, h, w)),), f"{said}: crop {h}×{w}, clip_len={t}")
    # a ViT built for its own size (vit_h_14: 224 unless its weights' 518)
    image_size = getattr(model, "image_size", None)
    if kind == "ImageClassification" and isinstance(image_size, int):
        return InputSet((InputSpec((3, image_size, image_size)),), f"the model's image_size {image_size}")
    if kind == "ImageClassification" and crop:
        h, w = (crop * 2)[:2]
        return InputSet((InputSpec((3, h, w)),), f"{said}: crop {h}×{w}")
    if kind == "SemanticSegmentation" and resize:
        h, w = (resize * 2)[:2]
        return InputSet((InputSpec((3, h, w)),), f"{said}: resize {h}×{w}")
    if kind == "ObjectDetection":
        own = getattr(model, "transform", None)
        min_size = getattr(own, "min_size", None)
        if min_size:
            s = int(min_size[0])
            return InputSet((InputSpec((3, s, s)),), f"the detector's own transform: min_size {s}")
    if kind == "OpticalFlow":
        h, w = weights.meta.get("min_size", (128, 128))
        return InputSet((InputSpec((3, h, w)), InputSpec((3, h, w))),
                        f"{said}: two images at the weights' min_size {h}×{w}")
    return None


def analyze_target(target: str, input_shape, **kw):
    """The CLI's ``module:...`` models: the input given, else the factory's example inputs, else
    the model's own (timm, torchvision), else a usage error."""
    from archstat.trace.analyze import analyze_module
    from archstat.trace.inputs import normalize

    built = load_target(target)
    inputs = normalize(input_shape, "--input")
    if inputs is None:
        inputs = built.inputs or default_input(target, built.model)
    if inputs is None:
        raise UsageError(f"'{target}': a module needs --input (e.g. --input 3x224x224)")
    from archstat.zoo import shown_name

    return analyze_module(built.model, inputs, name=shown_name(target), notes=tuple(built.notes),
                          cpu_model=lambda: build_target_on_cpu(target), **kw)
