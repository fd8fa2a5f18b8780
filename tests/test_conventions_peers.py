"""--convention checked against the peers themselves (issue 34): every rule of trace/conventions.py on a grid
of small modules (benchmarks/conventions_grid.py), at batch 1 and 3, through the real fvcore, FlopCounterMode,
ptflops, thop and torchinfo on real CPU tensors; archstat's total must be the figure the peer prints. A peer
that is not installed is skipped, saying so (the test extra installs them all)."""

import importlib.util
import json

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")

_spec = importlib.util.spec_from_file_location("conventions_grid", ROOT / "benchmarks" / "conventions_grid.py")
grid = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(grid)

FIX = ROOT / "tests" / "fixtures" / "hostile_nets.py"


def _peers():
    return [pytest.param(p, marks=pytest.mark.skipif(not grid.installed(p), reason=f"{grid.MODULES[p]} is not "
                                                      "installed (pip install -e '.[test]' installs every peer)"))
            for p in grid.PEERS]


@pytest.mark.slow
@pytest.mark.parametrize("batch", grid.BATCHES)
@pytest.mark.parametrize("label, factory, shape", grid.GRID, ids=[g[0] for g in grid.GRID])
def test_every_rule_gives_the_figure_the_peer_prints(label, factory, shape, batch):
    ours = grid.archstat_totals(factory, shape, batch)
    differ = {}
    for peer in grid.PEERS:
        if not grid.installed(peer):
            continue
        theirs = grid.peer_total(peer, factory, shape, batch)
        if theirs != ours[peer]:
            differ[peer] = (theirs, ours[peer])
    assert not differ, f"{label} at batch {batch}: (peer's figure, archstat's) {differ}"


# -- the issue's probes, against the real peers (fast: in the inner loop) ----------------------------------------

@pytest.mark.parametrize("peer", _peers())
@pytest.mark.parametrize("label", ["linear", "layernorm", "lstm", "sdpa 3-d", "qkv + sdpa 4-d", "mha batch_first",
                                   "functional torch.mul", "upsample nearest", "transformer encoder layer"])
def test_the_issues_probes_against_the_peer(label, peer):
    factory, shape = next((f, s) for name, f, s in grid.GRID if name == label)
    for batch in (1, 3):
        assert grid.archstat_totals(factory, shape, batch)[peer] == grid.peer_total(peer, factory, shape, batch)


def test_ptflops_prints_a_per_sample_mean(cli):
    # Linear 16→32, ReLU, Linear 32→1: 16·32 + 32 bias adds + 32 (ReLU's rule) + 32 (the F.relu it calls) + 32 + 1
    # = 641 per sample; ptflops divides its modules' count by the batch (3) and adds its functional count whole
    r = cli("table", f"module:{FIX}:mlp16", "--input", "16", "--batch", "3", "--convention", "ptflops",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)["peer_convention"]
    modules, functional = 3 * (16 * 32 + 32 + 32 + 32 + 1), 3 * 32
    assert d["total"] == modules // 3 + functional == 705
    assert any("divided by the first input's dim 0 (3)" in x["why"] for x in d["differences"])
    if grid.installed("ptflops"):
        assert d["total"] == grid.peer_total("ptflops", grid_factory("mlp16"), (16,), 3)


def test_ptflops_layernorm_is_one_per_element():
    from archstat.trace.analyze import analyze_module

    # LayerNorm(16) on 16 features: ptflops' hook doubles only for an `affine` attribute, which LayerNorm lacks
    stats = analyze_module(torch.nn.Sequential(torch.nn.LayerNorm(16)), (16,), convention="ptflops")
    assert stats.conventions.total == 16


def test_flop_counter_follows_the_cpu_kernel_of_attention():
    from archstat.trace.analyze import analyze_module

    # 3-d: the CPU runs the math path, two bmm of 6·6·8 per sample, counted (2 FLOPs per MAC); 4-d: the fused kernel
    three = analyze_module(grid.SDPA(), (6, 8), convention="flop_counter").conventions
    assert three.total == 2 * 2 * 6 * 6 * 8
    four = analyze_module(grid.SDPA(), (2, 6, 8), convention="flop_counter").conventions
    assert four.total == 0 and four.reasons[0][0] == "the fused CPU attention kernel is not in FlopCounterMode's " \
                                                     "registry"


def grid_factory(name):
    from tests.fixtures import hostile_nets

    return getattr(hostile_nets, name)
