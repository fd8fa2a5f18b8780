"""A predicted latency: operator calls → precision → plan → costs → schedule, each a pure function.

>>> from archstat.perf.predict import predict
>>> p = predict(calls, device, batch=8, runtime="eager", dtype="fp16", amp=True)   # doctest: +SKIP
>>> p.latency_s, p.throughput                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Optional

from archstat import dtypes
from archstat.ir.program import IdSpace, OpCall
from archstat.perf import precision as precision_mod
from archstat.perf.cost import KernelCost, costs
from archstat.perf.device import DeviceSpec
from archstat.perf.plan import DeviceKernel, Plan, Target, plan
from archstat.perf.runtime import record
from archstat.perf.schedule import Schedule, schedule

_COEFFICIENTS: dict = {}


def coefficients() -> dict:
    """The shipped coefficients (archstat/data/perf.yaml), parsed once."""
    if not _COEFFICIENTS:
        import yaml

        text = (resources.files("archstat") / "data" / "perf.yaml").read_text(encoding="utf-8")
        _COEFFICIENTS.update(yaml.safe_load(text))
    return _COEFFICIENTS


@dataclass(kw_only=True)
class Prediction:
    device: DeviceSpec
    runtime: str
    precision: str
    batch: int
    plan: Plan
    costs: list[KernelCost]
    schedule: Schedule
    warnings: list[str] = field(default_factory=list)
    clock_share: float = 1.0         # of the boost clock, what the part sustained under its power limit

    @property
    def latency_s(self) -> float:
        return self.schedule.latency_s

    @property
    def throughput(self) -> float:
        return self.batch / self.latency_s if self.latency_s > 0 else 0.0

    def by_row(self) -> dict[str, float]:
        """Device seconds per table row (a fused step's time goes to its first row)."""
        out: dict[str, float] = {}
        for c in self.costs:
            if c.kernel.rows:
                out[c.kernel.rows[0]] = out.get(c.kernel.rows[0], 0.0) + c.device_s
        return out


def target_of(device: DeviceSpec) -> Target:
    return Target(device.kind, device.arch, device.compute_capability or (8.0 if device.kind == "gpu" else 0.0))


def run_plan(calls: list[OpCall], device: DeviceSpec, *, runtime: str = "eager", dtype: str = "fp32",
             amp: bool = False, tf32: Optional[dict] = None, channels_last: bool = False,
             optimizer: Optional[str] = None, foreach: bool = True, sdpa: str = "auto",
             host: str = "") -> Plan:
    """The plan of one program: the optimizer's update appended (a training step), the run's precision
    applied, the runtime's rules. Everything in a prediction that does not depend on the coefficients."""
    rt = record(runtime)
    storage = dtypes.lookup(dtype, dtypes.ROOFLINE, path="dtype").torch     # tf32 is float32 in memory
    int8 = storage == "int8"
    if int8 and not rt.int8:
        raise ValueError("int8 is an engine's precision: use runtime='engine'")
    if dtype == "tf32":
        tf32 = {"conv": True, "matmul": True}
    if amp:
        if storage not in ("float16", "bfloat16"):
            raise ValueError("amp needs dtype fp16 or bf16 (the autocast dtype)")
        prec = precision_mod.Precision("float32", storage)
    else:
        prec = precision_mod.Precision("float16" if int8 else storage)
    ids = IdSpace(calls)
    if optimizer:
        from archstat.perf.training import optimizer_calls

        calls = list(calls) + optimizer_calls(calls, optimizer, foreach=foreach, ids=ids)
    run = precision_mod.apply(calls, prec, ids=ids)
    the_plan = plan(run, runtime, target_of(device), precision="int8" if int8 else prec.name, tf32=tf32,
                    channels_last=channels_last, int8=int8, sdpa=sdpa, ids=ids)
    the_plan.host_key = host      # another framework build's host costs (the fit: PyTorch 1.x in NGC containers)
    return the_plan


def predict(calls: list[OpCall], device: DeviceSpec, *, batch: int, runtime: str = "eager", dtype: str = "fp32",
            amp: bool = False, tf32: Optional[dict] = None, channels_last: bool = False,
            optimizer: Optional[str] = None, foreach: bool = True, sdpa: str = "auto",
            coefficients_: Optional[dict] = None, host: str = "",
            repeats: Optional[Callable[[DeviceKernel], float]] = None) -> Prediction:
    """The latency of ``kernels`` (one traced program at ``batch``) on ``device`` under ``runtime``.

    ``dtype``: fp32, tf32, fp16, bf16 (a model stored in it, or with ``amp`` the autocast dtype over an
    fp32 model) or int8 (an engine's). ``tf32``: for float32 on a GPU, whether convolutions and matmuls
    run in TF32 (PyTorch's defaults: convolutions yes, matmuls no; ``dtype='tf32'``: both). ``repeats``: how
    many times a device kernel runs in the whole program, for a program that writes a repeated part once
    (``perf.cost.costs``)."""
    c = coefficients_ or coefficients()
    the_plan = run_plan(calls, device, runtime=runtime, dtype=dtype, amp=amp, tf32=tf32,
                        channels_last=channels_last, optimizer=optimizer, foreach=foreach, sdpa=sdpa, host=host)
    kernel_costs, clock = costs(the_plan, device, c, repeats)
    hosts = c["host"][device.kind]
    sched = schedule(kernel_costs, overlap=device.kind == "gpu",
                     launch_s=0.0 if record(runtime).per_op_host else hosts.get("engine_launch_s", 0.0),
                     sync_s=hosts.get("sync_s", 0.0) if device.kind == "gpu" else 0.0)
    warnings = []
    if the_plan.unknown_ops:
        warnings.append("planned as generic memory passes (no kernel model): "
                        + ", ".join(f"aten.{op} ×{n}" for op, n in sorted(the_plan.unknown_ops.items())))
    return Prediction(device=device, runtime=the_plan.runtime, precision=the_plan.precision, batch=batch,
                      plan=the_plan, costs=kernel_costs, schedule=sched, warnings=warnings, clock_share=clock)
