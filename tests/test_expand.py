"""Expansion: names, repeat with first overrides, blocks, parallel branches, residual shortcuts."""

import pytest

import archstat
from archstat.errors import ConfigError

HEAD = "archstat: 1\nname: t\ninput: [16, 32, 32]\n"


def load(write_config, body, params=None):
    return archstat.load(write_config(HEAD + body), params)


def names(graph):
    return [n.name for n in graph.nodes]


def test_auto_names_and_ids(write_config):
    g = load(write_config, "layers: [{conv: {out: 8, kernel: 3}}, relu, {conv: {out: 8, kernel: 3}, id: last}]")
    assert names(g) == ["input", "conv1", "relu1", "last"]


def test_repeat_with_first_override(write_config):
    g = load(write_config, """
blocks:
  unit:
    params: {out: int, stride: 1}
    layers: [{conv: {out: $out, kernel: 3, stride: $stride, padding: 1}}, relu]
layers:
  - {unit: {out: 32}, repeat: {n: 3, first: {stride: 2}}, id: stage}
""")
    assert names(g)[1:] == ["stage.0.conv1", "stage.0.relu1", "stage.1.conv1", "stage.1.relu1",
                            "stage.2.conv1", "stage.2.relu1"]
    assert g["stage.0.conv1"].shape == (32, 16, 16)   # stride 2 only in the first repetition
    assert g["stage.2.conv1"].shape == (32, 16, 16)


def test_repeat_count_from_param(write_config):
    g = load(write_config, "params: {n: 2}\nlayers: [{relu: null, repeat: $n * 2, id: acts}]", {"n": 3})
    assert names(g)[1:] == [f"acts.{i}" for i in range(6)]


def test_parallel_concat(write_config):
    g = load(write_config, """
layers:
  - parallel:
      branches:
        a: [{conv: {out: 8, kernel: 1}}]
        b: [{conv: {out: 4, kernel: 3, padding: 1}}, relu]
        c: []
    id: mix
""")
    assert names(g)[1:] == ["mix.a.conv1", "mix.b.conv1", "mix.b.relu1", "mix"]
    assert g["mix"].op == "concat"
    assert g["mix"].shape == (8 + 4 + 16, 32, 32)       # c is the identity: the input's 16
    assert g["mix"].inputs == ("mix.a.conv1", "mix.b.relu1", "input")


def test_residual_auto_shortcut_projection(write_config):
    g = load(write_config, """
layers:
  - residual:
      body: [{conv: {out: 32, kernel: 3, stride: 2, padding: 1}}, bn]
""")
    assert names(g)[1:] == ["residual1.body.conv1", "residual1.body.bn1", "residual1.shortcut.conv",
                            "residual1.shortcut.bn", "residual1"]
    sc = g["residual1.shortcut.conv"]
    assert (sc.args.kernel, sc.args.stride, sc.args.bias) == ((1, 1), (2, 2), False)
    assert g["residual1"].shape == (32, 16, 16)


def test_residual_identity_when_shapes_match(write_config):
    g = load(write_config, "layers: [{residual: {body: [{conv: {out: 16, kernel: 3, padding: 1}}]}}]")
    assert g["residual1"].inputs == ("residual1.body.conv1", "input")


def test_block_params_required_and_typed(write_config):
    body = """
blocks:
  b: {params: {out: int}, layers: [{conv: {out: $out, kernel: 1}}]}
layers: [b]
"""
    with pytest.raises(ConfigError, match="block 'b' needs param 'out' \\(int\\)"):
        load(write_config, body)


def test_set_is_type_checked(write_config):
    with pytest.raises(ConfigError, match=r"expected int, got '2\.5'"):
        archstat.load(write_config(HEAD + "params: {w: 2}\nlayers: [relu]"), {"w": "2.5"})


def test_layer_limit(write_config, monkeypatch):
    from archstat.config import expand

    monkeypatch.setattr(expand, "MAX_LAYERS", 50)
    with pytest.raises(ConfigError, match="more than 50 layers"):
        load(write_config, "layers: [{relu: null, repeat: 40}, {relu: null, repeat: 40}]")
