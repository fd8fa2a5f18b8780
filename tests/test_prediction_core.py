"""The fit's core (benchmarks/prediction/core.py): parameters mapped onto perf.yaml inside their physical
ranges, tied keys copied, twins grouped into one architecture, the statistics every report quotes."""

import math
import sys
from pathlib import Path

import pytest

from archstat.perf.coefficients import DEVICE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "prediction"))
import core


def test_parameters_cover_each_generation_and_the_shared_keys_once():
    ps = core.params(["ada", "hopper"], cpu=False)
    names = [p.name for p in ps]
    assert len(names) == len(set(names))
    for gen in ("ada", "hopper"):
        assert {f"sets.{gen}.{k}" for k in core.PER_GENERATION} <= set(names)
    shared = next(p for p in ps if p.name == "gpu.tile_intensity")
    assert shared.paths == ("sets.ada.tile_intensity", "sets.hopper.tile_intensity") and shared.scope == "gpu"
    assert not any(n.startswith("sets.cpu") or n.startswith("host.cpu") for n in names)
    # every device-side range is the declared physical one
    gemm = next(p for p in ps if p.name == "sets.ada.gemm_efficiency")
    assert (gemm.low, gemm.high) == (DEVICE["gemm_efficiency"].low, DEVICE["gemm_efficiency"].high) == (0.3, 1.0)


def test_apply_writes_every_path_and_copies_the_tied_keys():
    from archstat.perf.predict import coefficients

    base = coefficients()
    gens = [g for g in base["sets"] if g != "cpu"][:2]
    ps = core.params(gens, cpu=False)
    values = core.start(base, ps)
    i = [p.name for p in ps].index("gpu.bandwidth_efficiency.pointwise")
    values[i] = 0.4321
    c = core.apply(base, ps, values)
    for gen in gens:
        assert c["sets"][gen]["bandwidth_efficiency"]["pointwise"] == 0.4321
        assert c["sets"][gen]["bandwidth_efficiency"]["cast"] == 0.4321      # tied to pointwise
        assert c["sets"][gen]["bandwidth_efficiency"]["fill"] == 0.4321
    assert base["sets"][gens[0]]["bandwidth_efficiency"]["pointwise"] != 0.4321   # a copy, never the base
    assert c["host"]["gpu"]["eager"]["alloc"] == c["host"]["gpu"]["eager"]["view"]


def test_the_start_is_inside_every_range():
    from archstat.perf.predict import coefficients

    base = coefficients()
    ps = core.params([g for g in base["sets"] if g != "cpu"], cpu="cpu" in base["sets"])
    for p, v in zip(ps, core.start(base, ps)):
        assert p.low <= v <= p.high, p.name


def test_a_value_at_a_bound_is_named():
    ps = [core.Param("sets.ada.gemm_efficiency", ("sets.ada.gemm_efficiency",), 0.3, 1.0, "ada"),
          core.Param("gpu.k_overhead", ("sets.ada.k_overhead",), 1.0, 512.0, "gpu")]
    assert core.at_bounds(ps, [1.0, 50.0]) == ["sets.ada.gemm_efficiency at its upper bound 1"]
    assert core.at_bounds(ps, [0.5, 1.0]) == ["gpu.k_overhead at its lower bound 1"]


def test_twins_share_an_architecture_group():
    groups = core.architecture_groups({
        "resnet50": ("timm.models.resnet", "g1"),
        "gluon_resnet50_v1b": ("timm.models.resnet", "g1"),
        "resnet18": ("timm.models.resnet", "g2"),                 # same module: same architecture family
        "efficientnet_b0": ("timm.models.efficientnet", "g3"),
        "tf_efficientnet_b0": ("timm.models.efficientnet", "g4"),
        "bert-large": ("archstat.models.bert", "g5"),
        "an_alias_elsewhere": ("some.other.module", "g3"),        # the same traced graph as efficientnet_b0
    })
    assert groups["resnet50"] == groups["gluon_resnet50_v1b"] == groups["resnet18"]
    assert groups["efficientnet_b0"] == groups["tf_efficientnet_b0"] == groups["an_alias_elsewhere"]
    assert len({groups["resnet50"], groups["efficientnet_b0"], groups["bert-large"]}) == 3


def test_folds_are_stable_across_processes():
    # a sha256 of the group's name, never Python's per-process string hash: two interpreters with different
    # hash seeds draw the same folds
    import hashlib
    import os
    import subprocess

    names = ["module:timm.models.resnet", "module:timm.models.vision_transformer", "graph:abc"]
    here = [core.fold_of(n, 5) for n in names]
    assert here == [int(hashlib.sha256(n.encode()).hexdigest(), 16) % 5 for n in names]
    code = ("import sys; sys.path.insert(0, 'benchmarks/prediction'); import core; "
            f"print([core.fold_of(n, 5) for n in {names!r}])")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True).stdout
    assert out.strip() == str(here)


def test_statistics():
    # three rows predicted ×1.1, ÷1.25 and ×2 too fast: log(predicted / measured)
    r = [math.log(1.1), -math.log(1.25), math.log(2.0)]
    s = core.stats(r)
    assert s["n"] == 3
    assert s["median_error"] == pytest.approx(0.25)                 # errors 0.1, 0.25, 1.0
    assert s["within_25"] == pytest.approx(2 / 3) and s["within_50"] == pytest.approx(2 / 3)
    assert s["worst"] == pytest.approx(2.0)
    # measured ÷ predicted: 1/1.1, 1.25, 0.5; their geometric mean
    assert s["measured_over_predicted"] == pytest.approx((1 / 1.1 * 1.25 * 0.5) ** (1 / 3))
    assert core.stats([float("nan")])["n"] == 0


def test_batch_ranges_are_the_predictions():
    from archstat.prediction import batch_range

    assert [batch_range(b) for b in (1, 2, 16, 17, 128, 129, 4096)] == ["1", "2-16", "2-16", "17-128", "17-128",
                                                                        "129+", "129+"]
    assert core.batch_range(64) == batch_range(64)


def test_like_for_like_rows_leave_out_what_is_predicted_but_never_fitted():
    rows = [{"table": "rtx4090-eager"}, {"table": "mlperf-bert", "fit": False},
            {"table": "mlperf-bert", "not_fitted": "unpadded variable-length sequences"}, {"fit": True}]
    assert core.like_for_like(rows) == [True, False, False, True]
