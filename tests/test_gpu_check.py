"""benchmarks/gpu_check.sh on a machine without a GPU: its pre-flight fails fast and loudly, naming the
step, exit non-zero, and leaves exactly one archive and one summary (issue 21, point 1)."""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils")


def run(tmp_path, env_extra, *args):
    env = {**os.environ, **env_extra}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)


def check_outputs(dest, step):
    assert sorted(p.name for p in dest.iterdir()) == ["gpu-check.tar.gz", "summary.md"]
    summary = (dest / "summary.md").read_text()
    assert f"**FAILED** at step `{step}`" in summary
    with tarfile.open(dest / "gpu-check.tar.gz") as tar:
        names = tar.getnames()
    assert "./summary.md" in names and "./steps.tsv" in names
    return summary


@pytest.mark.slow
def test_preflight_fails_at_the_cpu_build(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.version.cuda:
        pytest.skip("this torch is a CUDA build")
    r = run(tmp_path, {"PYTHON": sys.executable}, str(tmp_path / "out"))
    assert r.returncode == 1
    assert "gpu_check: FAILED at step preflight:cuda-build" in r.stderr
    summary = check_outputs(tmp_path / "out", "preflight:cuda-build")
    assert "is a CPU build (torch.version.cuda is None)" in summary


def test_preflight_fails_without_an_interpreter(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "date", "mkdir", "mktemp", "cp", "tar", "gzip", "rm", "cat", "tee", "dirname", "timeout",
                 "grep", "tail", "cut", "tr"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    r = run(tmp_path, {"PATH": str(bin_dir), "PYTHON": ""}, str(tmp_path / "out"))
    assert r.returncode == 1 and "FAILED at step preflight:interpreter" in r.stderr
    check_outputs(tmp_path / "out", "preflight:interpreter")


def test_preflight_fails_without_torch(tmp_path):
    # this interpreter with -S (no site-packages): a Python without torch
    if subprocess.run([sys.executable, "-S", "-c", "import torch"], capture_output=True).returncode == 0:
        pytest.skip("cannot hide torch from the interpreter")
    wrapper = tmp_path / "python-without-site"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    wrapper.chmod(0o755)
    python = str(wrapper)
    r = run(tmp_path, {"PYTHON": python}, str(tmp_path / "out"))
    assert r.returncode == 1 and "FAILED at step preflight:torch" in r.stderr
    assert "has no torch" in check_outputs(tmp_path / "out", "preflight:torch")


def test_the_plan_fits_one_budget_under_six_minutes(tmp_path):
    r = run(tmp_path, {}, "--plan")
    assert r.returncode == 0
    budget = int(re.search(r"budget: (\d+) s for the whole run \((\d+) s kept", r.stdout).group(1))
    reserve = int(re.search(r"\((\d+) s kept", r.stdout).group(1))
    caps = [int(c) for c in re.findall(r" cap +(\d+) s ", r.stdout)]
    assert budget < 360 and sum(caps) <= budget - reserve       # no step is starved by the ones before it
    steps = re.findall(r"^(\S+) +cap", r.stdout, flags=re.M)
    for needed in ("cuda-tests", "calibrate-fp32", "calibrate-tf32", "calibrate-bf16", "resnet50-bf16-nchw",
                   "resnet50-bf16-channels-last", "vgg16-fp32-b64", "resnet152-mission", "resnet50-per-layer"):
        assert needed in steps
    assert "--sweep-batch 8,64,256" in r.stdout and "--channels-last" in r.stdout
    assert "profile --device cuda resnet152\n" in r.stdout
    assert not (tmp_path / "gpu-results").exists()              # the plan writes nothing
