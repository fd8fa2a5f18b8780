"""The calibration store: what ``archstat roofline --calibrate`` measured on this machine, per device
(cpu, cuda, cuda:N), in ``$XDG_CACHE_HOME/archstat/calibration.json``: read back through one validated
loader (a tampered or foreign file is a one-line error saying to delete it), written under a lock, each
writer through its own temporary file renamed into place. The roof a prediction uses is resolved here
for the devices that have a calibration (``roof``: the stored entry handed to ``analyze.devices.roof``,
which stays pure).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Optional

from archstat.analyze.devices import (
    BANDWIDTH_BOUNDS,
    OVERHEAD_BOUNDS,
    PEAK_BOUNDS,
    PEAK_KEYS,
    Roof,
    device_key,
    match_device,
    resolve_dtype,
)
from archstat.analyze.devices import roof as _roof
from archstat.errors import ConfigError, UsageError

__all__ = ["calibration_for", "calibration_path", "check_calibration_entry", "load_calibrations", "roof",
           "roof_for_run", "store_calibration"]

MAX_CALIBRATION_BYTES = 1 << 20      # a calibration file holds a few devices: 1 MiB is far more than enough
CALIBRATION_KEY = re.compile(r"cpu|cuda|cuda:\d{1,3}")
_TEXT_FIELDS = ("hardware", "torch_version", "measured_at", "archstat_version", "device")
CALIBRATION_FIELDS = {*_TEXT_FIELDS, "peak_flops", "bandwidth", "overhead_s", "method"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")   # no name archstat measures holds one: a tampered file


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/archstat, or ~/.cache/archstat. A relative ``XDG_CACHE_HOME`` is invalid by the XDG
    Base Directory specification ("all paths set in these environment variables must be absolute; if an
    implementation encounters a relative path it should consider the path invalid and ignore it"): ignored, so
    a calibration never lands under whatever folder archstat was started in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = str(Path.home() / ".cache")
    return Path(base) / "archstat"


def calibration_path() -> Path:
    return cache_dir() / "calibration.json"


def _unreadable(path: Path, why: str) -> ConfigError:
    return ConfigError(f"{path}: unreadable calibration ({why}); delete it and calibrate again")


def _read_capped(path: Path) -> Optional[str]:
    """The calibration file's text: a regular file (a FIFO, a device or a directory is refused without
    being opened for long), at most MAX_CALIBRATION_BYTES; None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise _unreadable(path, "not a regular file")
    if st.st_size > MAX_CALIBRATION_BYTES:
        raise _unreadable(path, f"{st.st_size:,} bytes, more than the {MAX_CALIBRATION_BYTES:,} a calibration "
                                "can hold")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):   # replaced between stat and open
            raise _unreadable(path, "not a regular file")
        raw = f.read(MAX_CALIBRATION_BYTES + 1)
    if len(raw) > MAX_CALIBRATION_BYTES:
        raise _unreadable(path, f"more than the {MAX_CALIBRATION_BYTES:,} bytes a calibration can hold")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable(path, "not UTF-8 text") from None


def _figure(value, bounds: tuple[float, float], positive: bool = True) -> bool:
    lo, hi = bounds
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and (value > lo if positive and lo == 0 else value >= lo) and value <= hi)


def check_calibration_entry(entry: Any, where: str) -> Optional[str]:
    """What is wrong with one device's stored calibration, or None: only the fields archstat writes,
    strings where strings belong, and every figure finite, positive and inside the bounds."""
    if not isinstance(entry, dict):
        return f"{where} is {type(entry).__name__}, not a mapping"
    unknown = set(entry) - CALIBRATION_FIELDS
    if unknown:
        return f"{where} holds '{sorted(unknown)[0]}', which a calibration never holds"
    for what in ("peak_flops", "bandwidth", "overhead_s", "hardware"):
        if what not in entry:
            return f"{where} has no '{what}'"
    for what in _TEXT_FIELDS:
        if what in entry and not (isinstance(entry[what], str) and len(entry[what]) <= 500):
            return f"{where}.{what} is not a short string"
        if what in entry and _CONTROL.search(entry[what]):
            return f"{where}.{what} holds control characters"
    peaks = entry["peak_flops"]
    if not isinstance(peaks, dict) or not peaks:
        return f"{where}.peak_flops is not a mapping of dtypes to FLOP/s"
    for k, v in peaks.items():
        if k not in PEAK_KEYS:
            return f"{where}.peak_flops holds '{k}', not one of {', '.join(PEAK_KEYS)}"
        if not _figure(v, PEAK_BOUNDS):
            return (f"{where}.peak_flops.{k} is {v!r}, not a FLOP/s figure between {PEAK_BOUNDS[0]:g} and "
                    f"{PEAK_BOUNDS[1]:g}")
    if not _figure(entry["bandwidth"], BANDWIDTH_BOUNDS):
        return (f"{where}.bandwidth is {entry['bandwidth']!r}, not a bytes/s figure between "
                f"{BANDWIDTH_BOUNDS[0]:g} and {BANDWIDTH_BOUNDS[1]:g}")
    if not _figure(entry["overhead_s"], OVERHEAD_BOUNDS):
        return f"{where}.overhead_s is {entry['overhead_s']!r}, not a time in seconds above 0 and at most 1"
    method = entry.get("method", {})
    if not isinstance(method, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) <= 500
                                               and not _CONTROL.search(k + v) for k, v in method.items()):
        return f"{where}.method is not a mapping of short strings"
    return None


def validate_calibrations(data: Any, path: Path) -> dict:
    """The stored calibrations, checked whole: a mapping from cpu, cuda or cuda:N (the devices archstat
    measures; never a datasheet key such as h100) to one entry each."""
    if not isinstance(data, dict):
        raise _unreadable(path, f"the file holds {type(data).__name__}, not a mapping of devices")
    for key, entry in data.items():
        if not (isinstance(key, str) and CALIBRATION_KEY.fullmatch(key)):
            raise _unreadable(path, f"'{key}' is not a device archstat calibrates (cpu, cuda, cuda:N); a "
                                    "datasheet entry is never replaced by a calibration")
        problem = check_calibration_entry(entry, key)
        if problem:
            raise _unreadable(path, problem)
    return data


def load_calibrations() -> dict:
    """The stored calibrations, through the one validated loader (a file of the wrong shape is a
    ConfigError saying to delete it: exit 2, never an internal error)."""
    path = calibration_path()
    text = _read_capped(path)
    if text is None:
        return {}
    try:
        data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"bare {c}")))
    except ValueError as exc:
        raise _unreadable(path, f"not JSON: {exc}") from None
    except RecursionError:   # [[[[…]]]] a few hundred thousand deep: no calibration nests past two levels
        raise _unreadable(path, "nested too deep for a calibration") from None
    return validate_calibrations(data, path)


@contextlib.contextmanager
def _locked(lock_path: Path):
    """An exclusive lock on ``lock_path`` (fcntl where the platform has it). The lock file is opened without
    following a symbolic link (``O_NOFOLLOW``) and must be a regular file: a link planted in the cache is
    refused, never followed to create or open its target elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no fcntl (Windows): writers are not serialised there
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(
        os, "O_NONBLOCK", 0)
    if os.path.islink(lock_path):
        raise _lock_refused(lock_path, "a symbolic link")
    try:
        fd = os.open(lock_path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:   # a link made between the check and the open
            raise _lock_refused(lock_path, "a symbolic link") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _lock_refused(lock_path, "not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_refused(lock_path: Path, what: str) -> ConfigError:
    return ConfigError(f"{lock_path}: the calibration lock is {what}; archstat does not follow it (delete it and "
                       "calibrate again)")


def store_calibration(device: str, result: dict) -> Path:
    """Merge one measurement into the stored calibrations (peaks of other dtypes are kept when it is the
    same hardware). Writers hold a lock and each writes its own temporary file, renamed into place, so
    concurrent calibrations keep every key and readers never see half a file. A stored file that is
    unreadable is replaced. The key is the device the measurement names (``result['device']``, e.g.
    'cuda:1'), else ``device``."""
    key = device_key(result.get("device") or device)
    if not CALIBRATION_KEY.fullmatch(key):
        raise UsageError(f"--calibrate measures this machine: cpu, cuda or cuda:N, not {device}")
    path = calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        try:
            data = load_calibrations()
        except ConfigError:
            data = {}
        old = data.get(key, {})
        peaks = dict(old.get("peak_flops", {})) if old.get("hardware") == result.get("hardware") else {}
        peaks.update(result.get("peak_flops", {}))
        entry = {**result, "peak_flops": peaks}
        problem = check_calibration_entry(entry, key)
        if problem:
            from archstat.errors import RuntimeFailure

            raise RuntimeFailure(f"calibration of {key} measured something impossible ({problem}); not stored")
        data[key] = entry
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calibration.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return path


def calibration_for(device: str, hardware: Optional[str] = None) -> tuple[Optional[str], Optional[dict]]:
    """(key, entry) of the stored calibration for ``device``: 'cuda' reads 'cuda:0' (the current GPU)
    and then a legacy 'cuda' entry; 'cuda:N' reads its own, or a legacy 'cuda' entry measured on the same
    ``hardware``."""
    key = device_key(device)
    stored = load_calibrations()
    if key in stored:
        return key, stored[key]
    if key == "cuda" and "cuda:0" in stored:
        return "cuda:0", stored["cuda:0"]
    if key.startswith("cuda:") and "cuda" in stored and hardware and stored["cuda"].get("hardware") == hardware:
        return "cuda", stored["cuda"]
    return None, None


def roof(device: str, dtype: str = "fp32", *, peak: Optional[float] = None, bandwidth: Optional[float] = None,
         overhead_s: Optional[float] = None, sheet=None, hardware: Optional[str] = None) -> Roof:
    """``analyze.devices.roof`` with this machine's stored calibration for cpu, cuda and cuda:N
    (``hardware``: the run's device name, see calibration_for); a datasheet key reads no calibration."""
    key = device_key(device)
    calibration: tuple[Optional[str], Optional[dict]] = (None, None)
    if key == "cpu" or key.split(":")[0] == "cuda":
        calibration = calibration_for(key, hardware)
    return _roof(device, dtype, peak=peak, bandwidth=bandwidth, overhead_s=overhead_s, sheet=sheet,
                 calibration=calibration)


def roof_for_run(device: str, device_name: str, dtype: str, *, memory_bytes: Optional[int] = None,
                 sms: Optional[int] = None) -> tuple[Optional[Roof], str]:
    """The roof to predict a measured run with: this device's calibration (per device: cuda:1 reads its
    own), and for a CUDA device the datasheet of the exact part the driver's name maps to (see
    match_device) for whatever the calibration lacks; (None, why) when there is neither."""
    key = device_key(device)
    sheet = None
    matched = ""
    if key.startswith("cuda"):
        m = match_device(device_name, memory_bytes, sms=sms)
        sheet = m.device
        matched = "" if sheet else f"; no devices.yaml entry for '{device_name}' ({m.how})"
    try:
        return roof(key, dtype, sheet=sheet, hardware=device_name), ""
    except UsageError as exc:
        base = key.split(":")[0]
        if base == "cpu" or not load_calibrations():
            return None, (f"no prediction: calibrate this device first (archstat roofline --device {key} "
                          f"--dtype {resolve_dtype(dtype)[1]} --calibrate){matched}")
        return None, exc.message + matched
