"""archstat profile on the CPU (small configs, few steps): structure, real optimizer steps, errors.
GPU-only checks are marked and skipped without CUDA."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")

import archstat  # noqa: E402
from archstat.profile.measure import make_step, profile  # noqa: E402


def test_cpu_profile_structure():
    p = profile("googlenet-naive", device="cpu", batch=2, warmup=1, iters=3)
    analytic = archstat.analyze("googlenet-naive", fold=False, batch=2)
    assert {x.name for x in p.layers} == {r.name for r in analytic.rows if r.op != "input"}  # a timing per row
    assert all(x.time_ms > 0 for x in p.layers)
    assert len(p.latencies_ms) == 3 and min(p.latencies_ms) > 0
    assert p.percentile(0.1) <= p.median_ms <= p.percentile(0.9)
    assert p.macs_per_step == analytic.totals.macs
    assert p.weights_bytes == analytic.totals.params * 4 and p.estimate_bytes > p.weights_bytes
    assert p.threads == torch.get_num_threads()


@pytest.mark.slow
def test_cli_json_keys_in_a_fresh_process():
    r = subprocess.run([sys.executable, "-m", "archstat", "profile", "conv3x3-stack", "--device", "cpu",
                        "--batch", "2", "--warmup", "1", "--iters", "2", "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("model", "device", "device_name", "torch_version", "dtype", "batch", "mode", "latency_ms",
                "throughput_samples_per_s", "macs_per_s", "memory", "layers"):
        assert key in d
    assert d["memory"]["measured_peak_bytes"] > 0 and d["latency_ms"]["median"] > 0
    assert d["torch_version"] == torch.__version__ and d["batch"] == 2


def test_train_mode_takes_real_optimizer_steps():
    torch.manual_seed(0)
    module = archstat.build("conv3x3-stack", C=4, input_shape=(4, 8, 8))
    before = [p.detach().clone() for p in module.parameters()]
    step = make_step(module, torch.randn(2, 4, 8, 8), "train", "adam")
    step()
    assert all(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    assert step.optimizer.state                  # adam keeps its moments
    p = profile("googlenet-inception3b", device="cpu", mode="train", optimizer="sgd", warmup=0, iters=2,
                per_layer=False)
    assert p.mode == "train" and p.optimizer == "sgd"
    # the step's MACs from its traced backward (perf's one training rule), not forward × 3: every conv's grad
    # weight (= its forward MACs, 304,267,264 in all), grad input only where the input needs a gradient — the
    # 3x3 and 5x5 convs after their reduces (173,408,256 + 60,211,200); the convs reading the block's input
    # (which needs none) compute no grad input
    forward = archstat.analyze("googlenet-inception3b").totals.macs
    assert forward == 304_267_264
    assert p.macs_per_step == forward + 304_267_264 + 173_408_256 + 60_211_200
    assert p.estimate_bytes == archstat.analyze("googlenet-inception3b", mode="train", optimizer="sgd").training.total


def test_sweep_batch_and_top(cli):
    r = cli("profile", "conv7x7", "--sweep-batch", "1,2", "--warmup", "0", "--iters", "2", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert [d["batch"] for d in json.loads(r.stdout)] == [1, 2]
    r = cli("profile", "googlenet-naive", "--warmup", "0", "--iters", "1", "--top", "2", "--format", "json")
    rows = {x.name for x in archstat.analyze("googlenet-naive", fold=False).rows if x.op != "input"}
    assert {x["name"] for x in json.loads(r.stdout)["layers"]} == rows   # JSON: every row; --top shortens the table
    r = cli("profile", "googlenet-naive", "--warmup", "0", "--iters", "1", "--top", "2", env={"COLUMNS": "80"})
    table = r.stdout.split("slowest rows", 1)[1].splitlines()[4:]   # after the heading, its wrap, header, rule
    assert len([line for line in table if line.strip()]) == 2 and max(map(len, r.stdout.splitlines())) <= 80


@pytest.mark.parametrize("args, message", [
    (["--device", "cuda"], "error: CUDA is not available on this machine"),
    (["--device", "tpu"], "error: unknown device 'tpu' (use cpu, cuda, cuda:N or mps; here: cpu"),
    (["--device", "mps"], "error: MPS is not available on this machine; available devices: cpu"),
])
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's errors")
def test_device_errors(cli, args, message):
    r = cli("profile", "resnet152", *args)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_profile():
    # on a real GPU; tests/test_gpu.py checks more, tests/test_fake_cuda.py drives the same branches everywhere
    p = profile("resnet18", device="cuda", batch=8, warmup=2, iters=5)
    assert p.measured_peak_bytes > p.weights_bytes > 0 and p.median_ms > 0
    assert p.layers_sum_ms <= p.layer_pass_ms * 1.01


def test_a_training_step_without_its_traced_backward_reports_no_mac_rate():
    """Where the backward could not be traced, the step's MACs are unknown: no rate is made up (forward × 3)."""
    import dataclasses

    from archstat.profile.measure import _step_macs
    from archstat.report.profile_report import render

    stats = archstat.analyze("conv7x7")
    assert _step_macs(stats, None, "train") is None
    assert _step_macs(stats, None, "eval") == stats.totals.macs
    p = dataclasses.replace(profile("conv7x7", device="cpu", warmup=0, iters=2, per_layer=False), mode="train",
                            optimizer="sgd", macs_per_step=None)
    assert p.macs_per_s is None and p.peak_share is None
    assert "the training step's backward could not be traced" in render([p], "text").text()
    assert json.loads(render([p], "json"))["macs_per_s"] is None
    assert render([p], "csv").splitlines()[1].split(",")[9] == ""


def test_every_output_takes_a_gradient_in_the_traced_and_the_measured_step():
    """One loss for the step profile measures and the backward the prediction traces (trace.run.stand_in_loss):
    a model with two heads trains both. Per sample: forward 8·16 (trunk) + 16·4 + 16·4 (heads) = 256 MACs;
    backward: every weight's gradient (256 again) and the heads' grad inputs (16·4 · 2 = 128), none for the
    trunk's input (the data needs no gradient): 640 per sample, 1,280 at batch 2."""
    from torch import nn

    from archstat.perf.plan import step_macs
    from archstat.trace.analyze import analyze_module
    from archstat.trace.inputs import InputSpec

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk, self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 4), nn.Linear(16, 4)

        def forward(self, x):
            h = self.trunk(x)
            return self.a(h), self.b(h)

    traced = analyze_module(TwoHeads(), InputSpec((8,)), batch=2, mode="train", backward=True)
    assert step_macs(traced.op_calls) == 1_280
    model = TwoHeads()
    step = make_step(model, torch.randn(2, 8), "train", "sgd")
    step()
    assert all(p.grad is None for p in model.parameters())       # zeroed after the step…
    before = [p.detach().clone() for p in model.parameters()]
    step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))   # …and every head trained
