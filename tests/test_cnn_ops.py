"""The ops of the efficient-CNN lecture (layer norm, linear over the last dimension, permute, chunk,
channel shuffle, hardsigmoid, the mul gate): formulas with their arithmetic, then against torch."""

import pytest

import archstat
from archstat.analyze.training import training_memory
from archstat.ops.layout import chunk_sizes
from archstat.ops.linear import linear_rows
from archstat.ops.merge import broadcast_shape
from archstat.ops.registry import all_ops

OPS = all_ops()


def args(op, **kw):
    return OPS[op].make_args(kw)


def test_linear_on_a_flat_input_is_unchanged():
    lin, a = OPS["linear"], args("linear", out=4096)
    s = [(25_088,)]
    assert lin.out_shape(a, s) == (4096,)
    assert lin.macs(a, s, (4096,)) == 102_760_448          # 25088*4096, VGG16 fc6: one row
    assert lin.weights(a, s) == 102_760_448 and lin.biases(a, s) == 4096
    assert lin.sees_all(s) is True                          # global receptive field, as before


def test_linear_over_tokens_and_channels_last_maps():
    lin, a = OPS["linear"], args("linear", out=3072)
    assert lin.out_shape(a, [(197, 768)]) == (197, 3072)
    assert lin.macs(a, [(197, 768)], (197, 3072)) == 464_781_312   # 197 rows * 768*3072
    assert lin.ops(a, [(197, 768)], (197, 3072)) == 605_184          # a bias add per output: 197*3072
    # ConvNeXt-T stage 1 pwconv1 on a 56×56×96 channels-last map: 56*56 rows of 96 → 384
    assert linear_rows((56, 56, 96)) == 3_136
    assert OPS["linear"].macs(args("linear", out=384), [(56, 56, 96)], (56, 56, 384)) == 115_605_504  # 3136*96*384
    assert lin.sees_all([(197, 768)]) is False              # each token on its own


def test_layer_norm_counts_and_saved():
    ln, a = OPS["layer_norm"], args("layer_norm", eps=1e-6)
    s = [(197, 768)]
    assert (ln.weights(a, s), ln.biases(a, s)) == (768, 768)       # D scales, D shifts
    assert ln.macs(a, s, s[0]) == 0
    assert ln.ops(a, s, s[0]) == 7 * 197 * 768                     # 5 for the statistics, 2 affine
    saved = ln.saved(a, s, s[0])
    assert saved[0].what == "input" and (saved[1].elements, saved[1].nbytes) == (2 * 197, 4)  # mean, 1/std per token
    ln2 = OPS["layer_norm2d"]
    m = [(96, 56, 56)]
    assert ln2.out_shape(a, m) == (96, 56, 56)
    assert (ln2.weights(a, m), ln2.biases(a, m)) == (96, 96)       # over the C channels at each position
    assert ln2.saved(a, m, m[0])[1].elements == 2 * 56 * 56
    assert OPS["layer_norm"].weights(args("layer_norm", affine=False), s) == 0


def test_permute_chunk_shuffle_and_mul_shapes():
    assert OPS["permute"].out_shape(args("permute", dims=[1, 2, 0]), [(96, 56, 56)]) == (56, 56, 96)
    assert chunk_sizes(116, 2) == [58, 58] and chunk_sizes(5, 2) == [3, 2]   # torch.chunk: ceil(5/2)=3, then 2
    assert OPS["chunk"].out_shape(args("chunk", chunks=2, index=1), [(116, 28, 28)]) == (58, 28, 28)
    assert OPS["channel_shuffle"].out_shape(args("channel_shuffle", groups=2), [(116, 28, 28)]) == (116, 28, 28)
    assert broadcast_shape([(96, 56, 56), (96, 1, 1)]) == (96, 56, 56)
    mul = OPS["mul"]
    assert mul.ops(mul.make_args({}), [(96, 56, 56), (96, 1, 1)], (96, 56, 56)) == 301_056   # 96*56*56
    assert [x.index for x in mul.saved(mul.make_args({}), [(8, 2, 2), (8, 1, 1)], (8, 2, 2))] == [0, 1]


@pytest.mark.parametrize("layers, message", [
    ("  - {permute: {dims: [0, 0, 1]}}\n", "not an order of the 3 dimensions"),
    ("  - {chunk: {chunks: 4, index: 3}}\n", "chunk index 3 does not exist: 3 channels in 4 chunks make 3 pieces"),
    ("  - {channel_shuffle: {groups: 2}}\n", "channels divisible by groups=2, got 3"),
    ("  - {parallel: {merge: mul, branches: {a: [], b: [{conv: {out: 2, kernel: 1}}]}}}\n",
     "mul needs shapes that broadcast"),
])
def test_bad_shapes_are_config_errors(write_config, layers, message):
    from archstat.errors import ArchstatError

    with pytest.raises(ArchstatError, match=message):
        archstat.load(str(write_config("archstat: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n" + layers)))


torch = pytest.importorskip("torch")

# every op of this module, in one small net: built, verified, and its training memory against autograd
NET = """archstat: 1
name: t
input: [8, 6, 6]
layers:
  - {conv: {out: 16, kernel: 3, padding: 1}}
  - {layer_norm2d: {eps: 1.0e-6}}
  - {permute: {dims: [1, 2, 0]}}
  - layer_norm
  - {linear: {out: 32}}
  - gelu
  - {linear: {out: 16}}
  - {permute: {dims: [2, 0, 1]}}
  - parallel:
      merge: mul
      branches:
        x: []
        gate: [{adaptive_avgpool: {out: 1}}, {conv: {out: 4, kernel: 1}}, relu, {conv: {out: 16, kernel: 1}},
               hardsigmoid]
  - parallel:
      merge: concat
      branches:
        a: [{chunk: {chunks: 2, index: 0}}]
        b: [{chunk: {chunks: 2, index: 1}}, {conv: {out: 8, kernel: 1}}, {hardswish: {inplace: false}}, silu]
  - {channel_shuffle: {groups: 2}}
  - {adaptive_avgpool: {out: 1}}
  - flatten
  - {linear: {out: 10}}
"""


# a ConvNeXt block (channels-last layer norm and MLP, layer scale, drop path) and a drop path with p = 0
CONVNEXT_BLOCK = """archstat: 1
name: t
input: [8, 6, 6]
layers:
  - {conv: {out: 16, kernel: 3, padding: 1}}
  - residual:
      body: [{conv: {out: 16, kernel: 7, padding: 3, groups: 16}}, {permute: {dims: [1, 2, 0]}},
             {layer_norm: {eps: 1.0e-6}}, {linear: {out: 64}}, gelu, {linear: {out: 16}},
             {permute: {dims: [2, 0, 1]}}, layer_scale, {drop_path: {p: 0.1}}]
      shortcut: identity
  - residual: {body: [{conv: {out: 16, kernel: 1}}, {drop_path: {p: 0.0}}], shortcut: identity}
  - {adaptive_avgpool: {out: 1}}
  - flatten
  - {linear: {out: 10}}
"""


@pytest.mark.parametrize("net", [NET, CONVNEXT_BLOCK], ids=["gate-shuffle", "convnext-block"])
def test_built_module_matches_rows(write_config, net):
    from archstat.verify.crosscheck import PASS, verify_graph

    checks = verify_graph(archstat.load(str(write_config(net))))
    assert [c.check for c in checks if c.status != PASS] == []


@pytest.mark.parametrize("net", [NET, CONVNEXT_BLOCK], ids=["gate-shuffle", "convnext-block"])
def test_training_memory_equals_autograd(write_config, net):
    from tests.test_training import measured_saved_bytes

    path = str(write_config(net))
    torch.manual_seed(0)
    module = archstat.build(path).train()
    measured = measured_saved_bytes(module, torch.randn(2, 8, 6, 6))
    assert training_memory(archstat.load(path), batch=2).saved_bytes == measured


def test_drop_path_is_the_identity_at_inference_and_a_per_sample_mask_in_training():
    from archstat.builder.modules import DropPath

    torch.manual_seed(0)
    x = torch.ones(64, 2, 1, 1)
    dp = DropPath(0.5)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}           # dropped, or kept and scaled by 1/(1-0.5)
    assert bool((per_sample[:, 0] == per_sample[:, 1]).all())        # one draw per sample


def test_layer_scale_and_drop_path_counts():
    ls = OPS["layer_scale"]
    a = args("layer_scale")
    assert (ls.weights(a, [(96, 56, 56)]), ls.biases(a, [(96, 56, 56)])) == (96, 0)   # one scale per channel
    assert ls.weights(a, [(197, 768)]) == 768                                        # per feature of a token
    assert ls.ops(a, [(96, 56, 56)], (96, 56, 56)) == 301_056                        # 96*56*56 multiplies
    dp = OPS["drop_path"]
    assert dp.inplace(args("drop_path", p=0.1)) is True                              # the identity at inference
    assert dp.inplace_when(args("drop_path", p=0.1), training=True) is False         # a new output in training
    assert dp.saved(args("drop_path", p=0.1), [(96, 56, 56)], (96, 56, 56))[0].elements == 1   # the mask


def test_layer_norm2d_is_torchs_layer_norm_over_channels():
    from archstat.builder.modules import LayerNorm2d

    torch.manual_seed(0)
    x = torch.randn(2, 4, 3, 3)
    ln = LayerNorm2d(4)
    expected = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (4,)).permute(0, 3, 1, 2)
    assert torch.allclose(ln(x), expected)
    assert OPS["layer_norm2d"].args_of_module(ln) == {"eps": 1e-5, "affine": True}


def test_inplace_activation_saves_a_copy_of_its_input():
    # autograd keeps the original input of an in-place hardswish: a new tensor the size of the input
    op = OPS["hardswish"]
    assert op.saved(args("hardswish"), [(4, 2, 2)], (4, 2, 2))[0].elements == 16
    assert op.saved(args("hardswish", inplace=False), [(4, 2, 2)], (4, 2, 2))[0].what == "input"
