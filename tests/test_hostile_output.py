"""Hostile text on its way out (issue 23): terminal escapes, bidi overrides and C1 controls from a
config's name, description, labels, params and published figures, from a traced module's names and
from a calibration cache, in every command and every format; CSV formula injection; markdown rows;
HTML and SVG; JSON that stays JSON (finite numbers only).

Every check here is on archstat's output as a user gets it (the CLI, or a result displayed), so it
holds whichever renderer a new format adds."""

import csv
import io
import json
import re

import pytest

import archstat

# every character a terminal acts on or that reorders or breaks what is shown: C0 (but the newline
# that ends a line), DEL, C1, bidi embeddings/overrides/isolates/marks, U+2028/9
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")

TITLE = "\x1b]0;TITLE\x07"                 # sets the terminal's title
CLEAR = "\x1b[2J"                          # clears the screen
LINK = "\x1b]8;;http://evil\x07link\x1b]8;;\x07"   # an OSC 8 hyperlink
FORMULA = '=HYPERLINK("http://x","y")'
NAME = f"evil{TITLE}net"
DESCRIPTION = f"desc {CLEAR}\x1b[31mred\x9b31m\u202eRTL\nsecond | line <script>x</script>"
LABELS = [FORMULA, "a\nb|c\\|d\t+e", "@SUM(1)", "-2+3", "$\\frac$ [/] `a` *b* _c_", "\tleading tab", "+cmd"]

EVIL = f"""archstat: 1
name: {json.dumps(NAME)}
description: {json.dumps(DESCRIPTION)}
source: {json.dumps("src " + CLEAR)}
input: [3, 8, 8]
params:
  C: {{type: int, default: 4, doc: {json.dumps("doc " + CLEAR)}}}
layers:
  - {{conv: {{out: $C, kernel: 3, padding: 1}}, label: {json.dumps(LABELS[0])}}}
  - {{relu: {{}}, label: {json.dumps("r" + CLEAR + "x")}}}
  - {{conv: {{out: 4, kernel: 3, padding: 1}}, label: {json.dumps(LABELS[1])}}}
  - {{maxpool: {{kernel: 2}}, label: {json.dumps(LABELS[2])}}}
  - {{conv: {{out: 2, kernel: 1}}, label: {json.dumps(LABELS[3])}}}
  - {{conv: {{out: 2, kernel: 1}}, label: {json.dumps(LABELS[4])}}}
  - {{conv: {{out: 2, kernel: 1}}, label: {json.dumps(LABELS[5])}}}
  - {{conv: {{out: 2, kernel: 1}}, label: {json.dumps(LABELS[6])}}}
reference:
  source: {json.dumps("ref " + CLEAR)}
  figures:
    params: {{published: {json.dumps("pub " + LINK)}, value: 10, metric: params}}
"""


@pytest.fixture
def evil(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL)
    return str(path)


def no_raw(text: str, what) -> None:
    found = sorted(set(RAW.findall(text)))
    assert not found, (what, found, text[:400])


@pytest.fixture
def run(cli):
    """A command at 100 columns, its stdout and stderr checked for raw control characters."""

    def run(args):
        r = cli(*args, env={"COLUMNS": "100"})
        no_raw(r.stdout, args)
        no_raw(r.stderr, args)
        return r

    return run


FORMATS = ["table", "json", "csv", "markdown"]
COMMANDS = (
    [["table", "{m}", "--format", f] for f in FORMATS + ["html"]]
    + [["table", "{m}", "--format", f, "--depth", "1"] for f in FORMATS]
    + [["table", "{m}", "--format", f, "--mode", "train"] for f in FORMATS]
    + [["compare", "{m}", "{m}", "--format", f] for f in FORMATS]
    + [["compare", "{m}", "conv7x7", "--format", f, "--device", "h100"] for f in FORMATS]
    + [["roofline", "{m}", "--device", "h100", "--format", f] for f in FORMATS]
    + [["sweep", "{m}", "--batch", "1,2", "--format", f] for f in FORMATS]
    + [["info", "{m}", "--format", f] for f in ("table", "json", "markdown")]
    + [["graph", "{m}", "--format", f] for f in ("mermaid", "dot")]
)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(x for x in a if x != "{m}"))
def test_config_text_never_reaches_output_raw(run, evil, args):
    r = run([evil if a == "{m}" else a for a in args])
    assert r.exit_code == 0, (r.stderr, r.exception)
    fmt = args[args.index("--format") + 1]
    if fmt == "json":   # data, unchanged: the escapes are JSON's own (\u001b), the strings the config's
        found = strings(json.loads(r.stdout))
        assert NAME in found and (args[0] in ("roofline", "sweep", "info") or set(LABELS) <= found), found
    elif fmt == "table" and args[0] != "sweep":
        assert "evil\\x1b]0;TITLE\\x07net" in r.stdout   # the name shown, escaped
    if fmt == "markdown":
        check_markdown(r.stdout)


def strings(data) -> set:
    """Every string in a parsed JSON document."""
    if isinstance(data, str):
        return {data}
    if isinstance(data, dict):
        return set().union(*(strings(v) for v in data.values()), set(data))
    if isinstance(data, list):
        return set().union(*(strings(v) for v in data)) if data else set()
    return set()


def check_markdown(text: str) -> None:
    """Every table row of a markdown document has as many cells as its header: no label breaks it."""
    widths = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.replace("\\\\", ""))   # unescaped pipes
            widths.append(len(cells))
        elif widths:
            assert len(set(widths)) == 1, (widths, text)
            widths = []
    assert len(set(widths)) <= 1, (widths, text)
    assert "<script>" not in text   # no raw HTML in a document a viewer renders


def test_csv_cells_are_never_formulas(run, evil):
    r = run(["table", evil, "--format", "csv"])
    rows = list(csv.reader(io.StringIO(r.stdout)))
    labels = [row[1] for row in rows[1:-1]]
    for label in labels:   # what a spreadsheet reads as a formula starts with = + - @ tab or CR
        assert not label.startswith(("=", "+", "-", "@", "\t", "\r")), label
    assert "'" + FORMULA in labels and "'@SUM(1)" in labels and "'-2+3" in labels and "'+cmd" in labels
    assert "'\\tleading tab" in labels        # the tab shown escaped, and the cell still not a formula
    assert "a\\nb|c\\|d\\t+e" in labels       # one cell, one line
    assert all(len(row) == len(rows[0]) for row in rows)
    assert r.stdout.count("\n") == len(rows)   # no newline inside a cell
    compared = list(csv.reader(io.StringIO(run(["compare", evil, evil, "--format", "csv"]).stdout)))
    assert all(not cell.startswith(("=", "+", "@")) for row in compared for cell in row)


def test_csv_numbers_stay_numbers(run):
    r = run(["table", "conv7x7", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[-1][0] == "TOTAL" and rows[-1][8] == "200704"   # params: 7·7·64·64 = 200,704, no quote


def test_markdown_newlines_and_pipes_escaped(run, evil):
    out = run(["table", evil, "--format", "markdown"]).stdout
    row = next(line for line in out.splitlines() if line.startswith("| conv2 "))
    # the label a\nb|c\|d<TAB>+e: newline and tab shown as \n \t, backslashes doubled, pipes escaped
    assert "| a\\\\nb\\|c\\\\\\|d\\\\t+e |" in row, row
    check_markdown(out)
    assert "&lt;script&gt;" in out


def test_html_holds_no_raw_control_characters(run, evil):
    out = run(["table", evil, "--format", "html"]).stdout
    assert "\x1b" not in out and "<script>x</script>" not in out and "&lt;script&gt;" in out
    from html.parser import HTMLParser

    HTMLParser().feed(out)   # parses


def test_displayed_results_are_clean(evil):
    """What a notebook (HTML), a rich console and a REPL (repr) show of a result."""
    stats = archstat.analyze(evil)
    no_raw(stats._repr_html_(), "html")
    no_raw(repr(stats), "repr")
    comparison = archstat.compare([evil, evil])
    no_raw(comparison._repr_html_(), "html")
    no_raw(repr(comparison), "repr")
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(stats)
    no_raw(console.file.getvalue(), "rich")


def test_terminal_styles_are_archstat_own(evil):
    """On a terminal the table carries ANSI styles: only archstat's own (SGR m codes), none from the config."""
    from archstat.report.table_report import render

    ansi = render(archstat.analyze(evil)).ansi()
    ours = re.sub(r"\x1b\[[0-9;]*m", "", ansi)
    no_raw(ours, "ansi")
    assert set(re.findall(r"\x1b\[([0-9;]*)m", ansi)) <= {"0", "1", "2", "3", "32", "1;31", "33"}


def test_errors_that_echo_config_text_are_escaped(run, tmp_path, evil):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EVIL.replace("{maxpool: {kernel: 2}", '{"max\\u001b[2Jpool": {kernel: 2}'))
    for args in (["table", str(bad)], ["table", evil, "--set", "C=x" + CLEAR], ["table", "nonexistent" + CLEAR],
                 ["table", evil, "--set", "C=\u202eexe.yaml"], ["table", "vgg16\x9b2J"],
                 ["table", evil, "--columns", "lay" + CLEAR], ["table", evil, "--format", "json" + CLEAR],
                 ["roofline", evil, "--device", "h1" + TITLE]):
        r = run(args)
        assert r.exit_code == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr


def test_module_names_are_escaped(run, tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "evilmod.py").write_text(
        "import torch.nn as nn\n"
        "Evil = type('Evil\\x1b[2J\\u202e', (nn.Module,), {'forward': lambda self, x: self.l(x)})\n"
        "def make():\n"
        "    m = nn.Sequential()\n"
        "    m.add_module('lin\\x1b]0;T\\x07', nn.Linear(8, 4))\n"
        "    e = Evil(); e.l = nn.Linear(4, 2)\n"
        "    m.add_module('ev\\x9bil', e)\n"
        "    return m\n")
    target = f"module:{tmp_path / 'evilmod.py'}:make"
    for fmt in FORMATS + ["html"]:
        r = run(["table", target, "--input", "8", "--format", fmt])
        assert r.exit_code == 0, r.stderr
        if fmt == "json":
            assert "lin\x1b]0;T\x07" in [layer["name"] for layer in json.loads(r.stdout)["layers"]]


def test_calibration_strings_are_escaped(run, xdg_cache):
    """A calibration cache is a file anyone with the account can edit: its hardware string, its
    date and its method notes are shown escaped (or, if refused, the refusal is)."""
    (xdg_cache / "archstat").mkdir(parents=True)
    (xdg_cache / "archstat" / "calibration.json").write_text(json.dumps({"cpu": {
        "hardware": "cpu " + TITLE + CLEAR, "measured_at": "2024" + LINK, "peak_flops": {"fp32": 1e11},
        "bandwidth": 1e10, "overhead_s": 5e-6, "method": {"peak": "m " + CLEAR}}}))
    for fmt in FORMATS:
        r = run(["roofline", "conv7x7", "--device", "cpu", "--format", fmt])
        if r.exit_code == 0 and fmt == "json":
            assert json.loads(r.stdout)["device"]["name"] == "cpu " + TITLE + CLEAR   # data kept exactly
    run(["compare", "conv7x7", "lenet5", "--device", "cpu"])


def test_plots_and_diagrams_are_clean(run, tmp_path, evil):
    pytest.importorskip("matplotlib")
    for name in ("layers.svg", "roofline.svg"):
        out = tmp_path / name
        extra = ["--roofline", "--device", "h100"] if name.startswith("roofline") else []
        r = run(["plot", evil, "--out", str(out)] + extra)
        assert r.exit_code == 0, r.stderr
        no_raw(out.read_text(), name)   # an SVG with a raw control character is not even XML
        from xml.dom import minidom

        minidom.parse(str(out))
    dot = run(["graph", evil, "--format", "dot"]).stdout
    # in a quoted dot string, a backslash or quote of the config is escaped; every string closes
    for line in dot.splitlines():
        assert len(re.findall(r'(?<!\\)"', line.replace("\\\\", ""))) % 2 == 0, line


def test_json_is_strict_json(run, evil):
    """No bare NaN or Infinity: every JSON output parses under a strict reader."""
    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))

    for args in (["table", evil, "--format", "json"], ["roofline", evil, "--device", "h100", "--format", "json"],
                 ["compare", evil, "conv7x7", "--format", "json", "--device", "h100"]):
        strict(run(args).stdout)


@pytest.mark.parametrize("option, value, message", [
    ("--peak", "1e-300", "error: --peak '1e-300': must be between 1e6 and 1e18 FLOP/s"),
    ("--peak", "1e999", "error: --peak '1e999': expected a finite number of FLOP/s"),
    ("--peak", "2000P", "error: --peak '2000P': must be between 1e6 and 1e18 FLOP/s"),
    ("--bandwidth", "1e30", "error: --bandwidth '1e30': must be between 1e6 and 1e17 bytes/s"),
    ("--bandwidth", "0", "error: --bandwidth '0': expected a positive number such as 989.5T or 3.35e12"),
    ("--overhead", "inf", "error: --overhead inf: expected a finite number of µs"),
    ("--overhead", "nan", "error: --overhead nan: expected a finite number of µs"),
    ("--overhead", "-1", "error: --overhead -1.0: must be between 0 and 1e6 µs"),
    ("--overhead", "2e6", "error: --overhead 2000000.0: must be between 0 and 1e6 µs"),
])
def test_roofline_overrides_bounded(run, option, value, message):
    r = run(["roofline", "resnet50", "--device", "h100", option, value, "--format", "json"])
    assert r.exit_code == 2 and r.stderr == message + "\n", r.stderr


def test_roofline_overrides_at_their_bounds(run):
    """The ends of each range are accepted, and the JSON then holds those very figures."""
    from archstat.argcheck import ROOF_LIMITS

    for option, key, value in (("--peak", "peak_flop_per_s", "1M"), ("--peak", "peak_flop_per_s", "1e18"),
                               ("--bandwidth", "bandwidth_bytes_per_s", "1e17"), ("--overhead", "overhead_s", "0"),
                               ("--overhead", "overhead_s", "1000000")):
        r = run(["roofline", "resnet50", "--device", "h100", option, value, "--format", "json"])
        assert r.exit_code == 0, r.stderr
        got = json.loads(r.stdout)["device"][key]
        assert got in (ROOF_LIMITS[key.split("_")[0] if key != "overhead_s" else key][:2]), (option, value, got)


def test_non_finite_numbers_become_null_in_json():
    from archstat.report.sanitize import to_json

    text = to_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": "\x9b\u202e"})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {"a": None, "b": [None, None, 1.5],
                                                                         "c": "\x9b\u202e"}
    assert "\\u009b" in text and "\\u202e" in text   # escaped in the text, the same string when parsed
