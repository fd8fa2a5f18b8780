"""Hostile input beyond single configs: files that are not files, option strings, output paths, claims
files, the error boundary, and the README's Limits table (every bound it states is the code's and is
tested)."""

import errno
import os
import re
import sys
from pathlib import Path

import pytest

import archstat
from archstat.errors import ConfigError
from tests.conftest import ROOT

README = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def one_error(r, code=2) -> str:
    """The single `error:` line of a failed run (and that it failed with ``code``)."""
    assert r.exit_code == code, (r.exit_code, r.stderr, r.exception)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr.strip()


CHAIN = "archstat: 1\nname: chain\ninput: [3, 8, 8]\nlayers: [relu]\n"


# -- the README's Limits table -------------------------------------------------------------------

def _limits_rows() -> list[list[str]]:
    section = README.split("## Limits and bad input")[1].split("\n## ")[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return [[c.strip(" |") for c in row] for row in rows[1:]]


def _resnet1202_nodes() -> int:
    from archstat.api import load
    from archstat.config.expand import MAX_LAYERS

    n = len(load("resnet1202").nodes)
    assert n <= MAX_LAYERS   # the deepest model of the zoo fits
    return n


def test_readme_limits_are_the_codes():
    from archstat.analyze.receptive import RF_LIMIT
    from archstat.analyze.sweep import MAX_POINTS, MAX_WORK
    from archstat.argcheck import ROOF_LIMITS, _e
    from archstat.cli.compare_cmd import MAX_MODELS, MAX_ROWS
    from archstat.cli.options import MAX_BATCH, MAX_DIM, MAX_STEPS, MAX_TIME_BUDGET
    from archstat.config import expand, expr, loader, spec
    from archstat.verify.crosscheck import FVCORE_MAX_LAYERS

    text = " ".join(" ".join(r) for r in _limits_rows())
    stated = {
        f"{loader.MAX_FILE_BYTES:,} bytes", f"{loader.MAX_NODES:,} nodes", f"nesting {loader.MAX_NESTING} deep",
        f"{expr.MAX_EXPR_CHARS} characters", f"{expr.MAX_EXPR_NODES} syntax nodes", f"{expr.MAX_EXPR_DEPTH} levels",
        f"at most {expr.MAX_EXPONENT}", f"±{expr.MAX_NDIGITS}", f"{expand.MAX_LAYERS:,} layers",
        f"{expand.MAX_STEPS:,} expansion steps", f"{expand.MAX_BLOCK_DEPTH} deep", f"{spec.MAX_FIGURES} per config",
        f"at most {spec.MAX_FIGURE_SETTINGS} other settings", f"`precision` 1 to {spec.MAX_PRECISION}",
        f"1 to {MAX_DIM:,}", f"{MAX_TIME_BUDGET:,.0f} s", f"at most {MAX_STEPS:,} steps each", f"at most {MAX_MODELS} models", f"{MAX_POINTS:,} points",
        f"{MAX_ROWS:,} rows together", f"{MAX_WORK:,} layers analysed", f"ResNet-1202 has {_resnet1202_nodes():,}",
        f"at most {FVCORE_MAX_LAYERS} conv/linear layers",
    } | {   # the roofline's overrides (argcheck.ROOF_LIMITS; --overhead is given in µs)
        f"`roofline --peak` {_e(ROOF_LIMITS['peak'][0])} to {_e(ROOF_LIMITS['peak'][1])} FLOP/s",
        f"`--bandwidth` {_e(ROOF_LIMITS['bandwidth'][0])} to {_e(ROOF_LIMITS['bandwidth'][1])} bytes/s",
        f"`--overhead` 0 to {_e(ROOF_LIMITS['overhead_s'][1] * 1e6)} µs, each finite",
    }
    for phrase in stated:
        assert phrase in text, phrase
    # the 10^30 bound is one number everywhere
    assert loader.MAX_NUMBER == expr.MAX_ABS_VALUE == expand.MAX_SIZE == RF_LIMIT == spec.MAX_FIGURE == 10**30
    assert MAX_BATCH == 10**9 and "`--batch` 1 to 10^9" in text


def test_every_limit_names_an_existing_check():
    this = Path(__file__).read_text()
    tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    for row in _limits_rows():
        for name in re.findall(r"`([a-z0-9_*]+)`", row[2]):
            if name.startswith("test_"):
                assert f"def {name}(" in tests, name
            else:
                assert list((ROOT / "tests" / "bad").glob(f"{name}.yaml")), name
    assert "def test_block_depth(" in this


# -- files ---------------------------------------------------------------------------------------

def test_config_file_size(cli, write_config):
    from archstat.config.loader import MAX_FILE_BYTES

    path = write_config(CHAIN + "#" * (MAX_FILE_BYTES - len(CHAIN) - 1) + "\n")   # exactly the limit
    assert path.stat().st_size == MAX_FILE_BYTES
    assert cli("table", str(path)).exit_code == 0
    path = write_config(CHAIN + "#" * (MAX_FILE_BYTES - len(CHAIN)) + "\n")       # one byte more
    assert one_error(cli("table", str(path))) == (
        f"error: {path}: file is 1,000,001 bytes; configs are limited to 1,000,000")


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX only")
def test_only_regular_files(cli, tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    for path in (fifo, zero):   # neither is opened: a FIFO would block, /dev/zero never ends
        assert one_error(cli("table", str(path))) == (
            f"error: {path}: not a regular file (a device, a pipe or a socket); a config is a file")


def test_file_name_too_long(cli):
    long = "a" * 300
    assert one_error(cli("table", long + ".yaml")) == (
        f"error: {long}.yaml: cannot read: File name too long")
    assert one_error(cli("table", long)).startswith(f"error: unknown model '{long}'")


def test_block_depth(write_config):
    from archstat.config.expand import MAX_BLOCK_DEPTH

    def config(depth):   # b1 uses b2 ... uses b{depth}, which holds a relu
        blocks = "".join(f"  b{k}: {{layers: [b{k + 1}]}}\n" for k in range(1, depth))
        return (f"archstat: 1\nname: deep\ninput: [3, 8, 8]\nblocks:\n{blocks}"
                f"  b{depth}: {{layers: [{{conv: {{out: 3, kernel: 1}}}}]}}\nlayers: [b1]\n")

    assert len(archstat.analyze(str(write_config(config(MAX_BLOCK_DEPTH)))).rows) == 2   # input + conv
    with pytest.raises(ConfigError, match=f"blocks nested deeper than {MAX_BLOCK_DEPTH}"):
        archstat.analyze(str(write_config(config(MAX_BLOCK_DEPTH + 1))))


def test_expression_bounds():
    from archstat.config.expr import ExprError, evaluate

    # min of n ones: the Expression, the Call, its Name and Load context, n constants: n + 4 nodes
    assert evaluate("$min(" + ",".join(["1"] * 96) + ")", {}) == 1           # 100 nodes, 196 characters
    with pytest.raises(ExprError, match="has 101 parts; the limit is 100"):
        evaluate("$min(" + ",".join(["1"] * 97) + ")", {})
    with pytest.raises(ExprError, match="longer than 200"):
        evaluate("$" + " " * 10 + "1" * 201, {})
    assert evaluate("$round(123456, -40)", {}) == 0 and evaluate("$round(1.25, 1)", {}) == 1.2
    with pytest.raises(ExprError, match="between -40 and 40"):
        evaluate("$round(1, 41)", {})


def test_receptive_field_stops_at_limit(cli, write_config):
    # stride 10^15 twice: jump 10^30 (at the limit, exact); a third time it would be 10^45
    conv = "{conv: {out: 1, kernel: 1, stride: 1000000000000000}}"
    stats = archstat.analyze(str(write_config(f"archstat: 1\nname: rf\ninput: [1, 4, 4]\nlayers: [{conv}, {conv}]\n")))
    assert stats.receptive_field.jump == (10**30, 10**30) and not stats.receptive_field.beyond_limit
    path = write_config(f"archstat: 1\nname: rf\ninput: [1, 4, 4]\nlayers: [{conv}, {conv}, {conv}, relu]\n")
    stats = archstat.analyze(str(path))
    assert stats.receptive_field.beyond_limit and stats.receptive_field.text() == "> 10^30"
    r = cli("table", str(path), "--format", "json")
    assert r.exit_code == 0 and '"beyond_limit": true' in r.stdout


# -- options -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["table", "lenet5", "--input", "1x10000001x32"], "--input '1x10000001x32': sizes must be between 1 and 10,000,000"),
    (["table", "lenet5", "--batch", "1000000001"], "--batch 1000000001: must be between 1 and 1,000,000,000"),
    (["profile", "lenet5", "--time-budget", "nan"], "--time-budget nan: expected seconds, more than 0 and at most 3,600"),
    (["profile", "lenet5", "--time-budget", "-1"], "--time-budget -1.0: expected seconds, more than 0 and at most 3,600"),
    (["profile", "lenet5", "--time-budget", "inf"], "--time-budget inf: expected seconds, more than 0 and at most 3,600"),
    (["compare"] + ["lenet5"] * 27, "compare takes at most 26 models"),
    (["profile", "lenet5", "--iters", "10001"], "--iters 10001: at most 10,000 steps"),
    (["profile", "lenet5", "--warmup", "10001"], "--warmup 10001: at most 10,000 steps"),
    (["profile", "lenet5", "--sweep-batch", ","], "--sweep-batch ',': an empty value (expected values separated by commas)"),
    (["sweep", "lenet5", "--fits", "1" + "0" * 400 + "GB"], f"--fits '1{'0' * 400}GB': at most 10^30 bytes"),
    (["table", "lenet5", "--optimizer", "sgd"], "--optimizer sgd: the optimizer applies only with --mode train"),
    (["profile", "lenet5", "--optimizer", "sgd"], "--optimizer sgd: the optimizer applies only with --mode train"),
    (["table", "lenet5", "--amp"], "--amp: mixed precision training memory applies only with --mode train"),
    (["table", "lenet5", "--mode", "train", "--dtype", "int8"], "--dtype int8 with --mode train: int8 is an "
     "inference format; training memory is estimated for float32, float16 or bfloat16 (or --amp)"),
    (["sweep", "lenet5", "--dtype", "int8"], "--dtype int8 with --mode train: int8 is an inference format; training "
     "memory is estimated for float32, float16 or bfloat16 (or --amp)"),
])
def test_option_bounds(cli, args, message):
    assert one_error(cli(*args)) == f"error: {message}"


def test_set_integers_bounded(cli):
    huge = "9" * 5000    # past Python's 4,300-digit conversion limit
    assert one_error(cli("table", "lenet5-modern", "--set", f"num_classes={huge}")) == (
        "error: --set num_classes: expected int at most 10^30 in magnitude, got '99999999999999999999…(5,000 characters)'")
    assert one_error(cli("table", "lenet5-modern", "--set", f"num_classes=1{'0' * 31}")).endswith(
        "expected int at most 10^30 in magnitude, got '10000000000000000000000000000000'")


def test_set_repeat_index_is_not_a_param(cli):
    # `i` is the index inside repeat; no config may declare it, so --set i=9 is an unknown param
    assert one_error(cli("table", "resnet20", "--set", "i=9")).startswith(
        "error: --set i: unknown param 'i'")


def test_sweep_lists_split_outside_braces():
    from archstat.cli.sweep_cmd import parse_grid

    assert parse_grid(None, "1,{8,32}", ["width=1,{2,4}"])[1:] == ([1, 8, 32], {"width": ["1", "2", "4"]})
    assert parse_grid(["3x{32,64}x32", "3,16,16"], None, None)[0] == [(3, 32, 32), (3, 64, 32), (3, 16, 16)]


@pytest.mark.parametrize("args, message", [
    (["--batch", ","], "--batch ',': an empty value (expected values separated by commas)"),
    (["--batch", "1,,8"], "--batch '1,,8': an empty value (expected values separated by commas)"),
    (["--batch", "1,{8"], "'{8': unbalanced braces"),
    (["--set", "num_classes=10", "--set", "num_classes=100"],
     "--set 'num_classes=100': num_classes is set twice (give its values in one --set: num_classes=V1,V2)"),
])
def test_sweep_option_errors(cli, args, message):
    assert one_error(cli("sweep", "lenet5-modern", *args)) == f"error: {message}"


def test_sweep_bounds(cli):
    ten = "{" + ",".join(str(k) for k in range(1, 11)) + "}"
    # 10^9 values if expanded: refused by counting, before any is made
    r = cli("sweep", "lenet5-modern", "--set", "num_classes=" + ten * 9)
    assert one_error(r) == f"error: '{ten * 9}': the braces make 1,000,000,000 values; the limit is 10,000"
    # 100 × 101 = 10,100 points: over the grid limit, counted before the grid is made
    hundred = ",".join(str(k) for k in range(1, 101))
    r = cli("sweep", "lenet5-modern", "--batch", hundred + ",101", "--set", "num_classes=" + hundred)
    assert one_error(r) == "error: the grid has 10,100 points; the limit is 10,000"
    # resnet1202 has 3,007 rows: 16 batch sizes are 48,112 layers, 17 are 51,119 (over 50,000): refused
    # after its first point, before the others
    rows = len(archstat.analyze("resnet1202").rows)
    r = cli("sweep", "resnet1202", "--batch", ",".join(str(b) for b in range(1, 18)))
    assert 17 * rows > 50_000 >= 16 * rows
    assert one_error(r) == (f"error: the sweep analyses 17 points of {rows:,} layers; the limit is 50,000 layers "
                            "in all (sweep fewer points)")


def test_compare_rows(cli, write_config):
    from archstat.cli.compare_cmd import MAX_ROWS
    from archstat.config.expand import MAX_LAYERS

    # a chain of MAX_LAYERS - 1 convs: MAX_LAYERS rows with the input; two of them are MAX_ROWS rows
    chain = write_config("archstat: 1\nname: chain\ninput: [1, 4, 4]\nlayers:\n"
                         f"  - {{conv: {{out: 1, kernel: 1}}, repeat: {MAX_LAYERS - 1}}}\n")
    assert 2 * MAX_LAYERS == MAX_ROWS
    r = cli("compare", str(chain), str(chain), "lenet5")
    assert one_error(r) == (f"error: the models have {MAX_ROWS + len(archstat.analyze('lenet5').rows):,} rows "
                            f"together; compare shows at most {MAX_ROWS:,} (use --depth N to compare blocks)")
    r = cli("compare", str(chain), str(chain), "--depth", "1", "--format", "csv")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("target", ["AB", "", "C", "a"])
def test_compare_set_letter_is_strict(cli, target):
    r = cli("compare", "lenet5-modern", "lenet5-modern", "--set", f"{target}:num_classes=3")
    assert one_error(r) == (f"error: --set '{target}:num_classes=3': '{target}' is not one of the models "
                            "(A=lenet5-modern, B=lenet5-modern)")


# -- plot output paths ---------------------------------------------------------------------------

def test_plot_default_name_stays_here(cli, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from archstat.cli.plot_cmd import default_name

    assert default_name("../../x", ".png") == "_.._x.png"
    assert default_name("/abs/x", "-sweep.png") == "_abs_x-sweep.png"
    assert default_name("..", ".png") == "model.png"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CHAIN.replace("name: chain", "name: ../../escape"))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    r = cli("plot", str(cfg))
    assert r.exit_code == 0, r.stderr
    assert [p.name for p in work.iterdir()] == ["_.._escape.png"] and not (tmp_path / "escape.png").exists()


def test_plot_out_paths(cli, tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "plots.png"
    folder.mkdir()
    cases = [
        (tmp_path / "missing" / "x.png", f"the folder {tmp_path / 'missing'} does not exist"),
        (folder, f"is a folder; give a file name such as {folder / 'plot.png'}"),
        (tmp_path / ("a" * 300 + ".png"), "cannot write: File name too long"),
    ]
    for out, message in cases:
        assert one_error(cli("plot", "lenet5", "--out", str(out))) == f"error: --out {out}: {message}"
    assert one_error(cli("plot", "lenet5", "--batch", "abc")) == (
        "error: --batch 'abc': expected one positive integer without --sweep")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_plot_out_unwritable(cli, tmp_path):
    pytest.importorskip("matplotlib")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = cli("plot", "lenet5", "--out", str(locked / "x.png"))
        assert one_error(r) == f"error: --out {locked / 'x.png'}: cannot write: Permission denied"
    finally:
        locked.chmod(0o700)


def test_write_errors_are_worded():
    from archstat.cli.output import file_error as write_error
    from archstat.errors import RuntimeFailure, UsageError

    full = write_error("x.png", OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(full, RuntimeFailure) and full.exit_code == 1
    readonly = write_error("x.png", OSError(errno.EROFS, "Read-only file system"))
    assert isinstance(readonly, UsageError) and readonly.format() == "--out x.png: cannot write: Read-only file system"


# -- the error boundary --------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_on_stdout():
    import subprocess

    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "archstat", "table", "lenet5"], stdout=full, stderr=subprocess.PIPE,
                           text=True, cwd=ROOT)
    assert p.returncode == 1 and re.fullmatch(r"error: cannot write the output to stdout: No space left on device "
                                              r"\(0 of [\d,]+ bytes written, the output is incomplete\)\n", p.stderr), p.stderr


@pytest.mark.parametrize("exc, code, line", [
    (KeyboardInterrupt(), 130, "error: interrupted"),
    (MemoryError(), 1, "error: out of memory"),
    (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB"), 1,
     "error: out of memory (DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB)"),
    (OSError(errno.ENOSPC, "No space left on device"), 1, "error: No space left on device (writing the output)"),
])
def test_boundary_words_runtime_failures(cli, monkeypatch, exc, code, line):
    def fail(*a, **k):
        raise exc

    monkeypatch.setattr("archstat.api.analyze", fail)
    assert one_error(cli("table", "lenet5"), code) == line


def test_module_targets_that_cannot_be_imported(cli):
    for target, message in [("module:.relative:x", ".relative is a relative module name; give the full dotted name"),
                            ("module:..:x", ".. is a relative module name; give the full dotted name")]:
        r = cli("table", target, "--input", "3x8x8")
        assert one_error(r) == f"error: '{target}': {message}"


@pytest.mark.parametrize("command", ["table", "verify", "profile"])
def test_a_failing_factory_is_a_usage_error_in_every_command(cli, command):
    pytest.importorskip("torch")
    target = "module:torch.nn:Linear"   # nn.Linear() without its two required arguments
    r = cli(command, target, "--input", "4")
    assert one_error(r) == (f"error: '{target}': calling the factory failed: TypeError: Linear.__init__() "
                            "missing 2 required positional arguments: 'in_features' and 'out_features'")
    # without --input, table and verify build the module first (a factory may return its example
    # inputs, a timm or torchvision model declares its size); a plain Linear has neither
    built = "module:torch.nn:Linear(4, 2)"
    assert one_error(cli(command, built)) == (
        f"error: '{built}': archstat cannot tell this module's input (its factory gives no example inputs, and it "
        "has no timm pretrained config or torchvision weights to read it from): give --input (e.g. --input 3x224x224)")


def test_module_help_says_it_runs_code(cli):
    r = cli("table", "--help")
    assert "imports and runs that Python code, as torch.hub does" in " ".join(r.stdout.split())
    assert "**`module:` runs code.**" in README


def test_info_on_bad_files(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    for case in ("yaml_tag_int_text", "layer_name_twice", "repeat_empty_nested", "control_char_line"):
        expected = (ROOT / "tests" / "bad" / f"{case}.err").read_text().strip()
        assert one_error(cli("info", f"tests/bad/{case}.yaml")) == expected


# -- claims files (reproduce) ----------------------------------------------------------------------

CLAIM = """archstat: 1
name: hostile
claims:
  - id: c
    claim: a claim
    published: "1"
    value: 1
    compute: {COMPUTE}
"""


@pytest.mark.parametrize("compute, extra, message", [
    ("{model: lenet5-modern, metric: params, set: {num_classes: []}}", "",
     "8:72: claims[0].compute.set.num_classes: 'num_classes' must be a number, a boolean, a string or a pair [h, w]"),
    ("{model: /dev/zero, metric: params}", "",
     "8:22: claims[0].compute.model: unknown model '/dev/zero' (model names a zoo model, not a file)"),
    ("{ratio: [lenet5-modern, conv7x7], metric: biases}", "",   # conv7x7's one conv has no bias
     "8:22: claims[0].compute.ratio: a ratio over zero: conv7x7's biases is 0"),
    ("{model: lenet5-modern, metric: params}", "    precision: -2\n",
     "9:16: claims[0].precision: precision is a number of significant digits from 1 to 20, got -2"),
    ("{model: lenet5-modern, metric: params}", "    precision: abc\n",
     "9:16: claims[0].precision: 'precision' must be an integer, got the string 'abc'"),
    ("{model: lenet5-modern, metric: params}", "    note: '{__class__}'\n",
     "9:11: claims[0].note: unknown placeholder '{__class__}'"),
])
def test_hostile_claims(cli, tmp_path, compute, extra, message):
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIM.replace("{COMPUTE}", compute) + extra)
    assert one_error(cli("reproduce", str(path))) == f"error: {path}:{message}"
