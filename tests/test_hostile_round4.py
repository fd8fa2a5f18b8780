"""Hostile input, round 4 (issue 34): where --calibrate writes, the API's typed errors, outputs shown whole,
internal errors turned into the user's message, refusals that say what is wrong, and the MIG profiles that
exist. The peers' conventions against the real peers are in test_conventions_peers.py; threads, the output
channel, dtypes and batch tracing in test_hostile_trace.py."""

import json
import os

import pytest

from tests.conftest import ROOT
from tests.test_hostile import one_error
from tests.test_roofline import FAKE

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

# -- 12. where --calibrate writes ------------------------------------------------------------------

def _fake_measure(monkeypatch):
    import archstat.profile.calibrate as calibrate

    monkeypatch.setattr(calibrate, "measure", lambda device, dtype: dict(FAKE))


def test_calibration_lock_symlink_is_not_followed(cli, xdg_cache, tmp_path, monkeypatch):
    _fake_measure(monkeypatch)
    folder = xdg_cache / "archstat"
    folder.mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "planted"
    outside.parent.mkdir()
    (folder / "calibration.json.lock").symlink_to(outside)
    r = cli("roofline", "--device", "cpu", "--calibrate")
    line = one_error(r)
    assert "calibration.json.lock: the calibration lock is a symbolic link; archstat does not follow it" in line
    assert not outside.exists()                               # its target was never created
    assert not (folder / "calibration.json").exists()         # and nothing was stored


def test_calibration_lock_that_is_a_fifo_is_refused(cli, xdg_cache, monkeypatch):
    _fake_measure(monkeypatch)
    folder = xdg_cache / "archstat"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "calibration.json.lock")
    line = one_error(cli("roofline", "--device", "cpu", "--calibrate"))
    assert "the calibration lock is not a regular file" in line


def test_relative_xdg_cache_home_is_ignored(cli, tmp_path, monkeypatch):
    _fake_measure(monkeypatch)
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative-cache")
    monkeypatch.chdir(work)
    r = cli("roofline", "--device", "cpu", "--calibrate")
    assert r.exit_code == 0, r.stderr
    assert not (work / "relative-cache").exists()             # nothing under the current folder
    assert json.loads((home / ".cache" / "archstat" / "calibration.json").read_text())["cpu"]["bandwidth"] == 10e9


def test_calibration_nested_deep_is_unreadable_not_internal(cli, xdg_cache):
    folder = xdg_cache / "archstat"
    folder.mkdir(parents=True)
    (folder / "calibration.json").write_text("[" * 200_000 + "]" * 200_000)
    line = one_error(cli("roofline", "resnet18", "--device", "cpu"))
    assert "unreadable calibration (nested too deep for a calibration); delete it" in line


# -- 8. the roofline's JSON says the dtype the run stores and whether TF32 ran -------------------------

@pytest.mark.parametrize("args, dtype, tf32", [
    (("--dtype", "fp16"), "float16", {"conv": False, "matmul": False}),
    (("--dtype", "fp16", "--tf32"), "float16", {"conv": False, "matmul": False}),   # no float32 product runs
    (("--dtype", "bf16", "--no-tf32"), "bfloat16", {"conv": False, "matmul": False}),
    (("--dtype", "fp16", "--amp"), "float32", {"conv": False, "matmul": False}),     # autocast: fp32 master weights
    (("--runtime", "engine", "--dtype", "int8"), "int8", {"conv": False, "matmul": False}),
    (("--tf32",), "float32", {"conv": True, "matmul": True}),
    ((), "float32", {"conv": True, "matmul": False}),                                 # PyTorch's defaults on a GPU
])
def test_roofline_json_dtype_and_tf32_are_the_runs(cli, args, dtype, tf32):
    r = cli("roofline", "resnet18", "--device", "a100", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["dtype"], d["tf32"]) == (dtype, tf32)


def test_roofline_json_tf32_is_off_on_a_cpu(cli):
    d = json.loads(cli("roofline", "resnet18", "--device", "cpu", "--peak", "1T", "--bandwidth", "100G",
                       "--format", "json").stdout)
    assert (d["dtype"], d["tf32"]) == ("float32", {"conv": False, "matmul": False})


# -- 9. outputs are never cut without a word, nor invented -------------------------------------------------

HN = ROOT / "tests" / "fixtures" / "hostile_nets.py"


def _json(cli, *args):
    r = cli("table", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_many_outputs_are_counted_and_the_cut_is_said(cli):
    d = _json(cli, f"module:{HN}:ManyOutputs", "--input", "8")
    assert len(d["outputs"]) == 1000 and d["outputs_total"] == 3000
    assert d["outputs"][999]["name"] == "[999]"
    text = cli("table", f"module:{HN}:ManyOutputs", "--input", "8").stdout
    assert "3,000 outputs" in text and "… and 2,000 more (3,000 outputs in all, the first 1,000 listed)" in text


@pytest.mark.parametrize("cls, shown", [("ReturnsNone", "None"), ("ReturnsSet", "set"),
                                        ("ReturnsGenerator", "generator"), ("ReturnsString", "str"),
                                        ("ReturnsInt", "int")])
def test_an_output_without_a_tensor_has_no_invented_shape(cli, cls, shown):
    d = _json(cli, f"module:{HN}:{cls}", "--input", "8")
    assert d["output_shape"] is None                       # never [1]
    assert d["outputs"] == [{"name": "output", "type": shown}] and d["outputs_total"] == 1
    assert d["totals"]["macs"] == 64                         # the Linear it ran: 8·8
    csv_total = cli("table", f"module:{HN}:{cls}", "--input", "8", "--format", "csv").stdout.splitlines()[-1]
    assert csv_total.startswith("TOTAL,,,,")                 # no shape cell
    text = cli("table", f"module:{HN}:{cls}", "--input", "8").stdout
    assert f"outputs      output: {shown}" in text


# -- 10. internal errors for user models, turned into the user's message -------------------------------------

@pytest.mark.parametrize("target, expected", [
    ("NoParams", "nothing to train: the model has no parameters; profile or trace it in eval mode"),
    ("frozen", "nothing to train: all 2 of its parameters are frozen (requires_grad=False); profile or trace it "
               "in eval mode"),
    ("ReturnsInt", "a training step takes a loss of the forward's output, and it returned int, no tensor"),
    ("ReturnsNone", "a training step takes a loss of the forward's output, and it returned None, no tensor"),
])
@pytest.mark.parametrize("command", ["profile", "roofline"])
def test_a_training_step_with_nothing_to_train(cli, command, target, expected):
    extra = ("--iters", "1", "--warmup", "0") if command == "profile" else ("--device", "h100")
    line = one_error(cli(command, f"module:{HN}:{target}", "--input", "8", "--train", *extra))
    assert expected in line


def test_profile_feeds_token_ids_to_an_embedding(cli):
    r = cli("profile", f"module:{HN}:embedding_first", "--input", "8", "--iters", "1", "--warmup", "0",
            "--no-layers", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["macs_per_step"] == 8 * 16 * 4   # the Linear on 8 tokens (the lookup has none)


@pytest.mark.parametrize("target, shape, macs", [
    ("lazy_linear", "8", 8 * 8 + 8 * 2),        # LazyLinear(8) on 8 features, then Linear 8→2
    ("lazy_conv", "3x8x8", 36 * 4 * 27),        # LazyConv2d(4, 3) on 3×8×8: 6×6 positions × 4 × 3·3·3
])
def test_lazy_modules_are_materialised_by_a_dry_forward(cli, target, shape, macs):
    d = _json(cli, f"module:{HN}:{target}", "--input", shape)
    assert d["totals"]["macs"] == macs and d["totals"]["complete"]


def test_lazy_module_that_never_runs_is_refused_by_name(cli):
    line = one_error(cli("table", f"module:{HN}:LazyNeverRuns", "--input", "8"))
    assert "lazy parameters unused.weight, unused.bias are not materialised by a forward on a 1×8 input" in line


def test_a_real_lazy_module_through_the_api_is_left_untouched():
    from torch.nn.parameter import is_lazy

    import archstat

    m = nn.Sequential(nn.LazyLinear(4))
    assert archstat.analyze(m, input_shape=(6,)).totals.macs == 6 * 4
    assert is_lazy(m[0].weight)                              # archstat traced a copy


def test_nesting_torch_runs_is_traced_and_past_the_bound_refused(cli):
    from archstat.trace.run import MAX_MODULE_DEPTH

    d = _json(cli, f"module:{HN}:nested(200)", "--input", "8")
    assert d["totals"]["macs"] == 64
    line = one_error(cli("table", f"module:{HN}:nested(3000)", "--input", "8"))
    assert f"the module nests 3,000 modules deep, more than the {MAX_MODULE_DEPTH:,} archstat traces" in line


def test_a_forward_that_recurses_without_end_is_named():
    import archstat

    class Forever(nn.Module):
        def forward(self, x):
            return self(x)

    with pytest.raises(archstat.errors.UsageError, match="recursed past Python's limit"):
        archstat.analyze(Forever(), input_shape=(4,))


@pytest.mark.parametrize("target, expected", [
    ("empty_example", "the factory's example inputs argument 0: an empty batch (0×8): an example input holds at "
                      "least one sample along dim 0"),
    ("cfg_string", "the model's pretrained_cfg['input_size'] is str '3x224x224', not a shape such as (3, 224, 224): "
                   "give --input"),
    ("cfg_none", "archstat cannot tell this module's input (its factory gives no example inputs, and it has no "
                 "timm pretrained config or torchvision weights to read it from): give --input (e.g. --input "
                 "3x224x224)"),
])
def test_factories_own_inputs_that_are_not_inputs(cli, target, expected):
    assert expected in one_error(cli("table", f"module:{HN}:{target}"))


# -- 11. typed, located errors at every API entry --------------------------------------------------------

def test_api_convention_is_checked():
    import archstat
    from archstat.errors import ArgumentTypeError, ArgumentValueError

    m = nn.Linear(8, 2)
    with pytest.raises(ArgumentTypeError, match=r"archstat.analyze: convention: expected one of fvcore, "):
        archstat.analyze(m, input_shape=(8,), convention=5)
    with pytest.raises(ArgumentValueError, match=r"unknown convention 'FVCORE' \(did you mean 'fvcore'\?\)"):
        archstat.analyze(m, input_shape=(8,), convention="FVCORE")


@pytest.mark.parametrize("shape", ["16x64", ["16x64"], {"input": "16x64"}, (16, 64)])
def test_api_roofline_parses_a_string_never_iterates_it(shape):
    import archstat

    rl = archstat.roofline(nn.Linear(64, 8), device="h100", input_shape=shape)
    assert rl.macs == 16 * 64 * 8          # 16 tokens × 64 → 8


def test_api_roofline_input_shape_is_checked_first():
    import archstat
    from archstat.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError, match=r"archstat.roofline: input_shape: expected a shape"):
        archstat.roofline(nn.Linear(64, 8), device="h100", input_shape=3.5)


@pytest.mark.parametrize("kw, expected", [
    (dict(batch=0), "trace_batches: batch: must be between 1 and 1,000,000,000, got 0"),
    (dict(batch="2"), "trace_batches: batch: expected an integer, got str '2'"),
    (dict(batch=2, other=2), "trace_batches: other: the second batch must differ from the first (2)"),
    (dict(batch=2, other=0), "trace_batches: other: must be between 1"),
    (dict(batch=2, device="cuda"), "trace_batches: device: unknown device 'cuda'"),
    (dict(batch=2, mode="training"), "trace_batches: mode: unknown mode 'training'"),
])
def test_trace_batches_arguments_are_checked(kw, expected):
    from archstat.errors import ArchstatError
    from archstat.trace.batch import trace_batches

    with pytest.raises(ArchstatError) as info:
        trace_batches(nn.Linear(8, 2), (8,), **kw)
    assert expected in str(info.value)


def test_trace_batches_takes_a_real_module_and_leaves_it_alone():
    from archstat.trace.batch import trace_batches

    m = nn.Linear(8, 2)
    bt = trace_batches(m, (8,), batch=2)
    assert bt.batches == (2, 3) and [o.macs_at(5) for o in bt.ops if o.op in ("addmm", "mm")] == [5 * 16]
    assert m.weight.device.type == "cpu"


# -- 13. refusals that say what is wrong ---------------------------------------------------------------------

def test_profile_takes_the_factorys_example_input(cli):
    r = cli("profile", f"module:{HN}:with_example", "--iters", "1", "--warmup", "0", "--no-layers",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["macs_per_step"] == 8 * 4
    assert cli("roofline", f"module:{HN}:with_example", "--device", "h100").exit_code == 0


def test_a_value_input_is_named_in_a_failure(cli):
    line = one_error(cli("table", f"module:{HN}:takes_an_int"))
    assert "the module's forward failed on an input of type int 3: RuntimeError: mat1 and mat2" in line


def test_profile_of_a_model_too_big_to_build_is_out_of_memory_with_the_estimate(cli, monkeypatch):
    from archstat.profile import measure

    # the host's memory fixed (64 GB), so the refusal does not depend on this machine (or on /proc/meminfo)
    monkeypatch.setattr(measure, "_capacity", lambda dev: (64 * 10**9, "this machine's available memory"))
    line = one_error(cli("profile", f"module:{HN}:trillion", "--input", "1000000", "--iters", "1"), code=1)
    # Linear(10^6, 10^6): 10^12 weights + 10^6 biases = 1,000,001,000,000 parameters × 4 B = 4,000.0 GB
    assert "out of memory: the model's parameters and buffers take 4,000.0 GB (1,000,001,000,000 parameters)" in line
    assert "more than this machine's available memory (64.0 GB)" in line
    assert "archstat's estimate for the run at batch 1:" in line


def test_the_limits_table_states_round_4s_bounds():
    from archstat.analyze.stats import ModelStats  # noqa: F401  (the layer the outputs_total field lives in)
    from archstat.trace import analyze, factory, outputs, run
    from tests.test_hostile import _limits_rows

    text = " ".join(" ".join(r) for r in _limits_rows())
    assert f"{run.MAX_MODULE_DEPTH:,} modules deep" in text
    assert f"the first {outputs.MAX_OUTPUTS:,} listed, every one counted (up to {outputs.MAX_COUNTED:,}" in text
    assert f"no tensor may exceed {factory.EXAMPLE_CAP // 2**20} MiB" in text
    assert f"traced at {analyze.RANDOM_SEEDS} seeds in all" in text


# -- 14. os._exit in user code -------------------------------------------------------------------------------

@pytest.mark.parametrize("target, what", [
    ("ExitsHard", "the forward called os._exit(0) at "),
    ("exits_in_the_factory", "the factory called os._exit(3) at "),
])
def test_os_exit_in_user_code_is_a_located_error(cli, monkeypatch, target, what):
    def not_caught(code):   # the guard wraps whatever os._exit is: were it broken, this fails the test
        pytest.fail(f"os._exit({code}) reached the real exit: archstat's guard did not catch it")

    monkeypatch.setattr(os, "_exit", not_caught)
    line = one_error(cli("table", f"module:{HN}:{target}", "--input", "8"))
    assert what in line and "hostile_nets.py:" in line and "which would end archstat at once with no output" in line
    assert os._exit is not_caught                              # put back


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_still_exits():
    import archstat
    from tests.fixtures import hostile_nets

    hostile_nets.CHILD_STATUS.clear()
    assert archstat.analyze(hn_module("ForksAChild"), input_shape=(8,)).totals.macs == 64
    assert hostile_nets.CHILD_STATUS and all(s == 0 for s in hostile_nets.CHILD_STATUS)   # exited, status 0


def hn_module(name):
    from tests.fixtures import hostile_nets

    return getattr(hostile_nets, name)()


def test_profile_materialises_lazy_modules(cli):
    r = cli("profile", f"module:{HN}:lazy_linear", "--input", "8", "--iters", "1", "--warmup", "0", "--no-layers",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["macs_per_step"] == 8 * 8 + 8 * 2
