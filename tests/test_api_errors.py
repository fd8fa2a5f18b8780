"""The Python API's boundary (issue 23): a wrong type or value is a typed, located ArchstatError
(ArgumentTypeError / ArgumentValueError, also TypeError / ValueError) naming the function and the
argument, raised before any work; and ``archstat.analyze`` is both the function and the subpackage."""

import importlib
import inspect
import subprocess
import sys

import pytest

import archstat
from archstat import errors
from archstat.errors import ArchstatError, RuntimeFailure
from tests.conftest import ROOT

# looked up when a test runs, so that each test fails by itself where these classes are missing
ArgumentTypeError, ArgumentValueError = "ArgumentTypeError", "ArgumentValueError"


def error(call, kind=ArchstatError) -> str:
    if isinstance(kind, str):
        kind = getattr(errors, kind, None) or pytest.fail(f"archstat.errors has no {kind}")
    with pytest.raises(kind) as exc:
        call()
    assert isinstance(exc.value, ArchstatError) and exc.value.exit_code in (1, 2)
    text = exc.value.format()
    assert "\n" not in text
    return text


def test_load_rejects_a_list_of_params():
    text = error(lambda: archstat.load("conv7x7", [1, 2]), ArgumentTypeError)
    assert text == ("archstat.load: params: expected a mapping of param names to values such as {'width': 2}, "
                    "got list [1, 2]")
    with pytest.raises(TypeError) as raised:
        archstat.load("conv7x7", [1, 2])
    assert isinstance(raised.value, ArchstatError)


@pytest.mark.parametrize("call, kind, text", [
    (lambda: archstat.load(5), ArgumentTypeError,
     "archstat.load: name_or_path: expected a zoo name, a config path or a Spec, got int 5"),
    (lambda: archstat.load("conv7x7", {1: 2}), ArgumentTypeError,
     "archstat.load: params: param names are strings, got int 1"),
    (lambda: archstat.load_spec(None), ArgumentTypeError,
     "archstat.load_spec: name_or_path: expected a zoo name or a config path, got NoneType None"),
    (lambda: archstat.load(""), ArgumentValueError, "archstat.load: name_or_path: empty model name"),
    (lambda: archstat.analyze(5), ArgumentTypeError,
     "archstat.analyze: model: expected a zoo name, a config path, 'module:PKG.MOD:FACTORY', a Spec, a Graph or "
     "an nn.Module, got int 5"),
    (lambda: archstat.analyze("vgg16", depth="x"), ArgumentTypeError,
     "archstat.analyze: depth: expected an integer or None, got str 'x'"),
    (lambda: archstat.analyze("vgg16", depth=0), ArgumentValueError, "archstat.analyze: depth: must be at least 1, got 0"),
    (lambda: archstat.analyze("vgg16", batch=2.0), ArgumentTypeError,
     "archstat.analyze: batch: expected an integer, got float 2.0"),
    (lambda: archstat.analyze("vgg16", batch=0), ArgumentValueError,
     "archstat.analyze: batch: must be between 1 and 1,000,000,000, got 0"),
    (lambda: archstat.analyze("vgg16", dtype=5), ArgumentTypeError,
     "archstat.analyze: dtype: expected one of float32, float16, bfloat16, int8, got int 5"),
    (lambda: archstat.analyze("vgg16", dtype="float33"), ArgumentValueError,
     "archstat.analyze: dtype: unknown dtype 'float33' (did you mean 'float32'?)"),
    (lambda: archstat.analyze("vgg16", mode=None), ArgumentTypeError,
     "archstat.analyze: mode: expected one of eval, train, got NoneType None"),
    (lambda: archstat.analyze("vgg16", fold="no"), ArgumentTypeError,
     "archstat.analyze: fold: expected True or False, got str 'no'"),
    (lambda: archstat.analyze("vgg16", {"num_classes": "x"}.items()), ArgumentTypeError,
     "archstat.analyze: params: expected a mapping of param names to values such as {'width': 2}, got "
     "dict_items dict_items([('num_classes', 'x')])"),
    (lambda: archstat.compare(["vgg16", 5]), ArgumentTypeError,
     "archstat.compare: models[1]: expected a zoo name, a config path, 'module:PKG.MOD:FACTORY', a Spec, a Graph "
     "or an nn.Module, got int 5"),
    (lambda: archstat.compare("vgg16"), ArgumentTypeError,
     "archstat.compare: models: expected a list of models such as ['vgg16', 'resnet50'], got str 'vgg16'"),
    (lambda: archstat.compare(["vgg16"]), ArgumentValueError,
     "archstat.compare: models: compare takes 2 to 26 models, got 1"),
    (lambda: archstat.roofline("resnet50", device=None), ArgumentTypeError,
     "archstat.roofline: device: expected a device name such as 'h100', 'a100', 'cpu' or 'cuda' (or a list of them), got NoneType None"),
    (lambda: archstat.roofline("resnet50", device="h100", peak=float("nan")), ArgumentValueError,
     "archstat.roofline: peak: nan: expected a finite number of FLOP/s"),
    (lambda: archstat.roofline("resnet50", device="h100", overhead_s=-1e-6), ArgumentValueError,
     "archstat.roofline: overhead_s: -1e-06: must be between 0 and 1 s"),
    (lambda: archstat.roofline("resnet50", device="h100", bandwidth="2T"), ArgumentTypeError,
     "archstat.roofline: bandwidth: expected a number or None, got str '2T'"),
    (lambda: archstat.roofline("resnet50", device="h100", batch=True), ArgumentTypeError,
     "archstat.roofline: batch: expected an integer, got bool True"),
])
def test_wrong_arguments_are_typed_and_located(call, kind, text):
    assert error(call, kind) == text


def test_compare_with_models_already_made():
    from archstat.analyze.compare import Compared, compare

    c = archstat.compare(["vgg16", archstat.analyze("resnet50"), Compared("Z", "lenet5", archstat.analyze("lenet5"))])
    assert [m.label for m in c.models] == ["A", "B", "Z"] and c.models[0].stats.totals.params == 138_357_544
    text = error(lambda: compare(["vgg16", 5]), ArgumentTypeError)
    assert text.startswith("archstat.analyze.compare.compare: models[0]: expected Compared(label, model, stats), "
                           "got str 'vgg16'")


def test_roofline_through_the_api():
    rl = archstat.roofline("resnet50", device="h100", dtype="bf16", batch=64)
    assert rl.batch == 64 and rl.predicted_s > 0


def test_build_checks_the_device_before_building():
    pytest.importorskip("torch")
    assert error(lambda: archstat.build("conv7x7", device="nonsense"), ArgumentValueError) == (
        "archstat.build: device: 'nonsense' is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1', 'mps', 'meta')")
    assert error(lambda: archstat.build("conv7x7", device=[1]), ArgumentTypeError) == (
        "archstat.build: device: expected a device such as 'cpu', 'cuda:0' or 'meta', got list [1]")
    assert error(lambda: archstat.build("conv7x7", [1]), ArgumentTypeError).startswith("archstat.build: params:")
    import torch

    if not torch.cuda.is_available():
        assert error(lambda: archstat.build("conv7x7", device="cuda:0"), RuntimeFailure) == (
            "archstat.build: device 'cuda:0': CUDA is not available on this machine")
    assert next(archstat.build("conv7x7", device="meta").parameters()).device.type == "meta"


def test_analyze_is_the_function_and_the_subpackage():
    import archstat.analyze.stats  # binds 'archstat', then reads archstat.analyze.stats

    assert archstat.analyze.stats.ModelStats is importlib.import_module("archstat.analyze.stats").ModelStats
    assert archstat.analyze("vgg16").totals.params == 138_357_544   # cs231n's VGG16 with biases
    from archstat import analyze

    assert analyze("lenet5").totals.params == archstat.api.analyze("lenet5").totals.params
    assert "input_shape" in inspect.signature(archstat.analyze).parameters


def test_analyze_subpackage_in_a_fresh_interpreter():
    """The order a user's script imports in: the package, then a submodule by its dotted name."""
    code = ("import archstat, archstat.perf.roofline, archstat.analyze.stats\n"
            "print(archstat.analyze.stats.__name__, archstat.analyze('vgg16').totals.params, "
            "callable(archstat.perf.roofline.roofline))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["archstat.analyze.stats", "138357544", "True"]   # cs231n's VGG16 with biases
