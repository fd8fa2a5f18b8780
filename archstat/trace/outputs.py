"""A model's output shown whole: every tensor of a tuple, list, dict, namedtuple, dataclass or
Hugging Face ``ModelOutput`` (a list of dicts: torchvision's detections), named by its path.

``flatten(value)`` → ``[(path, (shape, dtype)) | (path, type name)]``: a path joins dict keys and
field names with ``.`` and list or tuple positions as ``[i]`` (``[0].boxes``,
``last_hidden_state``, ``[1][0]``); a single tensor's path is ``output``. A value that holds no
tensor archstat follows (a ``DynamicCache``, a string, a number, a set, a generator, which is never
consumed) is listed by its type; ``None`` inside a structure is left out, a forward that returns
``None`` itself is listed as ``output: None``. At most ``MAX_OUTPUTS`` are listed; ``count`` says how
many there are (counted up to ``MAX_COUNTED``), so a cut list is never mistaken for the whole.
"""

from __future__ import annotations

import sys

MAX_OUTPUTS = 1000        # listed
MAX_COUNTED = 1_000_000   # counted (a structure past it is said to hold at least this many)


def flatten(value, limit: int = MAX_OUTPUTS) -> list[tuple[str, object]]:
    """The first ``limit`` outputs (see ``count`` for how many there are)."""
    out: list[tuple[str, object]] = []
    if value is None:
        return [("output", "None")]
    _walk(value, "", out, 0, limit)
    if out and out[0][0] == "" and len(out) == 1:
        out[0] = ("output", out[0][1])
    return out[:limit]


def count(value) -> int:
    """How many outputs ``value`` holds (what ``flatten`` would list without a limit), up to MAX_COUNTED."""
    return len(flatten(value, MAX_COUNTED))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value, path: str, out: list, depth: int, limit: int = MAX_OUTPUTS) -> None:
    torch = sys.modules["torch"]
    if len(out) >= limit or value is None:
        return
    if isinstance(value, torch.Tensor):
        out.append((path, (tuple(value.shape), str(value.dtype).replace("torch.", ""))))
        return
    if depth > 16:
        out.append((path, type(value).__name__))
        return
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and fields:            # a namedtuple (PackedSequence too)
        for name in fields:
            if len(out) >= limit:
                break
            _walk(getattr(value, name), _join(path, name), out, depth + 1, limit)
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if len(out) >= limit:
                break
            _walk(v, f"{path}[{i}]", out, depth + 1, limit)
        return
    if isinstance(value, dict):                        # a ModelOutput is an OrderedDict of its non-None fields
        for k, v in value.items():
            if len(out) >= limit:
                break
            _walk(v, _join(path, str(k)), out, depth + 1, limit)
        return
    dataclass_fields = getattr(type(value), "__dataclass_fields__", None)
    if dataclass_fields:
        for name in dataclass_fields:
            _walk(getattr(value, name, None), _join(path, name), out, depth + 1, limit)
        return
    out.append((path or "output", type(value).__name__))
