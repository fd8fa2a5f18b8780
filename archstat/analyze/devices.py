"""Devices for the roofline: datasheet figures shipped in ``archstat/data/devices.yaml``, the
calibration measured on this machine (stored in the XDG cache folder), and ``--peak`` /
``--bandwidth`` / ``--overhead`` overrides. Pure Python: nothing here imports torch.

Every figure says where it comes from (``datasheet``, ``calibrated …``, ``--peak``), so a
prediction never mixes a measured number with a datasheet one in silence.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from archstat.errors import ConfigError, UnknownNameError, UsageError

PEAK_KEYS = ("fp32", "tf32", "fp16", "bf16", "int8")
DEVICE_KEYS = {"name", "peak_tflops", "bandwidth_gb_s", "overhead_us", "source", "note"}
# --dtype: (the storage dtype of activations and weights, the peak it runs at)
DTYPES = {"float32": ("float32", "fp32"), "fp32": ("float32", "fp32"),
          "tf32": ("float32", "tf32"),
          "float16": ("float16", "fp16"), "fp16": ("float16", "fp16"),
          "bfloat16": ("bfloat16", "bf16"), "bf16": ("bfloat16", "bf16"),
          "int8": ("int8", "int8")}
CALIBRATABLE = ("cpu", "cuda")


@dataclass(frozen=True)
class Device:
    key: str
    name: str
    peak_flops: dict            # peak key → FLOP/s (None: no such mode)
    bandwidth: Optional[float]  # bytes/s
    overhead_s: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Roof:
    """The three numbers a prediction uses, each with where it came from."""

    device: str
    name: str
    dtype: str                  # the peak key: fp32, tf32, fp16, bf16, int8
    peak_flops: float
    bandwidth: float
    overhead_s: float
    sources: dict = field(default_factory=dict)   # peak / bandwidth / overhead → "datasheet: …", "calibrated: …", "--peak"
    calibration: Optional[dict] = None             # the stored calibration, where one was used

    @property
    def ridge(self) -> float:
        """The arithmetic intensity (FLOP/byte) where the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth


def resolve_dtype(text: str) -> tuple[str, str]:
    """'bf16' → ('bfloat16', 'bf16'): the storage dtype (bytes per element) and the peak it runs at."""
    if text not in DTYPES:
        raise UnknownNameError("dtype", text, DTYPES, path="--dtype",
                               hint_extra=f" (choose from {', '.join(DTYPES)})")
    return DTYPES[text]


def validate(data: Any, where: str = "devices.yaml") -> dict[str, Device]:
    """The devices of a parsed devices file; a ConfigError names the first thing wrong."""
    def bad(path: str, message: str):
        raise ConfigError(f"{where}: {path}: {message}")

    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("devices"), dict):
        bad("", "expected 'version: 1' and a 'devices' mapping")
    out = {}
    for key, d in data["devices"].items():
        if not isinstance(d, dict):
            bad(key, "expected a mapping")
        unknown = set(d) - DEVICE_KEYS
        if unknown:
            bad(key, f"unknown key '{sorted(unknown)[0]}' (keys: {', '.join(sorted(DEVICE_KEYS))})")
        for required in ("name", "peak_tflops", "bandwidth_gb_s", "overhead_us", "source"):
            if required not in d:
                bad(key, f"missing '{required}'")
        if not isinstance(d["source"], str) or not d["source"].strip():
            bad(f"{key}.source", "every device cites where its figures come from")
        peaks = d["peak_tflops"]
        if not isinstance(peaks, dict) or set(peaks) != set(PEAK_KEYS):
            bad(f"{key}.peak_tflops", f"expected exactly the keys {', '.join(PEAK_KEYS)} (null where none)")
        for name in PEAK_KEYS:
            _positive_or_none(peaks[name], f"{key}.peak_tflops.{name}", bad)
        _positive_or_none(d["bandwidth_gb_s"], f"{key}.bandwidth_gb_s", bad)
        overhead = d["overhead_us"]
        if isinstance(overhead, bool) or not isinstance(overhead, (int, float)) or overhead < 0:
            bad(f"{key}.overhead_us", f"expected a number ≥ 0, got {overhead!r}")
        out[key] = Device(key, d["name"], {k: None if v is None else v * 1e12 for k, v in peaks.items()},
                          None if d["bandwidth_gb_s"] is None else d["bandwidth_gb_s"] * 1e9,
                          overhead * 1e-6, d["source"], d.get("note", ""))
    return out


def _positive_or_none(value, path, bad) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        bad(path, f"expected a positive number or null, got {value!r}")


_DEVICES: dict = {}


def devices() -> dict[str, Device]:
    """The shipped devices file, parsed and validated once."""
    if not _DEVICES:
        import yaml

        text = (resources.files("archstat") / "data" / "devices.yaml").read_text(encoding="utf-8")
        _DEVICES.update(validate(yaml.safe_load(text)))
    return _DEVICES


# -- calibration storage -------------------------------------------------------------------------------

def cache_dir() -> Path:
    """$XDG_CACHE_HOME/archstat, or ~/.cache/archstat."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archstat"


def calibration_path() -> Path:
    return cache_dir() / "calibration.json"


def device_key(device: str) -> str:
    """'cuda:0' and 'cuda' are stored apart ('cuda' means the current GPU); 'CPU' → 'cpu'."""
    return device.strip().lower()


def load_calibrations() -> dict:
    path = calibration_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable calibration ({exc}); delete it and calibrate again") from None
    return data if isinstance(data, dict) else {}


def store_calibration(device: str, result: dict) -> Path:
    """Merge one measurement into the stored calibrations (peaks of other dtypes are kept)."""
    data = load_calibrations()
    key = device_key(device)
    old = data.get(key, {})
    peaks = dict(old.get("peak_flops", {})) if old.get("hardware") == result.get("hardware") else {}
    peaks.update(result.get("peak_flops", {}))
    data[key] = {**result, "peak_flops": peaks}
    path = calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# -- resolving the roof ---------------------------------------------------------------------------------

def roof(device: str, dtype: str = "fp32", *, peak: Optional[float] = None, bandwidth: Optional[float] = None,
         overhead_s: Optional[float] = None) -> Roof:
    """The roof for ``device`` at ``dtype`` (a peak key or any --dtype name): a stored calibration
    first (for cpu and cuda), else the datasheet; ``peak`` (FLOP/s), ``bandwidth`` (bytes/s) and
    ``overhead_s`` override either."""
    _, key = resolve_dtype(dtype)
    known = devices()
    dev_key = device_key(device)
    base = dev_key.split(":")[0]
    if base not in known and base != "cuda":
        raise UnknownNameError("device", device, list(known) + ["cuda"], path="--device",
                               hint_extra=f" (choose from {', '.join(known)}, cuda)")
    sheet = known.get(base)
    calib = load_calibrations().get(dev_key)
    sources: dict[str, str] = {}

    def pick(what: str, override, measured, datasheet, flag: str):
        if override is not None:
            if not override > 0 and not (what == "overhead" and override == 0):
                raise UsageError(f"{flag} must be positive, got {override}")
            sources[what] = flag
            return override
        if measured is not None:
            sources[what] = f"calibrated {calib.get('measured_at', '')} on {calib.get('hardware', '?')}".strip()
            return measured
        if datasheet is not None:
            sources[what] = "datasheet" if what != "overhead" else "assumed (devices.yaml)"
            return datasheet
        return None

    peaks = (calib or {}).get("peak_flops", {})
    p = pick("peak", peak, peaks.get(key), sheet.peak_flops.get(key) if sheet else None, "--peak")
    b = pick("bandwidth", bandwidth, (calib or {}).get("bandwidth"), sheet.bandwidth if sheet else None,
             "--bandwidth")
    o = pick("overhead", overhead_s, (calib or {}).get("overhead_s"), sheet.overhead_s if sheet else 0.0,
             "--overhead")
    missing = [(what, flag) for what, flag, v in ((f"{key} peak", "--peak", p), ("memory bandwidth", "--bandwidth", b))
               if v is None]
    if missing:
        flags = " and ".join(flag for _, flag in missing)
        how = (f"calibrate it (archstat roofline --device {device} --dtype {key} --calibrate) or pass {flags}"
               if base in CALIBRATABLE else f"pass {flags}")
        where = " in its datasheet" if sheet and base != "cpu" else ""
        raise UsageError(f"device '{device}' has no {' and no '.join(w for w, _ in missing)}{where}: {how}")
    name = calib.get("hardware") if calib and "calibrated" in sources.get("peak", "") else (
        sheet.name if sheet else device)
    if sheet and "datasheet" in sources.values():
        sources["datasheet"] = sheet.source
    return Roof(dev_key, name, key, float(p), float(b), float(o), sources, calib)


def roof_for_run(device: str, device_name: str, dtype: str) -> tuple[Optional[Roof], str]:
    """The roof to predict a measured run with: this device's calibration, else (CUDA) the datasheet
    device whose name the GPU's name contains; (None, why) when there is neither."""
    key = device_key(device)
    for candidate in dict.fromkeys((key, key.split(":")[0])):
        if candidate in load_calibrations():
            try:
                return roof(candidate, dtype), ""
            except UsageError as exc:
                return None, exc.message
    sheet = datasheet_for(device_name) if key.startswith("cuda") else None
    if sheet is not None:
        try:
            return roof(sheet.key, dtype), ""
        except UsageError as exc:
            return None, exc.message
    return None, (f"no prediction: calibrate this device first (archstat roofline --device {key.split(':')[0]} "
                  f"--dtype {resolve_dtype(dtype)[1]} --calibrate)")


def datasheet_for(gpu_name: str) -> Optional[Device]:
    """The datasheet device a GPU's name carries ('NVIDIA H100 80GB HBM3' → h100), or None."""
    import re

    tokens = re.findall(r"[a-z0-9]+", gpu_name.lower())
    words = set(tokens) | {a + b for a, b in zip(tokens, tokens[1:])}   # "RTX 4090" → rtx4090
    return next((d for k, d in devices().items() if k != "cpu" and k in words), None)
