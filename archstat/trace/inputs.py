"""Inputs as torch sees them: several, named, of any rank, each with its dtype and its batch dimension.

One grammar for the command line (``--input``, repeatable) and the Python API (``input_shape=``)::

    [NAME=][DTYPE:][unbatched:]D1xD2x…

- ``D1xD2x…`` is the shape of one sample, of any rank (``3x224x224`` an image, ``3x16x112x112`` a
  video clip, ``20x32`` a sequence of 20 steps of 32 features, ``128`` a sequence of token ids,
  ``scalar`` one number per sample); the batch is prepended. One dimension may be written ``B``
  to put the batch there instead (``20xBx32``: a sequence-first RNN).
- ``NAME=`` passes the input as a keyword argument (``attention_mask=int64:128``); inputs without
  a name are positional, in the order given.
- ``DTYPE`` is float32, float16, bfloat16, int64, int32 or bool. Without one, an input is float32,
  except token ids (a model whose first layer is an ``nn.Embedding``, or a name ending in ``ids``)
  and masks (a name holding ``mask``), which are int64. Ids are zeros, masks and bools ones, floats zeros.
- ``unbatched:`` marks an input that has no batch dimension at all (an attention mask shared by
  every sample, an unbatched sequence): its shape is used as written, at every batch.

Nothing here imports torch; ``InputSet.make`` builds the tensors (torch imported there).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Optional, overload

from archstat import dtypes as _dtypes
from archstat.errors import ArgumentTypeError, ArgumentValueError, UsageError

DTYPES = _dtypes.INPUT          # canonical names; any spelling of archstat/dtypes.py is taken (fp16:3x4)
_SPELLINGS = tuple(_dtypes.spellings(DTYPES))
MAX_DIM = 10**7
MAX_INPUTS = 64
GRAMMAR = "[NAME=][DTYPE:][unbatched:]D1xD2x… (e.g. 3x224x224, input_ids=int64:128, 20xBx32)"
_SEP = re.compile(r"\s*[x×,]\s*")


@dataclass(frozen=True)
class InputSpec:
    """One input of a module: its per-sample shape, dtype, keyword name and where its batch goes."""

    shape: tuple[int, ...]              # one sample's shape (the batch left out)
    dtype: Optional[str] = None         # None: float32, or int64 for token ids and masks (see ``dtype_for``)
    name: Optional[str] = None          # a keyword argument; None: positional
    batch_dim: Optional[int] = 0        # where the batch goes in the whole tensor; None: no batch dimension
    value: Any = None                   # a factory's own example: one sample of a tensor, or any other value
    is_value: bool = False              # True: ``value`` is passed as it is (not a tensor archstat makes)
    raw: str = field(default="", compare=False)   # the text it was read from (for messages)

    def whole(self, batch: int) -> tuple[int, ...]:
        """The whole tensor's shape at ``batch``."""
        if self.batch_dim is None:
            return tuple(self.shape)
        s = list(self.shape)
        s.insert(self.batch_dim, batch)
        return tuple(s)

    def text(self) -> str:
        """The input in the grammar (what the header shows)."""
        if self.is_value:
            body = type(self.value).__name__
        else:
            dims = [str(d) for d in self.shape]
            if self.batch_dim not in (0, None):
                dims.insert(self.batch_dim, "B")
            body = "×".join(dims) if dims else "scalar"
            if self.batch_dim is None:
                body = "unbatched:" + body
            if self.dtype:
                body = f"{self.dtype}:{body}"
        return f"{self.name}={body}" if self.name else body

    def as_dict(self, batch: int) -> dict:
        """JSON: ``name`` (null: positional), ``shape`` (whole, at the batch), ``dtype``, ``batch_dim``."""
        if self.is_value:
            return {"name": self.name, "type": type(self.value).__name__}
        return {"name": self.name, "shape": list(self.whole(batch)), "dtype": self.dtype or "float32",
                "batch_dim": self.batch_dim}


@dataclass(frozen=True)
class InputSet:
    """The inputs of one forward call: positional ones in order, then the named ones."""

    specs: tuple[InputSpec, ...]
    source: str = "--input"             # where they come from (said in the header)

    @property
    def positional(self) -> list[InputSpec]:
        return [s for s in self.specs if s.name is None]

    @property
    def keywords(self) -> list[InputSpec]:
        return [s for s in self.specs if s.name is not None]

    @property
    def batched(self) -> bool:
        """Whether any input has a batch dimension (else ``--batch`` cannot apply)."""
        return any(s.batch_dim is not None and not s.is_value for s in self.specs)

    def first_shape(self) -> tuple[int, ...]:
        """The per-sample shape of the first tensor input (ModelStats.input_shape)."""
        for s in self.specs:
            if not s.is_value:
                return tuple(s.shape)
        return ()

    def text(self) -> str:
        return ", ".join(s.text() for s in self.specs)

    def config_shape(self, what: str = "a config") -> tuple[int, ...]:
        """The one plain input a YAML config takes (C×H×W, or one flat size)."""
        if len(self.specs) != 1:
            raise UsageError(f"--input: {what} takes one input, got {len(self.specs)} ({self.text()})")
        s = self.specs[0]
        if s.name or s.dtype or s.batch_dim != 0 or s.is_value:
            raise UsageError(f"--input '{s.raw or s.text()}': {what} takes a plain C×H×W (or flat) input; names, "
                             "dtypes, B and unbatched: apply to module: targets")
        if len(s.shape) not in (1, 3):
            raise UsageError(f"--input '{s.raw or s.text()}': expected 3 sizes (C×H×W) or 1 (a flat input), "
                             f"got {len(s.shape)}")
        return tuple(s.shape)

    def plain_shape(self, what: str) -> tuple[int, ...]:
        """The one positional float input with its batch first, as a shape (what ``profile`` feeds)."""
        s = self.specs[0]
        if len(self.specs) != 1 or s.name or s.dtype not in (None, "float32") or s.batch_dim != 0 or s.is_value:
            raise UsageError(f"{self.source}: {what} measures one plain input (a shape such as 3x224x224), got "
                             f"{self.text()}")
        return tuple(s.shape)

    def resolved(self, model) -> InputSet:
        """Each input's dtype made explicit for this model (token ids for an Embedding-first model)."""
        positional = [s for s in self.specs if s.name is None]
        first = positional[0] if positional else None
        return replace(self, specs=tuple(s if s.is_value or s.dtype else
                                         replace(s, dtype=dtype_for(s, model, s is first)) for s in self.specs))

    # -- torch ------------------------------------------------------------------------------------
    def make(self, model, batch: int = 1, device: str = "meta") -> tuple[list, dict]:
        """(args, kwargs) of one forward call at ``batch`` on ``device``."""
        args = [make_tensor(s, model, batch, device, i == 0) for i, s in enumerate(self.positional)]
        kwargs = {s.name: make_tensor(s, model, batch, device, False) for s in self.keywords}
        return args, kwargs


# What the Python API takes as ``input_shape`` (``normalize`` reads it): one shape, a string in the ``--input``
# grammar, a list of them (positional inputs), a dict of name → shape (keyword inputs), or an InputSet.
InputShape = str | tuple[int, ...] | list[Any] | dict[str, Any] | InputSpec | InputSet


def dtype_for(spec: InputSpec, model, first: bool) -> str:
    if spec.dtype:
        return spec.dtype
    name = (spec.name or "").lower()
    if "mask" in name or name.endswith("ids"):
        return "int64"
    if first and spec.name is None and takes_tokens(model):
        return "int64"
    return "float32"


def make_tensor(spec: InputSpec, model, batch: int, device: str, first: bool):
    import torch

    if spec.is_value:
        return spec.value
    shape = spec.whole(batch)
    example = spec.value
    if example is not None and device != "meta" and example.device.type != "meta":
        t = example.to(device)
        if spec.batch_dim is not None:
            t = t.unsqueeze(spec.batch_dim).expand(*shape)
        return t.clone()
    dtype = getattr(torch, dtype_for(spec, model, first)) if example is None else example.dtype
    if dtype == torch.bool or "mask" in (spec.name or "").lower():
        return torch.ones(shape, dtype=dtype, device=device)
    return torch.zeros(shape, dtype=dtype, device=device)


def takes_tokens(model) -> bool:
    """Whether the input is token ids (int64): the first module holding parameters is an Embedding."""
    import torch

    for m in model.modules():
        if next(m.parameters(recurse=False), None) is not None:
            return isinstance(m, torch.nn.Embedding)
    return False


# -- parsing ---------------------------------------------------------------------------------------

def parse_one(text: str, where: str = "--input") -> InputSpec:
    """``'input_ids=int64:128'`` → InputSpec; every failure is a one-line UsageError naming the text."""
    if not isinstance(text, str):
        raise UsageError(f"{where}: expected a shape such as '3x224x224', got {type(text).__name__}")
    raw = text
    text = text.strip()
    name = None
    if "=" in text:
        name, _, text = text.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise UsageError(f"{where} '{raw}': '{name}' is not an argument name (expected {GRAMMAR})")
    *mods, body = [p.strip() for p in text.split(":")]
    dtype, batched = None, True
    for m in mods:
        if m in _SPELLINGS:
            if dtype:
                raise UsageError(f"{where} '{raw}': two dtypes ({dtype}, {m})")
            dtype = _dtypes.canonical(m, DTYPES)
        elif m == "unbatched":
            batched = False
        else:
            from archstat.errors import did_you_mean

            guess = did_you_mean(m, _SPELLINGS + ("unbatched",))
            raise UsageError(f"{where} '{raw}': unknown dtype '{m}'" + (f" (did you mean '{guess}'?)" if guess else
                             f" (choose from {', '.join(DTYPES)}, or unbatched)"))
    if body == "scalar":
        parts: list[str] = []
    elif not body:
        raise UsageError(f"{where} '{raw}': no shape (expected {GRAMMAR})")
    else:
        parts = _SEP.split(body)
    dims, batch_dim = [], 0
    marks = [i for i, p in enumerate(parts) if p in ("B", "b")]
    if len(marks) > 1:
        raise UsageError(f"{where} '{raw}': B (where the batch goes) may appear once")
    if marks:
        if not batched:
            raise UsageError(f"{where} '{raw}': an unbatched input has no B")
        batch_dim = marks[0]
    for i, p in enumerate(parts):
        if i in marks:
            continue
        try:
            d = int(p)
        except ValueError:
            raise UsageError(f"{where} '{raw}': '{p}' is not a size (expected {GRAMMAR})") from None
        if d < 1 or d > MAX_DIM:
            raise UsageError(f"{where} '{raw}': sizes must be between 1 and {MAX_DIM:,}")
        dims.append(d)
    return InputSpec(tuple(dims), dtype, name, batch_dim if batched else None, raw=raw)


def parse_all(texts, source: str = "--input") -> Optional[InputSet]:
    """Several ``--input`` values → one InputSet (None when none is given)."""
    if not texts:
        return None
    return _checked(InputSet(tuple(parse_one(t, source) for t in texts), source), source)


def _checked(inputs: InputSet, where: str) -> InputSet:
    if len(inputs.specs) > MAX_INPUTS:
        raise UsageError(f"{where}: at most {MAX_INPUTS} inputs, got {len(inputs.specs)}")
    seen: set[str] = set()
    for s in inputs.specs:
        if s.name is not None:
            if s.name in seen:
                raise UsageError(f"{where}: the input {s.name}= is given twice")
            seen.add(s.name)
    return inputs


def _shape_spec(value, where: str, name: Optional[str] = None) -> InputSpec:
    """One shape of the API: '3x224x224', (3, 224, 224), [20, 32], or an InputSpec."""
    if isinstance(value, InputSpec):
        return replace(value, name=name) if name is not None else value
    if isinstance(value, str):
        spec = parse_one(value, where)
        if name is not None:
            if spec.name not in (None, name):
                raise UsageError(f"{where}: '{value}' names {spec.name}, given as {name}")
            spec = replace(spec, name=name)
        return spec
    if isinstance(value, (tuple, list)) and all(_is_int(d) for d in value):
        for d in value:
            if d < 1 or d > MAX_DIM:
                raise ArgumentValueError(f"{where}: sizes must be between 1 and {MAX_DIM:,}, got {d!r}")
        return InputSpec(tuple(int(d) for d in value), None, name)
    raise ArgumentTypeError(f"{where}: expected a shape such as (3, 224, 224) or '3x224x224', got {_shown(value)}")


def _is_int(d) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@overload
def normalize(value: None, where: str = ...) -> None: ...
@overload
def normalize(value: object, where: str = ...) -> InputSet: ...
def normalize(value: object, where: str = "input_shape") -> Optional[InputSet]:
    """What the Python API accepts as ``input_shape``: None; an InputSet; one shape (a tuple or
    list of ints, or a string in the grammar, parsed, never iterated); a list of shapes or strings
    (positional inputs); a dict of name → shape (keyword inputs)."""
    if value is None or isinstance(value, InputSet):
        return value
    if isinstance(value, (str, InputSpec)):
        return _checked(InputSet((_shape_spec(value, where),), where), where)
    if isinstance(value, dict):
        named = []
        for k, v in value.items():
            if not isinstance(k, str) or not k.isidentifier():
                raise ArgumentTypeError(f"{where}: the key {_shown(k)} is not an argument name")
            named.append(_shape_spec(v, f"{where}[{k!r}]", k))
        if not named:
            raise ArgumentValueError(f"{where}: an empty dict names no input")
        return _checked(InputSet(tuple(named), where), where)
    if isinstance(value, (tuple, list)):
        if not value:
            raise ArgumentValueError(f"{where}: an empty shape; expected e.g. (3, 224, 224)")
        if all(_is_int(d) for d in value):
            return InputSet((_shape_spec(value, where),), where)
        if all(isinstance(d, (int, float)) for d in value):    # a shape with a bad size in it
            i, bad = next((i, d) for i, d in enumerate(value) if not _is_int(d))
            raise ArgumentTypeError(f"{where}[{i}]: a size must be an integer, got {bad!r}")
        specs = tuple(_shape_spec(v, f"{where}[{i}]") for i, v in enumerate(value))
        return _checked(InputSet(specs, where), where)
    raise ArgumentTypeError(f"{where}: expected a shape such as (3, 224, 224), '3x224x224', a list of shapes or "
                            f"a dict of name → shape, got {_shown(value)}")


# -- a factory's own example inputs ----------------------------------------------------------------

def from_example(args, kwargs, where: str) -> InputSet:
    """A factory's ``(model, example_inputs)`` or ``(model, args, kwargs)``: each tensor's dim 0 is
    the batch and its first sample the per-sample input, repeated to the batch (values kept); a
    string is read in the grammar; a 0-d tensor or any other value is passed as it is."""
    specs = [_example_spec(a, f"{where} argument {i}", None) for i, a in enumerate(args)]
    for k, v in kwargs.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise UsageError(f"{where}: the keyword {_shown(k)} is not an argument name")
        specs.append(_example_spec(v, f"{where} keyword {k}", k))
    return _checked(InputSet(tuple(specs), "the factory's example inputs"), where)


def _example_spec(value, where: str, name: Optional[str]) -> InputSpec:
    import torch

    if isinstance(value, str):
        return _shape_spec(value, where, name)
    if isinstance(value, torch.Tensor) and value.dim() >= 1:
        if value.shape[0] == 0:
            raise UsageError(f"{where}: an empty batch ({'×'.join(map(str, value.shape))}): an example input holds "
                             "at least one sample along dim 0")
        sample = value[0].detach()
        dtype = str(value.dtype).replace("torch.", "")
        return InputSpec(tuple(value.shape[1:]), dtype, name, 0, value=sample)
    return InputSpec((), None, name, None, value=value, is_value=True)


# who is asking: the command line (its messages name --input, --batch) or the Python API (input_shape, batch=);
# the command line's error boundary sets it for the command it runs
CALLER: ContextVar[str] = ContextVar("archstat_caller", default="api")


def from_api() -> bool:
    """Whether the call came from the Python API (else from the command line)."""
    return CALLER.get() != "cli"


def one_sample_hint(inputs: Optional[InputSet], api: bool = False) -> Optional[str]:
    """When a forward failed on one plain input whose shape starts with 1 (``(1, 3, 224, 224)``, torchinfo's
    ``input_size`` with its batch), what it probably meant: the shape is one sample, without the batch."""
    if inputs is None or len(inputs.specs) != 1:
        return None
    s = inputs.specs[0]
    if s.is_value or s.name or s.batch_dim != 0 or len(s.shape) < 2 or s.shape[0] != 1:
        return None
    rest = tuple(s.shape[1:])
    if api:
        return f"input_shape is one sample, without the batch: did you mean {rest!r}? (batch= sets the batch)"
    return f"--input is one sample, without the batch: did you mean --input {'x'.join(map(str, rest))}? (--batch " \
           "sets the batch)"


def from_data(data, where: str = "input_data") -> tuple[InputSet, int]:
    """torchinfo's ``input_data``: a tensor, a list or tuple of positional inputs, or a dict of keyword inputs,
    each tensor with its batch first → (the InputSet of one sample, the batch: the first tensor's dim 0)."""
    import torch

    args: tuple = ()
    kwargs: dict = {}
    if isinstance(data, torch.Tensor):
        args = (data,)
    elif isinstance(data, (tuple, list)):
        args = tuple(data)
    elif isinstance(data, dict):
        kwargs = dict(data)
    else:
        raise ArgumentTypeError(f"{where}: expected a tensor, a list or tuple of them or a dict of name → tensor, "
                                f"got {_shown(data)}")
    tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)]
    if not tensors:
        raise ArgumentValueError(f"{where}: no tensor in it (give the forward's inputs, batch first)")
    first = tensors[0]
    if first.dim() == 0:
        raise ArgumentValueError(f"{where}: a 0-d tensor has no batch dimension (give the inputs batch first, "
                                 "e.g. torch.randn(1, 3, 224, 224))")
    return _checked(replace(from_example(args, kwargs, where), source="input_data"), where), int(first.shape[0])


__all__ = ["DTYPES", "GRAMMAR", "InputSet", "InputSpec", "from_data", "from_example", "normalize", "one_sample_hint",
           "parse_all", "parse_one"]
