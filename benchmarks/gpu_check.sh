#!/usr/bin/env bash
# GPU evidence for `archstat profile`: resnet152 and vgg16 on CUDA, eval and train, two batch
# sizes, float32 and bfloat16; one JSON file per run under $OUT (default ./gpu-results).
# Then the roofline against the measurement (benchmarks/roofline_cpu.py on cuda): calibrate the GPU,
# resnet50, vgg16 and mobilenet_v2 at batch 8 in float32 and bfloat16, predicted vs measured and the
# Spearman correlation of the per-row times ($OUT/roofline-*.md and .json); the calibration goes to
# a cache folder under $OUT, not the user's.
# Run from the repository root on a machine with a CUDA GPU and torch, typer, rich, pyyaml:
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh
set -uo pipefail
OUT="${OUT:-gpu-results}"
mkdir -p "$OUT"
python - <<'PY' > "$OUT/environment.txt" 2>&1
import torch, platform
print("torch", torch.__version__, "cuda", torch.version.cuda, "python", platform.python_version())
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
for model in resnet152 vgg16; do
  for mode in eval train; do
    for dtype in float32 bfloat16; do
      for batch in 8 64; do
        name="$model-$mode-$dtype-b$batch"
        timeout 120 python -m archstat profile "$model" --device cuda --mode "$mode" --dtype "$dtype" \
          --batch "$batch" --warmup 5 --iters 20 --top 5 --format json > "$OUT/$name.json" 2> "$OUT/$name.err"
        echo "$name rc=$?"
      done
    done
  done
done
python - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for f in sorted(out.glob("*.json")):
    if f.name.startswith("roofline-"):
        continue
    try:
        d = json.loads(f.read_text())
    except ValueError:
        continue
    m = d["memory"]
    rows.append(f"| {d['model']} | {d['mode']} | {d['dtype']} | {d['batch']} | {d['latency_ms']['median']:.2f} | "
                f"{d['throughput_samples_per_s']:.0f} | {d['macs_per_s'] / 1e12:.1f} | "
                f"{(d['peak_share'] or 0) * 100:.0f}% | {m['measured_peak_bytes'] / 2**30:.2f} | "
                f"{m['estimate_bytes'] / 2**30:.2f} | {m['ratio_measured_to_estimate']:.2f} |")
head = ("| model | mode | dtype | batch | median ms | samples/s | TMAC/s | of peak | measured GiB | "
        "estimate GiB | ratio |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
(out / "summary.md").write_text(head + "\n" + "\n".join(rows) + "\n")
print(head); print("\n".join(rows))
PY
export XDG_CACHE_HOME="$OUT/xdg-cache"
for dtype in float32 bfloat16; do
  timeout 600 python benchmarks/roofline_cpu.py --device cuda --dtype "$dtype" --batch 8 --iters 20 \
    --warmup 5 --json "$OUT/roofline-$dtype.json" > "$OUT/roofline-$dtype.md" 2> "$OUT/roofline-$dtype.err"
  echo "roofline $dtype rc=$?"
  cat "$OUT/roofline-$dtype.md"
done
