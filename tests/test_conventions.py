"""--convention: each peer's total from its transcribed rules, on small nets with the arithmetic shown
(benchmarks/conventions.py checks the same rules against the real peers on 24 models)."""

import json

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")
from archstat.trace.analyze import analyze_module  # noqa: E402
from tests.fixtures import inputs_nets as fx  # noqa: E402

FX = ROOT / "tests" / "fixtures" / "inputs_nets.py"
# SmallCNN on 3×8×8: conv 64 positions × 4 × 27 = 6,912; Linear 4·2 = 8
OURS = 6_912 + 8


@pytest.mark.parametrize("peer, total", [
    # fvcore: + batch norm in eval with affine 2 per element (2·256) + adaptive average pool 1 per input (256)
    ("fvcore", OURS + 2 * 256 + 256),
    # FlopCounterMode: 2 FLOPs per MAC of conv and addmm
    ("flop_counter", 2 * OURS),
    # ptflops: conv + its bias adds (256); BN 2 per element (512); nn.ReLU's rule (256) and the F.relu it calls
    # (256); nn.AdaptiveAvgPool2d's rule (its 256 inputs) and the F.adaptive_avg_pool2d it calls (256);
    # Linear 8 + its 2 bias adds
    ("ptflops", 6_912 + 256 + 512 + 2 * 256 + 2 * 256 + 8 + 2),
    # thop: conv 256 outputs × 3 × 9 (no bias); BN 2 per element × 2 (affine) = 1,024; ReLU 0; adaptive pool
    # (kernel 64 + 1) × 4 outputs = 260; Linear 4 × 2
    ("thop", 6_912 + 1_024 + 260 + 8),
    # torchinfo: conv weight 108 × 64 positions + bias 4 × 64; BN weight and bias 4 + 4 (× batch 1); Linear 8 + 2
    ("torchinfo", 108 * 64 + 4 * 64 + 8 + 10),
])
def test_peer_totals_by_their_rules(peer, total):
    stats = analyze_module(fx.SmallCNN(), (3, 8, 8), convention=peer)
    assert stats.totals.macs == OURS
    assert stats.conventions.total == total


def test_peer_totals_scale_with_the_batch():
    stats = analyze_module(fx.SmallCNN(), (3, 8, 8), batch=4, convention="thop")
    assert stats.conventions.total == 4 * (6_912 + 1_024 + 260 + 8)


def test_fvcore_has_no_handle_for_attention():
    # Linear 8→24 on 4 tokens: 4·8·24 = 768; attention 4·4·8 + 4·4·8 = 256, which fvcore counts as 0
    stats = analyze_module(fx.SDPAOnly(), (4, 8), convention="fvcore")
    assert stats.totals.macs == 768 + 256
    pc = stats.conventions
    assert pc.total == 768
    assert pc.reasons == [("fvcore has no handle for aten::scaled_dot_product_attention", -256, 1)]


def test_flop_counter_misses_the_cpu_lstm():
    stats = analyze_module(torch.nn.LSTM(8, 16, batch_first=True), (5, 8), convention="flop_counter")
    assert stats.totals.macs == 5 * (4 * 16 * 8 + 4 * 16 * 16) and stats.conventions.total == 0
    assert "mkldnn_rnn_layer" in stats.conventions.reasons[0][0]


def test_cli_convention_table_and_json(cli):
    r = cli("table", f"module:{FX}:SmallCNN", "--input", "3x8x8", "--convention", "fvcore", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)["peer_convention"]
    assert (d["peer"], d["total"], d["archstat_macs"]) == ("fvcore", OURS + 768, OURS)
    assert {x["why"] for x in d["differences"]} == {"fvcore counts batch norm: 1 per element, 2 with affine",
                                                    "fvcore counts adaptive average pooling: 1 per input element"}
    r = cli("table", f"module:{FX}:SmallCNN", "--input", "3x8x8", "--convention", "thop")
    assert r.exit_code == 0 and "thop would print 8,204 MACs" in r.stdout
    r = cli("table", f"module:{FX}:SmallCNN", "--input", "3x8x8", "--convention", "fvcor")
    assert r.exit_code == 2 and "did you mean 'fvcore'" in r.stderr
    r = cli("table", "vgg16", "--convention", "fvcore")
    assert r.exit_code == 2 and "applies to modules" in r.stderr
