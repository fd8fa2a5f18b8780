"""archstat's traced count of every torchvision classification model against torchvision's own
published figures: params == ``meta["num_params"]`` and MACs == ``meta["_ops"]`` (GMACs at 3
decimals), at the crop size of each model's DEFAULT weights' transforms.

Runs in its own venv (torch and torchvision are never test dependencies)::

    python3 -m venv /tmp/venv-tv && /tmp/venv-tv/bin/pip install torch==2.14.1 torchvision==0.29.1 fvcore
    /tmp/venv-tv/bin/pip install --no-deps -e .
    /tmp/venv-tv/bin/python benchmarks/torchvision_zoo.py [--speed] [MODEL ...] > table.md

The model is made as a user would type it: ``module:torchvision.models:get_model('NAME')``
(literal arguments; the vit models get ``image_size`` = the weights' crop, as torchvision's own
builder does when it loads those weights). Each row prints as it finishes (markdown).
``--speed`` adds the speed check: analysis time against construction + one plain meta forward
(medians of ``--reps`` runs, after one warm-up analysis).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torchvision.models as tvm

from archstat.trace.analyze import analyze_module, meta_copy
from archstat.trace.factory import build_target


def target(name: str, crop: int) -> str:
    extra = f", image_size={crop}" if name.startswith("vit_") else ""
    return f"module:torchvision.models:get_model({name!r}{extra})"


def timed(fn, reps: int):
    """(the last result, the median time of ``reps`` calls)."""
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def check(name: str, speed: bool, reps: int) -> str:
    weights = tvm.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size[0]
    (model, notes), t_build = timed(lambda: build_target(target(name, crop)), reps if speed else 1)
    stats, t_analyze = timed(lambda: analyze_module(model, (3, crop, crop), name=name), reps if speed else 1)
    params, macs = stats.totals.params, stats.totals.macs
    want_p, want_ops = weights.meta["num_params"], weights.meta["_ops"]
    gmacs = round(macs / 1e9, 3)
    if params == want_p:
        p_ok = "yes"
    elif params + stats.aux_params == want_p:  # the published count includes heads that do not run in eval
        p_ok = "yes, with the aux heads"
    else:
        p_ok = f"NO ({params - want_p:+,})"
    m_ok = "yes" if abs(gmacs - want_ops) < 5e-4 else f"NO ({gmacs - want_ops:+.3f})"
    cells = [name, str(crop), f"{params:,}", f"{want_p:,}", p_ok, f"{gmacs:.3f}", f"{want_ops:.3f}", m_ok,
             "yes" if stats.totals.complete else "NO: " + ", ".join(u["op"] for u in stats.totals.uncounted),
             f"{stats.aux_params:,}" if stats.aux_params else "", "cpu" if notes else "meta",
             "cpu" if "cpu device" in stats.description else "meta", f"{t_analyze:.2f}"]
    if speed:
        t_fwd = statistics.median(plain_forward(model, crop) for _ in range(reps))
        cells += [f"{t_build:.2f}", f"{t_fwd:.2f}", f"{t_analyze / (t_build + t_fwd):.2f}"]
    return "| " + " | ".join(cells) + " |"


def plain_forward(model, crop: int) -> float:
    """One forward pass on the meta device, no tracing: the floor any analysis pays."""
    meta = model if all(p.device.type == "meta" for p in model.parameters()) else meta_copy(model)
    meta.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        meta(torch.zeros(1, 3, crop, crop, device="meta"))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--reps", type=int, default=3, help="with --speed: median of this many runs of each step")
    a = ap.parse_args()
    analyze_module(tvm.resnet18(), (3, 32, 32))   # warm-up: imports and first-call caches are not timed
    names = a.models or tvm.list_models(module=tvm)
    head = ["model", "crop", "archstat params", "num_params", "params equal", "archstat GMACs", "_ops",
            "MACs equal", "complete", "aux params left out", "built on", "traced on", "analysis s"]
    if a.speed:
        head += ["construction s", "meta forward s", "analysis / (construction + forward)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    sys.stdout.flush()
    for name in names:
        try:
            print(check(name, a.speed, a.reps))
        except Exception as exc:  # reported in the table, never hidden
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc)[:200]} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
