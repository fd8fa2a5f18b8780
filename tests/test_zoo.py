"""Every zoo config against the figure its source publishes (cited beside it), or hand arithmetic.

torchvision's figures are the `num_params` and `_ops` (GFLOPS, i.e. multiply-adds) of its
IMAGENET1K_V1 weights metadata; for these layouts archstat must agree exactly on params and to
torchvision's 3 decimals on MACs."""

import json

import pytest

import archstat
from archstat.zoo import module_names, zoo_names

# name: (params, GMACs as torchvision prints them) — torchvision.models, IMAGENET1K_V1 metadata
TORCHVISION = {
    "alexnet": (61_100_840, 0.714), "vgg11": (132_863_336, 7.609), "vgg13": (133_047_848, 11.308),
    "vgg16": (138_357_544, 15.470), "vgg19": (143_667_240, 19.632), "googlenet-torchvision": (6_624_904, 1.498),
    "resnet18": (11_689_512, 1.814), "resnet34": (21_797_672, 3.664), "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801), "resnet152": (60_192_808, 11.514),
    "wide_resnet50_2": (68_883_240, 11.398), "wide_resnet101_2": (126_886_696, 22.753),
    "resnext50_32x4d": (25_028_904, 4.230), "resnext101_32x8d": (88_791_336, 16.414),
    "densenet121": (7_978_856, 2.834), "densenet169": (14_149_480, 3.360), "densenet201": (20_013_928, 4.291),
    "densenet161": (28_681_000, 7.728), "squeezenet1_0": (1_248_424, 0.819), "squeezenet1_1": (1_235_496, 0.349),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_layouts(name):
    params, gmacs = TORCHVISION[name]
    t = archstat.analyze(name).totals
    assert t.params == params
    assert round(t.macs / 1e9, 3) == gmacs


@pytest.mark.slow
def test_every_config_cites_a_source_and_reproduces_its_figures_or_says_why():
    for name in zoo_names():
        spec = archstat.load_spec(name)
        assert spec.description and spec.source, name
        for check in archstat.analyze(name).references:
            if check.status == "NOT REPRODUCED":
                assert check.note, f"{name}: {check.figure} is not reproduced and says nothing of why"


def test_alexnet_original():
    s = archstat.analyze("alexnet-original")
    # conv1 34,944; conv2 (5*5*48)*256+256 = 307,456; conv3 (3*3*256)*384+384 = 885,120;
    # conv4 (3*3*192)*384+384 = 663,936; conv5 (3*3*192)*256+256 = 442,624;
    # fc6 9216*4096+4096; fc7 4096*4096+4096; fc8 4096*1000+1000
    assert s.totals.params == (34_944 + 307_456 + 885_120 + 663_936 + 442_624
                               + 37_752_832 + 16_781_312 + 4_097_000) == 60_965_224   # "60 million"
    rows = {r.name: r for r in s.rows}
    assert rows["conv1"].output_shape == (96, 55, 55) and rows["conv1"].weights == 34_848  # "35K"


def test_lenet5_sixty_thousand_params():
    rows = {r.name: r for r in archstat.analyze("lenet5").rows}
    assert rows["c1"].params == 5 * 5 * 6 + 6 == 156
    assert rows["s2"].params == 12                       # a coefficient and a bias per map
    assert rows["c3"].params == 60 * 25 + 16 == 1_516    # Table I: 60 connections of 5x5
    assert rows["s4"].params == 32
    assert rows["c5"].params == 16 * 25 * 120 + 120 == 48_120
    assert rows["f6"].params == 120 * 84 + 84 == 10_164
    assert rows["output"].params == 0                    # fixed RBF prototypes
    assert archstat.analyze("lenet5").totals.params == 60_000
    assert archstat.analyze("lenet5-modern").totals.params == 156 + 2_416 + 48_120 + 10_164 + 850


def cifar_resnet_params(n: int, pad: bool = True) -> int:
    """He et al. 2015 §4.2 by hand: conv 3x3x3x16 + bn, 3 stages of n basic blocks, fc 64→10."""
    total = 3 * 9 * 16 + 2 * 16
    c_in = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += c_in * width * 9 + 2 * width + width * width * 9 + 2 * width
            if not pad and c_in != width:
                total += c_in * width + 2 * width    # projection shortcut + bn
            c_in = width
    return total + 64 * 10 + 10


@pytest.mark.parametrize("depth, published", [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6), (56, 0.85e6),
                                              (110, 1.7e6), (1202, 19.4e6)])
def test_cifar_resnets(depth, published):
    s = archstat.analyze(f"resnet{depth}")
    n = (depth - 2) // 6
    assert s.totals.params == cifar_resnet_params(n)
    assert s.layers == depth
    checks = {c.figure: c for c in s.references}
    assert checks["params"].status == "REPRODUCED" and float(checks["params"].value) == published  # Table 6


def test_projection_shortcuts_and_plain_nets():
    assert archstat.analyze("resnet20", {"shortcut": "projection"}).totals.params == cifar_resnet_params(3, pad=False)
    plain = archstat.analyze("plain20")
    assert plain.totals.params == cifar_resnet_params(3)     # option A shortcuts have no params
    assert not any(r.op == "add" for r in plain.rows)


def test_resnet_paper_layout():
    # He et al. 2015, Table 1: 11.3x10^9 FLOPs (multiply-adds) with the stride on the first 1x1
    paper = archstat.analyze("resnet152", {"stride_in_1x1": True}).totals.macs
    assert paper == 11_282_415_616 and round(paper / 1e9, 1) == 11.3
    assert archstat.analyze("resnet101", {"stride_in_1x1": True}).totals.macs == 7_570_194_432   # "7.6"
    assert archstat.analyze("resnet152", {"stride_in_1x1": True}).totals.params == 60_192_808


def test_stochastic_depth_expected_cost():
    eval_ = archstat.analyze("resnet110-stochastic-depth")
    assert eval_.totals.macs == archstat.analyze("resnet110").totals.macs   # test time: the full net
    train = archstat.analyze("resnet110-stochastic-depth", mode="train")
    # p_l = 1 - l/54 * 0.5: the expected number of blocks is sum p_l = 54 - 0.5 * 55/2 = 40.25
    assert train.expected["layers"] == pytest.approx(2 + 2 * 40.25)
    body = [r for r in archstat.analyze("resnet110", fold=False).rows if ".body." in r.name]
    stem_and_fc = eval_.totals.macs - sum(r.macs for r in body)
    assert train.expected["macs"] < eval_.totals.macs and train.expected["macs"] > stem_and_fc


def test_preact_and_wide():
    assert archstat.analyze("preact-resnet164").totals.params == 1_703_258    # "1.7M"
    s = archstat.analyze("preact-resnet1001")
    checks = {c.figure: c.status for c in s.references}
    assert checks == {"params": "NOT REPRODUCED", "params_without_bn": "REPRODUCED", "layers": "REPRODUCED",
                      "top1_error": "PUBLISHED"}                              # "10.2M" counts no batch norm
    assert s.totals.params - s.bn_params == 10_178_490
    assert archstat.analyze("wrn-28-10").totals.params == 36_479_194          # "36.5M"


def test_densenet_bc_and_nin_and_fractal():
    assert archstat.analyze("densenet-bc-100-12").totals.params == 769_162     # "0.8M"
    # NiN by hand: conv 5x5 3→192, 1x1 192→160, 1x1 160→96; conv 5x5 96→192, 1x1 ×2 192→192;
    # conv 3x3 192→192, 1x1 192→192, 1x1 192→10 (weights + biases)
    nin = (5 * 5 * 3 * 192 + 192) + (192 * 160 + 160) + (160 * 96 + 96) + (5 * 5 * 96 * 192 + 192) \
        + 2 * (192 * 192 + 192) + (3 * 3 * 192 * 192 + 192) + (192 * 192 + 192) + (192 * 10 + 10)
    assert archstat.analyze("nin").totals.params == nin == 966_986
    fractal = archstat.analyze("fractalnet")
    assert fractal.conv_layers == 40 and fractal.layers == 41            # 5 blocks × 8, + the classifier
    # each block: 15 convs (1 + 2 + 4 + 8 columns)
    assert sum(1 for r in archstat.analyze("fractalnet", fold=False).rows if r.op == "conv") == 75


def test_squeezenet_50x_fewer_than_alexnet():
    checks = {c.figure: c for c in archstat.analyze("squeezenet1_0").references}
    assert float(checks["fewer_than_alexnet"].computed) == pytest.approx(60_965_224 / 1_248_424)
    assert checks["fewer_than_alexnet"].status == "REPRODUCED"   # 48.8, "50x" has one significant digit


def test_reproduce_json_lists_every_claim(cli):
    r = cli("reproduce", "--format", "json")
    assert r.exit_code == 0, r.stderr
    claims = {c["id"]: c for c in json.loads(r.stdout)["claims"]}
    assert {"alexnet-conv1-output", "alexnet-conv1-params", "vgg16-params", "vgg16-memory",
            "three-3x3-receptive-field", "three-3x3-fewer-params", "inception-naive-ops",
            "inception-bottleneck-ops", "googlenet-layers", "googlenet-params", "googlenet-vs-alexnet",
            "resnet-layers", "squeezenet-vs-alexnet"} <= set(claims)
    assert claims["alexnet-conv1-output"]["computed"] == [96, 55, 55]
    assert claims["vgg16-memory"]["status"] == "NOT REPRODUCED" and claims["vgg16-memory"]["computed"] == 15_237_608
    assert claims["inception-bottleneck-ops"]["status"] == "NOT REPRODUCED"
    assert claims["googlenet-vs-alexnet"]["computed"] == pytest.approx(60_965_224 / 6_998_552, rel=1e-6)
    assert claims["resnet-layers"]["status"] == "REPRODUCED"
    assert all(c["computed"] is not None for c in claims.values())


def test_reproduce_bad_file(cli, tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("archstat: 1\nname: x\nclaims:\n  - {id: a, claim: c, published: p, value: 1,\n"
                   "     compute: {model: vgg16, metric: parms}}\n")
    r = cli("reproduce", str(bad))
    assert r.exit_code == 2
    assert r.stderr.strip() == (f"error: {bad}:5:38: claims[0].compute.metric: unknown metric 'parms' "
                                "(did you mean 'params'?)")


@pytest.mark.slow
def test_list_sorts_and_shows_errors(cli):
    d = json.loads(cli("list", "--format", "json", "--sort", "params").stdout)
    assert [m["params"] for m in d] == sorted(m["params"] for m in d)
    by_name = {m["name"]: m for m in d}
    assert by_name["resnet50"]["top1_error"] == 23.87             # 100 - acc@1 76.130
    assert by_name["googlenet-naive"]["top1_error"] is None
    assert len(d) == len(zoo_names()) + len(module_names())
    assert {m["name"] for m in d if m["kind"] == "module"} == set(module_names())
