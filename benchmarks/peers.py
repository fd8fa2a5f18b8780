"""One tool's analysis of one model, as a whole process: `python benchmarks/peers.py TOOL MODEL`.

Each peer imports torch, builds the model (archstat's builder, identical to torchvision's layout
where the config follows it, so no peer needs torchvision) and runs its analysis with a real
forward pass on the CPU at batch 1, as its documentation shows. It prints one JSON line: what the
tool reports (in its own convention) and how long the analysis step alone took.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main(tool: str, model: str) -> dict:
    if tool == "archstat":
        import archstat

        t0 = time.perf_counter()
        s = archstat.analyze(model)
        step = time.perf_counter() - t0
        return {"params": s.totals.params, "count": s.totals.macs, "convention": "MACs (conv + linear)",
                "activation_bytes": s.totals.activation_bytes, "analysis_s": step}
    warnings.simplefilter("ignore")
    import torch

    import archstat

    graph = archstat.load(model)
    torch.manual_seed(0)
    module = archstat.build(graph).eval()
    shape = (1, *graph.input_shape)
    x = torch.zeros(shape)
    t0 = time.perf_counter()
    if tool == "torchinfo":
        from torchinfo import summary

        s = summary(module, input_size=shape, verbose=0, device="cpu")
        out = {"params": s.total_params, "count": s.total_mult_adds, "convention": "mult-adds (all layers)",
               "activation_bytes": int(s.total_output_bytes)}
    elif tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis, parameter_count

        with torch.no_grad():
            a = FlopCountAnalysis(module, x)
            a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            total = a.total()
            ops = a.by_operator()
        out = {"params": parameter_count(module)[""], "count": total,
               "conv_linear": sum(v for k, v in ops.items() if k in ("conv", "linear", "addmm", "matmul")),
               "convention": "\"flops\" = multiply-adds (conv, linear, bn, pooling...)"}
    elif tool == "ptflops":
        from ptflops import get_model_complexity_info

        macs, params = get_model_complexity_info(module, tuple(graph.input_shape), as_strings=False,
                                                 print_per_layer_stat=False, verbose=False)
        out = {"params": int(params), "count": int(macs), "convention": "MACs (with bias, bn, relu, pooling)"}
    elif tool == "thop":
        from thop import profile

        macs, params = profile(module, inputs=(x,), verbose=False)
        out = {"params": int(params), "count": int(macs), "convention": "MACs (conv + linear + bn...)"}
    elif tool == "flopcounter":
        from torch.utils.flop_counter import FlopCounterMode

        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            module(x)
        out = {"params": sum(p.numel() for p in module.parameters()), "count": fc.get_total_flops(),
               "convention": "FLOPs = 2 × multiply-adds (matmul/conv)"}
    else:
        raise SystemExit(f"unknown tool {tool}")
    out["analysis_s"] = time.perf_counter() - t0
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
