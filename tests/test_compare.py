"""archstat compare: totals, ratios, rows aligned by name, --set per model."""

import json

from archstat.analyze.compare import align
from archstat.analyze.stats import Row


def row(name):
    return Row(name=name, label="", op="conv", output_shape=(1,), activation_elements=0, activation_bytes=0,
               weights=0, biases=0, macs=0, ops=0)


def test_align_keeps_order_and_marks_unmatched():
    a = [row("input"), row("m.b1.c"), row("m.b3.c3"), row("m")]
    b = [row("input"), row("m.b1.c"), row("m.b3.reduce"), row("m.b3.c3"), row("m")]
    aligned = align([a, b])
    assert [x.name for x in aligned] == ["input", "m.b1.c", "m.b3.reduce", "m.b3.c3", "m"]
    assert aligned[2].rows[0] is None and aligned[2].rows[1].name == "m.b3.reduce"


def test_naive_vs_bottleneck_json(cli):
    r = cli("compare", "googlenet-naive", "googlenet-bottleneck", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    a, b = d["models"]
    assert (a["totals"]["macs"], b["totals"]["macs"]) == (854_196_224, 271_351_808)
    assert (a["output_shape"], b["output_shape"]) == ([1, 672, 28, 28], [1, 480, 28, 28])
    assert b["ratio_to_first"]["macs"] == 271_351_808 / 854_196_224
    assert a["receptive_field"]["size"] == b["receptive_field"]["size"] == [5, 5]
    names = [x["name"] for x in d["rows"]]
    assert names.index("inception.b3.reduce") < names.index("inception.b3.conv3x3")
    reduce = d["rows"][names.index("inception.b3.reduce")]["models"]
    assert reduce[0] is None and reduce[1]["macs"] == 12_845_056
    assert any(ref["published"].startswith("Total: 358M") and ref["status"] == "NOT REPRODUCED"
               for ref in b["references"])


def test_table_shows_both_totals_and_the_358m_line(cli):
    out = cli("compare", "googlenet-naive", "googlenet-bottleneck").stdout
    for text in ("854,196,224", "271,351,808", "672×28×28", "480×28×28", "358M", "NOT REPRODUCED", "—"):
        assert text in out


def test_set_for_one_model(cli):
    d = json.loads(cli("compare", "googlenet-bottleneck", "googlenet-bottleneck", "--set", "B:c3_reduce=128",
                       "--format", "json").stdout)
    assert [m["set"] for m in d["models"]] == [{}, {"c3_reduce": 128}]
    assert [m["totals"]["macs"] for m in d["models"]] == [271_351_808, 370_900_992]


def test_set_errors(cli):
    r = cli("compare", "vgg16", "vgg19", "--set", "Z:num_classes=10")
    assert r.exit_code == 2 and "'Z' is not one of the models" in r.stderr
    r = cli("compare", "vgg16", "vgg19", "--set", "width=2")
    assert r.exit_code == 2 and "no model here declares 'width'" in r.stderr
    r = cli("compare", "vgg16")
    assert r.exit_code == 2 and "at least two models" in r.stderr


def test_depth_compares_blocks(cli):
    d = json.loads(cli("compare", "googlenet", "googlenet-torchvision", "--depth", "1", "--format", "json").stdout)
    names = [x["name"] for x in d["rows"]]
    assert "inception3a" in names and "inception3a.b1.conv1x1.conv" not in names
    i3a = d["rows"][names.index("inception3a")]["models"]
    assert i3a[0]["output_shape"] == i3a[1]["output_shape"] == [1, 256, 28, 28]


def test_csv_and_markdown(cli):
    csv_out = cli("compare", "conv7x7", "conv3x3-stack", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "name,A_output_shape,A_params,A_macs,B_output_shape,B_params,B_macs"
    assert csv_out[-1] == "TOTAL,64x56x56,200704,629407744,64x56x56,110592,346816512"
    md = cli("compare", "conv7x7", "conv3x3-stack", "--format", "markdown").stdout
    assert "| receptive field | 7 | 7 |" in md
