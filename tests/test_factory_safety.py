"""Factories and forwards that misbehave (issue 23, items 9 and 10): their prints never reach
stdout, their SystemExit is a located usage error, and the meta → CPU fallback is refused past a
memory estimate, naming the real cause."""

import json

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")
from archstat.errors import ConfigError  # noqa: E402
from archstat.trace.analyze import analyze_module  # noqa: E402
from archstat.verify.module_check import verify_module  # noqa: E402
from tests.fixtures import inputs_nets as fx  # noqa: E402

FX = ROOT / "tests" / "fixtures" / "inputs_nets.py"



@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_factory_prints_go_to_stderr(cli, fmt):
    r = cli("table", f"module:{FX}:loud", "--input", "4", "--format", fmt)
    assert r.exit_code == 0, r.stderr
    assert "loading weights" not in r.stdout and "loading weights" in r.stderr
    if fmt == "json":
        assert json.loads(r.stdout)["totals"]["macs"] == 4 * 2


@pytest.mark.parametrize("factory, code", [("exits_zero", 0), ("exits_seven", 7)])
def test_system_exit_in_a_factory_is_a_located_error(cli, factory, code):
    r = cli("table", f"module:{FX}:{factory}", "--input", "4")
    assert r.exit_code == 2 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: 'module:{FX}:{factory}': the factory raised "
                                                f"SystemExit({code}) at {FX}:")
    assert "a factory returns a module, it does not exit" in line


def test_a_factory_returning_no_module(cli):
    r = cli("table", f"module:{FX}:not_a_module", "--input", "4")
    assert r.exit_code == 2 and "the factory returned int, not an nn.Module" in r.stderr


def test_a_shape_error_on_the_meta_device_is_reported_without_a_cpu_run():
    # a 40000×40000 Linear (6.4 GB real) fed 30 features: the meta device already says why; no CPU copy is built
    built = []

    def cpu_model():
        built.append(True)
        raise AssertionError("a CPU copy was built")

    with torch.device("meta"):
        model = torch.nn.Linear(40_000, 40_000)
    with pytest.raises(ConfigError, match=r"forward failed on a 1×30 input: RuntimeError: .*\[1, 30\] X \[40000, 40000\]"):
        analyze_module(model, (30,), cpu_model=cpu_model)
    assert built == []


def test_a_huge_linear_with_a_wrong_input_names_the_shape_error(cli):
    # nn.Linear(10**6, 10**6): 4·10^12 bytes real; the message is the shape error, not an allocation failure
    r = cli("table", f"module:{FX}:huge_linear", "--input", "30")
    assert r.exit_code == 2
    assert "[1, 30] X [1000000, 1000000]" in r.stderr and "alloc" not in r.stderr


def test_a_forward_needing_data_is_refused_past_the_memory_cap():
    # the 6.4 GB Linear reads its data (bool of a sum): a CPU run would take 40000² · 4 B = 6,400 MB of
    # weights, over the 4,000 MB cap
    def cpu_model():
        raise AssertionError("a CPU copy was built")

    with torch.device("meta"):
        model = fx.BigReadsData()
    with pytest.raises(ConfigError) as e:
        analyze_module(model, (40_000,), cpu_model=cpu_model)
    text = str(e.value)
    assert "cannot run on the meta device" in text and "over the 4,000 MB cap" in text
    assert "parameters and buffers 6,400 MB" in text


def test_verify_counts_buffers_against_the_memory_cap():
    # a 10^10-element float32 buffer is 40,000 MB: the real-tensor checks are skipped, nothing allocated
    checks = {c.check: c for c in verify_module(f"module:{FX}:big_buffer", (4,))}
    shapes = checks["shapes and activations (real CPU forward)"]
    assert shapes.status == "skipped" and "parameters and buffers 40,000 MB" in shapes.detail
