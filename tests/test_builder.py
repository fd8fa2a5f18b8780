"""The torch builder: names equal the Graph's, shapes and params equal the analysis, aux heads
and modes behave, the meta device allocates nothing, and small configs run for real on the CPU."""

import pytest

import archstat

torch = pytest.importorskip("torch")

SMALL = ["conv7x7", "conv3x3-stack", "googlenet-naive", "googlenet-bottleneck", "googlenet-inception3b"]


def test_named_modules_equal_the_graph_names():
    module = archstat.build("googlenet-bottleneck", device="meta")
    names = {n for n, _ in module.named_modules()}
    graph = archstat.load("googlenet-bottleneck")
    assert {n.name for n in graph.nodes if n.op != "input"} <= names


def test_meta_device_allocates_nothing():
    module = archstat.build("vgg16", device="meta")
    assert all(p.device.type == "meta" for p in module.parameters())
    assert sum(p.numel() for p in module.parameters()) == 138_357_544


def test_params_keyword_and_dict():
    a = archstat.build("googlenet-bottleneck", c3_reduce=128, device="meta")
    b = archstat.build("googlenet-bottleneck", {"c3_reduce": 128}, device="meta")
    # reduce conv 256→128 (+bias) and the 3x3 conv reading 128 channels
    assert a.get_submodule("inception.b3.reduce").out_channels == 128
    assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())


@pytest.mark.parametrize("name", SMALL)
def test_real_forward_on_cpu(name):
    stats = archstat.analyze(name)
    module = archstat.build(name).eval()
    with torch.no_grad():
        out = module(torch.randn(1, *stats.input_shape))
    assert tuple(out.shape[1:]) == stats.output_shape


def test_aux_heads_run_in_training_only():
    module = archstat.build("googlenet", device="meta")
    x = torch.empty(2, 3, 224, 224, device="meta")
    outs = module.train()(x)
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(2, 1000)] * 3
    assert tuple(module.eval()(x).shape) == (2, 1000)


def test_residual_and_repeat_build(write_config):
    path = write_config("""
archstat: 1
name: res
input: [8, 16, 16]
blocks:
  unit:
    params: {out: int, stride: 1}
    residual:
      body: [{conv: {out: $out, kernel: 3, stride: $stride, padding: 1}}, bn, relu,
             {conv: {out: $out, kernel: 3, padding: 1}}, bn]
layers:
  - {unit: {out: 16}, repeat: {n: 2, first: {stride: 2}}, id: stage}
  - {adaptive_avgpool: {out: 1}}
  - flatten
  - {linear: {out: 4}}
""")
    stats = archstat.analyze(str(path))
    module = archstat.build(str(path)).eval()
    names = {n for n, _ in module.named_modules()}
    assert {"stage.0", "stage.0.body.conv1", "stage.0.shortcut.conv", "stage.1.body.bn2"} <= names
    assert "stage.1.shortcut.conv" not in names            # identity: shapes match
    with torch.no_grad():
        assert tuple(module(torch.randn(2, 8, 16, 16)).shape) == (2, 4)
    assert sum(p.numel() for p in module.parameters()) == stats.totals.params


def test_inplace_relu_on_a_shared_tensor_is_built_out_of_place(write_config):
    path = write_config("""
archstat: 1
name: shared
input: [4, 8, 8]
layers:
  - {conv: {out: 4, kernel: 1}}
  - parallel:
      merge: add
      branches:
        a: [relu]
        b: []
""")
    module = archstat.build(str(path)).eval()
    assert module.get_submodule("parallel1.a.relu1").inplace is False
    x = torch.randn(1, 4, 8, 8)
    conv = module.get_submodule("conv1")
    with torch.no_grad():
        y = conv(x)
        assert torch.allclose(module(x), torch.relu(y) + y)
