"""The README and docs/ stay true: CI runs exactly the README's test command, and every example they
print runs as printed (issue 23): each `archstat …` command in the text (inline code, also across a
line break, and `$ ` lines of console blocks) that names real things rather than placeholders (NAME,
PATH, …), every Python block, and the README's first config."""

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import ROOT

TEXT = (ROOT / "README.md").read_text()
DOCS = {"README.md": TEXT, **{f"docs/{p.name}": p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}}
ALL_TEXT = "\n".join(DOCS.values())


def readme_commands():
    return re.findall(r"```sh\n(.+?)\n```", TEXT)


def test_readme_opens_with_the_two_commands():
    """The README's first lines are the two commands a newcomer runs: nothing but a sentence before each."""
    first, second = readme_commands()[:2]
    assert first.endswith("archstat table vgg16")
    assert "pytest" in second
    head = TEXT[:TEXT.index(second)]
    assert head.count("```sh") == 2 and len([line for line in head.splitlines() if line.strip()]) <= 9


def _steps(command: str) -> list[str]:
    return [step.strip() for step in command.split("&&")]


def test_the_test_command_installs_cpu_torch_before_the_test_extra():
    """Issue 33 item 3: the CPU build of torch is a step of the test command itself, before the `test` extra
    (whose `torch>=2.2` would otherwise pull the default, CUDA, build), in the order .ci/run runs them."""
    steps = _steps(readme_commands()[1])
    torch_step = next(i for i, s in enumerate(steps) if "pip install torch==" in s)
    extra_step = next(i for i, s in enumerate(steps) if "pip install -e '.[test]'" in s)
    test_step = next(i for i, s in enumerate(steps) if "pytest" in s)
    assert steps[0] == "python3 -m venv .venv" and torch_step < extra_step < test_step
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in steps[torch_step]
    # no note after the command says to do something else first
    after = TEXT[TEXT.index(readme_commands()[1]):].split("---")[0]
    assert "first" not in after.replace("torch's CPU build first", "")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    command = readme_commands()[1]
    assert command in ci
    pinned = next(s.split("torch==")[1].split()[0] for s in _steps(command) if "torch==" in s)
    assert pinned == "2.13.0"
    # any torch that CI installs apart comes before the README's command, and is the same version
    at = ci.index(command)
    for i, line in enumerate(ci):
        if "pip install" in line and "torch==" in line and line != command:
            assert i < at and f"torch=={pinned}" in line


# -- every example command ------------------------------------------------------------------------

ENV = r"(?:[A-Z_]+=\S+ )*"
PLACEHOLDER = re.compile(r"[A-Z]{2,}|…|\.\.\.|^\[|^[A-C]$")   # NAME, PATH, module:…, [FILE], A B [C]


def _examples() -> list[str]:
    spans = [" ".join(s.split()) for s in re.findall(r"(?<!`)`([^`]+)`(?!`)", ALL_TEXT)]   # a line break: a space
    spans += re.findall(r"^\$ (.+)$", ALL_TEXT, flags=re.M)                                 # console blocks
    found = []
    for span in spans:
        if not re.match(ENV + r"archstat ", span) or "\\|" in span:
            continue
        try:
            words = shlex.split(span)
        except ValueError:
            continue
        if any(PLACEHOLDER.search(w) or ("|" in w and w != "|") for w in words if "=" not in w or "archstat" in w):
            continue
        found.append(span)
    return list(dict.fromkeys(found))


EXAMPLES = _examples()
# printed but not run here, each with the test that runs it instead
RUN_ELSEWHERE = {
    "archstat verify --all": "tests/test_verify.py::test_zoo_model_verifies runs it model by model",
    "archstat table tiny-cnn.yaml": "test_the_first_config_runs writes the README's config first",
}
ZOO_WIDE = {"archstat plot --zoo"}   # run here, marked slow: it analyses and draws the whole zoo


def test_the_examples_are_found():
    """The extraction finds the README's examples (a change of format would otherwise skip them all)."""
    for expected in ("archstat table vgg16 --format json | jq .totals", "COLUMNS=80 archstat table vgg16 > vgg16.txt",
                     "archstat plot resnet18 --depth 2", "archstat table zfnet --set conv3=512 --set conv4=1024 "
                     "--set conv5=512", "archstat sweep vit_b_16 --input '3x{224,384}x{224,384}'",
                     "COLUMNS=100 archstat table vgg16"):
        assert expected in EXAMPLES, (expected, EXAMPLES)
    assert len(EXAMPLES) >= 25
    for skipped in [*RUN_ELSEWHERE, *ZOO_WIDE]:
        assert skipped in EXAMPLES   # no stale entry


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """A working folder with the README's own `mypkg.nets:make_net` on the import path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "nets.py").write_text(
        "import torch.nn as nn\n\n\ndef make_net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _needs(command: str) -> None:
    """Skip a command whose module: target lives in a library this environment lacks (the README says so)."""
    for target in re.findall(r"module:([A-Za-z_][\w.]*):", command):
        top = target.split(".")[0]
        if top != "mypkg":
            pytest.importorskip(top, reason=f"the README's example needs {top} (pip install {top})")
        else:
            pytest.importorskip("torch")
    from archstat.zoo import MODULES

    if any(word in MODULES for word in shlex.split(command)):   # a module of the zoo: torch, nothing else
        pytest.importorskip("torch")
    if command.startswith("archstat plot"):
        pytest.importorskip("matplotlib")
    if re.match(r"archstat (verify|profile)|.*--calibrate", command):
        pytest.importorskip("torch")


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c in ZOO_WIDE else c for c in EXAMPLES])
def test_readme_example_runs_as_printed(cli, command, in_tmp, monkeypatch):
    if command in RUN_ELSEWHERE:
        pytest.skip(RUN_ELSEWHERE[command])
    _needs(command)
    words = shlex.split(command)
    env = {}
    while "=" in words[0] and not words[0].startswith("archstat"):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    args, pipe, target = words[1:], None, None
    if "|" in args:
        at = args.index("|")
        args, pipe = args[:at], args[at + 1:]
    if ">" in args:
        at = args.index(">")
        args, target = args[:at], args[at + 1]
    if len(args) == 1 and not args[0].startswith("-"):   # the command's name in prose: it exists
        args = args + ["--help"]
    if "--calibrate" in args:   # the command as printed, with a small measurement (the full one takes ~10 s)
        import functools

        import archstat.profile.calibrate as calibrate

        monkeypatch.setattr(calibrate, "measure", functools.partial(calibrate.measure, size=64,
                                                                    copy_bytes=1 << 20, repeats=1))
    r = cli(*args, env=env)
    assert r.exit_code == 0, (command, r.stderr, r.exception)
    assert r.stdout.strip() or "--calibrate" in args or args[0] == "plot", command
    if target:
        Path(target).write_text(r.stdout)
        assert Path(target).stat().st_size > 0
    if pipe and pipe[0] == "jq":   # `| jq .totals`: the key is there
        data = json.loads(r.stdout)
        for key in pipe[1].strip(".").split("."):
            data = data[key]
        assert data


# -- every Python block ---------------------------------------------------------------------------

PYTHON_BLOCKS = re.findall(r"```python\n(.+?)\n```", ALL_TEXT, flags=re.S)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_runs_as_printed(block, in_tmp):
    if "archstat.build" in block or "module" in block:
        pytest.importorskip("torch")
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)   # the README's (or docs/) own code
    assert "archstat" in namespace or "get_op" in namespace


def test_python_api_block_gives_the_documented_numbers(in_tmp):
    """The Python API block's first result: VGG16 at batch 8 (cs231n: 138,357,544 params with biases;
    15,470,264,320 MACs per image, the table above, × 8 = 123,762,114,560)."""
    block = next(b for b in PYTHON_BLOCKS if "stats.totals.params, stats.totals.macs" in b)
    namespace: dict = {}
    pytest.importorskip("torch")
    exec(compile(block, "README.md", "exec"), namespace)
    assert (namespace["stats"].totals.params, namespace["stats"].totals.macs) == (138_357_544, 8 * 15_470_264_320)
    assert namespace["graph"].params["conv3"] == 512


def test_the_first_config_runs(cli, in_tmp):
    """The README's first config, saved as it says, gives the numbers it states (conv1: 3·3·3·16 + 16 = 448
    params, 32·32·16·27 = 442,368 MACs)."""

    config = re.findall(r"```yaml\n(.+?)\n```", TEXT, flags=re.S)[0]
    assert len(config.splitlines()) == 5
    (in_tmp / "tiny-cnn.yaml").write_text(config + "\n")
    r = cli("table", "tiny-cnn.yaml", "--format", "json")
    assert r.exit_code == 0, r.stderr
    conv1 = json.loads(r.stdout)["layers"][1]
    assert (conv1["params"], conv1["macs"]) == (448, 442_368)


def test_the_printed_table_is_what_the_command_prints(cli):
    """The README's `COLUMNS=100 archstat table vgg16` block: every line it shows (" ..." elides rows) is a
    line of the command's output, in order."""
    block = re.search(r"\$ COLUMNS=100 archstat table vgg16\n(.+?)\n```", TEXT, re.S).group(1)
    shown = [line for line in block.splitlines() if line.strip() not in ("...", "")]
    out = [line for line in cli("table", "vgg16", env={"COLUMNS": "100"}).stdout.splitlines() if line.strip()]
    at = 0
    for line in shown:
        assert line in out[at:], line
        at = out.index(line, at) + 1
