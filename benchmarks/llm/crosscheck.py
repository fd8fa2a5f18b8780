"""archstat's analytic counts of the LLM zoo against transformers' models built on the meta device.

For every config of ``archstat/llm/configs/`` (or those named on the command line): the model is built from
the same config.json fields with ``AutoModelForCausalLM.from_config`` on the meta device (no weights), and

- parameters: ``sum(p.numel() for p in model.parameters())`` against ``archstat.llm.count.params(c).total``;
- prefill MACs: ``FlopCounterMode`` / 2 of a forward over a prompt of L tokens with a cache and
  ``logits_to_keep=1`` (the LM head on the last token, as ``generate`` runs it), whole and per decoder layer;
- decode MACs: ``FlopCounterMode`` / 2 of a one-token forward over that cache (context L + 1), whole and
  per decoder layer.

Attention runs through SDPA (eager for Gemma 2, which transformers runs only so); mixture-of-experts layers
through transformers' ``batched_mm`` experts (every routed token–expert pair one product, which the meta
device can run: the eager loop asks which experts were hit, a data-dependent question meta tensors cannot
answer). Run it in an environment with transformers (``/work/venv-hf``):

    python benchmarks/llm/crosscheck.py [NAME …] [--prompt 16,1000,4100] [--write benchmarks/llm/crosscheck.md]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from archstat.llm import config as llm_config  # noqa: E402
from archstat.llm import count  # noqa: E402


def build(name: str):
    entry = llm_config.zoo_entry(name)
    fields = dict(entry["config"])
    model_type = fields.pop("model_type")
    cfg = AutoConfig.for_model(model_type, **fields)
    for attn in ("sdpa", "eager"):
        try:
            with torch.device("meta"):
                try:
                    return AutoModelForCausalLM.from_config(cfg, attn_implementation=attn,
                                                            experts_implementation="batched_mm"), attn
                except (TypeError, ValueError) as exc:
                    if "attention implementation" in str(exc):
                        raise
                    return AutoModelForCausalLM.from_config(cfg, attn_implementation=attn), attn
        except ValueError as exc:
            if attn == "eager" or "attention implementation" not in str(exc):
                raise
    raise AssertionError("unreachable")


LAYER = re.compile(r"\.(?:layers|h)\.(\d+)$")


def per_layer(fc: FlopCounterMode) -> dict[int, int]:
    out = {}
    for module, counts in fc.get_flop_counts().items():
        m = LAYER.search(module)
        if m:
            out[int(m.group(1))] = sum(counts.values()) // 2
    return out


def check(name: str, prompts: list[int]) -> list[dict]:
    c = llm_config.load(name)
    started = time.time()
    model, attn = build(name)
    measured_params = sum(p.numel() for p in model.parameters())
    rows = []
    for prompt in prompts:
        if c.max_context and prompt >= c.max_context:
            continue      # past the model's positions (GPT-2: 1,024)
        ids = torch.zeros(1, prompt, dtype=torch.long, device="meta")
        with FlopCounterMode(display=False) as fc:
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        prefill, prefill_layers = fc.get_total_flops() // 2, per_layer(fc)
        nxt = torch.zeros(1, 1, dtype=torch.long, device="meta")
        with FlopCounterMode(display=False) as fc:
            model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
        decode, decode_layers = fc.get_total_flops() // 2, per_layer(fc)
        pl, ph = count.prefill_macs(c, prompt)
        dl, dh = count.decode_macs(c, prompt + 1)
        rows.append({
            "model": name, "attention": attn, "prompt": prompt,
            "params": (measured_params, count.params(c).total),
            "prefill": (prefill, count.total(pl, ph)),
            "decode": (decode, count.total(dl, dh)),
            "prefill_layers": (all(prefill_layers.get(x.index) == x.total for x in pl)
                               and len(prefill_layers) == c.layers),
            "decode_layers": all(decode_layers.get(x.index) == x.total for x in dl) and len(decode_layers) == c.layers,
            "seconds": time.time() - started,
        })
    return rows


def mark(pair) -> str:
    return "exact" if pair[0] == pair[1] else f"DIFFERS ({pair[0] - pair[1]:+,})"


def markdown(rows: list[dict]) -> str:
    lines = [
        "# The LLM zoo's analytic counts against transformers on the meta device",
        "",
        f"Written by `benchmarks/llm/crosscheck.py` (transformers {transformers.__version__}, torch "
        f"{torch.__version__.split('+')[0]}). Measured: parameters `sum(p.numel())`; MACs "
        "`FlopCounterMode` / 2 of a prefill of L tokens (`logits_to_keep=1`) and of a one-token decode step over "
        "that cache (context L + 1), whole and per decoder layer. archstat: `archstat.llm.count`, no torch.",
        "",
        "| model | attention | L | params (transformers) | params | prefill MACs | prefill | per layer | "
        "decode MACs (context L+1) | decode | per layer |",
        "|---|---|---:|---:|---|---:|---|---|---:|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['attention']} | {r['prompt']:,} | {r['params'][0]:,} | "
                     f"{mark(r['params'])} | "
                     f"{r['prefill'][0]:,} | {mark(r['prefill'])} | {'exact' if r['prefill_layers'] else 'DIFFERS'} | "
                     f"{r['decode'][0]:,} | {mark(r['decode'])} | {'exact' if r['decode_layers'] else 'DIFFERS'} |")
    exact = sum(r["params"][0] == r["params"][1] and r["prefill"][0] == r["prefill"][1]
                and r["decode"][0] == r["decode"][1] and r["prefill_layers"] and r["decode_layers"] for r in rows)
    lines += ["", f"{exact} of {len(rows)} rows exact in every column.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--prompt", default="16,1000,4100", help="prompt lengths L, comma-separated")
    ap.add_argument("--write", default=None, help="write the markdown table here")
    args = ap.parse_args(argv)
    names = args.names or list(llm_config.zoo_names())
    prompts = [int(x) for x in args.prompt.split(",")]
    rows = []
    for name in names:
        for r in check(name, prompts):
            rows.append(r)
            print(f"{r['model']:16s} L={r['prompt']:<5d} params {mark(r['params'])}, prefill {mark(r['prefill'])} "
                  f"(layers {r['prefill_layers']}), decode {mark(r['decode'])} (layers {r['decode_layers']}) "
                  f"[{r['seconds']:.0f} s]", flush=True)
    text = markdown(rows)
    if args.write:
        Path(args.write).write_text(text)
    bad = [r for r in rows if not (r["params"][0] == r["params"][1] and r["prefill"][0] == r["prefill"][1]
                                   and r["decode"][0] == r["decode"][1])]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
