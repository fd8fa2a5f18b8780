"""Fit the LLM serving model's one coefficient on the public tables and write archstat/data/llm.yaml.

``engine_efficiency``: the share of the performance model's step speed that a serving engine reaches. Every row
of benchmarks/llm/data/ (TensorRT-LLM 0.5.0, 0.9.0 and 0.12.0; MLPerf Inference v3.1 and v4.0 gpt-j and
llama2-70b) is predicted at efficiency 1 (validate.py); each row says what the efficiency would have to be for
it (measured / predicted speed: a throughput's ratio, a first-token latency's inverse); the fit is the geometric
median of those, capped at 1. Nothing else is fitted. The errors validate.py reports are cross-validated (each
model's rows predicted with the efficiency fitted on the other models' rows), not this fit's own.

    python benchmarks/llm/fit.py [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import validate  # noqa: E402

TARGET = HERE.parents[1] / "archstat" / "data" / "llm.yaml"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    table = validate.read("trtllm.csv") + validate.read("mlperf.csv")
    rows = [r for r in validate.raw_predictions(table) if r["raw"]]
    eff = validate.fit_efficiency([validate.speed_ratio(r) for r in rows])
    sources = sorted({validate.source_of(r) for r in rows})
    text = (
        "# The LLM serving model's coefficients (archstat.llm): written by benchmarks/llm/fit.py from public tables\n"
        "# only (see provenance); every one a physical share (<= 1). Do not edit by hand: refit.\n"
        "version: 1\n"
        f"provenance: \"fitted by benchmarks/llm/fit.py on {datetime.date.today().isoformat()} on {len(rows)} "
        "public rows "
        f"({'; '.join(sources)}): the geometric median of measured / predicted speed; cross-validated errors in "
        "benchmarks/llm/results.md\"\n"
        f"engine_efficiency: {eff:.4f}\n")
    print(f"engine_efficiency {eff:.4f} on {len(rows)} rows", file=sys.stderr)
    if not args.dry_run:
        TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
