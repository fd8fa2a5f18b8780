"""The Spec: a config's top level, validated, with its declared params bound.

What a config may say (version 1)::

    archstat: 1                 # required: the format version
    name: vgg16                 # required
    description: ...            # one line
    source: ...                 # citation(s): a string or a list of strings
    input: [3, 224, 224]        # required: C, H, W (or [F] for a flat input)
    params: {num_classes: 1000} # declared params, overridable with --set NAME=VALUE
    blocks: {NAME: {params: {...}, layers: [...]}}
    layers: [...]               # required
    reference: {source: ..., figures: {...}}

A param declaration is a default (its type is inferred: int, float, bool, str,
or size for a pair), a type name (``int``, ``float``, ``bool``, ``str``,
``size``: required, blocks only), or ``{type: ..., default: ..., doc: ...}``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.config import expr
from archstat.config.loader import MAX_NUMBER, LDict, LList, parse_yaml
from archstat.errors import ConfigError, Loc, UnknownNameError
from archstat.ops.types import TYPES_BY_NAME, Size, coerce, type_name

FORMAT_VERSION = 1
TOP_KEYS = ("archstat", "name", "description", "source", "input", "params", "blocks", "layers",
            "reference")
REQUIRED_TOP = ("archstat", "name", "input", "layers")


@dataclass
class ParamDecl:
    name: str
    type: Any                 # int, float, bool, str or Size
    default: Any = None       # None: required
    required: bool = False
    doc: str = ""
    loc: Optional[Loc] = None

    @property
    def type_name(self) -> str:
        return type_name(self.type)


@dataclass
class BlockDef:
    name: str
    params: dict[str, ParamDecl]
    layers: Any               # a list of layers, or the body of a parallel/residual
    loc: Loc
    kind: str = "layers"      # "layers", "parallel" or "residual": the block's instance is that container
    body_loc: Optional[Loc] = None


@dataclass
class Figure:
    key: str
    published: str
    value: float | int
    raw: str                  # the value as written, for its precision
    metric: str
    note: str = ""
    source: str = ""
    precision: Optional[int] = None
    loc: Optional[Loc] = None
    relative_to: Optional[str] = None   # a zoo model: the figure is (that model's metric) / (this one's)
    overrides: dict = field(default_factory=dict)  # params under which the figure is computed
    mode: str = "eval"


@dataclass
class Spec:
    file: str
    name: str
    description: str
    source: list[str]
    input: tuple[int, ...]
    params: dict[str, ParamDecl]
    blocks: dict[str, BlockDef]
    layers: LList
    reference_source: str = ""
    figures: list[Figure] = field(default_factory=list)
    root: Optional[LDict] = None

    def input_for(self, env: dict[str, Any]) -> tuple[int, ...]:
        """The input shape, whose sizes may be ``$`` expressions of the params (``[$C, 56, 56]``)."""
        if self.root is None:   # a Spec made in code, not parsed: its input is the one it was given
            return self.input
        node = self.root["input"]
        loc = self.root.loc_of("input")
        if isinstance(node, list):
            node = [_eval(v, env, node.loc_of(i) if isinstance(node, LList) else loc, "input")
                    if expr.is_expression(v) else v for i, v in enumerate(node)]
        return parse_input(node, loc)

    def bind(self, overrides: dict[str, Any] | None = None, *, origin: str = "--set") -> dict[str, Any]:
        """Declared params with their defaults, then ``overrides`` applied (type-checked)."""
        env: dict[str, Any] = {}
        for name, decl in self.params.items():
            env[name] = decl.default
        for name, value in (overrides or {}).items():
            if name not in self.params:
                if not self.params:
                    raise ConfigError(f"unknown param '{name}' ({self.name} declares no params)",
                                      path=f"{origin} {name}")
                raise UnknownNameError("param", name, self.params, path=f"{origin} {name}")
            decl = self.params[name]
            if isinstance(value, str) and decl.type is not str:
                value = parse_param_text(value, decl.type, f"{origin} {name}")
            try:
                env[name] = coerce(value, decl.type, f"'{name}'")
            except ValueError as exc:
                raise ConfigError(str(exc), path=f"{origin} {name}") from None
        return env


def parse_param_text(text: str, typ, where: str):
    """A ``--set`` value as text → the declared type (``3x3`` is a size here)."""
    t = text.strip()
    try:
        if typ is bool:
            if t.lower() in ("true", "1", "yes"):
                return True
            if t.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if typ is int:
            return _int_text(t.replace("_", ""))
        if typ is float:
            return float(t) if len(t) <= 40 else _int_text(t)
        if typ == Size:
            parts = [p for p in t.replace("×", "x").replace(",", "x").split("x")]
            nums = [_int_text(p) for p in parts]
            if len(nums) == 1:
                return (nums[0], nums[0])
            if len(nums) == 2:
                return tuple(nums)
            raise ValueError
    except ValueError as exc:
        shown = text if len(text) <= 40 else f"{text[:20]}…({len(text):,} characters)"
        bound = " at most 10^30 in magnitude" if str(exc) == "beyond" else ""
        raise ConfigError(f"expected {type_name(typ)}{bound}, got '{shown}'", path=where) from None
    return t


def _int_text(text: str) -> int:
    """An integer written as text, at most 10^30 in magnitude (like every number in a config)."""
    if len(text) > 40 and text.strip().lstrip("+-").isdigit():
        raise ValueError("beyond")
    n = int(text)
    if abs(n) > MAX_NUMBER:
        raise ValueError("beyond")
    return n


def _need(mapping: LDict, key: str, typ, path: str):
    try:
        return coerce(mapping[key], typ, f"'{key}'")
    except ValueError as exc:
        raise ConfigError(str(exc), loc=mapping.loc_of(key), path=f"{path}.{key}" if path else key) from None


def check_keys(mapping, allowed, path: str, what: str = "key") -> None:
    if not isinstance(mapping, LDict):
        return
    for key in mapping:
        if key not in allowed:
            listing = f" (expected {', '.join(allowed[:-1])} or {allowed[-1]})" if 1 < len(allowed) <= 8 else ""
            raise UnknownNameError(what, key, allowed, loc=mapping.key_locs[key], path=path or None,
                                   hint_extra=listing)


def parse_params(node, path: str, *, allow_required: bool, loc: Optional[Loc] = None) -> dict[str, ParamDecl]:
    if node is None:
        return {}
    if not isinstance(node, LDict):
        raise ConfigError("params must be a mapping of name: default", loc=getattr(node, "loc", loc), path=path)
    out: dict[str, ParamDecl] = {}
    env: dict[str, Any] = {}
    for name, value in node.items():
        loc, ppath = node.loc_of(name), f"{path}.{name}"
        if not name.isidentifier():
            raise ConfigError(f"param name '{name}' must be an identifier", loc=node.key_locs[name], path=path)
        if keyword.iskeyword(name) or name in RESERVED_NAMES:
            raise ConfigError(f"param name '{name}' is reserved ({RESERVED_NAMES[name]})" if name in RESERVED_NAMES
                              else f"param name '{name}' is a Python keyword; expressions could not use it",
                              loc=node.key_locs[name], path=path)
        doc = ""
        if isinstance(value, LDict):
            check_keys(value, ("type", "default", "doc"), ppath)
            doc = str(value.get("doc", ""))
            tname = value.get("type")
            if tname is not None and (not isinstance(tname, str) or tname not in TYPES_BY_NAME):
                raise UnknownNameError("type", str(tname), TYPES_BY_NAME, loc=value.loc_of("type"),
                                       path=f"{ppath}.type")
            if "default" not in value:
                if tname is None:
                    raise ConfigError("a param needs a type or a default", loc=loc, path=ppath)
                typ, default, required = TYPES_BY_NAME[tname], None, True
            else:
                default = value["default"]
                loc = value.loc_of("default")
                if expr.is_expression(default):
                    default = _eval(default, env, loc, ppath)
                typ = TYPES_BY_NAME[tname] if tname else _infer_type(default, loc, ppath)
                required = False
        elif isinstance(value, str) and value in TYPES_BY_NAME:
            typ, default, required = TYPES_BY_NAME[value], None, True
        elif isinstance(value, str) and value.lower() in _TYPE_LOOKALIKES:
            raise ConfigError(f"'{value}' is not a type (did you mean '{_TYPE_LOOKALIKES[value.lower()]}'?); a "
                              f"string default is written {{type: str, default: {value}}}", loc=loc, path=ppath)
        else:
            if expr.is_expression(value):
                value = _eval(value, env, loc, ppath)
            typ, default, required = _infer_type(value, loc, ppath), value, False
        if required and not allow_required:
            raise ConfigError(f"model param '{name}' needs a default value", loc=loc, path=ppath)
        if not required:
            try:
                default = coerce(default, typ, f"'{name}'")
            except ValueError as exc:
                raise ConfigError(str(exc), loc=loc, path=ppath) from None
            env[name] = default
        out[name] = ParamDecl(name, typ, default, required, doc, node.key_locs[name])
    return out


# names an expression may not bind: the repeat index, and the functions it may call
RESERVED_NAMES = {"i": "the index of a repetition inside repeat"} | {
    f: "a function expressions may call" for f in ("min", "max", "abs", "int", "round", "ceil", "floor")}

_TYPE_LOOKALIKES = {"integer": "int", "number": "float", "double": "float", "boolean": "bool", "string": "str",
                    "tuple": "size", "pair": "size", "list": "size"}


def _eval(text: str, env: dict, loc: Loc, path: str):
    try:
        return expr.evaluate(text, env)
    except expr.ExprError as exc:
        raise ConfigError(str(exc), loc=loc, path=path) from None


def _infer_type(value, loc, path):
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, str):
        return str
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                          for v in value):
        return Size
    raise ConfigError("a param default must be a number, a boolean, a string or a pair [h, w]",
                      loc=loc, path=path)


_NUMBER_TEXT = re.compile(r"^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?$")

METRICS = ("params", "weights", "biases", "macs", "flops", "activation_elements", "activation_bytes",
           "output_channels", "layers", "receptive_field", "params_without_bn",
           "conv_layers")
MODES = ("eval", "train")


def parse_reference(node, path: str = "reference", loc: Optional[Loc] = None,
                    params: Optional[dict[str, ParamDecl]] = None) -> tuple[str, list[Figure]]:
    if node is None:
        return "", []
    if not isinstance(node, LDict):
        raise ConfigError("reference must be a mapping with source and figures", loc=getattr(node, "loc", loc),
                          path=path)
    check_keys(node, ("source", "figures", "errors"), path)
    source = _need(node, "source", str, path) if "source" in node else ""
    errors = parse_errors(node.get("errors"), f"{path}.errors", source, node.loc_of("errors"))
    figures_node = node.get("figures") or LDict()
    if not isinstance(figures_node, LDict):
        raise ConfigError("figures must be a mapping", loc=node.loc_of("figures"), path=f"{path}.figures")
    figures = []
    for key, fig in figures_node.items():
        fpath = f"{path}.figures.{key}"
        if not isinstance(fig, LDict):
            raise ConfigError("a figure is a mapping with published, value and metric",
                              loc=figures_node.loc_of(key), path=fpath)
        check_keys(fig, ("published", "value", "metric", "note", "source", "precision", "relative_to",
                         "set", "mode"), fpath)
        for req in ("published", "value"):
            if req not in fig:
                raise ConfigError(f"a figure needs '{req}'", loc=fig.loc, path=fpath)
        metric = fig.get("metric", key)
        if metric not in METRICS:
            raise UnknownNameError("metric", str(metric), METRICS,
                                   loc=fig.loc_of("metric") if "metric" in fig else figures_node.key_locs[key],
                                   path=fpath)
        # YAML 1.1 reads 138e6 as a string; a figure's value may be written so (its text gives
        # the published precision), so numeric text is accepted here and only here
        raw = fig.raw.get("value") or str(fig["value"])
        if isinstance(fig["value"], str) and _NUMBER_TEXT.match(fig["value"].strip()):
            value = float(fig["value"])
        else:
            value = _need(fig, "value", float, fpath)
        if not abs(value) <= MAX_FIGURE:
            raise ConfigError(f"a figure's value is at most 10^30 in magnitude, got {raw}", loc=fig.loc_of("value"),
                              path=f"{fpath}.value")
        precision = check_precision(fig["precision"], fig.loc_of("precision"), f"{fpath}.precision") \
            if "precision" in fig else None
        relative_to = _need(fig, "relative_to", str, fpath) if "relative_to" in fig else None
        if relative_to is not None:
            check_zoo_name(relative_to, fig.loc_of("relative_to"), f"{fpath}.relative_to")
        note = str(fig.get("note", "")).strip()
        check_note(note, fig.loc_of("note"), f"{fpath}.note")
        overrides = _figure_set(fig, params or {}, f"{fpath}.set")
        mode = fig.get("mode", "eval")
        if mode not in MODES:
            raise UnknownNameError("mode", str(mode), MODES, loc=fig.loc_of("mode"), path=f"{fpath}.mode")
        figures.append(Figure(
            key=key, published=str(fig["published"]), value=value, raw=raw, metric=metric,
            note=note, source=str(fig.get("source", source)),
            precision=precision, loc=fig.loc, relative_to=relative_to, overrides=overrides,
            mode=mode))
    if len(figures) > MAX_FIGURES:
        raise ConfigError(f"{len(figures):,} figures; a reference holds at most {MAX_FIGURES}",
                          loc=node.loc_of("figures"), path=f"{path}.figures")
    seen: set = set()
    for f in figures:   # each other setting re-expands the model: bounded work
        if f.overrides or f.mode != "eval" or f.relative_to:
            seen.add((tuple(sorted(f.overrides.items())), f.mode, f.relative_to))
            if len(seen) > MAX_FIGURE_SETTINGS:
                raise ConfigError(f"figures under more than {MAX_FIGURE_SETTINGS} other settings (set:, mode: or "
                                  "relative_to:); each one analyses a model again", loc=f.loc,
                                  path=f"{path}.figures.{f.key}")
    return source, figures + errors


MAX_FIGURE = MAX_NUMBER     # a figure's value, in magnitude
MAX_FIGURES = 200           # figures in one reference
MAX_FIGURE_SETTINGS = 8     # distinct (set:, mode:, relative_to:) among them: each analyses a model again
MAX_PRECISION = 20      # significant digits a figure may claim (Decimal rounds exactly up to 28)


def check_precision(value, loc: Optional[Loc], path: str) -> int:
    """A figure's or claim's ``precision``: significant digits, 1 to 20."""
    try:
        n = coerce(value, int, "'precision'")
    except ValueError as exc:
        raise ConfigError(str(exc), loc=loc, path=path) from None
    if not 1 <= n <= MAX_PRECISION:
        raise ConfigError(f"precision is a number of significant digits from 1 to {MAX_PRECISION}, got {n}",
                          loc=loc, path=path)
    return n


def check_zoo_name(name: str, loc: Optional[Loc], path: str, key: str = "relative_to") -> None:
    """``relative_to`` (or a claim's model) names a zoo model, never a path: no file opens another."""
    from archstat.zoo import zoo_names

    names = zoo_names()
    if name not in names:
        raise UnknownNameError("model", name, names, loc=loc, path=path,
                               hint_extra=f" ({key} names a zoo model, not a file)")


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
NOTE_NAMES = METRICS + ("bn_params", "ops")
NOTE_UNITS = ("B", "KB", "MB", "GB", "KiB", "MiB", "GiB")


def check_note(note: str, loc: Optional[Loc], path: str) -> None:
    """Placeholders in a note: ``{metric}`` or ``{metric:UNIT}`` with a known metric and unit."""
    for m in _PLACEHOLDER.finditer(note):
        name, _, unit = m.group(1).partition(":")
        if name not in NOTE_NAMES:
            raise UnknownNameError("placeholder", "{" + m.group(1) + "}", ["{" + n + "}" for n in NOTE_NAMES],
                                   loc=loc, path=path)
        if unit and unit not in NOTE_UNITS:
            raise UnknownNameError("unit", unit, NOTE_UNITS, loc=loc, path=path,
                                   hint_extra=f" (choose from {', '.join(NOTE_UNITS)})")


def _figure_set(fig: LDict, params: dict[str, ParamDecl], path: str) -> dict[str, Any]:
    """A figure's ``set:``: declared params with values of their declared types (checked here, where
    the file says them, so that the figure's model is only ever bound to well-typed values)."""
    node = fig.get("set")
    if node is None:
        return {}
    if not isinstance(node, LDict):
        raise ConfigError("set must be a mapping of param: value", loc=fig.loc_of("set"), path=path)
    out = {}
    for name, value in node.items():
        if name not in params:
            raise UnknownNameError("param", str(name), params, loc=node.key_locs[name], path=path,
                                   hint_extra="" if params else " (this config declares no params)")
        try:
            out[name] = coerce(value, params[name].type, f"'{name}'")
        except ValueError as exc:
            raise ConfigError(str(exc), loc=node.loc_of(name), path=f"{path}.{name}") from None
    return out


ERRORS = ("top1", "top5")


def parse_errors(node, path: str, default_source: str, loc: Optional[Loc] = None) -> list[Figure]:
    """Published top-1/top-5 error (percent): shown as published, never computed."""
    if node is None:
        return []
    if not isinstance(node, LDict):
        raise ConfigError("errors must be a mapping: {top1: 23.9, top5: 7.1, source: ...}",
                          loc=getattr(node, "loc", loc), path=path)
    check_keys(node, ERRORS + ("source",), path)
    source = _need(node, "source", str, path) if "source" in node else default_source
    out = []
    for key in ERRORS:
        if key in node:
            value = _need(node, key, float, path)
            if not 0 <= value <= 100:
                raise ConfigError(f"{key} error is a percentage, got {value}", loc=node.loc_of(key),
                                  path=f"{path}.{key}")
            published = f"{'top-1' if key == 'top1' else 'top-5'} error {value}%"
            out.append(Figure(key=f"{key}_error", published=published, value=value, raw=node.raw.get(key) or str(value),
                              metric="published_only", source=source, loc=node.loc))
    return out


def parse_spec(text: str, filename: str) -> Spec:
    root = parse_yaml(text, filename)
    if root is None:
        raise ConfigError("empty config (expected a mapping with archstat, name, input and layers)",
                          loc=Loc(filename, 1, 1))
    if not isinstance(root, LDict):
        raise ConfigError("a config is a mapping with archstat, name, input and layers",
                          loc=getattr(root, "loc", Loc(filename, 1, 1)))
    check_keys(root, TOP_KEYS, "")
    for key in REQUIRED_TOP:
        if key not in root:
            raise ConfigError(f"missing required key '{key}'", loc=root.loc)
    version = root["archstat"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ConfigError(f"unsupported format version {version!r} (this archstat reads version "
                          f"{FORMAT_VERSION})", loc=root.loc_of("archstat"), path="archstat")
    name = _need(root, "name", str, "")
    description = _need(root, "description", str, "") if "description" in root else ""
    source = root.get("source", [])
    if isinstance(source, str):
        source = [source]
    if not isinstance(source, list) or not all(isinstance(s, str) for s in source):
        raise ConfigError("source must be a string or a list of strings", loc=root.loc_of("source"),
                          path="source")
    params = parse_params(root.get("params"), "params", allow_required=False, loc=root.loc_of("params"))
    blocks_node = root.get("blocks") or LDict()
    if not isinstance(blocks_node, LDict):
        raise ConfigError("blocks must be a mapping of name: {params, layers}", loc=root.loc_of("blocks"),
                          path="blocks")
    blocks = {}
    for bname, bnode in blocks_node.items():
        bpath = f"blocks.{bname}"
        if not isinstance(bnode, LDict):
            raise ConfigError("a block is a mapping with params and layers", loc=blocks_node.loc_of(bname),
                              path=bpath)
        check_block_name(bname, blocks_node.key_locs[bname], "blocks")
        check_keys(bnode, ("params", "layers", "parallel", "residual", "doc"), bpath)
        bodies = [k for k in ("layers", "parallel", "residual") if k in bnode]
        if len(bodies) != 1:
            raise ConfigError("a block needs exactly one of layers (a list), parallel or residual",
                              loc=bnode.loc, path=bpath)
        kind = bodies[0]
        if kind == "layers" and not isinstance(bnode["layers"], LList):
            raise ConfigError("a block's layers must be a list", loc=bnode.loc_of("layers"), path=f"{bpath}.layers")
        bparams = parse_params(bnode.get("params"), f"{bpath}.params", allow_required=True,
                               loc=bnode.loc_of("params"))
        blocks[bname] = BlockDef(bname, bparams, bnode[kind], blocks_node.key_locs[bname], kind,
                                 bnode.loc_of(kind))
    layers = root["layers"]
    if not isinstance(layers, LList):
        raise ConfigError("layers must be a list", loc=root.loc_of("layers"), path="layers")
    ref_source, figures = parse_reference(root.get("reference"), loc=root.loc_of("reference"), params=params)
    spec = Spec(file=filename, name=name, description=description, source=source, input=(), params=params,
                blocks=blocks, layers=layers, reference_source=ref_source, figures=figures, root=root)
    spec.input = spec.input_for(spec.bind())
    return spec


def check_block_name(name: str, loc: Loc, path: str) -> None:
    """A block's name is an identifier that no op, structure or entry key already means."""
    from archstat.ops.registry import all_ops

    if not name.isidentifier():
        raise ConfigError(f"block name '{name}' must be an identifier", loc=loc, path=path)
    taken = "an op" if name in all_ops() else "a structure" if name in ("parallel", "residual", "aux") else \
        "an entry key" if name in ("repeat", "id", "label") else None
    if taken:
        raise ConfigError(f"block name '{name}' is already {taken}; name the block otherwise", loc=loc, path=path)


def parse_input(value, loc: Loc, origin: str = "input") -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) not in (1, 3):
        raise ConfigError("input must be [C, H, W] (or [F] for a flat input)", loc=loc, path=origin)
    dims = []
    for v in value:
        try:
            n = coerce(v, int, "each input size")
        except ValueError as exc:
            raise ConfigError(str(exc), loc=loc, path=origin) from None
        if n < 1:
            raise ConfigError(f"input sizes must be positive, got {n}", loc=loc, path=origin)
        dims.append(n)
    return tuple(dims)
