"""The public API. Nothing here imports torch.

>>> import archstat
>>> stats = archstat.analyze("vgg16")
>>> stats.totals.params
138357544

Every function checks its arguments first (``archstat/argcheck.py``): a wrong type or value is an
``ArgumentTypeError`` / ``ArgumentValueError`` (``ArchstatError`` subclasses, also ``TypeError`` /
``ValueError``) naming the function and the argument, never an error from deep inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from archstat import argcheck, dtypes
from archstat.analyze.references import check_all
from archstat.analyze.stats import MODES, ModelStats, analyze_graph
from archstat.config.expand import expand
from archstat.config.loader import read_config_text
from archstat.config.spec import Spec, parse_spec
from archstat.errors import UsageError
from archstat.graph import Graph
from archstat.zoo import as_target, resolve

if TYPE_CHECKING:
    from archstat.trace.inputs import InputShape

MAX_BATCH = argcheck.MAX_BATCH
MAX_COMPARED = 26   # one letter each, as archstat compare

__all__ = ["MAX_BATCH", "MAX_COMPARED", "analyze", "build", "check_roofline_arguments", "compare", "load", "load_spec",
           "roofline"]

_SPEC_CACHE: dict[tuple, Spec] = {}


def load_spec(name_or_path: str | Path) -> Spec:
    """Read and validate a config (a zoo name or a path)."""
    argcheck.expect_model(name_or_path, "archstat.load_spec", "name_or_path", spec=False, graph=False)
    path, shown = resolve(name_or_path if isinstance(name_or_path, (str, Path)) else Path(name_or_path))
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, shown)
    except OSError:
        key = None   # read_config_text reports it
    if key is not None and key in _SPEC_CACHE:
        return _SPEC_CACHE[key]
    spec = parse_spec(read_config_text(path, shown), shown)
    if key is not None:
        if len(_SPEC_CACHE) > 256:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec   # a Spec is never changed after parsing (an --input makes a copy)
    return spec


def load(name_or_path: str | Path | Spec, params: Optional[dict[str, Any]] = None, *,
         input_shape: Optional[InputShape] = None, origin: str = "--set") -> Graph:
    """Config → Graph, with declared params overridden by ``params`` and the input by ``input_shape``."""
    argcheck.expect_model(name_or_path, "archstat.load", "name_or_path", graph=False)
    params = argcheck.expect_mapping(params, "archstat.load")
    argcheck.expect_str(origin, "archstat.load", "origin")
    spec = name_or_path if isinstance(name_or_path, Spec) else load_spec(name_or_path)
    env = spec.bind(params, origin=origin)
    input_shape = _config_input(input_shape)
    shape = input_shape if input_shape is not None else spec.input_for(env)
    if shape != spec.input:
        spec = _with_input(spec, shape)
    return expand(spec, env)


def _config_input(input_shape: Optional[InputShape]) -> Optional[tuple[int, ...]]:
    """A config's input: a shape (3, 224, 224), or a string in the input grammar ('3x224x224',
    parsed, never iterated), or an InputSet of one plain input."""
    if input_shape is None:
        return None
    from archstat.trace.inputs import normalize  # no torch

    return normalize(input_shape).config_shape()


def _with_input(spec: Spec, shape: tuple[int, ...]) -> Spec:
    from dataclasses import replace

    return replace(spec, input=tuple(shape))


def analyze(model: str | Path | Spec | Graph, params: Optional[dict[str, Any]] = None, *,
            input_shape: Optional[InputShape] = None, input_data=None, batch: Optional[int] = None,
            dtype: str = "float32", fold: bool = True, depth: Optional[int] = None, mode: str = "eval",
            optimizer: str = "adam", amp: bool = False, convention: Optional[str] = None) -> ModelStats:
    """Per-layer rows, totals and published-vs-computed checks for a config (a zoo name, a path,
    a Spec or a Graph), or for any ``nn.Module`` or ``"module:PKG.MOD:FACTORY"``.

    ``input_shape``: one sample's shape, without the batch ((3, 224, 224), or '3x224x224' in the ``--input``
    grammar), or for a module a list of them (positional inputs) or a dict of name → shape
    (keyword inputs), e.g. ``{'input_ids': 'int64:128', 'decoder_input_ids': 'int64:16'}``.
    ``input_data``: real inputs instead, batch first, as torchinfo's ``input_data``: a tensor, a list or tuple
    of them, or a dict of name → tensor (the batch is their first dimension unless ``batch`` is given).
    A module without either takes its own input, as the command line finds it: the factory's example inputs,
    timm's pretrained config, a torchvision weights' transforms, a detector's transform.
    ``batch``: default 1. ``convention`` (a module): also compute what fvcore, flop_counter, ptflops, thop or
    torchinfo would print (``stats.conventions``).

    ``mode='eval'`` leaves auxiliary heads out of the rows and totals; ``'train'`` counts them and
    adds the training-memory estimate (``optimizer`` sgd|momentum|adam, ``amp`` for autocast).
    """
    from archstat.analyze.training import OPTIMIZER_STATES

    fn = "archstat.analyze"
    argcheck.expect_model(model, fn, "model", module=True)
    model = as_target(model)   # a zoo module's name (bert-large) → its module: target
    params = argcheck.expect_mapping(params, fn)
    argcheck.expect_choice(optimizer, fn, "optimizer", OPTIMIZER_STATES)
    dtype = argcheck.expect_dtype(dtype, fn, "dtype", dtypes.STORAGE)
    argcheck.expect_choice(mode, fn, "mode", MODES)
    if mode == "train" and dtype == "int8":
        raise UsageError("--dtype int8 with --mode train: int8 is an inference format; training memory is "
                         "estimated for float32, float16 or bfloat16 (or --amp)")
    if batch is not None:   # None: 1, or input_data's own batch
        argcheck.expect_int(batch, fn, "batch", 1, MAX_BATCH)
    argcheck.expect_int(depth, fn, "depth", 1, optional=True)
    argcheck.expect_bool(fold, fn, "fold")
    argcheck.expect_bool(amp, fn, "amp")
    if convention is not None:
        from archstat.trace.conventions import PEERS  # no torch: the peers' names

        argcheck.expect_choice(convention, fn, "convention", PEERS)
    is_module = hasattr(model, "named_modules") and hasattr(model, "forward")   # an nn.Module (torch is loaded)
    is_target = isinstance(model, str) and model.startswith("module:")
    if params and (isinstance(model, Graph) or argcheck.is_module(model) or is_target):
        raise argcheck.ArgumentValueError("a Graph or a module declares no params to set (params apply to configs)",
                                          path=f"{fn}: params")
    if input_data is not None:
        input_shape, batch = _from_data(input_data, input_shape, batch, is_module or is_target, fn)
    batch = 1 if batch is None else batch
    if isinstance(model, Graph):
        return analyze_graph(model, batch=batch, dtype=dtype, fold=fold, depth=depth, mode=mode,
                             optimizer=optimizer, amp=amp)
    options: dict[str, Any] = dict(batch=batch, dtype=dtype, fold=fold, depth=depth, mode=mode,
                                   optimizer=optimizer, amp=amp, convention=convention)
    if is_module:
        from archstat.trace.analyze import analyze_module
        from archstat.trace.factory import find_input, with_sample_hint

        inputs = find_input(model, input_shape)   # given, else the model's own, else an error
        return with_sample_hint(inputs, lambda: analyze_module(model, inputs, **options))
    if is_target:
        from archstat.trace.factory import analyze_target

        return analyze_target(str(model), input_shape, **options)
    if convention is not None:
        raise UsageError(f"--convention {convention}: applies to modules (module:… targets); a config's MACs "
                         "follow archstat's convention")
    input_shape = _config_input(input_shape)
    spec = model if isinstance(model, Spec) else load_spec(model)
    graph = load(spec, params, input_shape=input_shape)
    stats = analyze_graph(graph, description=spec.description, batch=batch, dtype=dtype, fold=fold,
                          depth=depth, mode=mode, optimizer=optimizer, amp=amp)
    # published figures are for the config's own input; under another input they do not apply
    if spec.figures and (input_shape is None or tuple(input_shape) == spec.input):
        stats.references = check_all(spec.figures, stats, _evaluator(spec, stats))
    elif spec.figures:
        stats.references_skipped = (f"{len(spec.figures)} published figures are for the input "
                                    f"{'×'.join(map(str, spec.input))} and are not checked at this one")
    return stats


def _from_data(input_data, input_shape, batch: Optional[int], module: bool, fn: str):
    """torchinfo's ``input_data`` → (input_shape, batch): the inputs of one sample and the tensors' batch
    (unless ``batch`` is given). A config takes one tensor (its C×H×W is the config's input)."""
    if input_shape is not None:
        raise argcheck.ArgumentValueError("give input_shape or input_data, not both", path=f"{fn}: input_data")
    from archstat.builder import require_torch

    require_torch()
    from archstat.trace.inputs import from_data

    inputs, data_batch = from_data(input_data, f"{fn}: input_data")
    if not module:
        if len(inputs.specs) != 1 or inputs.specs[0].name:
            raise argcheck.ArgumentValueError("a config takes one tensor (batch, C, H, W)", path=f"{fn}: input_data")
        return tuple(inputs.specs[0].shape), batch or data_batch
    return inputs, batch or data_batch


def build(model: str | Path | Spec | Graph, params: Optional[dict[str, Any]] = None, *,
          device: Optional[str] = None, input_shape: Optional[InputShape] = None, **param_values):
    """The torch ``nn.Module`` of a config; its ``named_modules()`` names equal the table's rows.

    ``archstat.build("googlenet-bottleneck", c3_reduce=128, device="meta")``. torch is imported
    here, not before; without it this raises RuntimeFailure with the install line.
    """
    fn = "archstat.build"
    argcheck.expect_model(model, fn, "model")
    if as_target(model) is not model:
        raise UsageError(f"archstat.build: '{model}' is a module of the zoo, not a config: its factory is "
                         f"{as_target(model)[len('module:'):]} (import it and call it for the nn.Module)")
    params = {**argcheck.expect_mapping(params, fn), **param_values}
    if isinstance(model, Graph) and params:
        raise argcheck.ArgumentValueError("a Graph declares no params to set (its params are bound)",
                                          path=f"{fn}: params")
    graph = model if isinstance(model, Graph) else load(str(model) if isinstance(model, Path) else model, params,
                                                         input_shape=input_shape)
    from archstat.builder.torch_builder import build_graph

    return build_graph(graph, _torch_device(device, fn))


def _torch_device(device, fn: str):
    """None, or a device torch knows and this machine has: a typed error otherwise, before anything is built."""
    if device is None:
        return None
    from archstat.builder import require_torch

    torch = require_torch()
    if isinstance(device, int) and not isinstance(device, bool):   # torch's shorthand: 0 is cuda:0
        device = f"cuda:{device}"
    if not isinstance(device, (str, torch.device)):
        raise argcheck.ArgumentTypeError(f"expected a device such as 'cpu', 'cuda:0' or 'meta', got "
                                         f"{argcheck.shown(device)}", path=f"{fn}: device")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise argcheck.ArgumentValueError(f"'{device}' is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1', 'mps', "
                                          "'meta')", path=f"{fn}: device") from None
    from archstat.errors import RuntimeFailure

    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RuntimeFailure(f"device '{device}': CUDA is not available on this machine", path=fn)
        if dev.index is not None and dev.index >= count:
            raise RuntimeFailure(f"device '{device}': this machine has {count} CUDA device"
                                 f"{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})", path=fn)
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeFailure(f"device '{device}': MPS is not available on this machine", path=fn)
    return dev


def compare(models, *, input_shape: Optional[InputShape] = None, batch: int = 1, dtype: str = "float32",
            depth: Optional[int] = None, mode: str = "eval"):
    """Several models side by side (``archstat compare``): totals with ratios to the first, rows
    aligned by name. Each entry is anything ``analyze`` takes (a zoo name, a path, a Spec, a Graph,
    an nn.Module), analyzed with these options, or a ``ModelStats`` or ``Compared`` already made;
    entries are labelled A, B, C, … in order.

    ``archstat.compare(["vgg16", "resnet50"])``
    """
    from archstat.analyze.compare import Compared
    from archstat.analyze.compare import compare as align_models

    fn = "archstat.compare"
    if isinstance(models, (str, bytes, Path, Spec, Graph, ModelStats)) or not isinstance(models, (list, tuple)):
        raise argcheck.ArgumentTypeError(f"expected a list of models such as ['vgg16', 'resnet50'], got "
                                         f"{argcheck.shown(models)}", path=f"{fn}: models")
    if not 2 <= len(models) <= MAX_COMPARED:
        raise argcheck.ArgumentValueError(f"compare takes 2 to {MAX_COMPARED} models, got {len(models)}",
                                          path=f"{fn}: models")
    for i, m in enumerate(models):   # every entry checked before any is analyzed
        if not isinstance(m, (ModelStats, Compared)):
            argcheck.expect_model(m, fn, f"models[{i}]", module=True)
    compared = []
    for i, m in enumerate(models):
        label = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]
        if isinstance(m, Compared):
            compared.append(m)
        elif isinstance(m, ModelStats):
            compared.append(Compared(label, m.model, m))
        else:
            stats = analyze(m, input_shape=input_shape, batch=batch, dtype=dtype, depth=depth, mode=mode)
            compared.append(Compared(label, m if isinstance(m, str) else stats.model, stats))
    return align_models(compared)


def roofline(model, params: Optional[dict[str, Any]] = None, *, device, dtype: str = "fp32", batch: int = 1,
             depth: Optional[int] = None, input_shape=None, peak: Optional[float] = None,
             bandwidth: Optional[float] = None, overhead_s: Optional[float] = None, runtime: str = "eager",
             amp: bool = False, train: bool = False, optimizer: str = "sgd", tf32: Optional[bool] = None,
             channels_last: bool = False):
    """How long ``model`` should take on ``device`` (``archstat roofline``), per row and in total: a zoo
    name, a path, ``module:…`` or an nn.Module, run by ``runtime`` (eager, compile or engine) in
    ``dtype`` (with ``amp``: autocast over an fp32 model), one forward or (``train``) one training step
    with ``optimizer`` (sgd or adamw). ``peak`` (FLOP/s), ``bandwidth`` (bytes/s) and ``overhead_s``
    override the device's figures, each finite and within ``argcheck.ROOF_LIMITS``; ``tf32`` forces
    float32 convolutions and matmuls in or out of TF32 (default: PyTorch's, convolutions only).

    ``device``: one device (a Roofline), or several, a list or a comma string (``"h100,a100"``: a list of
    Rooflines in that order). The model is traced (or its recipes planned) once and predicted on each.

    ``archstat.roofline("resnet50", device="h100", dtype="bf16", batch=64).predicted_s``
    """
    from archstat import calibration
    from archstat.analyze import devices
    from archstat.prediction import check_precision, predict_run

    fn = "archstat.roofline"
    if not isinstance(device, (list, tuple)):
        argcheck.expect_str(device, fn, "device", "a device name such as 'h100', 'a100', 'cpu' or 'cuda' (or a "
                            "list of them)")
    names = _devices_of(device, fn)
    check_roofline_arguments(fn, model=model, params=params, device=names[0], dtype=dtype,
                             batch=batch, depth=depth, peak=peak, bandwidth=bandwidth, overhead_s=overhead_s,
                             runtime=runtime, amp=amp, train=train, optimizer=optimizer, tf32=tf32,
                             channels_last=channels_last, input_shape=input_shape)
    model = as_target(model)
    _storage, peak_key = devices.resolve_dtype(dtype)
    check_precision(peak_key, runtime=runtime, amp=amp, train=train)
    # every device's roof first: a misspelt device fails before the model is traced
    roofs = [calibration.roof(name, peak_key, peak=peak, bandwidth=bandwidth, overhead_s=overhead_s)
             for name in names]
    stats, calls = program(model, params, input_shape=input_shape, batch=batch, train=train)
    grouped = None
    if depth is not None and not train:
        grouped = analyze(model, params, input_shape=input_shape, batch=batch, depth=depth)
    tf32_settings = None if tf32 is None else {"conv": bool(tf32), "matmul": bool(tf32)}
    results = [predict_run(stats, calls, roof, device=devices.device_key(name), peak_key=peak_key, batch=batch,
                           runtime=runtime, amp=amp, tf32=tf32_settings, channels_last=channels_last,
                           optimizer=optimizer if train else None, grouped=grouped)
               for name, roof in zip(names, roofs)]
    return results[0] if isinstance(device, str) and len(names) == 1 else results


def program(model, params=None, *, input_shape=None, batch: int, train: bool = False):
    """(ModelStats, operator calls) of a model at ``batch``: a config's from its op recipes (no torch;
    a training step of a config traces its built module's backward pass), a module's (``module:…``
    or an ``nn.Module``) traced on the meta device, its forward, or for ``train`` its forward, loss and
    backward."""
    model = as_target(model)
    is_module = hasattr(model, "named_modules") and hasattr(model, "forward")
    if (isinstance(model, str) and model.startswith("module:")) or is_module:
        from archstat.trace.analyze import analyze_module

        mode = "train" if train else "eval"
        if is_module:
            from archstat.trace.factory import find_input, with_sample_hint

            inputs = find_input(model, input_shape)   # given, else the model's own, else an error
            stats = with_sample_hint(inputs, lambda: analyze_module(model, inputs, batch=batch, mode=mode,
                                                                     backward=train))
        else:
            from archstat.trace.factory import analyze_target

            # the input given, else the factory's example inputs, else the model's own (timm, torchvision)
            stats = analyze_target(model, input_shape, batch=batch, mode=mode, backward=train)
        return stats, stats.op_calls
    spec = model if not isinstance(model, str) else load_spec(model)
    graph = load(spec, params, input_shape=input_shape)
    stats = analyze(graph, batch=batch)
    stats.model = graph.name
    if train:
        from archstat.builder import require_torch
        from archstat.trace.analyze import analyze_module

        require_torch()   # a config's training step: its backward pass is traced on the built module
        module = build(graph, device="meta")
        traced = analyze_module(module, graph.input_shape, name=graph.name, batch=batch, mode="train", backward=True)
        return traced, traced.op_calls
    from archstat.perf.recipes import graph_calls

    return stats, graph_calls(graph, batch)


def check_roofline_arguments(fn: str, *, model, params, device, dtype, batch, depth, peak, bandwidth,
                             overhead_s, runtime="eager", amp=False, train=False, optimizer="sgd", tf32=None,
                             channels_last=False, input_shape=None) -> None:
    """The roofline's arguments, typed and in range."""
    argcheck.expect_model(model, fn, "model", module=True)
    argcheck.expect_mapping(params, fn)
    argcheck.expect_str(device, fn, "device", "a device name such as 'h100', 'a100', 'cpu' or 'cuda'")
    argcheck.expect_str(dtype, fn, "dtype", "a dtype name such as 'fp32', 'bf16' or 'fp16'")
    argcheck.expect_int(batch, fn, "batch", 1, MAX_BATCH)
    argcheck.expect_int(depth, fn, "depth", 1, optional=True)
    from archstat.perf.runtime import Runtime
    from archstat.perf.training import OPTIMIZERS

    argcheck.expect_choice(runtime, fn, "runtime", Runtime.values())
    argcheck.expect_choice(optimizer, fn, "optimizer", OPTIMIZERS)
    for name, value in (("amp", amp), ("train", train), ("channels_last", channels_last)):
        argcheck.expect_bool(value, fn, name)
    if tf32 is not None:
        argcheck.expect_bool(tf32, fn, "tf32")
    for name, value in (("peak", peak), ("bandwidth", bandwidth), ("overhead_s", overhead_s)):
        argcheck.roof_figure(value, fn, name)
    if input_shape is not None:   # parsed (a string is never iterated), before anything is traced
        from archstat.trace.inputs import normalize  # no torch

        normalize(input_shape, f"{fn}: input_shape")


def _evaluator(spec: Spec, stats: ModelStats):
    """What a figure needs beyond ``stats``: this config under other params or mode, or another model."""
    cache: dict = {}

    def evaluate(model: Optional[str], overrides: dict, mode: str) -> ModelStats:
        key = (model, tuple(sorted(overrides.items())), mode)
        if key not in cache:
            target = spec if model is None else load_spec(model)
            cache[key] = analyze_graph(load(target, overrides, origin="reference set"), mode=mode)
        return cache[key]

    return evaluate


def llm(model, *, device="h100", dtype: Optional[str] = None, kv_dtype: Optional[str] = None, tp: int = 1,
        batch: Optional[int] = None, max_batch: bool = False, input_len: int = 1024, output_len: int = 256,
        runtime: str = "engine", serving: str = "static"):
    """A decoder language model served on ``tp`` GPUs of ``device`` (``archstat llm``): parameters (total and
    active per token), memory per GPU, the largest batch at ``input_len + output_len`` tokens, time to first
    token, time per output token, request latency and output tokens/s, per phase and per layer.

    ``model``: a zoo name (``'llama-3.1-8b'``), a path to a Hugging Face ``config.json``, a mapping of its
    fields, or ``'module:PKG.MOD:FACTORY'`` / an ``nn.Module`` with a transformers ``.config``. ``device``: a
    devices.yaml key, or several (a list, or ``'h100,a100'``: a list of results, one per device). ``dtype``: the
    weights' format (bf16, fp16, fp8, int8, int4, fp4); ``kv_dtype``: the KV cache's (bf16, fp16, fp8, int8).
    ``batch`` sequences (or ``max_batch``: the most that fit); ``runtime`` eager, compile or engine;
    ``serving`` static (a fixed batch) or inflight (continuous batching under the KV budget).

    ``archstat.llm("llama-3.1-8b", device="h100").tpot_s``
    """
    from archstat.llm.estimate import RUNTIMES, SERVING, estimate

    fn = "archstat.llm"
    names = _devices_of(device, fn)
    argcheck.expect_int(tp, fn, "tp", 1, 1024)
    argcheck.expect_int(batch, fn, "batch", 1, MAX_BATCH, optional=True)
    argcheck.expect_bool(max_batch, fn, "max_batch")
    argcheck.expect_int(input_len, fn, "input_len", 1, 10**8)
    argcheck.expect_int(output_len, fn, "output_len", 1, 10**8)
    argcheck.expect_choice(runtime, fn, "runtime", RUNTIMES)
    argcheck.expect_choice(serving, fn, "serving", SERVING)
    for arg, value in (("dtype", dtype), ("kv_dtype", kv_dtype)):
        if value is not None:
            argcheck.expect_str(value, fn, arg, "a format such as 'bf16', 'fp8' or 'int4'")
    if batch is not None and max_batch:
        raise argcheck.ArgumentValueError("give batch or max_batch, not both", path=f"{fn}: max_batch")
    c, traced = llm_config(model)
    if traced is not None:
        from archstat.llm.traced import estimate_traced

        module, shown, notes = traced
        results = [estimate_traced(module, shown, name, dtype=dtype, batch=batch, max_batch=max_batch,
                                   input_len=input_len, output_len=output_len, runtime=runtime, serving=serving,
                                   tp=tp, notes=notes) for name in names]
    else:
        results = [estimate(c, name, dtype=dtype, kv_dtype=kv_dtype, tp=tp, batch=batch, max_batch=max_batch,
                            input_len=input_len, output_len=output_len, runtime=runtime, serving=serving)
                   for name in names]
    return results[0] if isinstance(device, str) and len(names) == 1 else results


def _devices_of(device, fn: str) -> list[str]:
    if isinstance(device, str):
        names = [d.strip() for d in device.split(",")]
    elif isinstance(device, (list, tuple)) and device and all(isinstance(d, str) for d in device):
        names = [d.strip() for d in device]
    else:
        raise argcheck.ArgumentTypeError(f"expected a device name such as 'h100' or a list of them, got "
                                         f"{argcheck.shown(device)}", path=f"{fn}: device")
    if not all(names):
        raise argcheck.ArgumentValueError(f"an empty device name in {device!r}", path=f"{fn}: device")
    return list(dict.fromkeys(n.lower() for n in names))


def llm_config(model):
    """(the LLMConfig, None) of a zoo name, a config.json path, a mapping of its fields, or a module
    (``module:…`` or an ``nn.Module``) whose ``.config`` is a transformers config of a family archstat reads;
    (None, (module, name, notes)) for any other module, which archstat llm traces."""
    from archstat.llm import config as llm_cfg

    is_module = hasattr(model, "named_modules") and hasattr(model, "forward")
    if (isinstance(model, str) and model.startswith("module:")) or is_module:
        notes: list[str] = []
        if is_module:
            module, name = model, type(model).__name__
        else:
            from archstat.trace.factory import build_target

            module, notes = build_target(model)
            name = model[len("module:"):]
        cfg = getattr(module, "config", None)
        to_dict = getattr(cfg, "to_dict", None)
        fields = to_dict() if callable(to_dict) else cfg if isinstance(cfg, dict) else None
        if isinstance(fields, dict) and fields.get("model_type") in llm_cfg.FAMILIES:
            return llm_cfg.parse(fields, name, f"{name}.config"), None
        return None, (module, name, tuple(notes) + ("no config of a family archstat reads: the module's "
                                                    "forward is traced",))
    return llm_cfg.load(model), None
