"""One vocabulary for dtypes (archstat/dtypes.py): every spelling of a dtype means the same in every
command that takes --dtype and in the API, and an unknown one is one line with a did-you-mean, exit 2."""

import json

import pytest

import archstat
from archstat import dtypes
from archstat.errors import ArgumentValueError, UnknownNameError


def test_aliases_resolve_to_one_name():
    assert [dtypes.canonical(s) for s in ("fp32", "float32")] == ["float32", "float32"]
    assert [dtypes.canonical(s) for s in ("fp16", "half", "float16")] == ["float16"] * 3
    assert [dtypes.canonical(s) for s in ("bf16", "bfloat16")] == ["bfloat16"] * 2
    assert dtypes.lookup("tf32").bytes == 4 and dtypes.lookup("tf32").torch == "float32"
    assert dtypes.lookup("bf16").peak == "bf16" and dtypes.lookup("int8").bytes == 1
    assert dtypes.bytes_of("half") == 2 and dtypes.bytes_of("float8_e4m3fn") == 1
    assert dtypes.bytes_of("complex64") == 8 and dtypes.bytes_of("quint4x2", default=4) == 4   # unknown: the default


def test_a_dtype_outside_the_commands_set_is_unknown_there():
    with pytest.raises(UnknownNameError) as exc:
        dtypes.lookup("tf32", dtypes.STORAGE)   # tf32 is a way to run float32, not a storage format
    assert exc.value.format().startswith("--dtype: unknown dtype 'tf32'")


@pytest.fixture
def totals(cli):
    """A command's JSON output; the command must succeed."""

    def totals(*args):
        r = cli(*args, "--format", "json")
        assert r.exit_code == 0, r.stderr
        return json.loads(r.stdout)

    return totals


@pytest.mark.parametrize("spellings", [("fp32", "float32"), ("fp16", "float16", "half"), ("bf16", "bfloat16")])
def test_table_takes_every_spelling(totals, spellings):
    outs = [totals("table", "conv7x7", "--dtype", s) for s in spellings]
    assert all(o == outs[0] for o in outs)
    # activation bytes = activation elements × the bytes per element of the dtype
    assert outs[0]["totals"]["activation_bytes"] == outs[0]["totals"]["activation_elements"] * \
        dtypes.lookup(spellings[0]).bytes


def test_compare_and_sweep_take_every_spelling(totals):
    assert totals("compare", "conv7x7", "conv3x3-stack", "--dtype", "fp16") == \
        totals("compare", "conv7x7", "conv3x3-stack", "--dtype", "float16")
    a = totals("sweep", "conv7x7", "--batch", "1,2", "--dtype", "bf16")
    assert a == totals("sweep", "conv7x7", "--batch", "1,2", "--dtype", "bfloat16")
    assert a["dtype"] == "bfloat16"


def test_roofline_takes_every_spelling(totals):
    a = totals("roofline", "conv7x7", "--device", "h100", "--dtype", "fp32")
    b = totals("roofline", "conv7x7", "--device", "h100", "--dtype", "float32")
    assert a == b and a["device"]["peak_dtype"] == "fp32"
    assert totals("roofline", "conv7x7", "--device", "h100", "--dtype", "half") == \
        totals("roofline", "conv7x7", "--device", "h100", "--dtype", "fp16")


def test_plot_roofline_takes_every_spelling(cli, tmp_path):
    for s in ("fp32", "float32"):
        out = tmp_path / f"{s}.svg"
        r = cli("plot", "conv7x7", "--roofline", "--device", "h100", "--dtype", s, "--out", str(out))
        assert r.exit_code == 0, r.stderr
        assert out.read_text().startswith("<?xml")


def test_profile_takes_every_spelling(totals):
    for s in ("fp32", "float32"):
        d = totals("profile", "conv7x7", "--dtype", s, "--warmup", "0", "--iters", "1", "--no-layers")
        assert d["dtype"] == "float32" and d["math"] == {"conv": "fp32", "matmul": "fp32"}


def test_input_dtype_takes_every_spelling():
    from archstat.trace.inputs import parse_one

    assert parse_one("fp16:3x4").dtype == parse_one("half:3x4").dtype == "float16"


def test_api_takes_every_spelling():
    a, b = archstat.analyze("conv7x7", dtype="fp16"), archstat.analyze("conv7x7", dtype="float16")
    assert a.dtype == b.dtype == "float16" and a.totals == b.totals
    with pytest.raises(ArgumentValueError, match=r"unknown dtype 'fp17' \(did you mean 'fp16'\?\)"):
        archstat.analyze("conv7x7", dtype="fp17")


@pytest.mark.parametrize("args", [
    ("table", "conv7x7"), ("compare", "conv7x7", "conv3x3-stack"), ("sweep", "conv7x7"),
    ("roofline", "conv7x7", "--device", "h100"), ("profile", "conv7x7"),
])
def test_unknown_dtype_is_one_line_exit_2(cli, args):
    r = cli(*args, "--dtype", "bf17")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == "error: --dtype: unknown dtype 'bf17' (did you mean 'bf16'?)"
