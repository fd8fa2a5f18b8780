"""Sweeps equal single runs; graph exports parse; plots produce real images with labelled axes."""

import json
import re
import struct

import pytest

import archstat
from archstat.analyze.sweep import expand_braces, parse_bytes

# -- sweep ------------------------------------------------------------------------------------

def test_brace_expansion_and_bytes():
    assert expand_braces("3x{128,224}x{128,224}") == ["3x128x128", "3x128x224", "3x224x128", "3x224x224"]
    assert parse_bytes("24GiB") == 24 * 2**30 and parse_bytes("16GB") == 16 * 10**9


def test_sweep_rows_equal_single_table_runs(cli):
    r = cli("sweep", "resnet18", "--batch", "1,8", "--input", "3x{128,224}x{128,224}", "--format", "json",
            "--fits", "1GiB", "--optimizer", "momentum")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert len(d["points"]) == 8 and d["dims"] == ["input", "batch"]
    for p in d["points"]:
        single = archstat.analyze("resnet18", input_shape=tuple(p["input"]), batch=p["batch"], mode="train",
                                  optimizer="momentum")
        assert (p["params"], p["macs"], p["activation_bytes"]) == (
            single.totals.params, single.totals.macs, single.totals.activation_bytes)
        assert p["training_bytes"] == single.training.total
        assert p["fits"] == (single.training.total <= 2**30)


def test_sweep_over_a_param(cli):
    d = json.loads(cli("sweep", "resnet20", "--set", "shortcut=pad,projection", "--format", "json").stdout)
    assert [p["set"] for p in d["points"]] == [{"shortcut": "pad"}, {"shortcut": "projection"}]
    assert d["points"][1]["params"] > d["points"][0]["params"]


@pytest.mark.parametrize("args, message", [
    (["--fits", "24G"], "error: --fits '24G': expected a size with a unit, e.g. 24GiB or 16GB"),
    (["--batch", "1,x"], "error: --batch '1,x': expected integers such as 1,8,32"),
    (["--set", "shortcut"], "error: --set 'shortcut': expected NAME=V1,V2,... e.g. --set width=1,2,4"),
])
def test_sweep_errors(cli, args, message):
    r = cli("sweep", "resnet20", *args)
    assert r.exit_code == 2 and r.stderr.strip() == message


# -- graph ------------------------------------------------------------------------------------

def test_mermaid_structure(cli):
    text = cli("graph", "googlenet-bottleneck").stdout
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    defined = set(re.findall(r"^\s*(n\d+)[\[(]", text, re.M))
    edges = re.findall(r"^\s*(n\d+) -- \"([^\"]+)\" --> (n\d+)$", text, re.M)
    assert edges and all(a in defined and b in defined for a, _, b in edges)
    assert sum(1 for line in lines if line.strip().startswith("subgraph")) == sum(
        1 for line in lines if line.strip() == "end") == 5     # inception and its 4 branches
    assert "concat" in text and "(( " not in text
    assert ("n0", "256×28×28", "n1") in edges                   # the shape on the edge
    # 4 branches join at the concat
    merge = re.search(r'(n\d+)\(\("inception: concat"\)\)', text)
    assert merge and sum(1 for _, _, b in edges if b == merge.group(1)) == 4


def test_dot_structure(cli):
    text = cli("graph", "resnet18", "--format", "dot").stdout
    assert text.startswith('digraph "resnet18" {') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    defined = set(re.findall(r"^\s*(n\d+) \[label=", text, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+) \[label=\"([^\"]+)\"\];$", text, re.M)
    assert all(a in defined and b in defined for a, b, _ in edges)
    assert "add" in text and "subgraph cluster_" in text


def test_graph_train_mode_draws_aux_heads(cli):
    eval_ = cli("graph", "googlenet").stdout
    train = cli("graph", "googlenet", "--mode", "train").stdout
    assert "aux1" not in eval_ and "aux1" in train


# -- plots ------------------------------------------------------------------------------------

matplotlib = pytest.importorskip("matplotlib")


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_layer_plot_png(cli, tmp_path):
    out = tmp_path / "vgg16.png"
    r = cli("plot", "vgg16", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    width, height = png_size(out)
    assert width > 800 and height > 600
    from archstat.report.plots import layers_figure

    fig = layers_figure(archstat.analyze("vgg16"))
    assert [ax.get_ylabel() for ax in fig.axes] == ["activation memory (MB)", "params (millions)", "MACs (billions)"]
    assert len(fig.axes[0].patches) >= 22


@pytest.mark.slow
def test_zoo_plot(cli, tmp_path):
    out = tmp_path / "zoo.png"
    assert cli("plot", "--zoo", "--out", str(out)).exit_code == 0
    assert png_size(out)[0] > 800
    from archstat.cli.list_cmd import zoo_rows
    from archstat.report.plots import zoo_figure

    entries = [r for r in zoo_rows(None) if r["top1_error"] is not None and r["dataset"] == "ImageNet"]
    fig = zoo_figure(entries)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "MACs per image (billions, log scale)"
    assert ax.get_ylabel() == "published top-1 error (%)"
    assert len(ax.texts) == len(entries)                    # one labelled bubble per model citing an error
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    overlapping = [(a.get_text(), b.get_text()) for i, a in enumerate(ax.texts) for j, b in enumerate(ax.texts)
                   if i < j and boxes[i].overlaps(boxes[j])]
    assert overlapping == []                                # no label drawn over another (3-12 GMACs is crowded)


def test_layers_plot_says_shaded_only_when_it_shades():
    import archstat
    from archstat.report.plots import layers_figure

    vgg = layers_figure(archstat.analyze("vgg16")).axes[-1]      # flat names: no blocks, nothing shaded
    assert vgg.get_xlabel() == "layer (in order)" and not [p for p in vgg.patches if p.get_alpha()]
    res = layers_figure(archstat.analyze("resnet18", depth=2)).axes[-1]
    assert res.get_xlabel() == "layer (in order; shaded: blocks)" and [p for p in res.patches if p.get_alpha()]


def test_sweep_plot(cli, tmp_path):
    out = tmp_path / "sweep.svg"
    r = cli("plot", "resnet18", "--sweep", "--batch", "1,8,32", "--fits", "4GiB", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert "training memory (GiB)" in out.read_text()


def test_golden_svg(cli, tmp_path, golden):
    out = tmp_path / "conv3x3-stack.svg"
    assert cli("plot", "conv3x3-stack", "--out", str(out)).exit_code == 0
    golden("conv3x3-stack.svg", out.read_text())


def test_plot_errors(cli, tmp_path):
    r = cli("plot", "vgg16", "--out", str(tmp_path / "x.jpg"))
    assert r.exit_code == 2 and "must end in .png or .svg" in r.stderr
    r = cli("plot")
    assert r.exit_code == 2 and r.stderr.strip() == "error: plot takes one model (or --zoo)"
