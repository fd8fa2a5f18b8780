"""Expansion: a Spec with bound params → a Graph of ops with dotted names and shapes.

A list of layers is sequential. Each entry holds exactly one op, block,
``parallel`` or ``residual``, plus optionally ``repeat``, ``id`` and ``label``.
Names: ``id`` when given, else the entry's kind and a counter within its scope
(``conv1``, ``conv2``, ``conv_relu1``); ``repeat`` makes a group whose children
are ``0, 1, ...``; a block's, branch's or residual's layers are nested under
its name. These names equal the torch module names of the built model.
"""

from __future__ import annotations

from typing import Any, Optional

from archstat.config import expr
from archstat.config.loader import MAX_NUMBER, LDict, LList
from archstat.config.spec import BlockDef, Spec, check_keys
from archstat.errors import ConfigError, Loc, ShapeError, UnknownNameError
from archstat.graph import Graph, Node
from archstat.ops.registry import all_ops
from archstat.ops.types import check_min, coerce, fmt_shape

MAX_LAYERS = 5_000         # nodes in an expanded graph (every format renders this many in seconds;
                           # ResNet-1202, the deepest model of the zoo, has 4,209)
MAX_STEPS = 10 * MAX_LAYERS   # entries expanded (repeats of empty blocks add no layers, but take time)
MAX_SIZE = MAX_NUMBER      # any tensor dimension (the bound on numbers in a config, kept through ops)
MAX_BLOCK_DEPTH = 32       # blocks inside blocks
ENTRY_EXTRAS = ("repeat", "id", "label")
STRUCTURES = ("parallel", "residual", "aux")


class _Scope:
    """Auto-naming within one list of layers: conv1, conv2, relu1, ..."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.used: set[str] = set()

    def name(self, base: str, explicit: Optional[str]) -> str:
        if explicit is not None:
            return explicit
        self.counts[base] = self.counts.get(base, 0) + 1
        name = f"{base}{self.counts[base]}"
        while name in self.used:
            self.counts[base] += 1
            name = f"{base}{self.counts[base]}"
        return name


class Expander:
    def __init__(self, spec: Spec, env: dict[str, Any]):
        self.spec = spec
        self.model_env = dict(env)
        self.ops = all_ops()
        self.graph = Graph(spec.name, spec.input, params=dict(env))
        self.block_stack: list[str] = []
        self.aux_depth = 0
        self.args_cache: dict = {}
        self.leaves: set[str] = set()     # names of layers that hold no others (all but merges)
        self.groups: set[str] = set()     # every proper dotted prefix of a layer's name
        self.steps = 0

    # -- entry point -------------------------------------------------------------------------
    def run(self) -> Graph:
        self.graph.main_output = ""
        self.graph.add(Node(name="input", op="input", args=None, inputs=(), in_shapes=(), shape=self.spec.input,
                            label="INPUT", loc=self.spec.root.loc_of("input") if self.spec.root else None,
                            path="input"))
        self.graph.main_output = self.seq(self.spec.layers, "layers", "", self.model_env, "input")
        return self.graph

    # -- sequences -----------------------------------------------------------------------------
    def seq(self, items, path: str, prefix: str, env: dict, src: str, loc: Optional[Loc] = None) -> str:
        if not isinstance(items, LList):   # what the loader makes of a YAML sequence
            raise ConfigError("expected a list of layers", loc=getattr(items, "loc", loc), path=path)
        scope = _Scope()
        for i, item in enumerate(items):
            src = self.entry(item, items.loc_of(i), f"{path}[{i}]", prefix, env, src, scope)
        return src

    def step(self, loc: Loc, path: str) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ConfigError(f"expanding the model takes more than {MAX_STEPS:,} steps (the limit; nested "
                              "repeats of empty blocks?)", loc=loc, path=path)

    def entry(self, item, loc: Loc, path: str, prefix: str, env: dict, src: str, scope: _Scope) -> str:
        self.step(loc, path)
        kind, body, body_loc, extras = self.split_entry(item, loc, path)
        explicit = extras.get("id")
        if explicit is not None:
            explicit = self.check_id(explicit, item, path, scope)
        label = extras.get("label")
        if label is not None and not isinstance(label, str):
            raise ConfigError("label must be a string", loc=item.loc_of("label"), path=f"{path}.label")
        name = scope.name(kind, explicit)
        scope.used.add(name)
        full = prefix + name
        kpath = f"{path}.{kind}"
        if "repeat" not in extras:
            return self.one(kind, body, body_loc, kpath, full, env, src, label)
        n, first, first_node = self.parse_repeat(extras["repeat"], item, path, env)
        if label is not None:
            self.graph.group_labels[full] = label
        for r in range(n):
            this_body = body
            if r == 0 and first:
                this_body = self.merge_first(body, first, first_node, kind, kpath, body_loc)
            # the repetition's index is visible to its arguments as `i` (0-based)
            self.step(loc, path)
            src = self.one(kind, this_body, body_loc, kpath, f"{full}.{r}", {**env, "i": r}, src, label)
        return src

    def one(self, kind, body, body_loc, path, full, env, src, label) -> str:
        if kind == "aux":
            return self.aux(body, body_loc, path, full, env, src, label)
        if kind == "parallel":
            out = self.parallel(body, body_loc, path, full, env, src)
        elif kind == "residual":
            out = self.residual(body, body_loc, path, full, env, src)
        elif kind in self.spec.blocks:
            out = self.block(self.spec.blocks[kind], body, body_loc, path, full, env, src)
        else:
            return self.op(kind, body, body_loc, path, full, env, src, label)
        if label is not None:
            self.graph.group_labels.setdefault(full, label)
        return out

    def split_entry(self, item, loc: Loc, path: str):
        if isinstance(item, str):
            self.check_kind(item, loc, path)
            return item, None, loc, {}
        if not isinstance(item, LDict):
            raise ConfigError("a layer is an op or block name, or a mapping {op: {args}}", loc=loc, path=path)
        mains = [k for k in item if k not in ENTRY_EXTRAS]
        if not mains:
            raise ConfigError("a layer needs an op or block name", loc=item.loc, path=path)
        if len(mains) > 1:
            raise ConfigError(f"a layer holds exactly one op or block, found '{mains[0]}' and "
                              f"'{mains[1]}' (start each on its own '- ' line)",
                              loc=item.key_locs[mains[1]], path=path)
        kind = mains[0]
        self.check_kind(kind, item.key_locs[kind], path)
        extras = {k: item[k] for k in ENTRY_EXTRAS if k in item}
        return kind, item[kind], item.loc_of(kind), extras

    def check_kind(self, kind, loc, path) -> None:
        if not isinstance(kind, str):
            raise ConfigError("a layer is an op or block name", loc=loc, path=path)
        if kind in STRUCTURES or kind in self.spec.blocks or kind in self.ops:
            return
        raise UnknownNameError("op or block", kind, list(self.ops) + list(self.spec.blocks) + list(STRUCTURES),
                               loc=loc, path=path)

    def check_id(self, value, item: LDict, path: str, scope: _Scope) -> str:
        loc = item.loc_of("id")
        if not isinstance(value, str) or (not value.isidentifier() and not value.isdigit()):
            raise ConfigError(f"id must be a name made of letters, digits and '_', got {value!r}",
                              loc=loc, path=f"{path}.id")
        if value in scope.used or value == "input":
            raise ConfigError(f"id '{value}' is already used in this list", loc=loc, path=f"{path}.id")
        return value

    def parse_repeat(self, value, item: LDict, path: str, env: dict):
        loc, rpath = item.loc_of("repeat"), f"{path}.repeat"
        first, first_node = None, None
        if isinstance(value, LDict):
            check_keys(value, ("n", "first"), rpath)
            if "n" not in value:
                raise ConfigError("repeat needs n (the number of repetitions)", loc=value.loc, path=rpath)
            first_node = value.get("first")
            if first_node is not None and not isinstance(first_node, LDict):
                raise ConfigError("repeat.first must be a mapping of arguments",
                                  loc=value.loc_of("first"), path=f"{rpath}.first")
            first = first_node
            loc, value = value.loc_of("n"), value["n"]
            rpath += ".n"
        value = self.value(value, env, loc, rpath)
        try:
            n = coerce(value, int, "repeat")
            check_min(n, 0, "repeat")
        except ValueError as exc:
            raise ConfigError(str(exc), loc=loc, path=rpath) from None
        if n > MAX_LAYERS:
            raise ConfigError(f"repeat {n:,} is past the limit of {MAX_LAYERS:,} layers", loc=loc, path=rpath)
        return n, first, first_node

    def merge_first(self, body, first: LDict, first_node, kind, path, body_loc):
        if kind in STRUCTURES:
            raise ConfigError("repeat.first applies to an op's or block's arguments, not to "
                              f"'{kind}'", loc=first_node.loc, path=path)
        merged = LDict()
        base = body if isinstance(body, LDict) else LDict()
        merged.update(base)
        merged.update(first)
        merged.loc = base.loc if isinstance(body, LDict) else body_loc
        merged.key_locs = {**getattr(base, "key_locs", {}), **first.key_locs}
        merged.val_locs = {**getattr(base, "val_locs", {}), **first.val_locs}
        merged.raw = {**getattr(base, "raw", {}), **first.raw}
        return merged

    # -- values ----------------------------------------------------------------------------------
    def value(self, value, env: dict, loc: Loc, path: str):
        """Resolve ``$`` expressions in a scalar or a list."""
        if expr.is_expression(value):
            try:
                return expr.evaluate(value, env)
            except expr.ExprError as exc:
                raise ConfigError(str(exc), loc=loc, path=path) from None
        if isinstance(value, list):
            return [self.value(v, env, value.loc_of(i) if isinstance(value, LList) else loc, path)
                    for i, v in enumerate(value)]
        return value

    def args_mapping(self, body, body_loc, path: str, what: str) -> LDict:
        if body is None:
            empty = LDict()
            empty.loc, empty.key_locs, empty.val_locs, empty.raw = body_loc, {}, {}, {}
            return empty
        if not isinstance(body, LDict):
            raise ConfigError(f"the arguments of {what} must be a mapping, e.g. {{out: 64}}",
                              loc=body_loc, path=path)
        return body

    # -- ops ---------------------------------------------------------------------------------------
    def add(self, node: Node) -> Node:
        if len(self.graph.nodes) >= MAX_LAYERS:
            raise ConfigError(f"the expanded model has more than {MAX_LAYERS:,} layers (the limit)",
                              loc=node.loc, path=node.path)
        self.unique_name(node)
        return self.graph.add(node)

    def unique_name(self, node: Node) -> None:
        """Layer names are torch module names: each names one layer, and a layer that is not a merge
        (a merge row carries its container's name) holds no other layers."""
        name, parts = node.name, node.name.split(".")
        clash = None
        if name in self.graph:
            clash = f"layer name '{name}' is used twice"
        elif not self.ops[node.op].multi_input and name in self.groups:
            clash = f"layer name '{name}' is also the name of a group of layers"
        else:
            for k in range(1, len(parts)):
                prefix = ".".join(parts[:k])
                if prefix in self.leaves:
                    clash = f"layer name '{name}' puts a layer inside the layer '{prefix}'"
                    break
        if clash:
            raise ConfigError(f"{clash} (give it another id)", loc=node.loc, path=node.path)
        if not self.ops[node.op].multi_input:
            self.leaves.add(name)
        self.groups.update(".".join(parts[:k]) for k in range(1, len(parts)))

    def op(self, kind, body, body_loc, path, full, env, src, label) -> str:
        spec = self.ops[kind]
        if spec.multi_input:
            raise ConfigError(f"'{kind}' merges branches: use it as the merge of a parallel block",
                              loc=body_loc, path=path)
        mapping = self.args_mapping(body, body_loc, path, f"'{kind}'")
        # the same op with the same resolved values (a repeated layer) builds the same Args: once
        resolved = tuple((k, _freeze(self.value(v, env, mapping.loc_of(k), f"{path}.{k}")))
                         for k, v in mapping.items())
        cached = self.args_cache.get((kind, resolved))
        if cached is not None:
            return self.emit(kind, cached, (src,), full, body_loc, path, label).name
        types = spec.types()
        fields = {f.name: f for f in spec.fields()}
        values = {}
        for key in mapping:
            if key not in fields and not fields:
                raise ConfigError(f"'{kind}' takes no arguments", loc=mapping.key_locs[key], path=path)
            if key not in fields:
                raise UnknownNameError("argument", key, fields, loc=mapping.key_locs[key], path=path,
                                       hint_extra=f" ({kind} takes {', '.join(fields)})")
            vloc, vpath = mapping.loc_of(key), f"{path}.{key}"
            value = self.value(mapping[key], env, vloc, vpath)
            try:
                value = coerce(value, types[key], f"'{key}'")
                check_min(value, fields[key].metadata.get("min"), f"'{key}'")
            except ValueError as exc:
                raise ConfigError(str(exc), loc=vloc, path=vpath) from None
            values[key] = value
        missing = [r for r in spec.required() if r not in values]
        if missing:
            raise ConfigError(f"'{kind}' needs " + " and ".join(f"'{m}'" for m in missing)
                              + f" ({kind}: {spec.signature()})", loc=mapping.loc, path=path)
        try:
            args = spec.make_args(values)
        except ValueError as exc:
            raise ConfigError(str(exc), loc=mapping.loc, path=path) from None
        self.args_cache[(kind, resolved)] = args
        return self.emit(kind, args, (src,), full, body_loc, path, label).name

    def emit(self, kind, args, inputs, full, loc, path, label=None) -> Node:
        spec = self.ops[kind]
        in_shapes = tuple(self.graph[i].shape for i in inputs)
        try:
            shape = spec.out_shape(args, list(in_shapes))
        except ShapeError as exc:
            raise ShapeError(f"layer {full}: {exc.message}", loc=loc, path=path) from None
        if any(d > MAX_SIZE for d in shape):
            raise ConfigError(f"layer {full}: output {fmt_shape(shape)} has a size beyond 10^30 (the limit)",
                             loc=loc, path=path)
        if any(d < 1 for d in shape):
            raise ShapeError(f"layer {full}: output {fmt_shape(shape)} is empty (input "
                             f"{fmt_shape(in_shapes[0])})", loc=loc, path=path)
        if label is None:
            label = spec.label(args, list(in_shapes), shape)
        return self.add(Node(name=full, op=kind, args=args, inputs=tuple(inputs), in_shapes=in_shapes, shape=shape,
                             label=label, loc=loc, path=path, aux=self.aux_depth > 0))

    # -- blocks ------------------------------------------------------------------------------------
    def block(self, block: BlockDef, body, body_loc, path, full, env, src) -> str:
        if block.name in self.block_stack:
            chain = " → ".join(self.block_stack[self.block_stack.index(block.name):] + [block.name])
            raise ConfigError(f"block '{block.name}' uses itself ({chain})", loc=body_loc, path=path)
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise ConfigError(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", loc=body_loc, path=path)
        mapping = self.args_mapping(body, body_loc, path, f"block '{block.name}'")
        bound: dict[str, Any] = {}
        for key in mapping:
            if key not in block.params:
                if not block.params:
                    raise ConfigError(f"block '{block.name}' takes no params", loc=mapping.key_locs[key],
                                      path=path)
                raise UnknownNameError("param", key, block.params, loc=mapping.key_locs[key], path=path)
            vloc, vpath = mapping.loc_of(key), f"{path}.{key}"
            value = self.value(mapping[key], env, vloc, vpath)
            try:
                bound[key] = coerce(value, block.params[key].type, f"'{key}'")
            except ValueError as exc:
                raise ConfigError(str(exc), loc=vloc, path=vpath) from None
        for pname, decl in block.params.items():
            if pname not in bound:
                if decl.required:
                    raise ConfigError(f"block '{block.name}' needs param '{pname}' ({decl.type_name})",
                                      loc=mapping.loc, path=path)
                bound[pname] = decl.default
        self.block_stack.append(block.name)
        benv, bpath = {**self.model_env, **bound}, f"blocks.{block.name}.{block.kind}"
        try:
            if block.kind == "parallel":
                return self.parallel(block.layers, block.body_loc, bpath, full, benv, src)
            if block.kind == "residual":
                return self.residual(block.layers, block.body_loc, bpath, full, benv, src)
            return self.seq(block.layers, bpath, full + ".", benv, src)
        finally:
            self.block_stack.pop()

    # -- structure ---------------------------------------------------------------------------------
    def aux(self, body, body_loc, path, full, env, src, label) -> str:
        """A side output (GoogLeNet's auxiliary classifiers): its layers read ``src``; the main
        path continues from ``src``. Counted only in ``--mode train``."""
        if not isinstance(body, list):
            raise ConfigError("aux needs a list of layers", loc=body_loc, path=path)
        if self.aux_depth:
            raise ConfigError("an aux head cannot hold another aux head", loc=body_loc, path=path)
        self.aux_depth += 1
        try:
            out = self.seq(body, path, full + ".", env, src)
        finally:
            self.aux_depth -= 1
        if out == src:
            raise ConfigError("an aux head needs at least one layer", loc=body_loc, path=path)
        self.graph.aux_outputs.append(out)
        if label is not None:
            self.graph.group_labels[full] = label
        return src

    def parallel(self, body, body_loc, path, full, env, src) -> str:
        if not isinstance(body, LDict):
            raise ConfigError("parallel needs a mapping with merge and branches", loc=body_loc, path=path)
        check_keys(body, ("merge", "branches"), path)
        merge = self.merge_kind(body, path)
        branches = body.get("branches")
        if isinstance(branches, LList):
            named = [(f"b{i}", b, branches.loc_of(i)) for i, b in enumerate(branches)]
        elif isinstance(branches, LDict):
            named = [(k, v, branches.loc_of(k)) for k, v in branches.items()]
            for k in branches:
                if not k.isidentifier():
                    raise ConfigError(f"branch name '{k}' must be an identifier", loc=branches.key_locs[k],
                                      path=f"{path}.branches")
        else:
            raise ConfigError("parallel needs branches: a mapping of name: [layers]",
                              loc=body.loc_of("branches") if "branches" in body else body.loc, path=path)
        if not named:
            raise ConfigError("parallel needs at least one branch", loc=body.loc_of("branches"), path=path)
        outs, names = [], []
        for bname, layers, bloc in named:
            bpath = f"{path}.branches.{bname}"
            if not isinstance(layers, list):
                raise ConfigError("a branch is a list of layers ([] for the identity)", loc=bloc, path=bpath)
            outs.append(self.seq(layers, bpath, f"{full}.{bname}.", env, src))
            names.append(bname)
        return self.merge_node(merge, outs, names, full, body.loc, path).name

    def merge_kind(self, body: LDict, path: str, default: str = "concat") -> str:
        merge = body.get("merge", default)
        merges = [name for name, spec in self.ops.items() if spec.multi_input]   # the registry's merge ops
        if merge not in merges:
            raise UnknownNameError("merge", str(merge), merges, loc=body.loc_of("merge"), path=f"{path}.merge",
                                   hint_extra=f" (choose from {', '.join(merges)})")
        return merge

    def merge_node(self, merge, outs, names, full, loc, path) -> Node:
        try:
            return self.emit(merge, self.ops[merge].make_args({}), tuple(outs), full, loc, path)
        except ShapeError:
            shapes = ", ".join(f"{n} ({fmt_shape(self.graph[o].shape)})" for n, o in zip(names, outs))
            need = {"concat": "equal sizes except channels", "mul": "shapes that broadcast"}.get(merge, "equal shapes")
            raise ShapeError(f"layer {full}: {merge} needs {need}, got {shapes}", loc=loc, path=path) from None

    SHORTCUTS = ("auto", "projection", "conv", "identity", "pad", "none")

    def residual(self, body, body_loc, path, full, env, src) -> str:
        """``body`` plus a shortcut, merged (add), then the ``after`` layers. Shortcuts: ``auto`` or
        ``projection`` (identity when shapes match, else 1×1 conv + bn), ``pad`` (identity, or
        subsample and zero-pad channels: option A of He et al. 2015), ``identity``, ``none`` (no
        shortcut: a plain network) or a list of layers."""
        if not isinstance(body, LDict):
            raise ConfigError("residual needs a mapping with body (and shortcut)", loc=body_loc, path=path)
        check_keys(body, ("body", "shortcut", "merge", "after", "survival"), path)
        if "body" not in body:
            raise ConfigError("residual needs a body: a list of layers", loc=body.loc, path=path)
        merge = self.merge_kind(body, path, default="add")
        if merge == "concat":
            raise ConfigError("a residual merges with add or mean", loc=body.loc_of("merge"), path=f"{path}.merge")
        survival = 1.0
        if "survival" in body:  # stochastic depth: the probability that the body runs in a training step
            vloc, vpath = body.loc_of("survival"), f"{path}.survival"
            try:
                survival = coerce(self.value(body["survival"], env, vloc, vpath), float, "survival")
            except ValueError as exc:
                raise ConfigError(str(exc), loc=vloc, path=vpath) from None
            if not 0 < survival <= 1:
                raise ConfigError(f"survival is a probability in (0, 1], got {survival}", loc=vloc, path=vpath)
        first_body = len(self.graph.nodes)
        out = self.seq(body["body"], f"{path}.body", f"{full}.body.", env, src, body.loc_of("body"))
        for node in self.graph.nodes[first_body:]:
            node.survival *= survival
        spath, sloc = f"{path}.shortcut", body.loc_of("shortcut")
        shortcut = self.value(body.get("shortcut", "auto"), env, sloc, spath)
        if isinstance(shortcut, list):
            short = self.seq(body["shortcut"], spath, f"{full}.shortcut.", env, src, sloc)
        elif shortcut in ("auto", "projection"):
            short = self.auto_shortcut(src, out, full, sloc, spath)
        elif shortcut == "pad":
            short = self.auto_shortcut(src, out, full, sloc, spath, pad=True)
        elif shortcut == "conv":
            short = self.auto_shortcut(src, out, full, sloc, spath, bn=False)
        elif shortcut == "identity":
            short = src
        elif shortcut == "none":
            short = None
        else:
            raise UnknownNameError("shortcut", str(shortcut), self.SHORTCUTS, loc=sloc, path=spath,
                                   hint_extra=" (or a list of layers)")
        if short is not None:
            out = self.merge_node(merge, [out, short], ["body", "shortcut"], full, body.loc, path).name
        if "after" in body:
            out = self.seq(body["after"], f"{path}.after", f"{full}.", env, out, body.loc_of("after"))
        return out

    def auto_shortcut(self, src: str, out: str, full: str, loc, path, pad: bool = False, bn: bool = True) -> str:
        """Identity when the body keeps the shape; else a 1×1 conv (stride to match) and batch norm
        (without it for ``bn=False``: pre-activation nets), or with ``pad`` a strided subsample with
        zero-padded channels (no params)."""
        s_in, s_out = self.graph[src].shape, self.graph[out].shape
        if s_in == s_out:
            return src
        if len(s_in) != 3 or len(s_out) != 3:
            raise ShapeError(f"layer {full}: an automatic shortcut needs C×H×W shapes, got "
                             f"{fmt_shape(s_in)} and {fmt_shape(s_out)}", loc=loc, path=path)
        strides = []
        for a, b in zip(s_in[1:], s_out[1:]):
            stride = -(-a // b)
            if (a - 1) // stride + 1 != b:
                raise ShapeError(f"layer {full}: no 1×1 conv stride maps {fmt_shape(s_in)} to "
                                 f"{fmt_shape(s_out)}", loc=loc, path=path)
            strides.append(stride)
        if pad:
            if s_out[0] < s_in[0] or strides[0] != strides[1]:
                raise ShapeError(f"layer {full}: a padding shortcut needs as many or more channels and one "
                                 f"stride, got {fmt_shape(s_in)} → {fmt_shape(s_out)}", loc=loc, path=path)
            args = self.ops["pad_shortcut"].make_args({"out": s_out[0], "stride": strides[0]})
            return self.emit("pad_shortcut", args, (src,), f"{full}.shortcut", loc, path).name
        conv = self.ops["conv"].make_args({"out": s_out[0], "kernel": 1, "stride": strides, "bias": False})
        c = self.emit("conv", conv, (src,), f"{full}.shortcut.conv", loc, path)
        if not bn:
            return c.name
        return self.emit("bn", self.ops["bn"].make_args({}), (c.name,), f"{full}.shortcut.bn", loc, path).name


def _freeze(value):
    """A hashable key for a resolved argument value; its type is part of it (1, 1.0 and True differ)."""
    if isinstance(value, list):
        return ("list", tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", id(value))
    return (type(value).__name__, value)


def expand(spec: Spec, env: dict[str, Any]) -> Graph:
    return Expander(spec, env).run()
