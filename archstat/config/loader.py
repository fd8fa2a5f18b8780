"""YAML → plain Python values that remember where they came from.

Mappings become :class:`LDict` and sequences :class:`LList`; both keep the
location of themselves, of each key and of each value, and the source text of
each scalar (so ``138e6`` keeps its three significant figures). Duplicate keys,
non-string keys, alias bombs, deep nesting and oversized files are refused.
"""

from __future__ import annotations

import yaml

from archstat.errors import ConfigError, Loc

MAX_FILE_BYTES = 1_000_000       # a config larger than 1 MB is refused
MAX_NODES = 200_000              # YAML nodes after alias expansion (billion laughs)
MAX_NESTING = 100                # mapping/sequence nesting depth

try:  # libyaml's composer is several times faster; both give the same nodes and marks
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml built without libyaml
    _Loader = yaml.SafeLoader


class LDict(dict):
    """A mapping with ``loc`` (its own), ``key_locs``, ``val_locs`` and ``raw`` (scalar text)."""

    loc: Loc
    key_locs: dict
    val_locs: dict
    raw: dict

    def loc_of(self, key) -> Loc:
        return self.val_locs.get(key, self.loc)


class LList(list):
    """A sequence with ``loc`` (its own), ``item_locs`` and ``raw`` (scalar text per item)."""

    loc: Loc
    item_locs: list
    raw: list

    def loc_of(self, index: int) -> Loc:
        return self.item_locs[index] if 0 <= index < len(self.item_locs) else self.loc


def _loc(filename: str, node) -> Loc:
    return Loc(filename, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.count = 0
        self.scalars = yaml.SafeLoader("")  # constructs scalars with YAML 1.1 rules

    def build(self, node, depth: int = 0, path: str = ""):
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError(f"the document expands to more than {MAX_NODES:,} YAML nodes "
                              "(an alias bomb?)", loc=_loc(self.filename, node))
        if depth > MAX_NESTING:
            raise ConfigError(f"nesting deeper than {MAX_NESTING} levels", loc=_loc(self.filename, node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            out = LList()
            out.loc = _loc(self.filename, node)
            out.item_locs, out.raw = [], []
            for item in node.value:
                out.append(self.build(item, depth + 1, f"{path}[{len(out)}]"))
                out.item_locs.append(_loc(self.filename, item))
                out.raw.append(item.value if isinstance(item, yaml.ScalarNode) else None)
            return out
        if isinstance(node, yaml.MappingNode):
            out = LDict()
            out.loc = _loc(self.filename, node)
            out.key_locs, out.val_locs, out.raw = {}, {}, {}
            for key_node, val_node in node.value:
                kloc = _loc(self.filename, key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ConfigError("merge keys ('<<') are not supported; write the keys out",
                                      loc=kloc)
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError("a key must be a plain name", loc=kloc)
                key = self.scalar(key_node)
                if not isinstance(key, str):
                    key = key_node.value  # `on:`/`1:` as keys: keep the text the user wrote
                if key in out:
                    first = out.key_locs[key]
                    raise ConfigError(f"duplicate key '{key}' (first at line {first.line}, column "
                                      f"{first.col})", loc=kloc, path=path or None)
                out[key] = self.build(val_node, depth + 1, f"{path}.{key}" if path else str(key))
                out.key_locs[key] = kloc
                out.val_locs[key] = _loc(self.filename, val_node)
                out.raw[key] = val_node.value if isinstance(val_node, yaml.ScalarNode) else None
            return out
        raise ConfigError("unsupported YAML node", loc=_loc(self.filename, node))  # pragma: no cover

    def scalar(self, node):
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise ConfigError(f"bad scalar {node.value!r}: {getattr(exc, 'problem', exc)}",
                              loc=_loc(self.filename, node)) from None


def parse_yaml(text: str, filename: str):
    """Parse one YAML document into LDict/LList/scalars. Returns None for an empty document."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else Loc(filename, 1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if mark and _tab_at(text, mark.line, mark.column):
            problem += " (a tab: YAML indents with spaces only)"
        raise ConfigError(f"YAML syntax error: {problem}", loc=loc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", loc=Loc(filename, 1, 1)) from None
    except RecursionError:
        raise ConfigError(f"nesting deeper than {MAX_NESTING} levels", loc=Loc(filename, 1, 1)) from None
    if root is None:
        return None
    return _Builder(filename).build(root)


def _tab_at(text: str, line: int, column: int) -> bool:
    lines = text.splitlines()
    return 0 <= line < len(lines) and column < len(lines[line]) and lines[line][column] == "\t"


def read_config_text(path, name: str | None = None) -> str:
    """Read a config file as UTF-8 text, with one-line errors for every way that fails."""
    from pathlib import Path

    p = Path(path)
    name = name or str(path)
    if p.is_dir():
        raise ConfigError("is a directory, not a config file", loc=None, path=name)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ConfigError("no such file", path=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=name) from None
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"file is {size:,} bytes; configs are limited to {MAX_FILE_BYTES:,}",
                          path=name)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=name) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                          loc=Loc(name, line, col)) from None
