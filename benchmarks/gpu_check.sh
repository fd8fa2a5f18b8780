#!/usr/bin/env bash
# One loud check of archstat's GPU path, sized for a lent GPU: under 6 minutes on an H100/H200.
#
#   bash benchmarks/gpu_check.sh [DIR]        # DIR, else $OUT, else ./gpu-results
#   bash benchmarks/gpu_check.sh --plan       # the steps and their time caps, without running them
#
# Pre-flight first, failing fast: an interpreter ($PYTHON, else python3, else python) with torch, a CUDA
# build of torch and a visible CUDA device, archstat importable from this checkout, and the GPU's name
# with the devices.yaml entry it maps to. Then, under ONE time budget for the whole run ($GPU_CHECK_BUDGET
# seconds, default 330; every step's timeout is the smaller of its cap and what is left): the CUDA tests,
# calibration in fp32/tf32/bf16, resnet50 bf16 at batch 8/64/256 in NCHW and channels_last, vgg16 fp32
# batch 64, resnet152 as the mission types it, resnet50 per layer, resnet50 AMP training, and the roofline
# against the measurement (benchmarks/roofline_cpu.py on cuda); every profile carries its prediction.
#
# It leaves exactly two files in DIR: gpu-check.tar.gz (every log and JSON it wrote) and summary.md
# (what ran, what failed, the figures). The calibration goes to a cache folder inside the archive, never
# the user's. Exit 0 when every step passed; else 1, naming the first step that failed (a step the budget
# left no time for counts as failed).
set -uo pipefail

PLAN=0
if [ "${1:-}" = "--plan" ]; then PLAN=1; shift; fi
DEST="${1:-${OUT:-gpu-results}}"
BUDGET="${GPU_CHECK_BUDGET:-330}"
RESERVE=15                        # seconds kept back for the summary and the archive
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# name | cap (s) | command (run from the repository root with $PY, in $WORK)
STEPS=(
  "cuda-tests|45|\$PY -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py tests/test_profile.py"
  "calibrate-fp32|20|\$PY -m archstat roofline --device cuda --dtype fp32 --calibrate"
  "calibrate-tf32|20|\$PY -m archstat roofline --device cuda --dtype tf32 --calibrate"
  "calibrate-bf16|20|\$PY -m archstat roofline --device cuda --dtype bf16 --calibrate"
  "resnet50-bf16-nchw|35|\$PY -m archstat profile resnet50 --device cuda --dtype bfloat16 --sweep-batch 8,64,256 --warmup 5 --iters 20 --format json"
  "resnet50-bf16-channels-last|35|\$PY -m archstat profile resnet50 --device cuda --dtype bfloat16 --sweep-batch 8,64,256 --warmup 5 --iters 20 --channels-last --format json"
  "vgg16-fp32-b64|25|\$PY -m archstat profile vgg16 --device cuda --batch 64 --warmup 3 --iters 10 --no-layers --format json"
  "resnet152-mission|25|\$PY -m archstat profile --device cuda resnet152"
  "resnet50-per-layer|25|\$PY -m archstat profile resnet50 --device cuda --batch 8 --per-layer --format json"
  "resnet50-train-amp-bf16|25|\$PY -m archstat profile resnet50 --device cuda --mode train --dtype bfloat16 --batch 64 --warmup 3 --iters 10 --no-layers --format json"
  "roofline-vs-measured|30|\$PY benchmarks/roofline_cpu.py --device cuda --dtype bfloat16 --models resnet50 --no-calibrate --iters 10 --layer-repeats 3 --json \$WORK/roofline-vs-measured.json"
)

if [ "$PLAN" = 1 ]; then
  total=0
  echo "budget: ${BUDGET} s for the whole run (${RESERVE} s kept for the summary and the archive)"
  for s in "${STEPS[@]}"; do
    IFS='|' read -r name cap cmd <<< "$s"
    total=$((total + cap))
    printf '%-30s cap %3s s   %s\n' "$name" "$cap" "$cmd"
  done
  echo "sum of the caps: ${total} s of the $((BUDGET - RESERVE)) s the steps may use (each step gets the smaller of its cap and what is left)"
  exit 0
fi

START=$(date +%s)
DEADLINE=$((START + BUDGET - RESERVE))
mkdir -p "$DEST" || { echo "gpu_check: FAILED at setup: cannot create $DEST" >&2; exit 1; }
DEST="$(cd "$DEST" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")" || { echo "gpu_check: FAILED at setup: mktemp" >&2; exit 1; }
export XDG_CACHE_HOME="$WORK/xdg-cache"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
: > "$WORK/steps.tsv"
FIRST_FAILED=""
PY=""

log() { echo "gpu_check: $*" | tee -a "$WORK/gpu_check.log" >&2; }

record() {   # name rc seconds note
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$WORK/steps.tsv"
  if [ "$2" != 0 ] && [ -z "$FIRST_FAILED" ]; then FIRST_FAILED="$1"; fi
}

finish() {
  local status=0
  [ -n "$FIRST_FAILED" ] && status=1
  local elapsed=$(( $(date +%s) - START ))
  {
    echo "# archstat gpu_check"
    echo
    if [ -n "$FIRST_FAILED" ]; then echo "**FAILED** at step \`$FIRST_FAILED\` (first failure); ${elapsed} s of a ${BUDGET} s budget"
    else echo "**PASSED**: every step, ${elapsed} s of a ${BUDGET} s budget"; fi
    echo
    echo "| step | exit | seconds | note |"
    echo "|---|---:|---:|---|"
    while IFS=$'\t' read -r n r t note; do echo "| $n | $r | $t | $note |"; done < "$WORK/steps.tsv"
    echo
    if [ -n "$PY" ] && [ -s "$WORK/preflight.json" ]; then
      "$PY" "$REPO/benchmarks/gpu_summary.py" "$WORK" 2>> "$WORK/gpu_check.log" || echo "(the figures could not be summarised: see gpu_check.log in the archive)"
    fi
  } > "$WORK/summary.md"
  cp "$WORK/summary.md" "$DEST/summary.md"
  tar -czf "$DEST/gpu-check.tar.gz" -C "$WORK" . 2>/dev/null || log "could not write the archive"
  rm -rf "$WORK"
  cat "$DEST/summary.md"
  if [ "$status" != 0 ]; then echo "gpu_check: FAILED at step $FIRST_FAILED (summary: $DEST/summary.md)" >&2
  else echo "gpu_check: passed (summary: $DEST/summary.md, archive: $DEST/gpu-check.tar.gz)" >&2; fi
  exit "$status"
}

preflight_fail() {   # step message
  log "FAILED at $1: $2"
  record "$1" 1 "$(( $(date +%s) - START ))" "$2"
  finish
}

# -- pre-flight -------------------------------------------------------------------------------------------
for candidate in "${PYTHON:-}" python3 python; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" > /dev/null 2>&1; then PY="$(command -v "$candidate")"; break; fi
done
[ -n "$PY" ] || { PY=""; preflight_fail "preflight:interpreter" "no Python interpreter (\$PYTHON, python3 or python) on PATH"; }
record "preflight:interpreter" 0 0 "$PY"

# one interpreter start for the rest of the pre-flight: each check prints "ok STEP NOTE" or "fail STEP WHY"
# and the first failure ends it
(cd "$REPO" && "$PY" - "$WORK/preflight.json" > "$WORK/preflight.log" 2>&1 <<'PY'
import json, sys
def ok(step, note): print(f"ok\t{step}\t{note}", flush=True)
def fail(step, why): print(f"fail\t{step}\t{why}", flush=True); sys.exit(1)
try:
    import torch
except Exception as exc:
    fail("preflight:torch", f"Python {sys.version.split()[0]} ({sys.executable}) has no torch: {type(exc).__name__}: {exc}")
ok("preflight:torch", f"torch {torch.__version__}")
if not (torch.version.cuda or getattr(torch.version, "hip", None)):
    fail("preflight:cuda-build", f"torch {torch.__version__} is a CPU build (torch.version.cuda is None)")
ok("preflight:cuda-build", f"CUDA {torch.version.cuda or 'HIP ' + str(torch.version.hip)}")
try:
    available, count = torch.cuda.is_available(), torch.cuda.device_count()
except Exception as exc:
    available, count = False, f"{type(exc).__name__}: {exc}"
if not available or not count:
    fail("preflight:cuda-device", f"torch.cuda.is_available() is False: no CUDA device visible ({count} devices; "
         f"CUDA_VISIBLE_DEVICES={__import__('os').environ.get('CUDA_VISIBLE_DEVICES')})")
ok("preflight:cuda-device", f"{count} device(s)")
try:
    import archstat, archstat.cli  # noqa: F401  (typer, rich, pyyaml with it)
    from archstat.analyze.devices import match_device
except Exception as exc:
    fail("preflight:archstat", f"archstat does not import from this checkout: {type(exc).__name__}: {exc} "
         "(pip install typer rich pyyaml)")
ok("preflight:archstat", f"archstat {archstat.__version__}")
props = torch.cuda.get_device_properties(0)
name = torch.cuda.get_device_name(0)
m = match_device(name, props.total_memory, sms=props.multi_processor_count)
json.dump({"name": name, "count": count, "memory_bytes": props.total_memory, "sms": props.multi_processor_count,
           "capability": f"{props.major}.{props.minor}", "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "entry": m.device.key if m.device else None, "how": m.how},
          open(sys.argv[1], "w"), indent=2)
ok("preflight:device-entry", f"{name}: " + (f"entry {m.device.key}" if m.device else
                                            "NO devices.yaml entry: predictions use the calibration only")
   + f" ({m.how})")
PY
)
while IFS=$'\t' read -r state step note; do
  case "$state" in
    ok) record "$step" 0 "$(( $(date +%s) - START ))" "$note" ;;
    fail) preflight_fail "$step" "$note" ;;
  esac
done < <(grep -E $'^(ok|fail)\t' "$WORK/preflight.log")
if ! grep -q $'^ok\tpreflight:device-entry' "$WORK/preflight.log"; then
  preflight_fail "preflight:device-entry" "the pre-flight check stopped: $(tail -n 1 "$WORK/preflight.log")"
fi
log "pre-flight passed: $(grep $'^ok\tpreflight:device-entry' "$WORK/preflight.log" | cut -f3)"

# -- the steps, under one budget ------------------------------------------------------------------------------
for s in "${STEPS[@]}"; do
  IFS='|' read -r name cap cmd <<< "$s"
  now=$(date +%s)
  left=$((DEADLINE - now))
  if [ "$left" -lt 5 ]; then
    record "$name" 124 0 "not run: the ${BUDGET} s budget was spent"
    log "$name: not run (budget spent)"
    continue
  fi
  limit=$(( cap < left ? cap : left ))
  ext="json"; case "$cmd" in *"--format json"*) ;; *) ext="txt";; esac
  t0=$(date +%s)
  (cd "$REPO" && eval "timeout --kill-after=5 $limit $cmd") > "$WORK/$name.$ext" 2> "$WORK/$name.err"
  rc=$?
  t=$(( $(date +%s) - t0 ))
  note=""
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then note="timed out after ${limit} s"
  elif [ "$rc" != 0 ]; then
    note="$(grep -v '^\s*$' "$WORK/$name.err" | tail -n 1 | cut -c1-200 | tr '|' '/')"
    [ -n "$note" ] || note="$(grep -v '^\s*$' "$WORK/$name.$ext" | tail -n 1 | cut -c1-200 | tr '|' '/')"
  fi
  record "$name" "$rc" "$t" "$note"
  log "$name: exit $rc in ${t} s${note:+ ($note)}"
done
finish
