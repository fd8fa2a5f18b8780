"""The wheel ships the zoo: built from this checkout, installed into a fresh venv, run from elsewhere."""

import json
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow   # a wheel build and a fresh venv


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"pip wheel failed: {r.stderr[-2000:]}")
    (path,) = out.glob("archstat-*.whl")
    return path


def test_wheel_contains_the_zoo(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    zoo = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    assert zoo, "no configs in the checkout"
    for name in zoo:
        assert f"archstat/configs/{name}" in names
    assert "archstat/data/devices.yaml" in names   # the roofline's devices


def test_fresh_venv_without_torch(wheel, tmp_path):
    """The analytic commands work from the wheel alone; the torch ones say how to install the extra."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode != 0
    exe = str(venv / "bin" / "archstat")

    def run(*args):
        return subprocess.run([exe, *args], capture_output=True, text=True, cwd=tmp_path)

    r = run("table", "vgg16", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["params"] == 138_357_544
    for args in (["compare", "googlenet-naive", "googlenet-bottleneck"], ["list"], ["info", "resnet50"],
                 ["reproduce"], ["graph", "resnet18"], ["sweep", "resnet18", "--batch", "1,8"],
                 ["roofline", "resnet18", "--device", "h100", "--dtype", "bf16"]):
        r = run(*args)
        assert r.returncode == 0 and r.stdout and r.stderr == "", (args, r.stderr)
    # archstat is not on the package index: the hint installs the extra from the wheel it came from, with the
    # pip of the environment it runs in (issue 33 item 2), never 'archstat[torch]' from an index
    install = f"(venv/bin/pip install '{wheel}[torch]')"   # run from tmp_path: its venv, not the one on PATH
    for args in (["verify", "vgg16"], ["profile", "resnet18"]):
        r = run(*args)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr == f"error: this command needs torch, which is not installed {install}\n"
    wheel_gone = wheel.with_name("gone-" + wheel.name)
    wheel.rename(wheel_gone)
    try:   # the wheel file is gone: the extra's own requirements
        r = run("verify", "vgg16")
        assert r.returncode == 1 and r.stderr.startswith("error: this command needs torch, which is not installed "
                                                         "(venv/bin/pip install '"), r.stderr
        assert "'torch>=2.2'" in r.stderr and "'fvcore>=0.1.5'" in r.stderr and "archstat[" not in r.stderr
    finally:
        wheel_gone.rename(wheel)


def test_wheel_ships_py_typed(wheel):
    """PEP 561: type checkers read archstat's annotations."""
    assert "archstat/py.typed" in zipfile.ZipFile(wheel).namelist()
