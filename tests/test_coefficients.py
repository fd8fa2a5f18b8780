"""The shipped coefficients stay inside physics: every one declared (perf/coefficients.py) with the range
the hardware allows, and perf.yaml's values inside it: no efficiency above 1, no energy or L2 bandwidth
outside what the parts can do. The fit moves them only inside those ranges (benchmarks/prediction/core.py
reads the same declarations)."""

import math

import pytest

from archstat.perf.coefficients import BANDWIDTH, BANDWIDTH_KINDS, DEVICE, NEAREST, out_of_range
from archstat.perf.device import DeviceSpec, set_name
from archstat.perf.predict import coefficients


def test_every_shipped_coefficient_is_inside_its_physical_range():
    assert out_of_range(coefficients()) == []


def test_no_efficiency_may_exceed_one():
    shares = [k for k, c in DEVICE.items() if c.unit == "share" and "efficiency" in k]
    assert shares and all(DEVICE[k].high <= 1.0 for k in shares)
    assert BANDWIDTH.high == 1.0


def test_a_value_outside_its_range_is_reported():
    c = coefficients()
    bad = {**c, "sets": {name: dict(values) for name, values in c["sets"].items()}}
    name = next(iter(bad["sets"]))
    bad["sets"][name]["gemm_efficiency"] = 1.2
    bad["sets"][name]["bandwidth_efficiency"] = {**bad["sets"][name]["bandwidth_efficiency"], "pointwise": 1.1}
    problems = out_of_range(bad)
    assert any(p.startswith(f"sets.{name}.gemm_efficiency=1.2") for p in problems)
    assert any(p.startswith(f"sets.{name}.bandwidth_efficiency.pointwise=1.1") for p in problems)


def test_every_set_is_complete():
    for name, values in coefficients()["sets"].items():
        assert set(DEVICE) <= set(values), name
        assert set(BANDWIDTH_KINDS) <= set(values["bandwidth_efficiency"]), name
        assert all(math.isfinite(values[k]) for k in DEVICE), name


@pytest.mark.parametrize("arch, memory, expected", [
    ("blackwell", "hbm", NEAREST["hbm"]), ("blackwell", "gddr", NEAREST["gddr"]), ("cdna3", "hbm", NEAREST["hbm"]),
])
def test_a_generation_without_a_set_is_costed_with_the_nearest_measured_one(arch, memory, expected):
    c = coefficients()
    d = DeviceSpec(key="x", name="X", kind="gpu", peaks={}, bandwidth=1e12, sms=100, l2_bytes=1e7, arch=arch,
                   memory=memory)
    name, own = set_name(c, d)
    assert not own and name == next(g for g in expected if g in c["sets"])


def test_a_measured_generation_uses_its_own_set():
    c = coefficients()
    for arch in c["sets"]:
        if arch == "cpu":
            continue
        d = DeviceSpec(key="x", name="X", kind="gpu", peaks={}, bandwidth=1e12, sms=100, l2_bytes=1e7, arch=arch)
        assert set_name(c, d) == (arch, True)
