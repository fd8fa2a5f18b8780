"""What float32 math PyTorch runs on a GPU, read from its live settings, and a way to set it for a
block and restore exactly what was there.

On Ampere and later, PyTorch runs float32 convolutions through cuDNN in TF32 by default and float32
matmuls in IEEE FP32 by default; both are settings a user (or a library) may have changed:

- PyTorch ≥ 2.9 has the ``fp32_precision`` API: ``torch.backends.cuda.matmul.fp32_precision`` and
  ``torch.backends.cudnn.conv.fp32_precision`` ('ieee', 'tf32' or 'none': inherit from the backend,
  ``torch.backends.cudnn.fp32_precision``, then the global ``torch.backends.fp32_precision``). Once it has
  been used in a process, reading the legacy flags raises RuntimeError, so where it exists it is the
  only API read or written here.
- older PyTorch: ``torch.backends.cudnn.allow_tf32`` and ``torch.get_float32_matmul_precision()``
  ('highest' is IEEE; 'high' and 'medium' let cuBLAS use TF32).

``Math.conv`` / ``Math.matmul`` are True where TF32 runs (it does only on devices with TF32 tensor
cores: compute capability 8.0 and later, see ``device_has_tf32``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional

# (attribute path under torch.backends) of each level the new API reads, most specific first
_CONV_CHAIN = (("cudnn", "conv"), ("cudnn",), ())
_MATMUL_CHAIN = (("cuda", "matmul"), ("cudnn",), ())   # cudnn.fp32_precision is the 'cuda' backend's 'all'


@dataclass(frozen=True)
class Math:
    conv: bool                   # float32 convolutions run in TF32
    matmul: bool                 # float32 matmuls run in TF32
    api: str                     # 'fp32_precision' or 'allow_tf32'
    settings: dict               # the raw values read, as PyTorch reports them

    def as_dict(self) -> dict:
        return {"conv_tf32": self.conv, "matmul_tf32": self.matmul, "api": self.api, "settings": dict(self.settings)}


def _node(backends, path: tuple):
    node = backends
    for name in path:
        node = getattr(node, name)
    return node


def has_new_api(backends) -> bool:
    """True where torch.backends has the fp32_precision API (PyTorch ≥ 2.9)."""
    try:
        _node(backends, ("cuda", "matmul")).fp32_precision  # noqa: B018  (the attribute exists, or raises)
        _node(backends, ("cudnn", "conv")).fp32_precision  # noqa: B018
        return True
    except (AttributeError, RuntimeError):
        return False


def _get(backends, path: tuple) -> str:
    return _node(backends, path).fp32_precision


def _set(backends, path: tuple, value: str) -> None:
    _node(backends, path).fp32_precision = value


def read(torch) -> Math:
    """The float32 math PyTorch's live settings select for convs and matmuls (never changes them)."""
    backends = torch.backends
    if has_new_api(backends):
        settings = {"cudnn.conv.fp32_precision": _get(backends, ("cudnn", "conv")),
                    "cuda.matmul.fp32_precision": _get(backends, ("cuda", "matmul")),
                    "cudnn.fp32_precision": _get(backends, ("cudnn",)),
                    "fp32_precision": _get(backends, ())}
        return Math(_effective(backends, _CONV_CHAIN) == "tf32", _effective(backends, _MATMUL_CHAIN) == "tf32",
                    "fp32_precision", settings)
    conv = bool(backends.cudnn.allow_tf32)
    precision = torch.get_float32_matmul_precision()
    return Math(conv, precision != "highest", "allow_tf32",
                {"cudnn.allow_tf32": conv, "float32_matmul_precision": precision})


def _effective(backends, chain) -> str:
    """The first level of ``chain`` that is not 'none' (PyTorch's getters already resolve inheritance in
    the versions that do; walking the chain covers those that return the raw value)."""
    for path in chain:
        value = _get(backends, path)
        if value != "none":
            return value
    return "none"


def _follows(backends, path: tuple, parent: tuple, parent_back: str) -> bool:
    """Whether the level at ``path`` takes its value from ``parent`` (its own is 'none', or PyTorch's
    default, which a parent's setting overrides) rather than a value set on it: the parent is set to
    'ieee' and to 'tf32' and the level read each time, then the parent is set to ``parent_back``."""
    seen = []
    try:
        for probe in ("ieee", "tf32"):
            _set(backends, parent, probe)
            seen.append(_get(backends, path))
    finally:
        _set(backends, parent, parent_back)
    return seen == ["ieee", "tf32"]


@contextlib.contextmanager
def use(torch, conv: Optional[bool] = None, matmul: Optional[bool] = None):
    """Run the block with TF32 on (True) or off (False) for float32 convs and matmuls (None: leave it),
    then put back exactly what was there, with the API that is there (the new one where it exists).

    New API: nothing is written when the live math already is what is asked. A setting that follows its
    parent (PyTorch's defaults: matmul 'none', conv's built-in TF32, the cuDNN level 'none') is changed
    through the parent level (``torch.backends.cudnn.fp32_precision``) and the parent set back to what
    it was, so it follows again afterwards; a value set on an op itself is overwritten and written back.
    The global level is only ever set back to the value it had (it has no parent: that is exact)."""
    current = read(torch)
    want = {k: v for k, v in (("conv", conv), ("matmul", matmul)) if v is not None}
    need = {k: v for k, v in want.items() if getattr(current, k) != v}
    if not need:
        yield
        return
    backends = torch.backends
    if current.api == "allow_tf32":
        old_conv, old_matmul = bool(backends.cudnn.allow_tf32), torch.get_float32_matmul_precision()
        try:
            if "conv" in need:
                backends.cudnn.allow_tf32 = need["conv"]
            if "matmul" in need:
                torch.set_float32_matmul_precision("high" if need["matmul"] else "highest")
            yield
        finally:
            backends.cudnn.allow_tf32 = old_conv
            torch.set_float32_matmul_precision(old_matmul)
        return
    paths = {"conv": ("cudnn", "conv"), "matmul": ("cuda", "matmul")}
    parent, root = ("cudnn",), ()
    before = {op: _get(backends, path) for op, path in paths.items()}
    parent_back = "none" if _follows(backends, parent, root, _get(backends, root)) else _get(backends, parent)
    follows = {op: _follows(backends, path, parent, parent_back) for op, path in paths.items()}
    desired = {op: want.get(op, getattr(current, op)) for op in paths}
    writes: list[tuple[tuple, str]] = []       # (level, the value to write back), in order
    try:
        # conv's default (TF32 unless a parent level says otherwise) cannot be set back once conv is set
        # itself, so a conv that follows is changed through the parent level; matmul's default is 'none'
        # (follow), which can be written back, so whatever the parent does not give is set on the op
        if "conv" in need and follows["conv"]:
            writes.append((parent, parent_back))
            _set(backends, parent, "tf32" if desired["conv"] else "ieee")
        for op, path in paths.items():
            if (_effective(backends, _CONV_CHAIN if op == "conv" else _MATMUL_CHAIN) == "tf32") != desired[op]:
                writes.append((path, "none" if follows[op] and op == "matmul" else before[op]))
                _set(backends, path, "tf32" if desired[op] else "ieee")
        yield
    finally:
        for path, value in reversed(writes):
            _set(backends, path, value)


@contextlib.contextmanager
def cudnn_benchmark(torch, value: Optional[bool]):
    """torch.backends.cudnn.benchmark set for the block (None: leave it), restored after."""
    if value is None:
        yield
        return
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = value
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old


def device_has_tf32(props) -> bool:
    """TF32 tensor cores: NVIDIA compute capability 8.0 and later (Ampere, Ada, Hopper, Blackwell)."""
    major = getattr(props, "major", 0) or 0
    return major >= 8
