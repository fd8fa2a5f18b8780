"""The zoo: the YAML configs shipped with archstat, found by name."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from archstat.errors import ConfigError, UnknownNameError

_HERE = Path(__file__).resolve().parent


def zoo_dir() -> Path:
    """``archstat/configs`` inside an installed wheel; the checkout's top-level ``configs/`` otherwise."""
    inside = _HERE / "configs"
    return inside if inside.is_dir() else _HERE.parent / "configs"


def zoo_names(pattern: str | None = None) -> list[str]:
    names = sorted(p.stem for p in zoo_dir().glob("*.yaml"))
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def natural_key(name: str) -> tuple:
    """Names in the order people read them: the digits as numbers (resnet18 < resnet101 < resnet1202),
    letters without case. The pieces alternate text and number, so two keys always compare."""
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(re.split(r"(\d+)", name)))


def looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith((".yaml", ".yml")) or text.startswith(".")


def resolve(name_or_path: str | Path) -> tuple[Path, str]:
    """A zoo name (``vgg16``) or a path to a YAML file → (the file, the name to show in messages)."""
    if not isinstance(name_or_path, (str, Path)):
        raise ConfigError(f"expected a model name or a path, got {type(name_or_path).__name__}")
    text = str(name_or_path)
    if not text:
        raise ConfigError("empty model name")
    if isinstance(name_or_path, Path) or looks_like_path(text) or os.path.exists(text):  # False on OSError
        return Path(text), text
    candidate = zoo_dir() / f"{text}.yaml"
    if os.path.isfile(candidate):
        return candidate, f"configs/{candidate.name}"
    raise UnknownNameError("model", text, zoo_names(),
                           hint_extra=" (a path to a config must end in .yaml or contain '/')")
