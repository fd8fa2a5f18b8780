"""Checks that need a real CUDA GPU (marked gpu, skipped without one; benchmarks/gpu_check.sh runs them).
The same branches run on every machine through the fake CUDA layer (tests/test_fake_cuda.py); these
check what a fake cannot: that the events, the allocator and the settings behave so on the hardware."""

import pytest

torch = pytest.importorskip("torch")

import archstat  # noqa: E402
from archstat.profile import precision  # noqa: E402
from archstat.profile.measure import profile  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_profile_on_the_gpu_gives_consistent_figures(xdg_cache):
    p = profile("resnet18", device="cuda", batch=8, warmup=3, iters=5, layer_repeats=3)
    stats = archstat.analyze("resnet18", batch=8, fold=False)
    assert p.measured_peak_bytes > p.weights_bytes > 0
    # the weights the allocator holds: params and buffers (batch norm's statistics), each allocation rounded up
    # to a multiple of 512 bytes by PyTorch's caching allocator
    module = archstat.build("resnet18")
    tensors = list(module.parameters()) + list(module.buffers())
    rounded = sum(-(-t.numel() * t.element_size() // 512) * 512 for t in tensors)
    assert stats.totals.params * 4 <= p.weights_bytes <= rounded + (64 << 10)
    assert {x.name for x in p.layers} == {r.name for r in stats.rows if r.op != "input"}
    # rows are their own GPU times: they add up to no more than the whole pass they were timed in
    assert 0 < p.layers_sum_ms <= p.layer_pass_ms * 1.01 and p.layers_gap_ms >= -0.01 * p.layer_pass_ms
    assert p.layer_method.startswith("CUDA events per row")
    assert p.math["conv"] in ("tf32", "fp32") and p.environment["cuda_runtime"] == torch.version.cuda
    assert p.device_entry is not None and p.prediction is not None


def test_amp_training_on_the_gpu(xdg_cache):
    p = profile("resnet18", device="cuda", batch=16, mode="train", dtype="float16", warmup=2, iters=3,
                per_layer=False)
    assert p.precision == "amp" and p.measured_peak_bytes > 0


def test_calibration_restores_the_settings_it_found(xdg_cache):
    from archstat.profile.calibrate import measure

    before = precision.read(torch)
    fp32 = measure("cuda", "fp32", size=2048, copy_bytes=1 << 28, repeats=2)
    tf32 = measure("cuda", "tf32", size=2048, copy_bytes=1 << 28, repeats=2)
    assert precision.read(torch) == before
    assert fp32["device"] == f"cuda:{torch.cuda.current_device()}"
    if torch.cuda.get_device_capability()[0] >= 8:    # TF32 tensor cores: TF32 is faster than IEEE FP32
        assert tf32["peak_flops"]["tf32"] > fp32["peak_flops"]["fp32"]


@pytest.mark.skipif(torch.cuda.is_available() and torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_the_second_gpu_is_measured_on_itself(xdg_cache):
    p = profile("resnet18", device="cuda:1", batch=8, warmup=2, iters=3, per_layer=False)
    assert p.device == "cuda:1" and torch.cuda.max_memory_allocated(1) > 0
