"""The wheel ships the zoo: built from this checkout, installed into a fresh venv, run from elsewhere."""

import json
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


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


def test_fresh_venv_runs_table(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    r = subprocess.run([str(pip), "install", "-q", str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([str(venv / "bin" / "archstat"), "table", "vgg16", "--format", "json"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["params"] == 138_357_544
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True)
    assert r.returncode != 0  # the analytic install does not pull torch
