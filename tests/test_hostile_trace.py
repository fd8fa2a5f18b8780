"""Hostile input, round 4 (issue 34) against the tracer itself: work in other threads (2), one output
channel user code cannot reach (3), dtypes the meta device does not check (4), batch tracing that refuses
what it cannot prove (5), a factory's example values kept (6)."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_hostile import one_error

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import archstat  # noqa: E402
from tests.fixtures import hostile_nets as hn  # noqa: E402

HN = ROOT / "tests" / "fixtures" / "hostile_nets.py"


# -- 3. one output channel that user code cannot reach ------------------------------------------------

def _run(*args, env=None):
    """archstat in a fresh process, stdout and stderr as bytes (fd 1 is a real pipe there)."""
    return subprocess.run([sys.executable, "-m", "archstat", *args], cwd=ROOT, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["writes_fd1", "factory_writes_fd1"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_writes_to_fd_1_never_reach_the_data(target, fmt):
    r = _run("table", f"module:{HN}:{target}", "--input", "8", "--format", fmt)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8")
    if fmt == "json":
        assert json.loads(out)["totals"]["macs"] == 64
    else:
        assert out.splitlines()[0].startswith("name,") and out.splitlines()[-1].startswith("TOTAL,")
    err = r.stderr.decode("utf-8", "replace")
    if target == "writes_fd1":   # every way of writing to fd 1 went to stderr (twice: the two traced batches)
        for said in ("os.write to fd 1", "a shell command wrote this", "C printf, buffered", "a Python print"):
            assert said in err and said not in out
    else:
        assert "the factory wrote to fd 1" in err and "the factory wrote" not in out


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_json_and_csv_are_utf8_whatever_the_locale(encoding):
    for fmt in ("json", "csv"):
        r = _run("table", f"module:{HN}:non_ascii_names", "--input", "8", "--format", fmt,
                 env={"PYTHONIOENCODING": encoding, "LC_ALL": "C"})
        assert r.returncode == 0, r.stderr
        text = r.stdout.decode("utf-8")           # UTF-8 bytes, never escapes or latin-1
        assert "größe×2" in text and "\\x" not in text
        if fmt == "json":
            assert json.loads(text)["layers"][1]["name"] == "größe×2"


@pytest.mark.slow
def test_archstats_own_stdout_is_still_stdout():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.decode().startswith("archstat ") and not r.stderr
    r = _run("--help")
    assert r.returncode == 0 and b"Usage: archstat" in r.stdout


def test_user_code_writing_to_fd_1_goes_to_stderr_in_the_api(capfd):
    stats = archstat.analyze(hn.WritesFd1(), input_shape=(8,))
    assert stats.totals.macs == 64
    out, err = capfd.readouterr()
    assert "os.write to fd 1" in err and "os.write to fd 1" not in out
    assert "C printf, buffered" in err and "C printf" not in out


def test_data_channel_sends_fd_1_to_stderr_and_keeps_the_data(capfd, monkeypatch):
    from archstat.cli.output import data_channel, write_stdout

    monkeypatch.setattr(sys, "stdout", open(1, "w", closefd=False))   # a real fd-1 stdout
    with data_channel():
        os.write(1, b"stray\n")
        write_stdout('{"data": "×"}')
    os.write(1, b"after\n")
    out, err = capfd.readouterr()
    assert out == '{"data": "×"}\nafter\n' and err == "stray\n"


# -- 2. the recorder sees every thread -------------------------------------------------------------------

@pytest.mark.parametrize("make, width, macs", [
    (hn.Threaded, 64, 3 * 64 * 64),           # three Linears 64→64, one in a thread
    (hn.ThreadedFunctional, 8, 64 + 64),      # x @ w (8·8) in a thread, then a Linear 8→8
    (hn.Pooled, 16, 16 * 16),                 # a Linear submitted to a ThreadPoolExecutor
])
@pytest.mark.parametrize("batch", [1, 3])
def test_work_in_threads_the_forward_starts_is_traced(make, width, macs, batch):
    stats = archstat.analyze(make(), input_shape=(width,), batch=batch)
    assert stats.totals.macs == macs * batch and stats.totals.complete


def test_work_in_a_thread_started_before_the_forward_makes_the_total_a_lower_bound():
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    pool.submit(lambda: None).result()        # its worker thread exists before the trace

    class OldPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 16)

        def forward(self, x):
            return pool.submit(self.fc, x).result()

    try:
        stats = archstat.analyze(OldPool(), input_shape=(16,))
    finally:
        pool.shutdown()
    assert not stats.totals.complete
    (entry,) = stats.totals.uncounted
    assert entry["op"].startswith("work in a thread archstat does not follow") and entry["rows"] == ["fc"]


def test_a_pool_the_forward_starts_and_keeps_is_left_untraced_after_the_trace():
    """A forward that makes a pool on its first call and keeps it: its worker thread outlives the trace. Once the
    trace is over, the recorder's modes that thread still holds pass every call through (nothing is recorded into
    a finished trace), and the next trace, which does not follow that older thread, says its work is unseen."""
    from concurrent.futures import ThreadPoolExecutor

    from archstat.trace.inputs import InputSet, InputSpec
    from archstat.trace.run import run_forward

    kept: list = []

    class KeptPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 16)

        def forward(self, x):
            if not kept:
                kept.append(ThreadPoolExecutor(1))
            return kept[0].submit(self.fc, x).result()

    model = KeptPool()
    try:
        rec, _ = run_forward(model, InputSet((InputSpec((16,)),)), 2, "cpu", "eval", 4)
        assert rec.closed and rec.outlived == 1
        calls = len(rec.op_calls)
        assert calls and sum(c.macs for c in rec.op_calls) == 2 * 16 * 16      # the Linear, traced in the pool
        kept[0].submit(lambda: nn.Linear(16, 16)(torch.ones(4, 16))).result()   # work after the trace
        assert len(rec.op_calls) == calls                                       # nothing recorded into it
        stats = archstat.analyze(model, input_shape=(16,))       # a second trace: the pool is older than it
    finally:
        kept[0].shutdown()
    assert not stats.totals.complete
    (entry,) = stats.totals.uncounted
    assert "kept from an earlier call" in entry["op"] and entry["rows"] == ["fc"]


def test_profile_macs_per_second_counts_the_threads_work(cli):
    r = cli("profile", f"module:{HN}:Threaded", "--input", "64", "--iters", "1", "--warmup", "0", "--no-layers",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["macs_per_step"] == 3 * 64 * 64


# -- 4. what the meta device does not check: operand dtypes of matrix products and convolutions --------------

@pytest.mark.parametrize("target, given", [
    ("linear8", "bool:8"), ("linear8", "float16:8"), ("linear8", "int64:8"), ("linear8", "bfloat16:8"),
    ("MatmulWeight", "int64:8"), ("MatmulWeight", "float16:8"),
    ("conv3", "float16:3x8x8"), ("conv3", "int32:3x8x8"), ("conv3_no_bias", "float16:3x8x8"),
    ("conv3_no_bias", "bfloat16:3x8x8"),
])
def test_operands_of_another_dtype_are_refused_as_a_real_run_would(cli, target, given):
    line = one_error(cli("table", f"module:{HN}:{target}", "--input", given))
    # archstat's check, or the meta kernel's own where it has one (a convolution's bias)
    assert re.search(r"on operands of different dtypes \((float32 and \w+|\w+ and float32)\), which a real run "
                     r"refuses|Input type \(.+\) and bias type \(float\) should be the same", line), line
    with pytest.raises(RuntimeError, match=r"dtype|type"):     # the real forward fails on it too
        dtype, _, shape = given.partition(":")
        getattr(hn, target)()(torch.zeros(1, *map(int, shape.split("x")), dtype=getattr(torch, dtype)))


def test_bool_operands_are_refused():
    class BoolMM(nn.Module):
        def forward(self, x):
            return x @ x.t()

    with pytest.raises(archstat.errors.ConfigError, match="mm on bool operands, which no real kernel implements"):
        archstat.analyze(BoolMM(), input_shape="bool:4")


@pytest.mark.parametrize("target, given, macs", [
    ("CastsFirst", "int64:8", 8 * 4),          # the model casts its input: nothing to refuse
    ("linear8", "float32:8", 8 * 8),
])
def test_inputs_a_real_run_takes_are_traced(cli, target, given, macs):
    r = cli("table", f"module:{HN}:{target}", "--input", given, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["macs"] == macs


def test_integer_matrix_products_are_allowed():
    class IntMM(nn.Module):
        def forward(self, x):
            return x @ torch.ones(4, 3, dtype=torch.int64, device=x.device)

    IntMM()(torch.zeros(2, 4, dtype=torch.int64))       # the CPU runs it
    assert archstat.analyze(IntMM(), input_shape="int64:4").totals.macs == 4 * 3


# -- 6. the factory's example values are kept -----------------------------------------------------------------

@pytest.mark.parametrize("target, macs", [("needs_ones", 64), ("arange_index", 0)])
def test_the_factorys_example_values_reach_a_forward_that_reads_them(cli, target, macs):
    r = cli("table", f"module:{HN}:{target}", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["totals"]["macs"] == macs and any("ran on real CPU tensors" in n for n in d["notes"])


def test_the_note_says_the_values_were_the_factorys(cli):
    d = json.loads(cli("table", f"module:{HN}:selects_positive", "--format", "json").stdout)
    (note,) = [n for n in d["notes"] if n.startswith("data-dependent ops")]
    assert "for this input (the factory's example values)" in note and "(zeros)" not in note
    d = json.loads(cli("table", f"module:{HN}:SelectsPositive", "--input", "8", "--format", "json").stdout)
    (note,) = [n for n in d["notes"] if n.startswith("data-dependent ops")]
    assert "for this input (zeros)" in note


def test_example_values_too_big_for_a_second_run_are_not_kept(cli):
    d = json.loads(cli("table", f"module:{HN}:big_example", "--format", "json").stdout)
    assert d["totals"]["macs"] == 2**28 // 8 * 64          # the shapes stand: 2^25 rows × 8·8
    assert any(n.startswith("the factory's example values could not be kept (MemoryError: a tensor of "
                            "268,435,456 elements") for n in d["notes"])


# -- 5. batch tracing that refuses what it cannot prove ---------------------------------------------------------

def test_a_forward_that_branches_on_batch_one_is_refused_at_batch_one(cli):
    line = one_error(cli("table", f"module:{HN}:BranchesOnBatchOne", "--input", "8"))
    # 12 Linears 64→64 at batch 1 (12 · 4,096), against 8·4 per sample at batches 2 and 3
    assert ("the forward does other work at batch 1 (49,152 MACs) than the traces at batches 2 and 3 give one "
            "sample (32): it branches on the batch size") in line
    d = json.loads(cli("table", f"module:{HN}:BranchesOnBatchOne", "--input", "8", "--batch", "4",
                       "--format", "json").stdout)
    assert d["totals"]["macs"] == 4 * 32            # at batch 4 (and 5) it runs the small Linear


@pytest.mark.parametrize("batch", ["1", "4"])
def test_a_forward_that_does_more_each_call_is_refused(cli, batch):
    line = one_error(cli("table", f"module:{HN}:more_each_call", "--input", "8", "--batch", batch))
    assert "the forward is not deterministic: two traces at batch" in line
    assert "its cost changes from one call to the next: it keeps state between calls" in line


@pytest.mark.parametrize("cls", ["RandomDepth", "RandomWidth", "NumpyCoin"])
@pytest.mark.parametrize("batch", ["1", "3"])
def test_a_forward_that_branches_on_random_numbers_is_named_as_such(cli, cls, batch):
    line = one_error(cli("table", f"module:{HN}:{cls}", "--input", "64" if cls == "RandomWidth" else "8",
                         "--batch", batch))
    assert "the forward is not deterministic" in line and "with the random numbers it draws" in line


def test_random_numbers_that_change_no_cost_are_fine(cli):
    import random

    state = random.getstate()
    d = json.loads(cli("table", f"module:{HN}:DrawsButCostsTheSame", "--input", "8", "--format", "json").stdout)
    assert d["totals"]["macs"] == 64
    assert random.getstate() == state               # the caller's generator is left as it was


def test_a_loop_over_the_samples_is_still_one_sample_each(cli):
    for batch in (1, 2, 5):
        d = json.loads(cli("table", f"module:{HN}:PerSampleLoop", "--input", "8", "--batch", str(batch),
                           "--format", "json").stdout)
        assert d["totals"]["macs"] == 32 * batch


def test_a_first_call_that_fills_a_cache_is_traced_as_later_calls_run(cli):
    d = json.loads(cli("table", f"module:{HN}:FillsACacheOnce", "--input", "16", "--format", "json").stdout)
    assert d["totals"]["macs"] == 256                # the Linear; the table's 4,096 only on the first call
    assert any("the first call of the forward did work later calls skip" in n for n in d["notes"])


@pytest.mark.parametrize("make, given, kernel", [
    (lambda: nn.Sequential(nn.ReLU()), "bool:8", "relu on bool tensors"),
    (lambda: nn.Softmax(-1), "int64:8", "_softmax on int64 tensors"),
    (lambda: nn.GELU(), "int32:8", "gelu on int32 tensors"),
])
def test_kernels_the_cpu_lacks_for_a_dtype_are_refused(make, given, kernel):
    with pytest.raises(archstat.errors.ConfigError, match=f"{kernel}, which a real run refuses"):
        archstat.analyze(make(), input_shape=given)


def test_integer_inputs_the_cpu_takes_are_traced():
    m = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(20, 2))
    assert archstat.analyze(m, input_shape="int64:5").totals.macs == 20 * 2
    assert archstat.analyze(nn.AvgPool1d(2), input_shape="int64:2x8").totals.complete
