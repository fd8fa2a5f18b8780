"""Issue 33 item 11: a long command shows what it is doing on stderr while it works, on a terminal (a rich
progress display, gone when the output comes), and nothing on a pipe; verify ends with a summary line."""

import json

import pytest

from archstat.cli import progress

NETS = "module:tests/fixtures/nets.py"


@pytest.fixture
def terminal(monkeypatch):
    """stderr is a terminal, and the spinner shows at once."""
    monkeypatch.setattr(progress, "_tty", lambda: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)


def test_nothing_on_a_pipe(cli):
    pytest.importorskip("torch")
    r = cli("table", f"{NETS}:ConvNeXt", "--input", "3x32x32")
    assert r.exit_code == 0 and r.stderr == ""


def test_tracing_a_module_says_so_on_a_terminal(cli, terminal):
    pytest.importorskip("torch")
    r = cli("table", f"{NETS}:ConvNeXt", "--input", "3x32x32", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "tracing module:tests/fixtures/nets.py:ConvNeXt" in r.stderr
    assert json.loads(r.stdout)["totals"]["macs"] > 0          # the data stays whole, apart from the progress


def test_a_training_step_says_it_traces_the_backward(cli, terminal, xdg_cache):
    pytest.importorskip("torch")
    r = cli("roofline", "lenet5", "--device", "h100", "--train", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "tracing lenet5: forward, loss and backward" in r.stderr


def test_verify_shows_a_bar_and_ends_with_a_summary(cli, terminal):
    pytest.importorskip("torch")
    r = cli("verify", "lenet5", "conv7x7", "--no-fvcore")
    assert r.exit_code == 0, r.stderr
    assert "verifying lenet5 (1/2)" in r.stderr and "verifying conv7x7 (2/2)" in r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("2 models, ") and last.endswith(" 0 mismatched"), last
    assert " ok, " in last and " skipped, " in last


def test_verify_json_keeps_the_data_and_says_the_summary_on_stderr(cli):
    pytest.importorskip("torch")
    r = cli("verify", "lenet5", "--no-fvcore", "--format", "json")
    assert r.exit_code == 0, r.stderr
    checks = json.loads(r.stdout)
    assert r.stderr == f"1 model, {len(checks)} checks: " + r.stderr.split(": ", 1)[1]
    assert r.stderr.strip().endswith("0 mismatched")


def test_the_display_is_closed_before_the_output(cli, terminal, monkeypatch):
    """emit() stops the display first: no spinner line is drawn between the data's lines."""
    events = []
    real_stop = progress.stop
    monkeypatch.setattr(progress, "stop", lambda: events.append("stop") or real_stop())
    from archstat.cli import output

    real_write = output.write_stdout
    monkeypatch.setattr(output, "write_stdout", lambda *a, **k: events.append("write") or real_write(*a, **k))
    r = cli("table", "vgg16")
    assert r.exit_code == 0
    assert events.index("stop") < events.index("write")
