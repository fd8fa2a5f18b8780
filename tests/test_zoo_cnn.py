"""The efficient CNNs of the lecture since 2017 against their published figures (cited beside them).

torchvision's figures are the `num_params` and `_ops` (GFLOPS: multiply-adds) of each model's
IMAGENET1K_V1 weights metadata: archstat must agree exactly on params and to three decimals on MACs."""

import pytest

import archstat

# name: (params, GMACs as torchvision prints them) — torchvision.models, IMAGENET1K_V1 metadata
TORCHVISION_CNN = {
    "mobilenet_v2": (3_504_872, 0.301),
    "convnext_tiny": (28_589_128, 4.456),
    "efficientnet_b0": (5_288_548, 0.386),
    "mobilenet_v3_large": (5_483_032, 0.217),
    "shufflenet_v2_x1_0": (2_278_604, 0.145),
}


def test_torchvision_params_exact_and_macs_to_three_decimals():
    computed = {}
    for name in TORCHVISION_CNN:
        totals = archstat.analyze(name).totals
        computed[name] = (totals.params, round(totals.macs / 1e9, 3))
    assert computed == TORCHVISION_CNN


def test_mobilenet_v2_block_arithmetic():
    rows = {r.name: r for r in archstat.analyze("mobilenet_v2", fold=False).rows}
    # stage2's first block on 16×112×112, t = 6: expand 1x1 16→96, depthwise 3x3 stride 2, project 96→24
    assert rows["stage2.first.expand.conv"].macs == 112 * 112 * 96 * 16              # 19,267,584
    assert rows["stage2.first.depthwise.conv"].weights == 96 * 3 * 3                 # one 3x3 filter per channel
    assert rows["stage2.first.depthwise.conv"].macs == 56 * 56 * 96 * 9              # 2,709,504
    assert rows["stage2.first.project.conv"].macs == 56 * 56 * 24 * 96               # 7,225,344
    assert rows["stage2.rest.0"].op == "add"                                          # the second block has its shortcut


def test_convnext_block_arithmetic():
    rows = {r.name: r for r in archstat.analyze("convnext_tiny", fold=False).rows}
    b = "stage1.blocks.0.body."
    assert rows[b + "dwconv"].macs == 56 * 56 * 96 * 7 * 7                  # 14,751,744: depthwise 7x7
    assert rows[b + "pwconv1"].macs == 56 * 56 * 96 * 384                  # 115,605,504: linear over 3,136 positions
    assert rows[b + "pwconv1"].output_shape == (56, 56, 384)               # channels-last
    assert rows[b + "norm"].params == 2 * 96 and rows[b + "layer_scale"].params == 96
    assert rows["stem"].macs == 56 * 56 * 96 * 4 * 4 * 3                   # 14,450,688: the 4x4 stride-4 patchify stem
    # drop-path rates grow linearly over the 18 blocks: 0.1 * k / 17
    graph = archstat.load("convnext_tiny")
    assert graph["stage1.blocks.0.body.drop_path"].args.p == 0.0
    assert graph["stage4.blocks.2.body.drop_path"].args.p == pytest.approx(0.1)


def test_efficientnet_squeeze_excitation_arithmetic():
    rows = {r.name: r for r in archstat.analyze("efficientnet_b0", fold=False).rows}
    se = "stage3.first.se."
    # expanded 16*6 = 96 channels, squeezed to max(1, 16 // 4) = 4 (torchvision: the block's input // 4)
    assert rows[se + "excite.fc1"].params == 96 * 4 + 4 and rows[se + "excite.fc2"].params == 4 * 96 + 96
    assert rows[se + "excite.fc1"].macs == 96 * 4                          # on the pooled 96×1×1
    assert rows["stage3.first.se"].op == "mul" and rows["stage3.first.se"].output_shape == (96, 56, 56)
    assert rows["stage3.first.se"].ops == 96 * 56 * 56                     # one multiply per element of x


def test_mobilenet_v3_rows_follow_the_papers_table():
    rows = {r.name: r for r in archstat.analyze("mobilenet_v3_large", fold=False).rows}
    # bneck1: expansion width = input width, so no expand layer; identity shortcut
    assert "bneck1.body.expand.0.conv" not in rows and rows["bneck1"].op == "add"
    # bneck4: SE on 72 channels, squeeze _make_divisible(72 // 4 = 18, 8): 16 < 0.9*18, so 16 + 8 = 24
    assert rows["bneck4.body.se.0.excite.fc1"].output_shape == (24, 1, 1)
    assert rows["bneck4.body.se.0.excite.fc1"].params == 72 * 24 + 24
    assert "bneck4" not in rows or rows["bneck4"].op != "add"              # stride 2: no shortcut
    assert rows["bneck7.body.depthwise.conv"].macs == 14 * 14 * 240 * 3 * 3  # 423,360: 3x3 depthwise, stride 2


def test_shufflenet_split_and_shuffle():
    rows = {r.name: r for r in archstat.analyze("shufflenet_v2_x1_0", fold=False).rows}
    u = "stage3.units.0."
    assert rows[u + "concat.keep.split"].output_shape == (116, 14, 14)          # half of 232 passes untouched
    assert rows[u + "concat.keep.split"].activation_bytes == 0                  # a view
    assert rows[u + "concat.branch.pw1.conv"].macs == 14 * 14 * 116 * 116       # 2,637,376: 1x1 on the other half
    assert rows[u + "concat"].output_shape == (232, 14, 14)
    assert rows[u + "shuffle"].op == "channel_shuffle" and rows[u + "shuffle"].macs == 0
    # the downsampling unit: both branches read all 116 channels at stride 2 and give 116 each
    assert rows["stage3.down.concat.branch1.dw.conv"].macs == 14 * 14 * 116 * 9  # 204,624


def test_se_resnet50_gates():
    s = archstat.analyze("se_resnet50", fold=False)
    r50 = archstat.analyze("resnet50", params={"stride_in_1x1": True}).totals
    # each gate on C channels: fc1 C×C/16 + C/16 biases, fc2 C/16×C + C biases; stages of 3, 4, 6, 3 blocks
    def gate(c):
        return c * c // 16 + c // 16 + c // 16 * c + c
    added = 3 * gate(256) + 4 * gate(512) + 6 * gate(1024) + 3 * gate(2048)
    assert added == 2_530_992                                   # the paper's "~2.5 million additional parameters"
    assert s.totals.params == r50.params + added == 28_088_024  # 25,557,032 + 2,530,992
    fc_macs = sum(r.macs for r in s.rows if ".se." in r.name)
    assert fc_macs == 3 * 256 * 16 * 2 + 4 * 512 * 32 * 2 + 6 * 1024 * 64 * 2 + 3 * 2048 * 128 * 2 == 2_514_944
    assert s.totals.macs == r50.macs + fc_macs == 3_860_488_192
    # the gates' pooling adds and scaling multiplies, one per element of each gated map (the reference note)
    per_map = 3 * 256 * 56 * 56 + 4 * 512 * 28 * 28 + 6 * 1024 * 14 * 14 + 3 * 2048 * 7 * 7
    assert per_map == 5_519_360
    assert sum(r.ops for r in s.rows if r.op == "mul") == per_map
    assert sum(r.ops for r in s.rows if r.name.endswith("se.excite.avgpool")) == per_map
    # depth as the name counts it: 1 + 3*(3+4+6+3) + 1 = 50; the gates' 2 FCs per block are not on it
    assert s.layers == archstat.analyze("resnet50").layers == 50


def test_mobilenet_v1_depthwise_separable_arithmetic():
    s = archstat.analyze("mobilenet_v1", fold=False)
    rows = {r.name: r for r in s.rows}
    # sep4 on 128×56×56: depthwise 56*56*128*9 = 3,612,672; pointwise 56*56*128*128 = 51,380,224
    assert rows["sep4.dw.conv"].macs == 3_612_672 and rows["sep4.pw.conv"].macs == 51_380_224
    # a standard 3x3 conv 128 → 128 would cost 56*56*128*128*9 = 462,422,016: 8.4x more
    assert 8 < 56 * 56 * 128 * 128 * 9 / (3_612_672 + 51_380_224) < 9
    # Table 8: "569 million mult-adds", "4.2 million parameters"
    assert round(s.totals.macs / 1e6) == 569 and round(s.totals.params / 1e5) == 42


torch = pytest.importorskip("torch")


# Measured at 3×64×64, batch 2: mobilenet_v1, shufflenet_v2_x1_0, convnext_tiny, se_resnet50 equal to the
# byte; mobilenet_v2, mobilenet_v3_large, efficientnet_b0 within 0.11 % (dropout before the classifier: on
# the CPU torch keeps a float mask, archstat counts CUDA's bool mask).
@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "shufflenet_v2_x1_0",
                                  "efficientnet_b0", "convnext_tiny", "se_resnet50"])
def test_training_memory_against_autograd(name):
    from archstat.analyze.training import training_memory
    from tests.test_training import measured_saved_bytes

    shape = (3, 64, 64)
    torch.manual_seed(0)
    module = archstat.build(name, input_shape=shape).train()
    measured = measured_saved_bytes(module, torch.randn(2, *shape))
    estimate = training_memory(archstat.load(name, input_shape=shape), batch=2).saved_bytes
    assert estimate == pytest.approx(measured, rel=0.002)
