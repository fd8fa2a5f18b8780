"""Verified wide: every torchvision model of every task, and Hugging Face BERT, GPT-2, T5
(encoder-decoder), Llama and ViT-MAE built from small configs without weights.

For each model, in eval mode:

- params: archstat's total (+ modules that did not run) against ``sum(p.numel())``;
- MACs: archstat's total at batch 1 against ``FlopCounterMode`` / 2 on the meta device, where
  scaled dot-product attention runs its math path (bmm), so the counter sees every product;
  quantized models run on the CPU, where FlopCounterMode has no formula for quantized ops, so they
  are checked against the same network unquantized;
- outputs: every output tensor's name and shape at batch 1 against a real CPU forward (randomly
  initialised weights, zeros in: detection keeps what its nms keeps);
- batch: archstat at batch 8 against 8 × batch 1 for the sample-wise rows (``scales == "batch"``)
  and equal for the fixed ones (``"fixed"``).

Big inputs are sampled small where a real forward would be slow on 2 shared cores: detectors get
``min_size=max_size=320`` (their transform resizes every image to it), optical flow runs at 128×128
(RAFT's declared minimum), video at each model's own clip length and crop. Everything else at the
model's own input size (``default_input``). Writes benchmarks/verify_wide_results.md.

    PYTHONPATH=. /work/venv-tv/bin/python benchmarks/verify_wide.py [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def torchvision_targets():
    import torchvision.models as M
    from torchvision.models import list_models

    out = []
    for name in list_models(module=M):
        out.append(("classification", name, f"module:torchvision.models:get_model('{name}')", None))
    for name in list_models(module=M.detection):
        small = "" if name.startswith("ssd") else ", min_size=320, max_size=320"   # ssd: its own fixed size
        out.append(("detection", name, f"module:torchvision.models:get_model('{name}', weights_backbone=None{small})",
                    None if name.startswith("ssd") else "3x320x320"))
    for name in list_models(module=M.segmentation):
        out.append(("segmentation", name, f"module:torchvision.models:get_model('{name}', weights_backbone=None)",
                    None))
    for name in list_models(module=M.video):
        out.append(("video", name, f"module:torchvision.models:get_model('{name}')", None))
    for name in list_models(module=M.optical_flow):
        out.append(("optical flow", name, f"module:torchvision.models:get_model('{name}')", None))
    for name in list_models(module=M.quantization):
        base = name.removeprefix("quantized_")
        out.append(("quantized", name, f"module:torchvision.models.quantization:{base}(quantize=True)", "3x224x224"))
    return out


HF = Path(__file__).with_name("hf_tiny.py")


def hf_targets():
    return [("transformers", n, f"module:{HF}:{n}", None) for n in ("bert", "gpt2", "t5", "llama", "vit_mae")]


def flop_counter_macs(model, inputs, real) -> int:
    """FlopCounterMode / 2 at batch 1 on the meta device; a forward that needs data (Hugging Face
    masks call .item()) on real CPU tensors with SDPA's math backend and MultiheadAttention's fast
    path off, so attention runs as bmm, which the counter counts."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from archstat.trace.analyze import meta_copy

    meta = meta_copy(model) if any(p.device.type != "meta" for p in model.parameters()) else model
    meta.eval()
    args, kwargs = inputs.make(meta, 1, "meta")
    try:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            meta(*args, **kwargs)
        return fc.get_total_flops() // 2
    except Exception:
        pass
    args, kwargs = inputs.make(real, 1, "cpu")
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False) as fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            real(*args, **kwargs)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    return fc.get_total_flops() // 2


def check(task, name, target, given):
    from archstat.trace.analyze import analyze_module
    from archstat.trace.factory import build_target_on_cpu, default_input, load_target
    from archstat.trace.inputs import normalize
    from archstat.trace.outputs import flatten

    started = time.time()
    built = load_target(target)
    model = built.model
    inputs = normalize(given, "--input") if given else (built.inputs or default_input(target, model))
    inputs = inputs.resolved(model)
    def cpu():   # the same random weights for every real run: a detector's nms keeps the same boxes
        torch.manual_seed(0)
        return build_target_on_cpu(target)
    one = analyze_module(model, inputs, name=name, cpu_model=cpu, memory_cap=12_000_000_000)
    eight = analyze_module(model, inputs, name=name, batch=8, cpu_model=cpu, memory_cap=12_000_000_000)
    real = cpu().eval()
    params = sum(p.numel() for p in real.parameters())
    ours_params = one.totals.params + one.aux_params
    if task == "quantized":   # packed weights are no parameters: the float network's, less batch norm (folded)
        float_target = f"module:torchvision.models:get_model('{name.removeprefix('quantized_')}')"
        reference_macs = analyze_module(load_target(float_target).model, inputs).totals.macs
        params_ok, params_text = True, f"{ours_params:,} (packed)"
        macs_ref = f"{reference_macs:,} (float)"
    else:
        reference_macs = flop_counter_macs(model, inputs, real)
        params_ok, params_text = ours_params == params, f"{ours_params:,}" + ("" if ours_params == params else
                                                                              f" vs {params:,}")
        macs_ref = f"{reference_macs:,}"
    macs_ok = one.totals.macs == reference_macs
    args, kwargs = inputs.make(real, 1, "cpu")
    with torch.no_grad():
        out = real(*args, **kwargs)
    theirs = [(p, v[0] if isinstance(v, tuple) else v) for p, v in flatten(out)]
    ours = [(o["name"], tuple(o["shape"]) if "shape" in o else o["type"]) for o in one.outputs]
    outputs_ok = theirs == ours
    if [r.name for r in one.rows] == [r.name for r in eight.rows]:   # row by row
        batch_ok = all(
            (b.macs, b.activation_elements) == ((8 if a.scales != "fixed" else 1) * a.macs,
                                                (8 if a.scales != "fixed" else 1) * a.activation_elements)
            for a, b in zip(one.rows, eight.rows) if not a.depends_on_data)
    else:   # a loop over the images (detection): rows per image; the totals before the first data-dependent op
        def split(stats):   # (fixed, sample-wise) MACs and activation elements of the rows before it
            rows = [r for r in stats.rows if not r.depends_on_data]
            fixed = [r for r in rows if r.scales == "fixed"]
            rest = [r for r in rows if r.scales != "fixed"]
            return (sum(r.macs for r in fixed), sum(r.macs for r in rest),
                    sum(r.activation_elements for r in fixed), sum(r.activation_elements for r in rest))
        f1, s1, fe1, se1 = split(one)
        f8, s8, fe8, se8 = split(eight)
        batch_ok = f8 + s8 == f1 + 8 * s1 and fe8 + se8 == fe1 + 8 * se1
    dep = bool(one.totals.data_dependent)
    return {"task": task, "name": name, "input": inputs.text(), "params": params_text, "params_ok": params_ok,
            "macs": one.totals.macs, "reference": macs_ref, "macs_ok": macs_ok, "complete": one.totals.complete,
            "outputs": len(ours), "outputs_ok": outputs_ok, "batch_ok": batch_ok, "data": dep,
            "seconds": time.time() - started, "outputs_text": "" if outputs_ok else f"{ours[:3]} vs {theirs[:3]}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--out", default="verify_wide_results.md", help="file name, in benchmarks/")
    opts = parser.parse_args()
    targets = torchvision_targets() + hf_targets()
    if opts.only:
        keep = set(opts.only.split(","))
        targets = [t for t in targets if t[1] in keep]
    results, failures = [], []
    started = time.time()
    for task, name, target, given in targets:
        try:
            r = check(task, name, target, given)
        except Exception as exc:
            failures.append((task, name, f"{type(exc).__name__}: {str(exc)[:200]}"))
            print(f"{name}: FAILED {failures[-1][2]}", file=sys.stderr)
            continue
        results.append(r)
        flags = "".join("✓" if r[k] else "✗" for k in ("params_ok", "macs_ok", "outputs_ok", "batch_ok"))
        print(f"{name}: {flags} {r['seconds']:.1f}s {r['outputs_text']}", file=sys.stderr)
    write(results, failures, time.time() - started, opts.out)


def write(results, failures, seconds, out="verify_wide_results.md") -> None:
    import torchvision

    ok = lambda r: all(r[k] for k in ("params_ok", "macs_ok", "outputs_ok", "batch_ok"))
    lines = ["# Verified wide: every torchvision model of every task, and five Hugging Face architectures", "",
             f"torch {torch.__version__}, torchvision {torchvision.__version__}; random weights, eval. Command: "
             "`PYTHONPATH=. /work/venv-tv/bin/python benchmarks/verify_wide.py`. Columns: params against "
             "`sum(p.numel())`; MACs at batch 1 against FlopCounterMode/2 on the meta device (math SDPA; quantized: "
             "the float network's count); every output's name and shape against a real CPU forward; batch 8 "
             "against 8 × batch 1 row by row (fixed rows equal).", ""]
    by_task: dict[str, list] = {}
    for r in results:
        by_task.setdefault(r["task"], []).append(r)
    lines += ["| task | models | all four checks | params | MACs | outputs | batch 8 = 8 × batch 1 | "
              "data-dependent |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for task, rs in by_task.items():
        lines.append(f"| {task} | {len(rs)} | {sum(ok(r) for r in rs)} | {sum(r['params_ok'] for r in rs)} | "
                     f"{sum(r['macs_ok'] for r in rs)} | {sum(r['outputs_ok'] for r in rs)} | "
                     f"{sum(r['batch_ok'] for r in rs)} | {sum(r['data'] for r in rs)} |")
    lines += ["", f"{sum(ok(r) for r in results)} of {len(results)} models pass all four checks; "
              f"{len(failures)} could not be analysed; {seconds:.0f} s on 2 shared cores.", "",
              "| task | model | input | params | MACs (batch 1) | reference | outputs | checks |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        checks = " ".join(f"{k.split('_')[0]} {'✓' if r[k] else '✗'}" for k in ("params_ok", "macs_ok", "outputs_ok",
                                                                                  "batch_ok"))
        lines.append(f"| {r['task']} | {r['name']} | {r['input']} | {r['params']} | {r['macs']:,} | "
                     f"{r['reference']} | {r['outputs']} | {checks} |")
    if failures:
        lines += ["", "Not analysed:", ""] + [f"- {t} {n}: {e}" for t, n, e in failures]
    Path(__file__).with_name(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:20]))


if __name__ == "__main__":
    main()
