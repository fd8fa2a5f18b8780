"""The MLPerf Inference rows archstat replays, each with its engine batch, precision and power limit as
the submitter's config states them (one-off; its output is committed in data/).

    python benchmarks/prediction/mlperf_configs.py /path/to/inference_results_v3.0 \
        --rows ../shared/public-bench/mlperf/mlperf_inference_v3.0-v4.0.csv \
        --out benchmarks/prediction/data/mlperf-inference-v3.0-v4.0.csv

Rows: the closed-division results of resnet50, retinanet, bert-99 and bert-99.9 (every scenario), copied
verbatim with all their columns. Each closed-division submitter that ran NVIDIA's harness ships its configs
in ``closed/<submitter>/configs/<benchmark>/<scenario>/__init__.py`` (and ``custom.py`` for its own
systems): one class per system, registered with ``ConfigRegistry.register(HarnessType, AccuracyTarget,
PowerSetting)``, inheriting from others in the same files and from ``configs/<benchmark>/__init__.py``'s
base. This script parses them with ``ast`` (never imports or runs them), resolves each class's ``system``,
``gpu_batch_size``, ``precision``, ``use_fp8`` and ``power_limit`` through its bases, and joins each
v3.0 row to the class registered for its system (the row's system id less ``_TRT``, ``_Triton``,
``_MaxQ`` and NVIDIA's ``DGX-…_`` prefix), its accuracy target (bert-99.9: k_99_9), its power setting
(MaxQ in the id) and its harness (Triton in the id, else LWIS or Custom), adding ``config_*`` columns
and the config's file. A v3.1 or v4.0 row takes the v3.0 config of the same system where there is one
(``config_note`` says so; those rounds' configs are not read here). Input: a clone of
mlcommons/inference_results_v3.0 (``git show`` reads the files at the commit named in ``config_source``).
"""

from __future__ import annotations

import argparse
import ast
import csv
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("resnet50", "retinanet", "bert")
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
KEYS = ("system", "gpu_batch_size", "precision", "use_fp8", "power_limit")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _value(node: ast.AST):
    """A class attribute's value: a literal, KnownSystem.X → 'X', simple arithmetic on literals."""
    if isinstance(node, ast.Attribute):
        return node.attr
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)):
        left, right = _value(node.left), _value(node.right)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return left * right if isinstance(node.op, ast.Mult) else left + right
    return None


def _parse(text: str) -> ast.Module:
    """The file's syntax tree; a file whose class bodies mix indentations (Dell's resnet50 custom.py has a
    3-space line) is read with every indented line at 4 spaces (these files hold flat class bodies)."""
    try:
        return ast.parse(text)
    except IndentationError:
        return ast.parse(re.sub(r"^ {1,7}(?=\S)", "    ", text, flags=re.M))


def classes(text: str) -> dict[str, dict]:
    """Every class of a config file: its bases, its own attributes and its registration (or None)."""
    out = {}
    for node in _parse(text).body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                attrs[stmt.targets[0].id] = _value(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                attrs[stmt.target.id] = _value(stmt.value)   # `gpu_batch_size: int = 16`
        reg = None
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "register" and len(dec.args) == 3:
                reg = tuple(getattr(a, "attr", "?") for a in dec.args)
        out[node.name] = {"bases": [getattr(b, "id", getattr(b, "attr", "")) for b in node.bases], "attrs": attrs,
                          "register": reg}
    return out


def resolve(name: str, table: dict[str, dict], key: str, seen=()):
    """An attribute through the class's bases (first base first, as Python's MRO for single inheritance)."""
    if name not in table or name in seen:
        return None
    c = table[name]
    if key in c["attrs"]:
        return c["attrs"][key]
    for base in c["bases"]:
        found = resolve(base, table, key, seen + (name,))
        if found is not None:
            return found
    return None


def _config_sets(files: set[str]):
    """(submitter, benchmark, scenario, the benchmark's base file, the scenario's files): NVIDIA's layout
    ``configs/<benchmark>/<scenario>/`` and Supermicro's ``configs/<system>/<benchmark>/<scenario>/``."""
    for f in sorted(files):
        m = re.fullmatch(r"closed/([^/]+)/configs/(?:([^/]+)/)?([^/]+)/([^/]+)/__init__\.py", f)
        if not m or m.group(3) not in BENCHMARKS or m.group(4) not in SCENARIOS:
            continue
        sub, _system_folder, bench, scen = m.groups()
        here = f.rsplit("/", 1)[0]
        base = here.rsplit("/", 1)[0] + "/__init__.py"
        if base in files:
            yield sub, bench, scen, base, [p for p in (f"{here}/__init__.py", f"{here}/custom.py") if p in files]


def read(repo: Path, commit: str) -> list[dict]:
    files = set(git(repo, "ls-tree", "-r", "--name-only", commit, "closed").splitlines())
    rows = []
    for sub, bench, scen, base, paths in _config_sets(files):
        table = classes(git(repo, "show", f"{commit}:{base}"))
        for path in paths:   # custom.py does `from . import *`: it sees __init__.py's classes
            here = classes(git(repo, "show", f"{commit}:{path}"))
            table.update(here)
            for cname, c in here.items():
                if c["register"] is None:
                    continue
                harness, accuracy, power = c["register"]
                v = {k: resolve(cname, table, k) for k in KEYS}
                rows.append({"submitter": sub, "benchmark": bench, "scenario": scen, "accuracy": accuracy,
                             "power_setting": power, "harness": harness, "config_class": cname,
                             "system": v["system"] or "", "gpu_batch_size": v["gpu_batch_size"] or "",
                             "precision": v["precision"] or "", "use_fp8": bool(v["use_fp8"]),
                             "power_limit_w": v["power_limit"] or "",
                             "source": f"mlcommons/inference_results_v3.0@{commit}:{path}"})
    return rows


BENCH_OF = {"resnet50": "resnet50", "retinanet": "retinanet", "bert-99": "bert", "bert-99.9": "bert"}
CONFIG_FIELDS = ["config_batch", "config_precision", "config_use_fp8", "config_power_limit_w", "config_class",
                 "config_note", "config_source"]


# NVIDIA's single-GPU system of each accelerator name, for a row whose submitter shipped no config of its
# own system: NVIDIA's v3.0 config for one such GPU (a virtual GPU, 80C, takes its physical part's)
ONE_GPU = {"NVIDIA L4": "L4x1", "NVIDIA L40": "L40x1", "NVIDIA A30": "A30x1", "NVIDIA A2": "A2x1",
           "NVIDIA T4": "T4x1", "Tesla T4": "T4x1", "NVIDIA H100-SXM-80GB": "H100_SXM_80GBx1",
           "NVIDIA H100-PCIe-80GB": "H100_PCIe_80GBx1", "NVIDIA H100-80C": "H100_PCIe_80GBx1",
           "NVIDIA A100-PCIe-80GB": "A100_PCIe_80GBx1", "NVIDIA A100-SXM-80GB": "A100_SXM_80GBx1",
           "NVIDIA A100-SXM-80GB CTS": "A100_SXM_80GBx1", "NVIDIA A100-SXM-80C": "A100_SXM_80GBx1",
           "NVIDIA A100-PCIe-80GB (1x1g.10gb MIG)": "A100_PCIe_80GB_MIG_1x1g_10gb"}


# parts no v3.0 config covers, read with a sibling's config (an assumption, said in config_note)
SIBLING = {"NVIDIA GH200-GraceHopper-Superchip": ("H100_SXM_80GBx1", "the H100-SXM's: the same GH100 GPU"),
           "NVIDIA L40S": ("L40x1", "the L40's: the same AD102 GPU")}


def accelerator(row: dict) -> str:
    return row["accelerator"].split(" [")[0]


def system_key(system_id: str) -> str:
    """'DGX-H100_H100-SXM-80GBx8_TRT_MaxQ' → 'h100_sxm_80gbx8'; 'XE2420_T4x1_TRT' → 'xe2420_t4x1'."""
    s = re.sub(r"(_TRT)?(_Triton)?(_MaxQ)?(_DATACENTER|_EDGE)?$", "", system_id)
    s = re.sub(r"_TRT(?=_)", "", s)
    s = re.sub(r"^DGX-[A-Z0-9]+_", "", s)
    return s.replace("-", "_").lower()


def join(results: list[dict], configs: list[dict]) -> list[dict]:
    by_key: dict[tuple, list[dict]] = {}
    for c in configs:
        by_key.setdefault((c["submitter"], c["benchmark"], c["scenario"], c["accuracy"], c["power_setting"],
                           c["system"].lower()), []).append(c)
    v30 = {}   # (system, benchmark, scenario) → the v3.0 row's config, for later rounds
    out = []
    for r in results:
        bench = BENCH_OF[r["benchmark"]]
        accuracy = "k_99_9" if r["benchmark"].endswith("99.9") else "k_99"
        power = "MaxQ" if "MaxQ" in r["system"] else "MaxP"
        triton = "Triton" in r["system"]
        key = (r["submitter"], bench, r["scenario"], accuracy, power, system_key(r["system"]))
        note = ""
        found = [c for c in by_key.get(key, []) if (c["harness"] == "Triton") == triton]
        earlier = v30.get((system_key(r["system"]), r["benchmark"], r["scenario"], triton))
        if r["round"] != "v3.0" and earlier:
            found, note = [earlier], f"{r['round']} configs not read: the v3.0 config of the same system"
        elif not found and accelerator(r) in ONE_GPU:
            one = ONE_GPU[accelerator(r)]
            for system, setting in ((one, power), (one, "MaxP"), (one.replace("x1", "x8"), power),
                                    (one.replace("x1", "x8"), "MaxP")):
                found = [c for c in by_key.get(("NVIDIA", bench, r["scenario"], accuracy, setting, system.lower()), [])
                         if c["harness"] != "Triton"]
                if found:
                    break
            note = (f"no config of this system{' in ' + r['round'] if r['round'] != 'v3.0' else ''}: NVIDIA's v3.0 "
                    f"config {found[0]['system']} ({found[0]['power_setting']})" if found else "")
        elif not found and accelerator(r) in SIBLING:
            system, why = SIBLING[accelerator(r)]
            found = [c for c in by_key.get(("NVIDIA", bench, r["scenario"], accuracy, "MaxP", system.lower()), [])
                     if c["harness"] != "Triton"]
            note = f"assumed: no config of a {accelerator(r)} read; NVIDIA's v3.0 config for {why}" if found else ""
        found.sort(key=lambda c: c["harness"] != "LWIS")
        extra = dict.fromkeys(CONFIG_FIELDS, "")
        if found:
            c = found[0]
            extra.update(config_batch=c["gpu_batch_size"], config_precision=c["precision"],
                         config_use_fp8=c["use_fp8"], config_power_limit_w=c["power_limit_w"],
                         config_class=c["config_class"], config_note=note, config_source=c["source"])
            if r["round"] == "v3.0" and not note:
                v30[(system_key(r["system"]), r["benchmark"], r["scenario"], triton)] = c
        out.append({**r, **extra})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--rows", type=Path, required=True, help="public-bench's mlperf_inference_v3.0-v4.0.csv")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "data" / "mlperf-inference-v3.0-v4.0.csv"))
    args = ap.parse_args(argv)
    commit = git(args.repo, "rev-parse", args.commit).strip()
    configs = read(args.repo, commit)
    with open(args.rows, newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        results = [r for r in reader if r["benchmark"] in BENCH_OF]
    results.sort(key=lambda r: r["round"] != "v3.0")   # v3.0 first: later rounds look up its configs
    rows = join(results, configs)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, columns + CONFIG_FIELDS)
        w.writeheader()
        w.writerows(rows)
    matched = sum(1 for r in rows if r["config_source"])
    print(f"{len(rows)} rows, {matched} with their config → {args.out}", file=sys.stderr)
    for r in rows:
        if not r["config_source"]:
            print(f"  no config: {r['round']} {r['submitter']} {r['system']} {r['benchmark']} {r['scenario']}",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
