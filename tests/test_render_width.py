"""Every terminal table fits the width it is given, and no number is ever cut.

At COLUMNS=80/100/120/160 for table, compare, list, sweep and reproduce: no line wider than the
width, no '…', every VGG16 row with its label, and every number printed parses back to a value
archstat computed, exactly or correctly rounded (a number cut short would parse to another one)."""

import re

import pytest

import archstat
from archstat.report.fit import Col, View, render
from archstat.report.units import fmt_compact

WIDTHS = (80, 100, 120, 160)
COMMANDS = {
    "table vgg16": ["table", "vgg16"],
    "table resnet152 --depth 1": ["table", "resnet152", "--depth", "1"],
    "compare": ["compare", "googlenet-naive", "googlenet-bottleneck"],
    "list": ["list"],
    "sweep": ["sweep", "resnet50", "--batch", "1,8", "--input", "3x{128,224}", "--fits", "24GiB"],
    "reproduce": ["reproduce"],
    "info": ["info", "vgg16"],
    "table --mode train": ["table", "googlenet", "--mode", "train"],
    "roofline": ["roofline", "resnet50", "--device", "h100", "--dtype", "bf16", "--batch", "64"],
    "compare --device": ["compare", "resnet50", "efficientnet_b0", "--device", "h100"],
}
ZOO_WIDE = {"list", "reproduce"}   # each analyses the whole zoo: slow


@pytest.fixture
def run(cli):
    """A command's output at a terminal ``width`` columns wide; the command must succeed."""

    def run(args, width):
        r = cli(*args, env={"COLUMNS": str(width)})
        assert r.exit_code == 0, r.output
        return r.stdout

    return run


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in ZOO_WIDE else name
                                  for name in COMMANDS])
def test_every_line_fits_and_nothing_is_cut(run, name, width):
    out = run(COMMANDS[name], width)
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert too_wide == []
    assert "…" not in out and "..." not in out


# a number as printed: exact with separators (1,849,688,064) or rounded with an SI prefix (1.85 G, 12.8 MB)
NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?: ([KMGTP])?(B)?)?(?![\w.])")
SCALE = {None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


def parses_back(token: re.Match, known: set[int]) -> bool:
    """The printed number equals a known value, or is that value rounded at the printed digits."""
    text, prefix = token.group(1), token.group(2)
    value = float(text.replace(",", ""))
    decimals = len(text.split(".")[1]) if "." in text else 0
    scale = SCALE[prefix]
    half = 0.5 * 10**-decimals * scale if (prefix or decimals) else 0
    return any(abs(k - value * scale) <= half * (1 + 1e-9) for k in known)


def row_known(row) -> set[int]:
    known = {row.activation_elements, row.activation_bytes, row.weights, row.biases, row.params, row.macs}
    known |= set(row.output_shape)
    if row.rf is not None:
        known |= set(row.rf.size)
    return known


def check_rows(out: str, stats, width: int):
    """Each row's line: every number in it (after its name and label) is one of the row's values."""
    lines = out.splitlines()
    for row in stats.rows:
        line = next(x for x in lines if x.startswith(row.name + " ") and row.label in x)
        rest = line[len(row.name):].replace(row.label, " ", 1)
        if row.formula:
            rest = rest.replace(row.formula + " = ", "")
        for token in NUMBER.finditer(rest):
            assert parses_back(token, row_known(row)), (width, row.name, token.group(0), line)


@pytest.mark.parametrize("width", WIDTHS)
def test_vgg16_all_22_rows_and_labels_with_whole_numbers(run, width):
    out = run(["table", "vgg16"], width)
    stats = archstat.analyze("vgg16")
    # the cs231n Lecture 9 VGG16 table: INPUT, 13 CONV3, 5 POOL2, 3 FC = 22 rows
    labels = [r.label for r in stats.rows]
    assert len(labels) == 22 and labels.count("POOL2") == 5 and labels[-3:] == ["FC-4096", "FC-4096", "FC-1000"]
    check_rows(out, stats, width)
    total = next(x for x in out.splitlines() if x.startswith("TOTAL"))
    t = stats.totals
    known = {t.activation_elements, t.activation_bytes, t.weights, t.biases, t.params, t.macs, 1000, 212}
    assert all(parses_back(m, known) for m in NUMBER.finditer(total)), total
    assert total.split()[-1] == "212"            # the last finite receptive field (pool5), not 404 (global)


@pytest.mark.parametrize("width", WIDTHS)
def test_resnet152_blocks_whole_numbers(run, width):
    check_rows(run(["table", "resnet152", "--depth", "1"], width), archstat.analyze("resnet152", depth=1), width)


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_list_numbers_whole(run, width):
    out = run(["list"], width)
    for name in ("vgg16", "resnet18", "densenet121"):
        t = archstat.analyze(name).totals
        line = next(x for x in out.splitlines() if x.startswith(name + " "))
        known = {t.params, t.macs, t.activation_bytes, *archstat.load_spec(name).input}
        numbers = line[len(name):line.index("%")].rsplit(" ", 1)[0]   # up to the published error
        assert all(parses_back(m, known) for m in NUMBER.finditer(numbers)), line
        assert "ImageNet" in line


def test_narrow_table_names_what_it_dropped_and_columns_brings_it_back(run, cli):
    out = run(["table", "vgg16"], 80)
    assert "not shown at 80 columns: Biases, Weights." in out and "--wide shows every column" in out
    back = run(["table", "vgg16", "--columns", "layer,label,weights,biases"], 80)
    assert "(3×3×64)×64 = 36,864" in back and "Biases" in back
    wide = run(["table", "vgg16", "--wide"], 80)
    assert "1,849,688,064" in wide and "(3×3×512)×512 = 2,359,296" in wide
    r = cli("table", "vgg16", "--columns", "layer,flopz")
    assert r.exit_code == 2 and "unknown column 'flopz'" in r.stderr


def test_piped_without_columns_uses_the_documented_width(monkeypatch):
    from archstat.cli import output

    monkeypatch.delenv("COLUMNS", raising=False)
    assert output.width() == output.PIPE_WIDTH == 160   # CliRunner's streams are not terminals
    monkeypatch.setenv("COLUMNS", "93")
    assert output.width() == 93


def test_fit_steps_exact_then_compact_then_drops():
    # 1,849,688,064 needs 13 columns; at 3 significant digits 1.85 G (1,849,688,064 / 10^9 = 1.8497)
    col = Col("macs", "MACs", [["1,849,688,064"], [fmt_compact(1_849_688_064)]], right=True)
    name = Col("layer", "Layer", [["conv1_2"]], keep=100)
    extra = Col("note", "Note", [["x" * 30]], keep=10)
    assert render([name, col], View(80)).text().splitlines()[2] == "conv1_2  1,849,688,064"
    assert render([name, col], View(20)).text().splitlines()[2] == "conv1_2  1.85 G"
    narrow = render([name, col, extra], View(40)).text()
    assert "x" * 30 not in narrow and "not shown at 40 columns: Note." in narrow


def test_summary_prints_small_numbers_once_and_input_row_blank(run, write_config):
    # linear 100 → 8: 100·8 = 800 weights + 8 biases = 808 params, 800 MACs
    path = write_config("archstat: 1\nname: tiny\ninput: [100]\nlayers: [{linear: {out: 8}}]\n")
    out = run(["table", str(path)], 160)
    assert "params       808 = 800 weights + 8 biases" in out and "MACs         800\n" in out
    assert not re.search(r"\b(\d+) \(\1\)", out)          # never '808 (808)'
    line = next(x for x in run(["table", "vgg16"], 160).splitlines() if x.startswith("input  "))
    assert line.split() == ["input", "INPUT", "3×224×224", "150,528", "602.11", "KB", "1"]   # no weights, biases,
    # params or MACs: blank, not 0 (150,528 = 3·224·224; 602.11 KB = 150,528 × 4 B)


def test_compare_shows_last_finite_field(run):
    out = run(["compare", "vgg16", "vgg19"], 160)
    assert "212, then global" in out and "(global)" not in out


def test_golden_vgg16_at_80_columns(run, golden):
    """The whole rendering at 80 columns, byte for byte (after a deliberate change, pytest
    --update-golden rewrites tests/golden/vgg16-80.txt; review it with git diff)."""
    golden("vgg16-80.txt", run(["table", "vgg16"], 80))


@pytest.mark.parametrize("width", (80, 120))
def test_compare_and_sweep_numbers_whole(run, width):
    out = run(COMMANDS["compare"], width)
    stats = [archstat.analyze(m) for m in ("googlenet-naive", "googlenet-bottleneck")]
    for line in out.splitlines():
        name = line.split(" ", 1)[0]
        rows = [r for s in stats for r in s.rows if r.name == name]
        if rows and "×28×28" in line:
            known = set().union(*(row_known(r) for r in rows))
            assert all(parses_back(m, known) for m in NUMBER.finditer(line[len(name):])), line
    out = run(COMMANDS["sweep"], width)
    from archstat.orchestrate import run_sweep

    points = run_sweep("resnet50", [(3, 128, 128), (3, 224, 224)], [1, 8], {}).points
    lines = [x for x in out.splitlines() if x.startswith("3×")]
    assert len(lines) == len(points) == 4
    for line, p in zip(lines, points):
        known = {p.params, p.macs, p.activation_bytes, p.training_bytes, p.batch, *p.input}
        assert all(parses_back(m, known) for m in NUMBER.finditer(line)), line


def test_sweep_square_input_shorthand(cli):
    # '3x{128,160,224}' is C×S: three square inputs, 3×128×128, 3×160×160 and 3×224×224
    r = cli("sweep", "resnet18", "--input", "3x{128,160,224}", "--format", "json")
    assert r.exit_code == 0, r.stderr
    import json

    assert [p["input"] for p in json.loads(r.stdout)["points"]] == [[3, 128, 128], [3, 160, 160], [3, 224, 224]]


def test_csv_has_the_ops_column(run):
    import csv
    import io

    rows = list(csv.reader(io.StringIO(run(["table", "vgg16", "--format", "csv"], 80))))
    i = rows[0].index("ops")
    assert rows[-1][0] == "TOTAL" and int(rows[-1][i]) == archstat.analyze("vgg16").totals.ops
    assert sum(int(r[i]) for r in rows[1:-1]) == int(rows[-1][i])


@pytest.mark.slow
def test_list_sorts_errors_within_a_dataset_and_shows_it(run):
    import json

    rows = json.loads(run(["list", "--sort", "top1_error", "--format", "json"], 160))
    cited = [r for r in rows if r["top1_error"] is not None]
    datasets = [r["dataset"] for r in cited]
    assert datasets[0] == "ImageNet" and set(datasets) >= {"ImageNet", "CIFAR-10", "MNIST"}
    assert datasets == sorted(datasets, key=lambda d: (d != "ImageNet", d))     # grouped, ImageNet first
    for d in set(datasets):
        errors = [r["top1_error"] for r in cited if r["dataset"] == d]
        assert errors == sorted(errors)
    assert all(r["top1_error"] is None for r in rows[len(cited):])
    table = run(["list", "--sort", "top1_error"], 160)
    assert "Dataset" in table and next(x for x in table.splitlines() if x.startswith("lenet5 ")).rstrip().find("MNIST") > 0
