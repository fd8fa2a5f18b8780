"""The whole replay in one command: trace what is not cached, predict every measured row, summarise.

Run in the torchvision/timm venv (never a test dependency)::

    PYTHONPATH=. /path/to/venv-with-timm/bin/python benchmarks/prediction/run.py [--sample N] [--workers 2]

1. ``trace_models.py``: every timm model of the tables, traced once on the meta device, rows cached in
   ``.cache/`` (a model already cached is not traced again);
2. ``replay.py``: archstat's prediction, with the coefficients archstat ships (``archstat/data/perf.yaml``),
   beside every measured row of every table (``.cache/replay.csv``);
3. a summary per table: Spearman, median error, share within ±25 % and ±50 %, worst.

``--sample N`` takes N models (a fixed random sample) through all three steps: a quick run.

The summary is of the shipped coefficients, which were fitted on a sample of these same rows: it checks
that the shipped file reproduces the fit. The out-of-sample figures (each family predicted by
coefficients fitted without it) are fit.py's, written to results.md by report.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import replay  # noqa: E402
import trace_models  # noqa: E402
from report import stats  # noqa: E402
from tables import TABLES  # noqa: E402


def summary(rows: list[dict]) -> list[str]:
    lines = ["| table | rows predicted | not predicted | Spearman | median error | within ±25 % | within ±50 % "
             "| worst |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for table in TABLES:
        mine = [r for r in rows if r["table"] == table.key]
        ok = [r for r in mine if r["predicted_samples_per_s"] not in ("", None)]
        if not ok:
            continue
        meas = np.asarray([float(r["measured_samples_per_s"]) for r in ok])
        pred = np.asarray([float(r["predicted_samples_per_s"]) for r in ok])
        s = stats(np.log(pred / meas), meas, pred) if len(ok) >= 3 else {**stats(np.log(pred / meas)), "spearman": None}
        rho = "–" if s["spearman"] is None else f"{s['spearman']:.3f}"
        lines.append(f"| {table.key} | {len(ok)} | {len(mine) - len(ok)} | {rho} | "
                     f"{100 * s['median']:.1f} % | {100 * s['w25']:.0f} % | {100 * s['w50']:.0f} % | "
                     f"{s['worst']:.2f}× |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=None, help="only N models (a fixed random sample)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    trace_models.main([*(["--sample", str(args.sample)] if args.sample else []), "--workers", str(args.workers)])
    t1 = time.perf_counter()
    models = {j[0] for j in trace_models.jobs(args.sample)} if args.sample else None
    rows = replay.replay([t.key for t in TABLES], workers=args.workers, models=models)
    out = replay.CACHE / "replay.csv"
    replay.write_csv(rows, out)
    t2 = time.perf_counter()
    print("\n".join(summary(rows)))
    print(f"\ntrace {t1 - t0:.0f} s, replay of {len(rows)} rows {t2 - t1:.0f} s, total {t2 - t0:.0f} s → {out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
