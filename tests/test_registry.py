"""The op registry's helpers: zero-cost ops declared with register_view, and the zoo's natural order."""

import json

from archstat.ops.registry import all_ops, register_view
from archstat.zoo import natural_key

VIEWS = ("flatten", "identity", "dropout", "permute", "chunk", "select_token", "drop_path")
COPIES = ("channel_shuffle", "pad_shortcut", "concat", "patch_merge")


def test_zero_cost_ops_cost_nothing_and_say_whether_they_allocate():
    ops = all_ops()
    for name in VIEWS + COPIES:
        spec = ops[name]
        given = {"dims": [1, 2, 0], "chunks": 2, "index": 0, "groups": 2, "out": 8}
        args = spec.make_args({k: v for k, v in given.items() if k in {f.name for f in spec.fields()}})
        shapes = [(8, 4, 4)] * (2 if spec.multi_input else 1)
        assert (spec.weights(args, shapes), spec.biases(args, shapes)) == (0, 0), name
        assert (spec.macs(args, shapes, shapes[0]), spec.ops(args, shapes, shapes[0])) == (0, 0), name
        assert spec.inplace(args) is (name in VIEWS), name


def test_register_view_defaults(monkeypatch):
    from dataclasses import dataclass

    from archstat.ops import registry

    @dataclass(frozen=True)
    class NoArgs:
        pass

    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    spec = register_view("test_view_op", Args=NoArgs, view=True, doc="A test view.")
    assert spec.out_shape(NoArgs(), [(3, 5)]) == (3, 5)                  # the input's shape
    assert spec.label(NoArgs(), [(3, 5)], (3, 5)) == "TEST_VIEW_OP"      # the name in capitals
    assert spec.saved(NoArgs(), [(3, 5)], (3, 5)) == ()                  # nothing kept for backward
    copy = register_view("test_copy_op", Args=NoArgs, view=False, label="COPY", doc="A test copy.")
    assert copy.inplace(NoArgs()) is False and copy.label(NoArgs(), [(1,)], (1,)) == "COPY"


def test_natural_key():
    names = ["resnet1202", "resnet101", "resnet18", "ResNet2", "vgg16", "resnet110-stochastic-depth", "resnet110"]
    assert sorted(names, key=natural_key) == ["ResNet2", "resnet18", "resnet101", "resnet110",
                                              "resnet110-stochastic-depth", "resnet1202", "vgg16"]


def test_list_sorts_names_naturally(cli):
    r = cli("list", "resnet*", "--format", "json")
    assert r.exit_code == 0
    names = [row["name"] for row in json.loads(r.stdout)]
    assert names.index("resnet18") < names.index("resnet101") < names.index("resnet1202")
    assert names == sorted(names, key=natural_key)
