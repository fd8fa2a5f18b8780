"""The command line through typer's runner: exit codes, stdout/stderr separation, parseable output."""

import csv
import io
import json

import pytest


def test_table_json_has_totals_and_22_rows(cli):
    r = cli("table", "vgg16", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert len(d["layers"]) == 22
    assert d["totals"] == {"params": 138_357_544, "weights": 138_344_128, "biases": 13_416,
                           "macs": 15_470_264_320, "ops": d["totals"]["ops"],
                           "activation_elements": 15_237_608, "activation_bytes": 60_950_432, "complete": True}
    for key in ("model", "input", "batch", "units", "layers", "totals", "references"):
        assert key in d
    layer = d["layers"][1]
    for key in ("name", "label", "op", "output_shape", "activation_elements", "activation_bytes",
                "weights", "biases", "params", "macs"):
        assert key in layer
    assert layer["output_shape"] == [1, 64, 224, 224]
    refs = {x["figure"]: x for x in d["references"]}
    assert refs["params"]["status"] == "REPRODUCED"
    assert refs["memory"]["status"] == "NOT REPRODUCED"
    assert set(refs["memory"]) >= {"figure", "published", "computed", "status", "note", "source"}
    assert r.stderr == ""


def test_table_shows_slide_labels_and_reference_lines(cli):
    r = cli("table", "vgg16")
    assert r.exit_code == 0
    for text in ("CONV3-64", "POOL2", "FC-4096", "INPUT", "(3×3×3)×64 = 1,728", "138,357,544",
                 "60.95 MB (58.13 MiB)", "TOTAL params: 138M parameters", "NOT REPRODUCED",
                 "multiply-accumulates"):
        assert text in r.stdout, text


def test_units_flops_doubles_and_labels(cli):
    d = json.loads(cli("table", "vgg16", "--format", "json", "--units", "flops").stdout)
    assert d["units"] == "flops"
    assert d["totals"]["flops"] == 2 * 15_470_264_320
    assert d["totals"]["macs"] == 15_470_264_320
    assert "FLOPs" in cli("table", "vgg16", "--units", "flops").stdout


def test_csv_and_markdown(cli):
    rows = list(csv.reader(io.StringIO(cli("table", "vgg16", "--format", "csv").stdout)))
    assert rows[0][:3] == ["name", "label", "op"]
    assert len(rows) == 1 + 22 + 1  # header, rows, TOTAL
    assert rows[-1][0] == "TOTAL" and rows[-1][8] == "138357544"
    md = cli("table", "vgg16", "--format", "markdown").stdout
    assert md.count("\n| conv") == 13 and "REPRODUCED" in md


def test_depth_collapses_blocks(cli, write_config):
    path = write_config("""
archstat: 1
name: two-stages
input: [3, 32, 32]
blocks:
  stage:
    params: {out: int}
    layers: [{conv: {out: $out, kernel: 3, padding: 1}}, relu, {conv: {out: $out, kernel: 3, padding: 1}}]
layers:
  - {stage: {out: 8}, id: s1}
  - {stage: {out: 16}, id: s2}
""")
    full = json.loads(cli("table", str(path), "--format", "json").stdout)
    collapsed = json.loads(cli("table", str(path), "--format", "json", "--depth", "1").stdout)
    assert [x["name"] for x in full["layers"]] == ["input", "s1.conv1", "s1.conv2", "s2.conv1", "s2.conv2"]
    assert [x["name"] for x in collapsed["layers"]] == ["input", "s1", "s2"]
    s1 = collapsed["layers"][1]
    # s1: conv 3→8 (3*3*3*8 = 216 weights) + conv 8→8 (3*3*8*8 = 576)
    assert s1["weights"] == 216 + 576
    assert s1["output_shape"] == [1, 8, 32, 32]
    assert collapsed["totals"] == full["totals"]


def test_list_and_info(cli):
    r = cli("list", "vgg*")
    assert r.exit_code == 0 and "vgg16" in r.stdout and "vgg19" in r.stdout
    d = json.loads(cli("list", "--format", "json").stdout)
    assert {"vgg11", "vgg13", "vgg16", "vgg19"} <= {m["name"] for m in d}
    info = json.loads(cli("info", "vgg16", "--format", "json").stdout)
    assert info["params"] == [{"name": "num_classes", "type": "int", "default": 1000, "doc": ""}]
    assert info["ops"]["conv"] == 13
    assert "num_classes: int = 1000" in cli("info", "vgg16").stdout


@pytest.mark.parametrize("args, message", [
    (["table", "vgg-16"], "error: unknown model 'vgg-16' (did you mean 'vgg16'?)"),
    (["table", "vgg16", "--format", "jsn"], "error: --format: unknown value 'jsn' (did you mean 'json'?)"),
    (["table", "vgg16", "--set", "num_clases=10"],
     "error: --set num_clases: unknown param 'num_clases' (did you mean 'num_classes'?)"),
    (["table", "vgg16", "--set", "num_classes=ten"], "error: --set num_classes: expected int, got 'ten'"),
    (["table", "vgg16", "--set", "num_classes"],
     "error: --set 'num_classes': expected NAME=VALUE, e.g. --set num_classes=10"),
    (["table", "vgg16", "--input", "3x224"],
     "error: --input '3x224': expected 3 sizes (C×H×W) or 1 (a flat input), got 2"),
    (["table", "vgg16", "--batch", "0"], "error: --batch 0: must be between 1 and 1,000,000,000"),
    (["table", "vgg16", "--dtype", "float64"],
     "error: --dtype: unknown dtype 'float64' (did you mean 'float16'?)"),
    (["list", "nosuchnet*"], "error: no zoo model matches 'nosuchnet*' (see 'archstat list')"),
])
def test_usage_errors_are_one_line_on_stderr(cli, args, message):
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.strip() == message


def test_click_usage_error_is_one_line(cli):
    r = cli("table", "vgg16", "--bogus")
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: No such option: --bogus")


def test_debug_shows_the_traceback(cli):
    r = cli("--debug", "table", "vgg61")
    assert r.exit_code != 0
    assert r.exception is not None and "vgg61" in str(r.exception)


def test_input_override_skips_references(cli):
    d = json.loads(cli("table", "vgg16", "--input", "3x32x32", "--format", "json").stdout)
    assert d["references"] == [] and "not checked" in d["references_skipped"]
    # at 32×32 pool5 is 512×1×1, so FC6 has 512*4096 weights
    assert d["layers"][-3]["weights"] == 512 * 4096
