"""The zoo: the YAML configs shipped with archstat, found by name, and the networks no config expresses
(``MODULES``: plain-torch modules inside archstat, each a ``module:`` target with its own input)."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from archstat.errors import ConfigError, UnknownNameError, UsageError

_HERE = Path(__file__).resolve().parent


def zoo_dir() -> Path:
    """``archstat/configs`` inside an installed wheel; the checkout's top-level ``configs/`` otherwise."""
    inside = _HERE / "configs"
    return inside if inside.is_dir() else _HERE.parent / "configs"


def zoo_names(pattern: str | None = None) -> list[str]:
    """The YAML configs of the zoo (``module_names`` lists its modules)."""
    names = sorted(p.stem for p in zoo_dir().glob("*.yaml"))
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


@dataclass(frozen=True, kw_only=True)
class ZooModule:
    """A zoo name for a plain-torch module shipped in ``archstat/models`` (torch needed, nothing else):
    its ``module:`` target (whose factory returns the module and its default input), what it is, its
    input as the factory gives it (``input``, in the ``--input`` grammar; ``shape``, one input's
    per-sample shape), and its params, MACs and activation bytes at batch 1 in float32 as
    ``archstat table`` counts them (pinned in tests/test_zoo_modules.py, params also against the
    reference build, so ``archstat list`` shows them without importing torch)."""

    name: str
    target: str
    description: str
    input: str
    shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    source: str


MODULES: dict[str, ZooModule] = {m.name: m for m in (
    ZooModule(name="retinanet-resnext50-fpn",
              target="module:archstat.models.retinanet:retinanet_resnext50_fpn",
              description="MLPerf Inference's RetinaNet: ResNeXt50-32x4d, FPN P3-P7, 9 anchors, 264 OpenImages "
              "classes (backbone, FPN and head; box decoding and NMS left out)",
              input="3x800x800",
              shape=(3, 800, 800),
              params=37_060_652,
              macs=201_208_394_752,
              activation_bytes=2_035_741_936,
              source="mlcommons/inference vision/classification_and_detection/python/models/resnext50/retinanet.py"),
    ZooModule(name="bert-large",
              target="module:archstat.models.bert:bert_large",
              description="MLPerf Inference's BERT: bert-large-uncased for SQuAD v1.1 (24 layers, hidden 1024, "
              "16 heads, QA head), sequence 384; token ids, attention mask, segment ids",
              input="input_ids=int64:384, attention_mask=int64:384, token_type_ids=int64:384",
              shape=(384,),
              params=334_094_338,
              macs=123_212_660_736,
              activation_bytes=726_675_456,
              source="Hugging Face transformers BertForQuestionAnswering, bert-large-uncased config"),
)}


def module_names(pattern: str | None = None) -> list[str]:
    """The zoo's modules (``MODULES``), by name."""
    return [n for n in sorted(MODULES) if not pattern or fnmatch.fnmatchcase(n, pattern)]


def as_target(model):
    """A zoo module's name → its ``module:`` target; anything else (a config's name, a path, a target,
    an object) unchanged. A file of that name in the working folder is still a path."""
    if isinstance(model, str) and model in MODULES and not os.path.exists(model):
        return MODULES[model].target
    return model


def shown_name(target: str) -> str:
    """How a ``module:`` target is named in a table: its zoo name, else the target without ``module:``."""
    return next((m.name for m in MODULES.values() if m.target == target), target[len("module:"):])


def module_of(target: str) -> Optional[ZooModule]:
    return next((m for m in MODULES.values() if m.target == target), None)


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
    if text in MODULES:
        raise UsageError(f"'{text}' is a module of the zoo ({MODULES[text].target}), not a YAML config: "
                         "table, compare, roofline, verify and profile take it; this reads configs")
    raise UnknownNameError("model", text, zoo_names() + module_names(),
                           hint_extra=" (a path to a config must end in .yaml or contain '/')")
