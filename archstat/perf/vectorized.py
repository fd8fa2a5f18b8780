"""Many predictions at once, for the fit: the same formulas as ``perf.cost`` and ``perf.schedule``, on numpy
arrays (numpy is imported here only; a prediction never needs it).

``Batch.add(plan, device, ...)`` stores a plan's coefficient-free figures (``perf.cost.features``);
``Batch.latencies(coefficients)`` evaluates every stored plan under those coefficients. Every plan of a
batch is costed with one coefficient set (``set_name``: an architecture generation, or ``cpu``); a test
checks that a batch gives exactly what ``perf.predict`` gives one plan at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.ir.aten import Kind, Sub
from archstat.perf.cost import (
    EFFICIENCY_KEYS,
    attention_seconds,
    busy_power,
    clock_share,
    conv_factor,
    energy_scale,
    features,
    l2_hit_bytes,
    math_energy_pj,
    tile_seconds,
)
from archstat.perf.device import DeviceSpec
from archstat.perf.plan import HostClass, Plan
from archstat.perf.runtime import RUNTIMES, Runtime

HOST_KEYS = HostClass.values()
RUNTIME_KEYS = Runtime.values()


@dataclass
class _Lists:
    step_pred: list = field(default_factory=list)
    eff: list = field(default_factory=list)
    read: list = field(default_factory=list)
    written: list = field(default_factory=list)
    flops: list = field(default_factory=list)
    math: list = field(default_factory=list)
    transpose: list = field(default_factory=list)
    device: list = field(default_factory=list)
    bandwidth: list = field(default_factory=list)
    l2_unit: list = field(default_factory=list)     # SMs × clock (Hz): × l2_bytes_per_clock = L2 bytes/s
    mat_step: list = field(default_factory=list)
    mat_tiles: list = field(default_factory=list)
    mat_taps: list = field(default_factory=list)
    mat_groups: list = field(default_factory=list)
    mat_conv: list = field(default_factory=list)
    mat_cuda: list = field(default_factory=list)
    att_step: list = field(default_factory=list)
    att: list = field(default_factory=list)
    dw_step: list = field(default_factory=list)
    dw: list = field(default_factory=list)
    rd_step: list = field(default_factory=list)
    rd_size: list = field(default_factory=list)
    rd_dist: list = field(default_factory=list)
    rd_l2: list = field(default_factory=list)
    host_step: list = field(default_factory=list)
    host_key: list = field(default_factory=list)


class Batch:
    """The plans of many predictions, all costed with one coefficient set (``set_name``) on one device kind."""

    def __init__(self, kind: str, set_name: str = ""):
        self.kind = kind
        self.set_name = set_name or kind
        self.l = _Lists()
        self.steps = 0
        self.preds: list[dict] = []     # per prediction: runtime, device figures, whatever the caller attaches
        self._arrays: Optional[dict[str, Any]] = None

    def add(self, plan: Plan, device: DeviceSpec, **info) -> int:
        if device.kind != self.kind:
            raise ValueError(f"a {device.kind} plan in a {self.kind} batch")
        index = len(self.preds)
        self.preds.append({"runtime": str(plan.runtime), "host_key": plan.host_key,
                           "power_w": device.power_w if device.kind == "gpu" else 0.0,
                           "min_share": device.min_clock_share, "hbm": device.memory == "hbm",
                           "sms": float(device.sms), "clock_mhz": device.clock_mhz,
                           "device_bandwidth": device.bandwidth, **info})
        l = self.l
        for f in features(plan, device):
            s = f.kernel
            i = self.steps
            self.steps += 1
            l.step_pred.append(index)
            l.eff.append(EFFICIENCY_KEYS.index(f.efficiency_key) if f.efficiency_key in EFFICIENCY_KEYS
                         else EFFICIENCY_KEYS.index("other"))
            l.read.append(float(s.read))
            l.written.append(float(s.written))
            # for the energy only: at the full fp16 tensor rate's energy per operation
            l.flops.append(float(s.flops) * (energy_scale(s.math, device) if f.math_class > 0 else 1.0))
            l.math.append(f.math_class)
            l.transpose.append(s.sub == Sub.TRANSPOSE)
            l.device.append(s.kind != Kind.HOST)
            l.bandwidth.append(device.bandwidth)
            l.l2_unit.append(device.sms * device.clock_mhz * 1e6)
            for h in s.host_ops:
                l.host_step.append(i)
                l.host_key.append(HOST_KEYS.index(h) if h in HOST_KEYS else HOST_KEYS.index("pointwise"))
            if s.kind == Kind.HOST:
                continue
            if f.tiles:
                conv = s.kind == Kind.CONV
                l.mat_step.append(i)
                l.mat_tiles.append(f.tiles)
                l.mat_conv.append(conv)
                l.mat_taps.append(s.dims[4] if conv else 1)
                l.mat_groups.append(s.dims[0] if conv else 1)
                l.mat_cuda.append(f.cuda_core_s if conv else 0.0)
            elif f.attention is not None:
                l.att_step.append(i)
                l.att.append(f.attention)
            elif f.cuda_core_s:
                l.dw_step.append(i)
                l.dw.append(f.cuda_core_s)
            for n, d in f.reads:
                l.rd_step.append(i)
                l.rd_size.append(float(n))
                l.rd_dist.append(float(d))
                l.rd_l2.append(device.l2_bytes)
        self._arrays = None
        return index

    def extend(self, other: Batch) -> None:
        """Append another batch's predictions (built in another process) after this one's."""
        if (other.kind, other.set_name) != (self.kind, self.set_name):
            raise ValueError("batches of different device kinds or coefficient sets")
        steps, preds = self.steps, len(self.preds)
        mine, theirs = self.l, other.l
        for key, values in vars(theirs).items():
            if key == "step_pred":
                values = [p + preds for p in values]
            elif key.endswith("_step"):
                values = [i + steps for i in values]
            getattr(mine, key).extend(values)
        self.preds.extend(other.preds)
        self.steps += other.steps
        self._arrays = None

    def arrays(self) -> dict[str, Any]:
        if self._arrays is None:
            import numpy as np

            l = self.l
            a = {k: np.asarray(v) for k, v in vars(l).items() if k != "mat_tiles"}
            a["mat_tiles"] = np.asarray(l.mat_tiles, dtype=float).reshape(len(l.mat_tiles), -1, 5)
            a["att"] = np.asarray(l.att, dtype=float).reshape(len(l.att), 3)
            a["runtime"] = np.asarray([RUNTIME_KEYS.index(p["runtime"]) for p in self.preds], dtype=int)
            tables = self.host_tables()
            a["host_table"] = np.asarray([tables.index((p["runtime"], p.get("host_key", ""))) for p in self.preds],
                                         dtype=int)
            for key in ("power_w", "min_share", "hbm", "device_bandwidth", "sms", "clock_mhz"):
                a[key] = np.asarray([p[key] for p in self.preds], dtype=float)
            self._arrays = a
        return self._arrays

    def subset(self, keep) -> Batch:
        """A Batch of the predictions ``keep`` (indices), with the same arrays cut down (no plan rebuilt)."""
        import numpy as np

        a = self.arrays()
        keep = np.asarray(sorted(set(int(i) for i in keep)), dtype=int)
        new_pred = np.full(len(self.preds), -1)
        new_pred[keep] = np.arange(len(keep))
        step_keep = new_pred[a["step_pred"]] >= 0
        new_step = np.full(self.steps, -1)
        new_step[step_keep] = np.arange(int(step_keep.sum()))
        out = Batch(self.kind, self.set_name)
        out.preds = [self.preds[i] for i in keep]
        out.steps = int(step_keep.sum())
        b: dict[str, Any] = {}
        for key in ("step_pred", "eff", "read", "written", "flops", "math", "transpose", "device", "bandwidth",
                    "l2_unit"):
            b[key] = a[key][step_keep]
        b["step_pred"] = new_pred[b["step_pred"]]
        for prefix, keys in (("mat", ("mat_tiles", "mat_taps", "mat_groups", "mat_conv", "mat_cuda")),
                             ("att", ("att",)), ("dw", ("dw",)), ("rd", ("rd_size", "rd_dist", "rd_l2")),
                             ("host", ("host_key",))):
            steps = a[f"{prefix}_step"]
            m = new_step[steps] >= 0 if len(steps) else np.zeros(0, dtype=bool)
            b[f"{prefix}_step"] = new_step[steps[m]] if len(steps) else steps
            for key in keys:
                b[key] = a[key][m] if len(steps) else a[key]
        for key in ("runtime", "power_w", "min_share", "hbm", "device_bandwidth", "sms", "clock_mhz"):
            b[key] = a[key][keep]
        tables = out.host_tables()
        b["host_table"] = np.asarray([tables.index((p["runtime"], p.get("host_key", ""))) for p in out.preds],
                                     dtype=int)
        out._arrays = b
        return out

    def host_tables(self) -> list[tuple[str, str]]:
        """(runtime, host table variant) of every prediction's host costs, each once, in first-seen order."""
        return list(dict.fromkeys((p["runtime"], p.get("host_key", "")) for p in self.preds))

    def coefficient_set(self, coefficients: dict) -> dict:
        return coefficients["sets"][self.set_name] if "sets" in coefficients else coefficients[self.kind]

    def _at_boost(self, c: dict, transpose_share):
        """(compute, l2, dram) seconds of every step at the boost clock, and the bytes it moves over DRAM."""
        import numpy as np

        a = self.arrays()
        n = self.steps
        l2_bw = c["l2_bytes_per_clock"] * a["l2_unit"]
        compute: Any = np.zeros(n)
        if len(a["mat_step"]):
            t = a["mat_tiles"]
            bw = l2_bw[a["mat_step"]][:, None]
            times = np.maximum(tile_seconds(t[..., 0], t[..., 1], t[..., 2], t[..., 3], c, np),
                               t[..., 4] / bw).min(axis=1)
            times = times / np.where(a["mat_conv"], conv_factor(a["mat_taps"], a["mat_groups"], c, np), 1.0)
            direct = np.where(a["mat_conv"], a["mat_cuda"] / c["depthwise_compute_efficiency"], np.inf)
            compute[a["mat_step"]] = np.minimum(times, direct)
        if len(a["att_step"]):
            att = a["att"]
            compute[a["att_step"]] = attention_seconds(att[:, 0], att[:, 1], att[:, 2] > 0, c, np)
        if len(a["dw_step"]):
            compute[a["dw_step"]] = a["dw"] / c["depthwise_compute_efficiency"]
        cached: Any = np.zeros(n)
        if len(a["rd_step"]):
            hit = l2_hit_bytes(a["rd_size"], a["rd_dist"], a["rd_l2"], c, np)
            cached = np.bincount(a["rd_step"], weights=hit, minlength=n)
        cached = np.minimum(cached, a["read"])
        eff_table = np.asarray([c["bandwidth_efficiency"].get(k, c["bandwidth_efficiency"]["other"])
                                for k in EFFICIENCY_KEYS])
        share = np.where(a["transpose"], transpose_share, 1.0)
        dram_bytes = (a["read"] - cached + a["written"]) * share
        return compute, cached / l2_bw * share, dram_bytes / (a["bandwidth"] * eff_table[a["eff"]]), dram_bytes

    def device_and_host(self, coefficients: dict):
        """(device seconds, host seconds) of every step, and the clock share of every prediction."""
        import numpy as np

        a = self.arrays()
        c = self.coefficient_set(coefficients)
        n, m = self.steps, len(self.preds)
        hosts = coefficients["host"][self.kind]
        tables = self.host_tables()
        shares = np.asarray([hosts.get(variant or RUNTIMES[Runtime(runtime)].host_key, {}).get(
            "nchw_transpose_share", 1.0) for runtime, variant in tables])
        compute, l2, dram, dram_bytes = self._at_boost(c, shares[a["host_table"]][a["step_pred"]])
        on_device = a["device"].astype(bool)
        pred = a["step_pred"]
        bound = compute >= dram + l2
        kernel_s = c["kernel_s"]
        core = np.bincount(pred, weights=np.where(on_device, np.where(bound, compute, l2), 0.0), minlength=m)
        other = np.bincount(pred, weights=np.where(on_device, np.where(bound, 0.0, dram) + kernel_s, 0.0),
                            minlength=m)
        flop_j = np.bincount(pred, weights=a["flops"] * math_energy_pj(a["math"], c, np) * 1e-12, minlength=m)
        byte_pj = np.where(a["hbm"] > 0, c["energy_byte_hbm_pj"], c["energy_byte_gddr_pj"])
        byte_j = np.bincount(pred, weights=np.where(on_device, dram_bytes, 0.0), minlength=m) * byte_pj * 1e-12
        powered = a["power_w"] > 0
        power = np.where(powered, a["power_w"], 1.0)
        share = np.where(powered, clock_share(np.maximum(core, 1e-30), other, flop_j, byte_j,
                                              c["static_share"] * power, busy_power(a["sms"], a["clock_mhz"], c),
                                              power, a["min_share"], np), 1.0)
        s = share[pred]
        device = np.where(on_device, np.maximum(compute / s, dram + l2 / s) + kernel_s, 0.0)
        host_table = np.zeros((len(tables), len(HOST_KEYS)))
        for r, (runtime, variant) in enumerate(tables):
            rt = RUNTIMES[Runtime(runtime)]
            if not rt.per_op_host:
                continue
            row = hosts.get(variant or rt.host_key, {})
            for h, key in enumerate(HOST_KEYS):
                host_table[r, h] = row.get(key, row.get("pointwise", 0.0))
        host: Any = np.zeros(n)
        if len(a["host_step"]):
            step_table = a["host_table"][a["step_pred"][a["host_step"]]]
            host = np.bincount(a["host_step"], weights=host_table[step_table, a["host_key"]], minlength=n)
        return device, host, share

    def latencies(self, coefficients: dict):
        """The predicted latency of every stored plan (``perf.schedule.schedule``, vectorised)."""
        import numpy as np

        a = self.arrays()
        device, host, _ = self.device_and_host(coefficients)
        pred = a["step_pred"]
        m = len(self.preds)
        hosts = coefficients["host"][self.kind]
        graph_launched = np.asarray([not RUNTIMES[Runtime(r)].per_op_host for r in RUNTIME_KEYS])
        launch = np.where(graph_launched[a["runtime"]], hosts.get("engine_launch_s", 0.0), 0.0)
        sync = hosts.get("sync_s", 0.0)
        if self.kind != "gpu":       # the host is the device: everything adds up
            total = np.bincount(pred, weights=device + host, minlength=m)
            return total + launch + sync
        # per prediction: H_i = launch + Σ host, S_i = Σ device; end_i = S_i + max_{j ≤ i}(H_j − S_{j−1}) over
        # the steps that run on the device (the recurrence start_i = max(H_i, end_{i−1}))
        start = np.r_[0, np.flatnonzero(np.diff(pred)) + 1]
        seg_h = np.cumsum(host)
        seg_s = np.cumsum(device)
        base_h = np.repeat(seg_h[start] - host[start], np.diff(np.r_[start, len(pred)]))
        base_s = np.repeat(seg_s[start] - device[start], np.diff(np.r_[start, len(pred)]))
        h = seg_h - base_h + launch[pred]
        s = seg_s - base_s
        gap = np.where(device > 0, h - (s - device), -np.inf)
        big = 1e3                  # more than any gap (seconds): no running maximum crosses a prediction
        offset = pred * big
        run = np.maximum.accumulate(np.where(np.isfinite(gap), gap + offset, -np.inf)) - offset
        run = np.maximum(run, launch[pred])
        end = s + run
        last = np.r_[start[1:] - 1, len(pred) - 1]
        return np.maximum(h[last], end[last]) + sync
