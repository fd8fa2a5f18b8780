"""archstat verify module:...: params, completeness, FlopCounterMode and fvcore op by op, shapes
against a real CPU forward."""

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")
from archstat.verify.module_check import EXPLAINED, verify_module  # noqa: E402

NETS = ROOT / "tests" / "fixtures" / "nets.py"


def by_check(checks):
    return {c.check: c for c in checks}


def test_swin_block_verifies():
    checks = by_check(verify_module(f"module:{NETS}:Swin", (3, 32, 32), fvcore=False))
    assert {c: v.status for c, v in checks.items()} == {
        "params total": "ok", "every costly op has a formula": "ok", "MACs vs FlopCounterMode/2": "ok",
        "shapes and activations (real CPU forward)": "ok"}
    assert checks["MACs vs FlopCounterMode/2"].archstat == "950,592"    # tests/test_trace.py: SWIN


def test_fvcore_skipping_fused_attention_is_explained():
    pytest.importorskip("fvcore")
    checks = by_check(verify_module(f"module:{NETS}:vit_sdpa", (3, 32, 32)))
    fv = checks["MACs vs fvcore"]
    # fvcore has no handle for aten::scaled_dot_product_attention: it misses 2 blocks × 18,496
    assert fv.status == EXPLAINED and "scaled_dot_product_attention" in fv.detail
    assert (fv.archstat, fv.reference) == ("553,408", f"{553_408 - 2 * 18_496:,}")


def test_memory_cap_skips_the_real_forward():
    checks = by_check(verify_module(f"module:{NETS}:Swin", (3, 32, 32), memory_cap=1000))
    assert checks["shapes and activations (real CPU forward)"].status == "skipped"
    assert "over the cap" in checks["shapes and activations (real CPU forward)"].detail


def test_cli_verify_incomplete_module_exits_3(cli):
    r = cli("verify", f"module:{NETS}:spectral", "--input", "3x8x8", "--no-fvcore")
    assert r.exit_code == 3 and "aten._fft_r2c" in r.stdout


def test_cli_verify_module_needs_input(cli):
    r = cli("verify", f"module:{NETS}:Swin")
    assert r.exit_code == 2 and "give --input" in r.stderr
