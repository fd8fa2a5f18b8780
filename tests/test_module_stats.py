"""Any nn.Module, traced: the same ModelStats as the YAML path for a built config; functional ops
and their parameters counted; shared weights count once."""

import json
import subprocess
import sys

import pytest

import archstat
from tests.conftest import ROOT

torch = pytest.importorskip("torch")
from archstat.trace.analyze import analyze_module  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "user_net.py"


def key(r):
    return (r.name, r.label, r.output_shape, r.weights, r.biases, r.macs, r.ops, r.activation_elements, r.folded)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "googlenet", "googlenet-torchvision", "alexnet-original", "resnet20",
                                  "preact-resnet164"])
def test_built_module_table_equals_the_config_table(name):
    from_config = archstat.analyze(name)
    from_module = archstat.analyze(archstat.build(name, device="meta"), input_shape=from_config.input_shape)
    assert [key(r) for r in from_module.rows] == [key(r) for r in from_config.rows]
    assert from_module.totals == from_config.totals
    assert from_module.aux_params == from_config.aux_params


def test_lenet5_module_rows_equal_the_config_rows_but_labels():
    # lenet5's config names its rows as the paper does (C1, S2...); a module has no labels to give
    from_config = archstat.analyze("lenet5")
    from_module = archstat.analyze(archstat.build("lenet5", device="meta"), input_shape=(1, 32, 32))
    assert [key(r)[:1] + key(r)[2:] for r in from_module.rows] == [key(r)[:1] + key(r)[2:] for r in from_config.rows]
    assert from_module.totals == from_config.totals


def test_functional_op_is_counted_with_its_parameter():
    from tests.fixtures.user_net import TinyNet

    stats = analyze_module(TinyNet(), (3, 32, 32))
    rows = {r.name: r for r in stats.rows}
    assert rows["conv"].macs == 32 * 32 * 8 * 27
    assert rows["head"].macs == 8 * 16 * 16 * 10
    conv = rows["convolution1"]                                 # F.conv2d in TinyNet.forward
    assert conv.op == "convolution" and conv.output_shape == (8, 16, 16)
    assert conv.macs == 16 * 16 * 8 * 8 and conv.weights == 64    # 16×16 positions × 8 × 8; the 8×8×1×1 Parameter
    assert stats.not_counted == [] and stats.totals.complete
    assert stats.totals.params == sum(p.numel() for p in TinyNet().parameters())
    assert stats.totals.macs == 32 * 32 * 8 * 27 + 16 * 16 * 8 * 8 + 8 * 16 * 16 * 10


def test_tied_weights_count_once():
    from tests.fixtures.user_net import Tied

    stats = analyze_module(Tied(), (16,))
    assert stats.totals.params == 16 * 16 + 16
    assert stats.totals.macs == 2 * 16 * 16                     # both calls cost
    assert [r.name for r in stats.rows] == ["input", "fc", "fc#2"]


def test_real_module_is_not_touched():
    from tests.fixtures.user_net import TinyNet

    net = TinyNet()
    before = net.conv.weight.clone()
    analyze_module(net, (3, 32, 32))
    assert net.conv.weight.device.type == "cpu" and torch.equal(net.conv.weight, before)


def test_cli_module_from_a_file_json(cli):
    r = cli("table", f"module:{FIXTURE}:make", "--input", "3x32x32", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["not_counted"] == [] and d["totals"]["complete"] is True
    assert d["source"] == "module"
    assert d["totals"]["params"] == 8 * 27 + 8 + 64 + 2048 * 10 + 10


def test_cli_module_table_shows_the_functional_conv(cli):
    r = cli("table", f"module:{FIXTURE}:make", "--input", "3x32x32")
    assert r.exit_code == 0 and "aten.convolution" in r.stdout and "not counted" not in r.stdout


@pytest.mark.slow
def test_cli_factory_from_an_installed_package(tmp_path):
    pkg = tmp_path / "site" / "mynets"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from torch import nn\n"
        "def small(num_classes=5):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, num_classes))\n")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    import os

    r = subprocess.run([sys.executable, "-m", "archstat", "table", "module:mynets:small", "--input", "3x8x8",
                        "--format", "json"], capture_output=True, text=True, env={**os.environ, **env}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["totals"]["params"] == 4 * 27 + 4 + 144 * 5 + 5
    assert d["totals"]["macs"] == 6 * 6 * 4 * 27 + 144 * 5
    # nn.ReLU() without inplace allocates its output: a row; Flatten is a view and folds
    assert [x["name"] for x in d["layers"]] == ["input", "0", "1", "3"]


@pytest.mark.parametrize("target, message", [
    ("module:nope_pkg:f", "error: 'module:nope_pkg:f': cannot import nope_pkg: No module named 'nope_pkg'"),
    (f"module:{FIXTURE}:mak", f"error: 'module:{FIXTURE}:mak': {FIXTURE} has no attribute 'mak' (did you mean 'make'?)"),
    ("module:justone", "error: 'module:justone': expected module:PACKAGE.MODULE:FACTORY or module:FILE.py:FACTORY, "
     "optionally FACTORY('literal', n=1)"),
])
def test_cli_module_errors(cli, target, message):
    r = cli("table", target, "--input", "3x32x32")
    assert r.exit_code == 2 and r.stderr.strip() == message


def test_cli_module_needs_input(cli):
    r = cli("table", f"module:{FIXTURE}:make")
    assert r.exit_code == 2 and "give --input" in r.stderr
