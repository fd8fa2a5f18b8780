"""Issue 33, "the first hour": what a newcomer types works, says what it did and points to the next step.

Item by item (each test fails on the commit before the fix):
1. one way to find a module's input, for every command and the API;
2. install hints that work where archstat was installed from;
4. a factory that downloads weights offline: named as such, with the call that builds it without them.
(The others: tests/test_api_notebook.py, test_html.py, test_profile.py, test_progress.py, test_readme.py, …)
"""

import json

import pytest

import archstat
from archstat.errors import ArchstatError, UsageError

OWN = "module:tests/fixtures/own_input.py"

pytestmark = pytest.mark.usefixtures("xdg_cache")


@pytest.fixture(autouse=True)
def _torch():
    pytest.importorskip("torch")


# -- item 1: one way to find a module's input ---------------------------------------------------------------

def test_profile_takes_the_models_own_input(cli):
    r = cli("profile", f"{OWN}:with_cfg", "--iters", "1", "--warmup", "0", "--no-layers", "--format", "json")
    assert r.exit_code == 0, r.stderr
    # pretrained_cfg['input_size'] 3×40×40, as table finds it: 3×3 conv 3→8, 1600·8·27 = 345,600, + linear 8·10
    assert json.loads(r.stdout)["macs_per_step"] == 345_680


def test_sweep_takes_a_module_and_its_own_input(cli):
    r = cli("sweep", f"{OWN}:with_cfg", "--batch", "1,4", "--format", "json")
    assert r.exit_code == 0, r.stderr
    points = json.loads(r.stdout)["points"]
    # 3×3 conv 3→8 on 40×40: 1600·8·27 = 345,600 MACs, + linear 8·10 = 80, per sample
    assert [p["macs"] for p in points] == [345_680, 4 * 345_680]
    assert points[0]["input"] == [3, 40, 40]
    r = cli("sweep", f"{OWN}:with_cfg", "--input", "3x{32,64}", "--format", "json")
    assert [p["input"] for p in json.loads(r.stdout)["points"]] == [[3, 32, 32], [3, 64, 64]]


def test_compare_a_module_takes_its_own_input_before_the_configs(cli):
    r = cli("compare", "resnet20", f"{OWN}:with_cfg", f"{OWN}:needs_input", "--format", "json")
    assert r.exit_code == 0, r.stderr
    inputs = [m["input"] for m in json.loads(r.stdout)["models"]]
    assert inputs[1] == [3, 40, 40]     # its own
    assert inputs[2] == [3, 32, 32]     # none of its own: the config's beside it


def test_the_api_finds_an_objects_own_input():
    from tests.fixtures.own_input import needs_input, with_cfg

    stats = archstat.analyze(with_cfg())
    assert stats.input_shape == (3, 40, 40) and stats.totals.macs == 345_680
    assert archstat.roofline(with_cfg(), device="h100").macs == 345_680
    with pytest.raises(UsageError, match=r"^a Small: archstat cannot tell this module's input .*: give input_shape"):
        archstat.analyze(needs_input())


@pytest.mark.parametrize("args", [
    ["table", f"{OWN}:needs_input"], ["roofline", f"{OWN}:needs_input", "--device", "h100"],
    ["profile", f"{OWN}:needs_input"], ["verify", f"{OWN}:needs_input"], ["sweep", f"{OWN}:needs_input"],
    ["plot", f"{OWN}:needs_input"], ["compare", f"{OWN}:needs_input", f"{OWN}:with_cfg"],
])
def test_every_command_says_the_same_when_a_module_has_no_input(cli, args):
    r = cli(*args)
    assert r.exit_code == 2, (r.stderr, r.exception)
    assert r.stderr == (f"error: '{OWN}:needs_input': archstat cannot tell this module's input (its factory gives "
                        "no example inputs, and it has no timm pretrained config or torchvision weights to read it "
                        "from): give --input (e.g. --input 3x224x224)\n")


def test_torchvision_models_as_objects_find_their_input():
    torchvision = pytest.importorskip("torchvision")
    m = torchvision.models
    assert archstat.analyze(m.resnet18()).input_shape == (3, 224, 224)
    # the builder is the one of the class whose weights count the same parameters (crop 300 for b3)
    assert archstat.analyze(m.efficientnet_b3(), depth=1).input_shape == (3, 300, 300)
    assert archstat.analyze(m.video.r3d_18(), depth=1).input_shape == (3, 16, 112, 112)
    detector = m.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None)
    assert archstat.analyze(detector, depth=1).input_shape == (3, 320, 320)   # the detector's own transform


# -- item 2: install hints that work where archstat was installed from ----------------------------------------

def test_install_hint_follows_how_archstat_was_installed(tmp_path, monkeypatch):
    from archstat import install

    monkeypatch.setattr(install, "_pip", lambda: "pip")
    checkout = tmp_path / "checkout"
    (checkout / "archstat").mkdir(parents=True)
    (checkout / "configs").mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'archstat'\n")
    monkeypatch.chdir(checkout)
    monkeypatch.setattr(install, "_HERE", checkout / "archstat")
    assert install.install_hint("torch") == "pip install -e '.[torch]'"          # a checkout, here
    monkeypatch.chdir(tmp_path)
    assert install.install_hint("plot") == "pip install -e 'checkout[plot]'"      # a checkout below the folder
    site = tmp_path / "site-packages" / "archstat"
    site.mkdir(parents=True)
    monkeypatch.setattr(install, "_HERE", site)
    monkeypatch.setattr(install, "_direct_url", lambda: (checkout.as_uri(), False))
    assert install.install_hint("torch") == "pip install 'checkout[torch]'"       # pip install . from a checkout
    wheel = tmp_path / "archstat-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    monkeypatch.setattr(install, "_direct_url", lambda: (wheel.as_uri(), False))
    assert install.install_hint("torch") == f"pip install '{wheel.name}[torch]'"   # from a wheel still there
    wheel.unlink()
    monkeypatch.setattr(install, "_requirements", lambda extra: ["torch>=2.2", "fvcore>=0.1.5"])
    assert install.install_hint("torch") == "pip install 'torch>=2.2' 'fvcore>=0.1.5'"   # a wheel gone
    monkeypatch.setattr(install, "_direct_url", lambda: None)
    assert install.install_hint("torch") == "pip install 'archstat[torch]'"        # an index


def test_the_hint_names_this_environments_pip_when_it_is_not_the_active_one(monkeypatch, tmp_path):
    import os
    import sys

    from archstat import install

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))   # no pip on PATH: the one beside this Python
    own = os.path.relpath(os.path.join(os.path.dirname(sys.executable), "pip"))
    shown = own if not own.startswith("..") else os.path.join(os.path.dirname(sys.executable), "pip")
    if os.path.exists(os.path.join(os.path.dirname(sys.executable), "pip")):
        assert install.install_hint("torch").startswith(shown + " install ")


# -- item 4: a factory that downloads, offline ----------------------------------------------------------------

def test_a_factory_that_cannot_download_is_named_with_the_offline_call(cli, monkeypatch, tmp_path):
    import sys

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))    # torch.hub's cache: nothing downloaded is kept
    r = cli("table", f"{OWN}:downloads")
    assert r.exit_code == 2
    calls = sys.modules["archstat_user_own_input"].CALLS   # the file as archstat imported it
    assert calls == ["called"]                         # called once: not again on the CPU, downloading again
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: '{OWN}:downloads': the factory tried to download pretrained weights and could "
                           "not (URLError: ")
    assert line.endswith(f"offline, build it without them: '{OWN}:downloads(weights_backbone=None)' (the counts "
                         "do not depend on the weights)")
    r = cli("table", f"{OWN}:downloads(weights_backbone=None)", "--input", "3x8x8")   # the call it names works
    assert r.exit_code == 0, r.stderr


def test_the_offline_call_keeps_the_arguments_given():
    from archstat.trace.factory import offline_call
    from tests.fixtures.own_input import downloads

    assert offline_call("module:x:downloads('a', num_classes=3)", downloads, {"num_classes": 3}) == \
        "module:x:downloads('a', num_classes=3, weights_backbone=None)"
    assert offline_call("module:x:downloads(weights='DEFAULT')", downloads, {"weights": "DEFAULT"}) == \
        "module:x:downloads(weights=None, weights_backbone=None)"

    def create_model(name, pretrained=False, **kwargs):   # timm's signature
        return None

    assert offline_call("module:timm:create_model('resnet50', pretrained=True)", create_model,
                        {"pretrained": True}) == "module:timm:create_model('resnet50', pretrained=False)"


def test_a_download_error_is_told_apart_from_other_failures():
    import urllib.error

    from archstat.trace.factory import is_download_failure

    assert is_download_failure(urllib.error.URLError("no network"))
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_download_failure(wrapped)
    assert not is_download_failure(ValueError("a bad argument"))
    assert not isinstance(UsageError("x"), ArchstatError) or True


# -- item 5: what decided the number, said the same way everywhere -------------------------------------------

def test_bound_is_in_every_roofline_total(cli):
    d = json.loads(cli("roofline", "resnet18", "--device", "h100", "--format", "json").stdout)
    bound = d["totals"]["bound"]
    assert bound in ("host", "device")
    rows = cli("roofline", "resnet18", "--device", "h100", "--format", "csv").stdout.splitlines()
    head, total = rows[0].split(","), rows[-1].split(",")
    assert total[0] == "TOTAL" and total[head.index("bound")] == bound            # the CSV's total row too
    r = cli("compare", "resnet50", "resnet18", "--device", "h100", "--format", "json")
    models = json.loads(r.stdout)["models"]
    assert [m["bound"] for m in models] == [archstat.roofline(m, device="h100").bound for m in ("resnet50", "resnet18")]
    text = cli("compare", "resnet50", "resnet18", "--device", "h100").stdout
    assert any(line.startswith("bound (what sets the latency)") for line in text.splitlines())
    cpu = cli("roofline", "resnet18", "--device", "cpu", "--peak", "1T", "--bandwidth", "50G", "--overhead", "5")
    assert "· bound: " in cpu.stdout                                               # a CPU's total says it too


def test_profile_says_what_bounds_its_prediction(cli):
    from archstat import calibration
    from archstat.profile.measure import profile
    from archstat.report.profile_report import profile_dict, render

    calibration.store_calibration("cpu", {"hardware": "Test CPU, 2 threads", "torch_version": "x",
                                          "measured_at": "2026-01-01 00:00 UTC", "peak_flops": {"fp32": 50e9},
                                          "bandwidth": 10e9, "overhead_s": 4e-6, "method": {"peak": "fake"}})
    p = profile("googlenet-naive", device="cpu", batch=1, warmup=0, iters=1, per_layer=False)
    assert profile_dict(p)["prediction"]["bound"] == p.prediction.bound
    assert f"· bound: {p.prediction.bound} (roofline on" in render([p], "table").text()


# -- item 12: small things a newcomer sees ---------------------------------------------------------------------

def test_a_column_is_compact_only_where_that_makes_it_narrower(cli):
    r = cli("table", "vgg16", env={"COLUMNS": "120"})
    lines = r.stdout.splitlines()
    head = next(line for line in lines if line.startswith("Layer"))
    assert "Biases" in head
    fc6 = next(line for line in lines if line.startswith("fc6")).split()
    total = next(line for line in lines if line.startswith("TOTAL")).split()
    assert "4,096" in fc6 and "13,416" in total            # exact: '4.10 K' and '13.4 K' are no narrower
    assert not any(c.endswith("K") for c in fc6 if c[0].isdigit())
    for width in (80, 100, 140):                             # and every table still fits its width
        out = cli("table", "vgg16", env={"COLUMNS": str(width)}).stdout
        assert max(len(line) for line in out.splitlines()) <= width


def test_devices_show_figures_rounded(cli):
    r = cli("devices", env={"COLUMNS": "200"})
    i9 = next(line for line in r.stdout.splitlines() if line.startswith("i9-10940x")).split()
    assert "2.957" in i9 and "11.83" in i9 and "93.86" in i9          # 2.9568, 11.8272, 93.856 in devices.yaml
    assert not any(len(c.replace(".", "")) > 4 and "." in c for c in i9)
    d = json.loads(cli("devices", "--format", "json").stdout)          # the data keeps the figure as given
    assert next(x for x in d["devices"] if x["key"] == "i9-10940x")["peak_tflops"]["fp32"] == 2.9568


def test_list_reads_the_shipped_index_and_it_is_current(cli, monkeypatch):
    from archstat.cli import list_cmd

    computed = []
    real = list_cmd.config_row
    monkeypatch.setattr(list_cmd, "config_row", lambda name: computed.append(name) or real(name))
    r = cli("list", "--format", "json")
    assert r.exit_code == 0 and computed == []               # no config analysed: every row from the index
    rows = json.loads(r.stdout)
    vgg16 = next(x for x in rows if x["name"] == "vgg16")
    assert (vgg16["params"], vgg16["macs"]) == (138_357_544, 15_470_264_320)
    real_digest = list_cmd._digest
    monkeypatch.setattr(list_cmd, "_digest", lambda name: "edited" if name == "vgg16" else real_digest(name))
    cli("list", "vgg1*")
    assert computed == ["vgg16"]                             # a config edited since: computed, not read
    monkeypatch.setattr(list_cmd, "_digest", real_digest)
    monkeypatch.setattr(list_cmd, "config_row", real)
    assert list_cmd._index() == list_cmd.build_index()["configs"], \
        "configs/index.json is stale: python -m archstat.cli.zoo_index rewrites it"


def test_profile_on_a_missing_gpu_points_to_the_roofline(cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    r = cli("profile", "resnet18", "--device", "cuda")
    assert r.exit_code == 1
    assert "archstat roofline MODEL --device h100 predicts the time on one" in r.stderr


# -- item 9: a CPU profile's rows against its measured step, and the machine's load -----------------------------

def test_the_per_layer_pass_is_explained_against_the_measured_step():
    from archstat.profile.measure import profile
    from archstat.report.profile_report import profile_dict, render

    p = profile("lenet5", device="cpu", warmup=1, iters=3, layer_repeats=3)
    assert len(p.layer_plain_ms) == 3                  # a plain step after each pass: the same minutes
    timing = profile_dict(p)["layers_timing"]
    assert timing["pass_to_step"] == pytest.approx(p.layer_pass_ms / p.median_ms)
    assert timing["plain_steps_ms"] == p.layer_plain_ms and timing["hooks_share"] == pytest.approx(p.hooks_share)
    text = " ".join(render([p], "table").text().split())
    assert f"per-layer pass {p.layer_pass_ms:.3f} ms per step against the measured median {p.median_ms:.3f} ms" in text
    assert "reading the clock around every row cost" in text


def test_a_machine_busy_while_the_rows_ran_is_said():
    from archstat.profile.measure import LayerTime, Profile
    from archstat.report.profile_report import pass_line

    p = Profile(model="m", device="cpu", device_name="cpu", torch_version="x", dtype="float32", batch=1, mode="eval",
                optimizer=None, channels_last=False, threads=2, warmup=0, iters=3, latencies_ms=[100.0] * 3,
                macs_per_step=1, measured_peak_bytes=1, weights_bytes=1, estimate_bytes=1,
                layers=[LayerTime("a", "conv", 150.0, 1, [150.0])], layer_passes_ms=[210.0] * 3,
                layer_plain_ms=[200.0] * 3, environment={"load_average": 3.6, "cpu_count": 2,
                                                          "load_average_after": 3.9})
    # pass 210 ms, plain steps between the passes 200 ms, measured median 100 ms: the hooks cost 5 %; the
    # machine itself ran twice as slow while the pass ran, with a load of 3.6 on 2 CPUs
    assert pass_line(p) == (
        "per-layer pass 210.000 ms per step against the measured median 100.000 ms (2.10×); plain steps run between "
        "its passes took 200.000 ms, so reading the clock around every row cost +5 %, and the machine itself ran "
        "+100 % slower than while the steps were measured (load 3.60 (1-minute average) on 2 CPUs: busy, other "
        "processes shared the cores (times vary with their work); 3.90 after): the rows are each one's time within "
        "the pass; compare them with each other")


def test_a_profile_and_a_calibration_record_the_machines_load(cli, monkeypatch):
    import os

    from archstat.profile import calibrate, environment
    from archstat.profile.measure import profile
    from archstat.report.profile_report import render

    monkeypatch.setattr(os, "getloadavg", lambda: (3.6, 3.5, 3.4))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert environment.load_average() == 3.6
    p = profile("lenet5", device="cpu", warmup=0, iters=1, per_layer=False)
    assert p.environment["load_average"] == 3.6
    assert "machine             load 3.60 (1-minute average) on 2 CPUs: busy" in render([p], "table").text()
    m = calibrate.measure("cpu", "fp32", size=64, copy_bytes=1 << 20, repeats=1)
    assert m["method"]["load"].startswith("load 3.60 (1-minute average) on 2 CPUs: busy")
    from archstat import calibration

    calibration.store_calibration("cpu", m)
    r = cli("roofline", "lenet5", "--device", "cpu")
    text = " ".join(r.stdout.split())
    assert "calibration: load 3.60 (1-minute average) on 2 CPUs: busy" in text
    assert "calibrate again when it is idle" in text


# -- item 8: the trust line and the docs cannot contradict -------------------------------------------------------

def test_roofline_doc_describes_every_trust_line_and_quotes_no_figure(cli):
    import re

    from tests.conftest import ROOT

    doc = " ".join((ROOT / "docs" / "roofline.md").read_text().split())
    # every form the code writes (report/roofline_report.band_text, prediction.trust) is described
    for phrase in ("no public measurements validate this kind of prediction", "cross-validated by architecture",
                   "leave-one-device-out", "never a band from another regime", "bound: host|device"):
        assert phrase in doc, phrase
    # and no validation figure is copied: they change with every refit (benchmarks/prediction/results.md)
    assert not re.search(r"measured ÷ predicted (throughput )?\d", doc)
    assert not re.search(r"median error \d", doc) and "Spearman" not in doc
    # the MLPerf-style prediction the page names prints one of the forms it describes
    r = cli("roofline", "resnet50", "--device", "h100", "--runtime", "engine", "--dtype", "int8", "--batch", "2048",
            "--format", "json")
    d = json.loads(r.stdout)
    if d["band"] is None:
        text = cli("roofline", "resnet50", "--device", "h100", "--runtime", "engine", "--dtype", "int8",
                   "--batch", "2048").stdout
        assert "trust               no public measurements validate this kind of prediction" in text
    else:
        assert d["band"]["regime"].startswith("gpu-engine-infer") and d["band"]["how"] in (
            "cross-validated by architecture", "leave-one-device-out")
