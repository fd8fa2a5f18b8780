"""Hostile input, round 4 (issue 34): where --calibrate writes, the API's typed errors, outputs shown whole,
internal errors turned into the user's message, refusals that say what is wrong, and the MIG profiles that
exist. The peers' conventions against the real peers are in test_conventions_peers.py; threads, the output
channel, dtypes and batch tracing in test_hostile_trace.py."""

import json
import os

import pytest

from tests.test_hostile import one_error
from tests.test_roofline import FAKE

torch = pytest.importorskip("torch")


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
