"""``module:`` targets: where the factory is, its literal arguments, and building it.

``module:PKG.MOD:FACTORY``, ``module:FILE.py:FACTORY``, and either with literal arguments:
``module:timm:create_model('vit_base_patch16_224', num_classes=10)``. The arguments are parsed
with ``ast`` and read with ``ast.literal_eval`` (strings, numbers, tuples, lists, dicts, True,
False, None): never evaluated as code.

A factory returns a module, ``(module, example_inputs)`` (a tensor, a tuple of positional inputs
or a dict of keyword inputs) or ``(module, args, kwargs)``; see ``inputs.from_example``. Its code
runs with stdout sent to stderr and its ``SystemExit`` turned into a located error (``run.py``).
**One way to find a module's input** (``find_input``), for every command and the API: ``--input`` (the
API's ``input_shape`` / ``input_data``) when given; else the factory's example inputs; else the model's own:
a timm model's ``pretrained_cfg['input_size']``, a torchvision model's weights (their transforms' crop or
resize size, a video's clip length), a detector's own transform; else a one-line error naming ``--input``.

A factory that tries to download weights and cannot (offline) is named as such, with the call that
builds it without them (``weights=None``, ``weights_backbone=None``, ``pretrained=False``).
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
    return load_target_on_cpu(target).model


def load_target_on_cpu(target: str) -> Target:
    """What a target makes, built on the CPU with real tensors: the module and the factory's example inputs."""
    torch = require_torch()
    factory, args, kwargs = load_factory(target)
    if isinstance(factory, torch.nn.Module):
        import copy

        return Target(copy.deepcopy(factory).to("cpu"), [])
    model, inputs = _split(target, _on_cpu(target, factory, args, kwargs), torch)
    return Target(model, [], inputs)


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
        if is_download_failure(meta_exc):   # offline: trying again on the CPU would only download again
            raise download_error(target, factory, kwargs, meta_exc) from None
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
        if is_download_failure(exc):
            raise download_error(target, factory, kwargs, exc) from None
        raise UsageError(f"'{target}': calling the factory failed: {type(exc).__name__}: {exc}") from None


# what a failed download raises: urllib (torch.hub, torchvision), requests/httpx/urllib3 (Hugging Face, timm),
# the socket underneath, huggingface_hub's offline errors
_DOWNLOAD_ERRORS = {"URLError", "HTTPError", "ContentTooShortError", "gaierror", "ConnectionError",
                    "ConnectTimeout", "ReadTimeout", "MaxRetryError", "NewConnectionError", "NameResolutionError",
                    "SSLError", "ConnectError", "LocalEntryNotFoundError", "OfflineModeIsEnabled",
                    "ConnectionRefusedError", "ConnectionResetError", "IncompleteRead"}
# a factory's arguments that fetch pretrained weights, and the value that builds without them
WEIGHT_ARGUMENTS = {"weights": None, "weights_backbone": None, "pretrained": False, "pretrained_backbone": False}


def is_download_failure(exc: BaseException) -> bool:
    """Whether a factory failed fetching something over the network (pretrained weights, a config)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if any(cls.__name__ in _DOWNLOAD_ERRORS for cls in type(e).__mro__):
            return True
        e = e.__cause__ or e.__context__
    return False


def offline_call(target: str, factory, kwargs: dict) -> str | None:
    """The target with every weight-fetching argument of the factory turned off
    (``…:fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)``), or None when it takes none."""
    import inspect

    _where, attr, args, _kw = parse_target(target)
    torchvision = sys.modules.get("torchvision")
    if attr == "get_model" and args and isinstance(args[0], str) and torchvision is not None:
        try:   # torchvision's get_model('name', **kwargs): the builder's arguments
            factory = torchvision.models.get_model_builder(args[0])
        except Exception:
            pass
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    off = {}
    for name, value in WEIGHT_ARGUMENTS.items():
        if name in params:
            current = kwargs.get(name, params[name].default)
            if current is not inspect.Parameter.empty and current not in (None, False):
                off[name] = value
    if not off and "pretrained" not in kwargs and any(p.kind is inspect.Parameter.VAR_KEYWORD
                                                      for p in params.values()):
        off = {"pretrained": False}   # timm's create_model(name, pretrained=…, **kwargs)
    if not off:
        return None
    head = target.split("(", 1)[0]
    merged = {**kwargs, **off}
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in merged.items()]
    return f"{head}({', '.join(shown)})"


def download_error(target: str, factory, kwargs: dict, exc: BaseException) -> UsageError:
    fix = offline_call(target, factory, kwargs)
    detail = f"{type(exc).__name__}: {exc}"
    return UsageError(f"'{target}': the factory tried to download pretrained weights and could not ({detail}); "
                      + (f"offline, build it without them: '{fix}' (the counts do not depend on the weights)"
                         if fix else "run it where the download works once (torch.hub and Hugging Face cache "
                                     "what they fetch), or give a factory that builds without weights"))


INPUT_HINT = "--input (e.g. --input 3x224x224)"
API_HINT = "input_shape (one sample's shape, e.g. (3, 224, 224)) or input_data (tensors, as torchinfo's)"


def find_input(model, given=None, *, target: Optional[str] = None, example=None, fallback=None,
               api: Optional[bool] = None):
    """THE input of a module, for every command and the API (table, compare, roofline, profile, verify, sweep,
    plot, ``analyze``, ``roofline``): ``given`` (``--input``, ``input_shape``) when given; else the factory's
    example inputs (``example``); else the model's own (``default_input``: timm's pretrained config, a
    torchvision weights' transforms, a detector's transform); else ``fallback`` (compare: the config beside
    it); else a one-line UsageError naming ``--input`` (from the Python API, ``api``: ``input_shape``).
    Returns an InputSet."""
    from archstat.trace.inputs import from_api, normalize

    api = from_api() if api is None else api
    inputs = normalize(given, "input_shape" if api else "--input")
    if inputs is None:
        inputs = example or default_input(target, model)
    if inputs is None and fallback is not None:
        inputs = normalize(fallback, "--input")
    if inputs is None:
        what = f"'{target}'" if target else f"a {type(model).__name__}"
        raise UsageError(f"{what}: archstat cannot tell this module's input (its factory gives no example inputs, "
                         f"and it has no timm pretrained config or torchvision weights to read it from): give "
                         f"{API_HINT if api else INPUT_HINT}")
    return inputs


def default_input(target: Optional[str], model):
    """The model's own input (an InputSet), or None: a timm model's ``pretrained_cfg['input_size']``;
    a torchvision model's weights: a classifier's crop size, a video model's crop and clip length,
    segmentation's resize size, a detector's transform size, optical flow's minimum size (two images).
    ``target``: the ``module:`` target that made it (its builder's name); None for a module given as an
    object, whose builder is the one of its class whose weights have its number of parameters."""
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
    if torchvision is None:   # a class of torchvision.models, yet torchvision not imported: nothing to ask
        return None
    own = getattr(model, "transform", None)
    min_size = getattr(own, "min_size", None)
    if type(model).__module__.startswith("torchvision.models.detection") and min_size:
        s = int(min_size[0])
        return InputSet((InputSpec((3, s, s)),), f"the detector's own transform: min_size {s}")
    weights = _torchvision_weights(torchvision, target, model)
    if weights is None:
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
    if kind == "OpticalFlow":
        h, w = weights.meta.get("min_size", (128, 128))
        return InputSet((InputSpec((3, h, w)), InputSpec((3, h, w))),
                        f"{said}: two images at the weights' min_size {h}×{w}")
    return None


def _torchvision_weights(torchvision, target: Optional[str], model):
    """The DEFAULT weights of the torchvision builder that made ``model``: the target's builder; for a module
    given as an object, the builder of its class whose weights count its parameters (None when not one)."""
    if target is not None:
        _where, attr, args, _kwargs = parse_target(target)
        builder = args[0] if attr == "get_model" and args and isinstance(args[0], str) else attr
        try:
            return torchvision.models.get_model_weights(builder).DEFAULT
        except Exception:
            pass
    cls = type(model)
    try:
        names = torchvision.models.list_models()
    except Exception:
        return None
    found = []
    for name in names:
        try:
            builder = torchvision.models.get_model_builder(name)
            if builder.__module__ != cls.__module__:
                continue
            found.append(torchvision.models.get_model_weights(name).DEFAULT)
        except Exception:
            continue
    if len({_input_of(w) for w in found}) == 1:   # every builder of the class takes the same input
        return found[0]
    count = sum(p.numel() for p in model.parameters())
    same = [w for w in found if w.meta.get("num_params") == count]
    return same[0] if len({_input_of(w) for w in same}) == 1 else None


def _input_of(weights) -> tuple:
    t = weights.transforms()
    return (type(t).__name__, tuple(getattr(t, "crop_size", None) or ()), tuple(getattr(t, "resize_size", None) or ()))


def analyze_target(target: str, input_shape, *, api: Optional[bool] = None, fallback=None, **kw):
    """``module:...`` models, with their input found by ``find_input`` (``api``: errors name the Python API's
    arguments, not the command line's; ``fallback``: the input when the module has none of its own)."""
    from archstat.trace.analyze import analyze_module

    built = load_target(target)
    inputs = find_input(built.model, input_shape, target=target, example=built.inputs, fallback=fallback, api=api)
    from archstat.zoo import shown_name

    return with_sample_hint(inputs, lambda: analyze_module(
        built.model, inputs, name=shown_name(target), notes=tuple(built.notes),
        cpu_model=lambda: build_target_on_cpu(target), **kw), api=api)


def with_sample_hint(inputs, trace, api: Optional[bool] = None):
    """``trace()``; when the forward fails on one input shaped like a batch of one ((1, 3, 224, 224): torchinfo's
    ``input_size``), the error says the shape is one sample and what was probably meant."""
    from archstat.trace.inputs import from_api, one_sample_hint

    api = from_api() if api is None else api
    try:
        return trace()
    except ArchstatError as exc:
        hint = one_sample_hint(inputs, api)
        if hint is None:
            raise
        from archstat.errors import ArgumentValueError

        cls = ArgumentValueError if api else UsageError
        raise cls(f"{hint}; with {inputs.text()} as one sample: {exc.message}") from None
