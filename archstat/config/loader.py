"""YAML → plain Python values that remember where they came from.

Mappings become :class:`LDict` and sequences :class:`LList`; both keep the
location of themselves, of each key and of each value, and the source text of
each scalar (so ``138e6`` keeps its three significant figures). Duplicate keys,
non-string keys, alias bombs, deep nesting and oversized files are refused, and so are explicit
tags beyond the plain scalar types (``!!omap``, ``!!binary``, ``!python/...``), YAML 1.1 base-60
numbers (``1:30`` read as 90) and integers beyond 10^30 in magnitude. Only regular files are read.
"""

from __future__ import annotations

import os
import re
import stat

import yaml

from archstat.errors import ConfigError, Loc

MAX_FILE_BYTES = 1_000_000       # a config larger than 1 MB is refused
MAX_NODES = 200_000              # YAML nodes after alias expansion (billion laughs)
MAX_NESTING = 100                # mapping/sequence nesting depth
MAX_NUMBER = 10**30              # the magnitude of an integer in a config (and of a $ expression's value)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d?-\d\d?([Tt ].*)?$")
# what YAML forbids in a stream: the reader refuses it; we find it first, to say where it is
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
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
            if node.tag != _TAG + "seq":
                raise ConfigError(f"YAML tag {_short(node.tag)} is not supported here (write a plain list)",
                                  loc=_loc(self.filename, node))
            seq = LList()
            seq.loc = _loc(self.filename, node)
            seq.item_locs, seq.raw = [], []
            for item in node.value:
                seq.append(self.build(item, depth + 1, f"{path}[{len(seq)}]"))
                seq.item_locs.append(_loc(self.filename, item))
                seq.raw.append(item.value if isinstance(item, yaml.ScalarNode) else None)
            return seq
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                raise ConfigError(f"YAML tag {_short(node.tag)} is not supported here (write a plain mapping)",
                                  loc=_loc(self.filename, node))
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
        loc = _loc(self.filename, node)
        if node.tag not in _SCALAR_TAGS:
            raise ConfigError(f"YAML tag {_short(node.tag)} is not supported (numbers, booleans, strings and "
                              "null only)", loc=loc)
        if node.tag == _TAG + "timestamp":
            if _TIMESTAMP.match(node.value):
                return node.value   # a date is text here: a config has no dates
            raise ConfigError("YAML tag !!timestamp is not supported (numbers, booleans, strings and null only)",
                              loc=loc)
        if node.tag in (_TAG + "int", _TAG + "float") and ":" in node.value:
            raise ConfigError(f"'{node.value}' is a YAML 1.1 base-60 number; quote it if it is text, or write "
                              "the number in base 10", loc=loc)
        if node.tag == _TAG + "int" and len(node.value) > 40:
            raise ConfigError(f"an integer of {len(node.value):,} characters; numbers in a config are limited "
                              f"to 10^30 in magnitude", loc=loc)
        try:
            value = self.scalars.construct_object(node, deep=True)
        except Exception as exc:   # a tag whose text does not fit it: !!int abc, !!float "", !!bool maybe
            raise ConfigError(f"'{node.value}' is not a valid {_short(node.tag)} value"
                              + (f" ({exc.problem})" if isinstance(exc, yaml.MarkedYAMLError) and exc.problem
                                 else ""), loc=loc) from None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise ConfigError(f"{node.value} is beyond 10^30 in magnitude (the limit for numbers in a config)",
                              loc=loc)
        return value


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_OPENERS = {"while parsing a flow mapping": "{", "while parsing a flow sequence": "[",
            "while scanning a quoted scalar": "quote"}


def parse_yaml(text: str, filename: str):
    """Parse one YAML document into LDict/LList/scalars. Returns None for an empty document."""
    bad = _FORBIDDEN.search(text)
    if bad:
        char = bad.group()
        name = f"U+{ord(char):04X}"
        raise ConfigError(f"control character {name} is not allowed in YAML (inside double quotes, write it "
                          f"as an escape: \\x{ord(char):02x})" if ord(char) < 0x100 else
                          f"character {name} is not allowed in YAML",
                          loc=Loc(filename, *_line_col(text, bad.start())))
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else Loc(filename, 1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if mark and _tab_at(text, mark.line, mark.column):
            problem += " (a tab: YAML indents with spaces only)"
        opener, start = _OPENERS.get((exc.context or "").strip()), exc.context_mark
        if opener and start is not None and exc.problem_mark is not None:
            # as compilers do: point at what was never closed, and say where the parser gave up
            what = "the quote" if opener == "quote" else f"'{opener}'"
            raise ConfigError(f"YAML syntax error: {what} opened here is never closed ({problem} at line "
                              f"{loc.line}, column {loc.col})",
                              loc=Loc(filename, start.line + 1, start.column + 1)) from None
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
    name = name or str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError("no such file", path=name) from None
    except (OSError, ValueError) as exc:   # a name too long, a loop of links, a NUL byte
        raise ConfigError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", path=name) from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError("is a directory, not a config file", loc=None, path=name)
    if not stat.S_ISREG(st.st_mode):   # a device (/dev/zero), a pipe or a socket: never read
        raise ConfigError("not a regular file (a device, a pipe or a socket); a config is a file",
                          path=name)
    if st.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"file is {st.st_size:,} bytes; configs are limited to {MAX_FILE_BYTES:,}",
                          path=name)
    try:
        # O_NONBLOCK: should the file be swapped for a pipe after the check, open does not wait for it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=name) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"file is over {MAX_FILE_BYTES:,} bytes; configs are limited to {MAX_FILE_BYTES:,}",
                          path=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                          loc=Loc(name, line, col)) from None
