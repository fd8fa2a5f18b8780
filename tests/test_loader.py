"""The YAML loader: positions for every node, duplicate keys, alias bombs, precision of scalars."""

import pytest

from archstat.config.loader import MAX_NODES, LDict, LList, parse_yaml
from archstat.errors import ConfigError


def test_positions_of_keys_values_and_items():
    doc = parse_yaml("a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml")
    assert isinstance(doc, LDict)
    assert (doc.key_locs["b"].line, doc.key_locs["b"].col) == (2, 1)
    assert (doc.loc_of("a").line, doc.loc_of("a").col) == (1, 4)
    items = doc["b"]
    assert isinstance(items, LList)
    assert (items.loc_of(1).line, items.loc_of(1).col) == (4, 5)
    assert (items[1].loc_of("c").line, items[1].loc_of("c").col) == (4, 9)


def test_raw_text_kept_for_precision():
    doc = parse_yaml("value: 138e6\nexact: 138357544\n", "f.yaml")
    assert doc["value"] == "138e6"            # YAML 1.1: a string
    assert doc.raw["value"] == "138e6"
    assert doc.raw["exact"] == "138357544"


def test_duplicate_key():
    with pytest.raises(ConfigError) as info:
        parse_yaml("layers:\n  - conv: {out: 1, out: 2}\n", "f.yaml")
    assert info.value.format() == "f.yaml:2:20: layers[0].conv: duplicate key 'out' (first at line 2, column 12)"


def test_billion_laughs_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES:,} YAML nodes"):
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")


def test_merge_keys_refused():
    with pytest.raises(ConfigError, match="merge keys"):
        parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n", "f.yaml")


def test_deep_nesting_refused():
    with pytest.raises(ConfigError, match="nesting deeper"):
        parse_yaml("a: " + "[" * 150 + "]" * 150 + "\n", "f.yaml")


def test_empty_document():
    assert parse_yaml("# nothing\n", "f.yaml") is None
