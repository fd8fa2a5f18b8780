"""Devices: datasheet figures shipped in ``archstat/data/devices.yaml``, the name a driver reports
mapped to its exact part (:func:`match_device`), and the roof a prediction uses (:func:`roof`): the
datasheet, a calibration measured on this machine (read and stored by ``archstat.calibration``, passed
in here) and ``--peak`` / ``--bandwidth`` / ``--overhead`` overrides. Pure Python: nothing here imports
torch or touches a file but the shipped devices file.

Every figure says where it comes from (``datasheet``, ``calibrated …``, ``--peak``), so a
prediction never mixes a measured number with a datasheet one in silence.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Optional

from archstat.errors import ConfigError, UnknownNameError, UsageError

PEAK_KEYS = ("fp32", "tf32", "fp16", "bf16", "fp8", "fp4", "int8")
HALF_ACC_KEYS = ("fp16", "fp8")      # the modes a tensor core may run faster with FP16 accumulation
# every figure an entry may state, each citing its document in ``sources`` when it is not null
FIGURES = ("peak_tflops", "peak_tflops_half_acc", "bandwidth_gb_s", "memory_gb", "memory_type", "memory_bus_bits",
           "memory_gbps", "l2_mb", "smem_per_sm_kb", "sms", "base_mhz", "boost_mhz", "power_w", "power_min_w",
           "host_link", "nvlink_gb_s")
SOURCE_KEYS = (*FIGURES, "mig")      # "mig": the document of the part's MIG profile table
DEVICE_KEYS = {"name", "kind", "vendor", "arch", "compute_capability", "form", *FIGURES, "sources", "note",
               "match"}
KINDS = ("gpu", "cpu")
VENDORS = ("nvidia", "amd", "intel")
FORMS = ("sxm", "pcie", "nvl", "superchip", "desktop", "laptop", "oam", "workstation", "socket")
MEMORY_TYPES = ("hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "gddr6x", "gddr7", "lpddr5x", "ddr4", "ddr5")
HOST_LINKS = ("pcie", "nvlink-c2c", "socket")
HOST_LINK_KEYS = ("kind", "gen", "lanes", "gb_s")
BANDWIDTH_TOLERANCE = 0.03           # stated bandwidth vs bus bits / 8 × Gbit/s per pin
MATCH_KEYS = {"names", "mig"}

# The time one op costs beyond its arithmetic and traffic (kernel launch and framework dispatch), used
# until a calibration or --overhead gives one. An ASSUMPTION about the host and runtime, not a property
# of the part, so it is not in devices.yaml: 5 µs is the order of a CUDA kernel launch plus eager
# PyTorch's dispatch; 10 µs eager PyTorch's per-op dispatch on a CPU.
DEFAULT_OVERHEAD_S = {"gpu": 5e-6, "cpu": 10e-6}

CALIBRATABLE = ("cpu", "cuda")

# What a figure may be, wherever it comes from (calibration file, --peak, --bandwidth, --overhead): finite
# and inside these bounds. A real device lies far inside them; a tampered file or a typo does not.
# every figure (a calibration's, an override's) is held to argcheck.ROOF_LIMITS: one set of bounds
from archstat.argcheck import ROOF_LIMITS, roof_problem  # noqa: E402

PEAK_BOUNDS = ROOF_LIMITS["peak"][:2]             # FLOP/s
BANDWIDTH_BOUNDS = ROOF_LIMITS["bandwidth"][:2]   # bytes/s
OVERHEAD_BOUNDS = ROOF_LIMITS["overhead_s"][:2]   # seconds per op (a calibration's must be above 0)


@dataclass(frozen=True)
class Device:
    """One entry of devices.yaml (or a MIG slice derived from one): the vendor's figures, each with
    its source. ``peak_tflops`` are dense, null where the part has no such mode; the keys are explained
    in the header of devices.yaml."""

    key: str
    name: str
    kind: str
    vendor: Optional[str]
    arch: Optional[str]
    compute_capability: Optional[str]
    form: Optional[str]
    peak_tflops: dict
    bandwidth_gb_s: Optional[float]
    memory_gb: Optional[float]
    l2_mb: Optional[float]
    sms: Optional[int]
    boost_mhz: Optional[float]
    power_w: Optional[float]
    sources: dict
    note: str = ""
    match: dict = field(default_factory=dict)
    parent: Optional[str] = None    # a MIG slice: the key of the whole part
    mig: Optional[str] = None       # a MIG slice: its profile, e.g. '1g.10gb'
    # schema version 3: what the part is (clocks, power range, memory system, on-chip memory, links)
    peak_tflops_half_acc: Optional[dict] = None   # {fp16, fp8}: dense, FP16 accumulate, where faster
    memory_type: Optional[str] = None
    memory_bus_bits: Optional[int] = None
    memory_gbps: Optional[float] = None           # per pin, Gbit/s
    smem_per_sm_kb: Optional[float] = None
    base_mhz: Optional[float] = None
    power_min_w: Optional[float] = None
    host_link: Optional[dict] = None              # {kind, gen, lanes, gb_s (per direction)}
    nvlink_gb_s: Optional[float] = None           # total, bidirectional, as the vendor states it

    @property
    def peak_flops(self) -> dict:
        """Peak key → FLOP/s (OP/s for int8); None where the part has no such mode."""
        return {k: None if v is None else v * 1e12 for k, v in self.peak_tflops.items()}

    @property
    def bandwidth(self) -> Optional[float]:
        """Bytes/s, or None."""
        return None if self.bandwidth_gb_s is None else self.bandwidth_gb_s * 1e9

    @property
    def overhead_s(self) -> float:
        """The assumed per-op overhead for this kind of device (DEFAULT_OVERHEAD_S)."""
        return DEFAULT_OVERHEAD_S[self.kind]

    @property
    def source(self) -> str:
        """The document the peaks come from, in one line (or the note where there is none)."""
        return self.sources.get("peak_tflops") or self.note

    @property
    def mig_profiles(self) -> dict:
        """Profile name → {compute, memory, l2} (slices), as NVIDIA's MIG user guide lists them; {} without MIG
        (and for a slice, which is not partitioned further)."""
        if self.parent is not None:
            return {}
        return dict((self.match.get("mig") or {}).get("profiles") or {})

    def as_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "kind": self.kind, "vendor": self.vendor, "arch": self.arch,
                "compute_capability": self.compute_capability, "form": self.form,
                "peak_tflops": dict(self.peak_tflops),
                "peak_tflops_half_acc": None if self.peak_tflops_half_acc is None else dict(self.peak_tflops_half_acc),
                "bandwidth_gb_s": self.bandwidth_gb_s, "memory_gb": self.memory_gb, "memory_type": self.memory_type,
                "memory_bus_bits": self.memory_bus_bits, "memory_gbps": self.memory_gbps, "l2_mb": self.l2_mb,
                "smem_per_sm_kb": self.smem_per_sm_kb, "sms": self.sms, "base_mhz": self.base_mhz,
                "boost_mhz": self.boost_mhz, "power_w": self.power_w, "power_min_w": self.power_min_w,
                "host_link": None if self.host_link is None else dict(self.host_link),
                "nvlink_gb_s": self.nvlink_gb_s, "mig_profiles": sorted(self.mig_profiles),
                "sources": dict(self.sources), "note": self.note, "parent": self.parent, "mig": self.mig}


@dataclass(frozen=True, kw_only=True)
class Roof:
    """The three numbers a prediction uses, each with where it came from."""

    device: str
    name: str
    dtype: str                  # the peak key: fp32, tf32, fp16, bf16, int8
    peak_flops: float
    bandwidth: float
    overhead_s: float
    # peak / bandwidth / overhead → "datasheet: …", "calibrated: …", "--peak"
    sources: dict = field(default_factory=dict)
    calibration: Optional[dict] = None             # the stored calibration, where one was used
    entry: Optional[str] = None                    # the devices.yaml entry the datasheet figures came from

    @property
    def ridge(self) -> float:
        """The arithmetic intensity (FLOP/byte) where the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth


def resolve_dtype(text: str) -> tuple[str, str]:
    """'bf16' → ('bfloat16', 'bf16'): the storage dtype (bytes per element) and the peak it runs at
    (``archstat/dtypes.py``: any spelling of fp32, tf32, fp16, bf16 or int8)."""
    from archstat.dtypes import DTYPES, ROOFLINE, lookup

    found = lookup(text, ROOFLINE)
    return DTYPES[found.torch].name, found.peak


# -- the devices file ------------------------------------------------------------------------------------

VERSION = 3

# What an entry of devices.yaml may hold: per key, a check of its value (None: fine; else what was expected).
# Every key is required (null where it does not apply or is undocumented); the rules that relate keys
# follow (_ENTRY_RULES).

def _one_of(allowed: tuple[str, ...], null: bool = False) -> Callable[[Any], Optional[str]]:
    def check(v: Any) -> Optional[str]:
        if (v is None and null) or v in allowed:
            return None
        return f"expected one of {', '.join(allowed)}{' or null' if null else ''}, got {v!r}"
    return check


def _positive_or_none(v: Any) -> Optional[str]:
    if v is None or (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        return None
    return f"expected a positive number or null, got {v!r}"


def _whole_or_none(v: Any) -> Optional[str]:
    return _positive_or_none(v) or (None if v is None or isinstance(v, int) else f"expected a whole number, got {v!r}")


def _name(v: Any) -> Optional[str]:
    return None if isinstance(v, str) and v.strip() else "expected the part's name"


def _arch(v: Any) -> Optional[str]:
    if v is None or (isinstance(v, str) and re.fullmatch(r"[a-z0-9]+", v)):
        return None
    return f"expected a lower-case architecture name or null, got {v!r}"


def _peaks(v: Any) -> Optional[str]:
    if not isinstance(v, dict) or set(v) != set(PEAK_KEYS):
        return f"expected exactly the keys {', '.join(PEAK_KEYS)} (null where none)"
    return None


def _half_acc(v: Any) -> Optional[str]:
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) != set(HALF_ACC_KEYS):
        return f"expected null or exactly the keys {', '.join(HALF_ACC_KEYS)} (null where none)"
    for k in HALF_ACC_KEYS:
        problem = _positive_or_none(v[k])
        if problem:
            return f"{k}: {problem}"
    if all(x is None for x in v.values()):
        return "expected at least one figure (null the whole key where there is none)"
    return None


def _host_link(v: Any) -> Optional[str]:
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) != set(HOST_LINK_KEYS):
        return f"expected null or exactly the keys {', '.join(HOST_LINK_KEYS)} (null where undocumented)"
    checks = (("kind", _one_of(HOST_LINKS)), ("gen", _whole_or_none), ("lanes", _whole_or_none),
              ("gb_s", _positive_or_none))
    for k, check in checks:
        problem = check(v[k])
        if problem:
            return f"{k}: {problem}"
    return None


def _sources(v: Any) -> Optional[str]:
    if not isinstance(v, dict) or set(v) - set(SOURCE_KEYS):
        return f"expected a mapping from the figures ({', '.join(SOURCE_KEYS)}) to their sources"
    return None


def _note(v: Any) -> Optional[str]:
    return None if isinstance(v, str) else "expected a string"


def _match(v: Any) -> Optional[str]:
    if not isinstance(v, dict) or set(v) - MATCH_KEYS or not isinstance(v.get("names"), list):
        return "expected a mapping with 'names' (a list of patterns) and optionally 'mig'"
    return None


SCHEMA: dict[str, Callable[[Any], Optional[str]]] = {
    "name": _name, "kind": _one_of(KINDS), "vendor": _one_of(VENDORS, null=True), "arch": _arch,
    "compute_capability": lambda v: None,          # checked with the vendor (_ENTRY_RULES)
    "form": _one_of(FORMS, null=True), "peak_tflops": _peaks, "peak_tflops_half_acc": _half_acc,
    "bandwidth_gb_s": _positive_or_none, "memory_gb": _positive_or_none,
    "memory_type": _one_of(MEMORY_TYPES, null=True), "memory_bus_bits": _whole_or_none,
    "memory_gbps": _positive_or_none, "l2_mb": _positive_or_none, "smem_per_sm_kb": _positive_or_none,
    "sms": _whole_or_none, "base_mhz": _positive_or_none, "boost_mhz": _positive_or_none,
    "power_w": _positive_or_none, "power_min_w": _positive_or_none, "host_link": _host_link,
    "nvlink_gb_s": _positive_or_none, "sources": _sources, "note": _note, "match": _match,
}
assert set(SCHEMA) == DEVICE_KEYS


def _compute_capability(d: dict) -> Iterator[tuple[str, str]]:
    cc = d["compute_capability"]
    if d["vendor"] == "nvidia" and d["kind"] == "gpu":
        if not (isinstance(cc, str) and re.fullmatch(r"\d+\.\d+", cc)):
            yield "compute_capability", (f"an NVIDIA GPU states its compute capability as a string such as "
                                         f"\"9.0\", got {cc!r}")
    elif cc is not None:
        yield "compute_capability", "only NVIDIA GPUs have a compute capability (null here)"


def _each_peak(d: dict) -> Iterator[tuple[str, str]]:
    for name in PEAK_KEYS:
        problem = _positive_or_none(d["peak_tflops"][name])
        if problem:
            yield f"peak_tflops.{name}", problem


def _given(d: dict, what: str) -> bool:
    """Whether the entry states ``what`` (a peaks mapping: any peak; a host link: any of its figures)."""
    v = d[what]
    if isinstance(v, dict):
        return any(x is not None for k, x in v.items() if k != "kind")
    return v is not None


def _cited(d: dict) -> Iterator[tuple[str, str]]:
    for what in FIGURES:
        text = d["sources"].get(what)
        if _given(d, what) and not (isinstance(text, str) and text.strip()):
            yield f"sources.{what}", "every figure cites the document it comes from"
    if d["match"].get("mig") is not None and not (isinstance(d["sources"].get("mig"), str)
                                                  and d["sources"]["mig"].strip()):
        yield "sources.mig", "a MIG profile table cites the document it comes from"


def _half_acc_faster(d: dict) -> Iterator[tuple[str, str]]:
    half = d["peak_tflops_half_acc"] or {}
    for k, v in half.items():
        full = d["peak_tflops"][k]
        if v is not None and (full is None or v <= full):
            yield (f"peak_tflops_half_acc.{k}", f"the FP16-accumulate rate is stated only where it is faster than "
                                                f"peak_tflops.{k} ({full}), got {v}")


def _clocks_and_power(d: dict) -> Iterator[tuple[str, str]]:
    if d["base_mhz"] is not None and d["boost_mhz"] is not None and d["base_mhz"] > d["boost_mhz"]:
        yield "base_mhz", f"the base clock ({d['base_mhz']} MHz) exceeds the boost clock ({d['boost_mhz']} MHz)"
    if d["power_min_w"] is not None and (d["power_w"] is None or d["power_min_w"] >= d["power_w"]):
        yield "power_min_w", (f"the bottom of a configurable power range lies below power_w ({d['power_w']}), "
                              f"got {d['power_min_w']}")


def _memory_system(d: dict) -> Iterator[tuple[str, str]]:
    bw, bits, gbps = d["bandwidth_gb_s"], d["memory_bus_bits"], d["memory_gbps"]
    if bw is not None and bits is not None and gbps is not None:
        product = bits / 8 * gbps
        if abs(product - bw) > BANDWIDTH_TOLERANCE * bw:
            yield "bandwidth_gb_s", (f"{bw:g} GB/s is not the bus × the rate: {bits} bits / 8 × {gbps:g} Gbit/s = "
                                     f"{product:g} GB/s (more than {BANDWIDTH_TOLERANCE:.0%} apart: a typo?)")


def _links(d: dict) -> Iterator[tuple[str, str]]:
    link = d["host_link"]
    if link is None:
        return
    if (link["kind"] == "socket") != (d["kind"] == "cpu"):
        yield "host_link.kind", f"a {d['kind'].upper()} is {'a socket' if d['kind'] == 'cpu' else 'not a socket'}"
    if link["kind"] == "socket" and _given(d, "host_link"):
        yield "host_link", "a socket's figures are null (the CPU is the host)"


def _patterns(d: dict) -> Iterator[tuple[str, str]]:
    for i, pattern in enumerate(d["match"]["names"]):
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            yield f"match.names[{i}]", f"not a regular expression ({exc})"
    mig = d["match"].get("mig")
    if mig is not None:
        problem = _mig_problem(mig, d["memory_gb"])
        if problem:
            yield f"match.mig{problem[0]}", problem[1]


def _slice_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _mig_problem(mig: Any, memory_gb: Any) -> Optional[tuple[str, str]]:
    """(sub-path, message) of what is wrong with a match.mig table, or None."""
    shape = ("expected {slices: {compute: N, memory: M}, profiles: {'1g.10gb': {compute: 1, memory: 1, l2: 1}, "
             "…}}: the slices of the part and NVIDIA's profiles")
    if not (isinstance(mig, dict) and set(mig) == {"slices", "profiles"} and isinstance(mig["slices"], dict)
            and set(mig["slices"]) == {"compute", "memory"} and all(map(_slice_count, mig["slices"].values()))
            and isinstance(mig["profiles"], dict) and mig["profiles"]):
        return "", shape
    compute, memory = mig["slices"]["compute"], mig["slices"]["memory"]
    for name, p in mig["profiles"].items():
        m = _PROFILE_RE.fullmatch(name) if isinstance(name, str) else None
        if not m or m.group(1) or not re.fullmatch(rf"\d+g\.\d+gb(?:{_SUFFIX})?", name):
            return f".profiles.{name}", "expected a GPU-instance profile name such as 1g.10gb or 1g.10gb+me"
        if not (isinstance(p, dict) and set(p) == {"compute", "memory", "l2"} and all(map(_slice_count, p.values()))):
            return f".profiles.{name}", "expected {compute: N, memory: M, l2: L}: the slices the profile holds"
        if p["compute"] != int(m.group(2)) or p["compute"] > compute or p["memory"] > memory or p["l2"] > memory:
            return f".profiles.{name}", (f"{p} does not fit the name or the part ({compute} compute slices, "
                                         f"{memory} memory slices)")
        if isinstance(memory_gb, (int, float)) and int(m.group(3)) > memory_gb * 1.05:
            return f".profiles.{name}", f"holds more memory than the part's {memory_gb:g} GB"
    return None


# rules over a whole entry, after every key passed its own check: (sub-path, message) of each problem
_ENTRY_RULES: tuple[Callable[[dict], Iterator[tuple[str, str]]], ...] = (
    _compute_capability, _each_peak, _cited, _half_acc_faster, _clocks_and_power, _memory_system, _links, _patterns)


def _entry_problem(key: Any, d: Any) -> Optional[tuple[str, str]]:
    """(path, message) of the first thing wrong with one entry, or None."""
    if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", key) or "-mig-" in key:
        return str(key), "a device key is lower case letters, digits, '.' and '-' (and never holds '-mig-')"
    if not isinstance(d, dict):
        return key, "expected a mapping"
    unknown = set(d) - DEVICE_KEYS
    if unknown:
        return key, f"unknown key '{sorted(unknown)[0]}' (keys: {', '.join(sorted(DEVICE_KEYS))})"
    for required in sorted(DEVICE_KEYS):
        if required not in d:
            return key, f"missing '{required}' (null where it does not apply; devices.yaml version {VERSION})"
    for what, check in SCHEMA.items():
        problem = check(d[what])
        if problem:
            return f"{key}.{what}", problem
    for rule in _ENTRY_RULES:
        for path, problem in rule(d):
            return f"{key}.{path}", problem
    return None


def validate(data: Any, where: str = "devices.yaml") -> dict[str, Device]:
    """The devices of a parsed devices file (``SCHEMA`` per key, then ``_ENTRY_RULES``); a ConfigError
    names the first thing wrong."""
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("devices"), dict):
        found = data.get("version") if isinstance(data, dict) else None
        raise ConfigError(f"{where}: : expected 'version: {VERSION}' and a 'devices' mapping"
                          + (f" (got version {found!r})" if found not in (None, VERSION) else ""))
    out = {}
    for key, d in data["devices"].items():
        problem = _entry_problem(key, d)
        if problem:
            raise ConfigError(f"{where}: {problem[0]}: {problem[1]}")
        out[key] = Device(
            key=key, name=d["name"], kind=d["kind"], vendor=d["vendor"], arch=d["arch"],
            compute_capability=d["compute_capability"], form=d["form"], peak_tflops=dict(d["peak_tflops"]),
            bandwidth_gb_s=d["bandwidth_gb_s"], memory_gb=d["memory_gb"], l2_mb=d["l2_mb"], sms=d["sms"],
            boost_mhz=d["boost_mhz"], power_w=d["power_w"], sources=dict(d["sources"]), note=d["note"],
            match=dict(d["match"]),
            peak_tflops_half_acc=None if d["peak_tflops_half_acc"] is None else dict(d["peak_tflops_half_acc"]),
            memory_type=d["memory_type"], memory_bus_bits=d["memory_bus_bits"], memory_gbps=d["memory_gbps"],
            smem_per_sm_kb=d["smem_per_sm_kb"], base_mhz=d["base_mhz"], power_min_w=d["power_min_w"],
            host_link=None if d["host_link"] is None else dict(d["host_link"]), nvlink_gb_s=d["nvlink_gb_s"])
    return out


_DEVICES: dict = {}


def devices() -> dict[str, Device]:
    """The shipped devices file, parsed and validated once."""
    if not _DEVICES:
        import yaml

        text = (resources.files("archstat") / "data" / "devices.yaml").read_text(encoding="utf-8")
        _DEVICES.update(validate(yaml.safe_load(text)))
    return _DEVICES


def lookup(key: str) -> Optional[Device]:
    """A devices.yaml entry by key, or a MIG slice of one ('h100-mig-1g.10gb'); None when there is none
    (a profile the part does not have included: :func:`resolve` says why)."""
    try:
        return resolve(key)
    except UsageError:
        return None


def resolve(key: str) -> Optional[Device]:
    """Like :func:`lookup`, but a key naming a known part with a profile it does not have ('h100-mig-1g.0gb')
    raises the one-line UsageError of :func:`mig_slice`, which lists the part's profiles."""
    known = devices()
    key = key.strip().lower()
    if key in known:
        return known[key]
    base, sep, profile = key.partition("-mig-")
    if sep and base in known:
        return mig_slice(known[base], profile)
    return None


# -- matching a driver's name to an entry -------------------------------------------------------------------

_DROP_WORDS = {"nvidia", "amd", "intel", "geforce", "tesla", "instinct", "gpu", "cpu", "processor"}
# a MIG profile: [Nc.]Mg.Kgb and the guide's suffixes (+me: a media engine; +gfx, +me.all, -me on Blackwell RTX PRO)
_SUFFIX = r"\+me\.all|\+me|\+gfx|-me"
_MIG_RE = re.compile(rf"(?:^|[\s,])mig\s+((?:\d+c\.)?\d+g\.\d+gb(?:{_SUFFIX})?)(?=$|[\s,])", re.I)
_PROFILE_RE = re.compile(rf"(?:mig[\s-]*)?(?:(\d+)c\.)?(\d+)g\.(\d+)gb({_SUFFIX})?", re.I)
# MLPerf's system descriptions: 'NVIDIA A100-PCIe-80GB (1x1g.10gb MIG)', one slice of the profile
_MLPERF_MIG_RE = re.compile(rf"\(\s*(?:1\s*x\s*)?((?:\d+c\.)?\d+g\.\d+gb(?:{_SUFFIX})?)\s+mig\s*\)", re.I)


def normalise_name(text: str) -> str:
    """'NVIDIA GeForce RTX 4090 Laptop GPU' → 'rtx 4090 laptop'; 'Intel(R) Core(TM) i9-10940X CPU @ 3.30GHz'
    → 'core i9 10940x' (what the patterns in devices.yaml are matched against)."""
    t = text.lower().replace("®", " ").replace("™", " ").replace("(r)", " ").replace("(tm)", " ")
    t = re.sub(r"@\s*[\d.]+\s*[gm]hz\s*$", " ", t)
    t = re.sub(r"[-_/,()]", " ", t)
    return " ".join(w for w in t.split() if w not in _DROP_WORDS)


@dataclass(frozen=True)
class DeviceMatch:
    """Which devices.yaml entry a device name maps to (``device`` None: none does, ``how`` says why)."""

    query: str
    device: Optional[Device]
    how: str
    also_matched: tuple = ()        # other entries the name matched (the memory size decided)
    suggestion: Optional[str] = None   # the closest entry when none matched

    def as_dict(self) -> dict:
        return {"query": self.query, "key": self.device.key if self.device else None, "how": self.how,
                "also_matched": list(self.also_matched), "suggestion": self.suggestion,
                "device": self.device.as_dict() if self.device else None}


def match_device(name: str, memory_bytes: Optional[int] = None, mig: Optional[str] = None, *,
                 sms: Optional[int] = None) -> DeviceMatch:
    """The entry for the device a driver calls ``name``: PCIe/NVL/SXM, memory size (``memory_bytes``,
    as torch reports it), Laptop/D variants told apart; a MIG slice (in the name, 'NVIDIA H100 80GB HBM3
    MIG 1g.10gb', or ``mig='1g.10gb'``) is derived from its part with its share of the SMs (``sms``, the
    slice's SM count where the driver reports it) and of the memory bandwidth. A key ('h100-pcie') names
    its entry directly."""
    query = name
    found = _MLPERF_MIG_RE.search(name) or _MIG_RE.search(name)
    if found:
        mig = mig or found.group(1)
        name = (name[:found.start()] + " " + name[found.end():]).strip()
    if mig is not None and not _PROFILE_RE.fullmatch(mig.strip()):
        raise UsageError(f"--mig '{mig}': expected a MIG profile such as 1g.10gb or 3g.40gb")
    known = devices()
    key = name.strip().lower()
    base, sep, profile = key.partition("-mig-")
    if key in known or (sep and base in known):          # a key ('h100-pcie') or a slice's ('h100-mig-1g.10gb')
        part = known[key] if key in known else known[base]
        mig = mig or (profile if key not in known else None)
        hits, how = [part], f"the key '{part.key}'"
    else:
        norm = normalise_name(name)
        hits = [d for d in known.values() if any(re.fullmatch(p, norm) for p in d.match.get("names", []))
                or (d.key != "cpu" and normalise_name(d.name) == norm)]
        if not hits:
            return DeviceMatch(query, None, f"no devices.yaml entry matches '{norm or name}'",
                               suggestion=_closest(norm))
        how = f"'{norm}' matches the names of {', '.join(d.key for d in hits)}"
    chosen = hits[0]
    if len(hits) > 1:
        if memory_bytes and not mig:
            gib = memory_bytes / 2**30
            chosen = min(hits, key=lambda d: abs((d.memory_gb or 0) - gib))
            how += f"; its {gib:.1f} GiB of memory picks {chosen.key}"
        else:
            how += (f"; {'a MIG slice, so memory cannot tell them apart' if mig else 'no memory size given'}: "
                    f"the first, {chosen.key}")
    if sms and not mig and chosen.sms and sms != chosen.sms:
        how += f" (but the driver reports {sms} SMs where {chosen.key} has {chosen.sms}: another variant?)"
    others = tuple(d.key for d in hits if d is not chosen)
    if not mig:
        return DeviceMatch(query, chosen, how, others)
    try:
        piece = mig_slice(chosen, mig, sms=sms)
    except UsageError as exc:
        return DeviceMatch(query, None, f"{how}; {exc.message}", others)
    return DeviceMatch(query, piece, f"{how}; {piece.note}", others)


def _closest(norm: str) -> Optional[str]:
    names = {}
    for d in devices().values():
        if d.key == "cpu":
            continue
        names[normalise_name(d.name)] = d.key
        names[d.key.replace("-", " ")] = d.key
    guess = difflib.get_close_matches(norm, list(names), n=1, cutoff=0.5)
    return names[guess[0]] if guess else None


def mig_slice(part: Device, profile: str, *, sms: Optional[int] = None) -> Device:
    """A MIG slice of ``part``: ``profile`` is one of the part's GPU-instance profiles as NVIDIA's MIG user
    guide lists them ("Supported MIG Profiles": '1g.10gb', '1g.10gb+me', '3g.40gb', …), or a compute
    instance of one ('1c.3g.40gb': 1 of its 3 compute slices). The slice gets its compute slices' share
    of the SMs and peaks, its memory slices' share of the bandwidth and its L2 slices' share of the L2, as
    the guide's table gives them. Anything else is refused with the part's profiles. ``sms``: the slice's
    SM count as the driver reports it (used instead of the fraction where given)."""
    m = _PROFILE_RE.fullmatch(profile.strip())
    if not m:
        raise UsageError(f"'{profile}': expected a MIG profile such as 1g.10gb")
    mig = part.match.get("mig")
    if not mig:
        raise UsageError(f"{part.key} ({part.name}) has no MIG: it cannot be partitioned into '{profile}'")
    c, g, gb, suffix = m.group(1), int(m.group(2)), int(m.group(3)), (m.group(4) or "").lower()
    gi = f"{g}g.{gb}gb{suffix}"
    table = mig["profiles"]
    if gi not in table or (c is not None and not 1 <= int(c) < table[gi]["compute"]):
        listed = ", ".join(table)
        raise UsageError(f"'{profile}' is not a MIG profile of {part.key} ({part.name}); NVIDIA's MIG user guide lists "
                         f"{listed} (and Nc.<profile>, a compute instance of N of its compute slices)")
    compute_slices, memory_slices = mig["slices"]["compute"], mig["slices"]["memory"]
    row = table[gi]
    units = int(c) if c else row["compute"]
    memory_share, l2_share = row["memory"] / memory_slices, row["l2"] / memory_slices
    if sms and part.sms:
        compute_share = min(1.0, sms / part.sms)
        how_sms = f"{sms} of {part.sms} SMs (as the driver reports)"
    else:
        compute_share = units / compute_slices
        sms = round(part.sms * compute_share) if part.sms else None
        how_sms = f"{units}/{compute_slices} of the SMs"
    name = f"{c + 'c.' if c else ''}{gi}"
    scale = lambda v, s: None if v is None else round(v * s, 4)
    half = part.peak_tflops_half_acc
    return replace(
        part, key=f"{part.key}-mig-{name}", name=f"{part.name}, MIG {name}",
        peak_tflops={k: scale(v, compute_share) for k, v in part.peak_tflops.items()},
        peak_tflops_half_acc=None if half is None else {k: scale(v, compute_share) for k, v in half.items()},
        bandwidth_gb_s=scale(part.bandwidth_gb_s, memory_share), memory_gb=float(gb),
        l2_mb=scale(part.l2_mb, l2_share), sms=sms, nvlink_gb_s=None,
        memory_bus_bits=None if part.memory_bus_bits is None else round(part.memory_bus_bits * memory_share),
        sources={**part.sources, "mig": part.sources.get("mig", "NVIDIA Multi-Instance GPU user guide")},
        note=(f"MIG slice {name}: {how_sms} (peaks × {compute_share:.4f}), {row['memory']}/{memory_slices} of the "
              f"memory bandwidth, {row['l2']}/{memory_slices} of the L2; no NVLink or P2P in a MIG instance; power "
              f"is the whole board's"),
        parent=part.key, mig=name)


def device_key(device: str) -> str:
    """'cuda:0' and 'cuda' are stored apart ('cuda' means the current GPU); 'CPU' → 'cpu'."""
    return device.strip().lower()


# -- resolving the roof ---------------------------------------------------------------------------------

def check_override(value: Optional[float], what: str, flag: str) -> Optional[float]:
    """--peak / --bandwidth / --overhead: finite and inside argcheck.ROOF_LIMITS, with the command line's
    message (``--overhead`` is shown in µs)."""
    if value is None:
        return None
    key = "overhead_s" if what == "overhead" else what
    problem = roof_problem(float(value), key, *((1e-6, "µs") if key == "overhead_s" else ()))
    if problem:
        shown = f"{value * 1e6:g}" if key == "overhead_s" else f"{value:g}"
        raise UsageError(f"{flag} {shown}: {problem}")
    return float(value)


def roof(device: str, dtype: str = "fp32", *, peak: Optional[float] = None, bandwidth: Optional[float] = None,
         overhead_s: Optional[float] = None, sheet: Optional[Device] = None,
         calibration: tuple[Optional[str], Optional[dict]] = (None, None)) -> Roof:
    """The roof for ``device`` at ``dtype`` (a peak key or any --dtype name). A datasheet key (h100, or
    a MIG slice h100-mig-1g.10gb) uses its datasheet only: a calibration never replaces it. cpu, cuda
    and cuda:N use ``calibration`` ((key, entry) as ``archstat.calibration`` stores it, read by the
    caller), and for a figure the calibration lacks (a dtype not calibrated) the datasheet entry
    ``sheet`` of the part, saying so. ``peak`` (FLOP/s), ``bandwidth`` (bytes/s) and ``overhead_s``
    override either. Pure: this reads no file."""
    _, key = resolve_dtype(dtype)
    peak = check_override(peak, "peak", "--peak")
    bandwidth = check_override(bandwidth, "bandwidth", "--bandwidth")
    overhead_s = check_override(overhead_s, "overhead", "--overhead")
    known = devices()
    dev_key = device_key(device)
    base = dev_key.split(":")[0]
    calib_key, calib = None, None
    if dev_key == "cpu" or base == "cuda":
        calib_key, calib = calibration
        sheet = sheet or known.get(base)
    else:
        sheet = resolve(dev_key)      # a part with a profile it lacks: the one-line error listing its profiles
        if sheet is None:
            choices = [k for k in known] + ["cuda"]
            raise UnknownNameError("device", device, choices, path="--device",
                                   hint_extra=f" (choose from {', '.join(choices)}; archstat devices lists them)")
    sources: dict[str, str] = {}
    calibrated = (f"calibrated {calib.get('measured_at', '')} on {calib.get('hardware', '?')}".strip()
                  if calib else "")

    def pick(what: str, override, measured, datasheet, flag: str):
        if override is not None:
            sources[what] = flag
            return override
        if measured is not None:
            sources[what] = calibrated
            return measured
        if datasheet is not None:
            if what == "overhead":
                sources[what] = (f"assumed ({datasheet * 1e6:g} µs per op on a {'CPU' if kind == 'cpu' else 'GPU'}: "
                                 "archstat's default)")
            elif calib is not None and sheet is not None:
                sources[what] = f"datasheet ({sheet.key}; the {calib_key} calibration has no {key} peak)"
            else:
                sources[what] = "datasheet"
            return datasheet
        return None

    kind = sheet.kind if sheet else ("cpu" if base == "cpu" else "gpu")
    peaks = (calib or {}).get("peak_flops", {})
    datasheet_peak = sheet.peak_flops.get(key) if sheet and sheet.key != "cpu" else None
    p = pick("peak", peak, peaks.get(key), datasheet_peak, "--peak")
    b = pick("bandwidth", bandwidth, (calib or {}).get("bandwidth"),
             sheet.bandwidth if sheet and sheet.key != "cpu" else None, "--bandwidth")
    o = pick("overhead", overhead_s, (calib or {}).get("overhead_s"), DEFAULT_OVERHEAD_S[kind], "--overhead")
    missing = [(what, flag) for what, flag, v in ((f"{key} peak", "--peak", p), ("memory bandwidth", "--bandwidth", b))
               if v is None]
    if missing:
        flags = " and ".join(flag for _, flag in missing)
        how = (f"calibrate it (archstat roofline --device {device} --dtype {key} --calibrate) or pass {flags}"
               if base in CALIBRATABLE else f"pass {flags}")
        where = " in its datasheet" if sheet and sheet.key != "cpu" and base not in CALIBRATABLE else ""
        if base in CALIBRATABLE and sheet and sheet.key != "cpu":
            where = f" (not calibrated, and none in the datasheet of {sheet.key})"
        raise UsageError(f"device '{device}' has no {' and no '.join(w for w, _ in missing)}{where}: {how}")
    name = str(calib.get("hardware") if calib and "calibrated" in sources.get("peak", "") else (
        sheet.name if sheet and sheet.key != "cpu" else calib.get("hardware") if calib else
        sheet.name if sheet else device))
    if sheet and any(v.startswith("datasheet") for v in sources.values()):
        sources["datasheet"] = sheet.source
    entry = sheet.key if sheet and sheet.key != "cpu" else None
    return Roof(device=dev_key, name=name, dtype=key, peak_flops=float(p), bandwidth=float(b), overhead_s=float(o),
                sources=sources, calibration=calib, entry=entry)
