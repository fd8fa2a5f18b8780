"""The band a prediction quotes (prediction.trust): its own regime's where its device was measured there often
enough for a 10–90 % range, else the leave-one-device-out band of its kind and runtime with a warning saying
why, else none. The validation here is written by hand (what perf.yaml's `validation` holds after a fit)."""

from types import SimpleNamespace

from archstat.prediction import MIN_BAND_ROWS, trust


def _band(n: int) -> dict:
    return {"n": n, "median_error": 0.1, "within_25": 0.9, "within_50": 1.0, "worst": 1.3,
            "measured_over_predicted": 1.0, "band": [0.9, 1.1]}


REGIME = "gpu-eager-infer-b129+-device"      # an eager inference at batch 256, device-bound
VALIDATION = {"regimes": {REGIME: _band(40), "gpu-eager-infer-b1-host": _band(3)},
              "unmeasured": {"gpu-eager-infer": _band(500), "gpu-engine-infer": _band(4)},
              "devices": {"rtx4090": [REGIME, "gpu-eager-infer-b1-host"], "a100": [REGIME]}}


def _quote(device: str, batch: int = 256, bound: str = "device", runtime: str = "eager"):
    spec = SimpleNamespace(key=device, kind="gpu", arch="ada")
    prediction = SimpleNamespace(batch=batch, schedule=SimpleNamespace(bound=bound),
                                 plan=SimpleNamespace(kernels=[]))
    return trust({"validation": VALIDATION}, spec, runtime, False, prediction)


def test_a_device_measured_in_its_regime_quotes_that_regimes_band():
    band, warnings = _quote("rtx4090")
    assert (band["regime"], band["how"], band["n"]) == (REGIME, "cross-validated by architecture", 40)
    assert warnings == []


def test_a_device_never_measured_quotes_the_leave_one_device_out_band():
    band, warnings = _quote("h200")
    assert (band["regime"], band["how"], band["n"]) == ("gpu-eager-infer", "leave-one-device-out", 500)
    assert warnings == ["h200 was never measured: the band is how far devices the fit never saw landed "
                        "(leave-one-device-out over a100, rtx4090)"]


def test_a_regime_measured_too_few_times_has_no_band_of_its_own():
    """3 rows of rtx4090 at batch 1 (host-bound): fewer than MIN_BAND_ROWS, so their 10–90 % range would be
    single rows; the leave-one-device-out band is quoted instead, and the warning says why."""
    assert 3 < MIN_BAND_ROWS
    band, warnings = _quote("rtx4090", batch=1, bound="host")
    assert band["how"] == "leave-one-device-out"
    assert "was measured in this regime (gpu-eager-infer-b1-host) 3 times in all, too few for a band of its " \
           f"own (at least {MIN_BAND_ROWS})" in warnings[0]


def test_too_few_measurements_of_a_runtime_give_no_band():
    band, warnings = _quote("h200", runtime="engine")
    assert band is None
    assert warnings == ["only 4 public measurements validate gpu engine infer predictions, too few for an error band"]
