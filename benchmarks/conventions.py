"""``--convention``: what archstat says each peer prints, beside what the real peer prints.

For every model, batch 1, eval: archstat's ``peer_count`` for fvcore, flop_counter, ptflops, thop
and torchinfo, and the peer itself run on real CPU tensors (``fvcore.nn.FlopCountAnalysis``,
``torch.utils.flop_counter.FlopCounterMode``, ``ptflops.get_model_complexity_info`` with the
pytorch backend, ``thop.profile``, ``torchinfo.summary``). Writes benchmarks/conventions_results.md.

    PYTHONPATH=. /work/venv-tv/bin/python benchmarks/conventions.py     # torchvision, timm, ptflops, thop, torchinfo
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

MODELS = [  # (label, target, per-sample input)
    ("resnet18", "module:torchvision.models:resnet18", (3, 224, 224)),
    ("resnet50", "module:torchvision.models:resnet50", (3, 224, 224)),
    ("vgg11", "module:torchvision.models:vgg11", (3, 224, 224)),
    ("alexnet", "module:torchvision.models:alexnet", (3, 224, 224)),
    ("squeezenet1_0", "module:torchvision.models:squeezenet1_0", (3, 224, 224)),
    ("densenet121", "module:torchvision.models:densenet121", (3, 224, 224)),
    ("mobilenet_v2", "module:torchvision.models:mobilenet_v2", (3, 224, 224)),
    ("mobilenet_v3_small", "module:torchvision.models:mobilenet_v3_small", (3, 224, 224)),
    ("shufflenet_v2_x1_0", "module:torchvision.models:shufflenet_v2_x1_0", (3, 224, 224)),
    ("efficientnet_b0", "module:torchvision.models:efficientnet_b0", (3, 224, 224)),
    ("regnet_y_400mf", "module:torchvision.models:regnet_y_400mf", (3, 224, 224)),
    ("mnasnet0_5", "module:torchvision.models:mnasnet0_5", (3, 224, 224)),
    ("googlenet", "module:torchvision.models:googlenet(aux_logits=False, init_weights=False)", (3, 224, 224)),
    ("convnext_tiny", "module:torchvision.models:convnext_tiny", (3, 224, 224)),
    ("vit_b_16", "module:torchvision.models:vit_b_16", (3, 224, 224)),
    ("swin_t", "module:torchvision.models:swin_t", (3, 224, 224)),
    ("fcn_resnet50", "module:torchvision.models.segmentation:fcn_resnet50(weights_backbone=None)", (3, 224, 224)),
    ("lraspp_mobilenet_v3", "module:torchvision.models.segmentation:lraspp_mobilenet_v3_large(weights_backbone=None)",
     (3, 224, 224)),
    ("r3d_18", "module:torchvision.models.video:r3d_18", (3, 8, 112, 112)),
    ("timm resnet26d", "module:timm:create_model('resnet26d')", (3, 224, 224)),
    ("timm deit_tiny", "module:timm:create_model('deit_tiny_patch16_224')", (3, 224, 224)),
    ("timm pit_ti", "module:timm:create_model('pit_ti_224')", (3, 224, 224)),
    ("LSTM 2×bi", "module:torch.nn:LSTM(32, 64, num_layers=2, bidirectional=True, batch_first=True)", (20, 32)),
    ("GRU", "module:torch.nn:GRU(32, 64, batch_first=True)", (20, 32)),
]
PEERS = ["fvcore", "flop_counter", "ptflops", "thop", "torchinfo"]


@contextlib.contextmanager
def quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def real(peer: str, model, shape) -> int:
    x = torch.zeros(1, *shape)
    with quiet():
        if peer == "fvcore":
            from fvcore.nn import FlopCountAnalysis

            a = FlopCountAnalysis(model, (x,))
            a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(a.total())
        if peer == "flop_counter":
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False) as fc, torch.no_grad():
                model(x)
            return int(fc.get_total_flops())
        if peer == "ptflops":
            from ptflops import get_model_complexity_info

            macs, _ = get_model_complexity_info(model, tuple(shape), as_strings=False, print_per_layer_stat=False,
                                                backend="pytorch", verbose=False)
            return int(macs)
        if peer == "thop":
            from thop import profile

            with torch.no_grad():
                macs, _ = profile(model, inputs=(x,), verbose=False)
            return int(macs)
        if peer == "torchinfo":
            from torchinfo import summary

            return int(summary(model, input_size=(1, *shape), verbose=0).total_mult_adds)
    raise ValueError(peer)


def main() -> None:
    from archstat.trace.analyze import analyze_module
    from archstat.trace.conventions import peer_count
    from archstat.trace.factory import build_target_on_cpu, load_target

    lines = ["# `--convention`: archstat's account of each peer against the real peer", "",
             f"torch {torch.__version__}, batch 1, eval, real CPU tensors for the peers. Cell: the peer's own "
             "total, then `=` when archstat's `--convention` predicts it exactly, else archstat's prediction "
             "and the relative error. Command: `PYTHONPATH=. /work/venv-tv/bin/python benchmarks/conventions.py`.",
             "", "| model | archstat MACs | " + " | ".join(PEERS) + " |", "|---|---:|" + "---:|" * len(PEERS)]
    exact = total = 0
    started = time.time()
    for label, target, shape in MODELS:
        built = load_target(target)
        stats = analyze_module(built.model, shape, name=label)
        torch.manual_seed(0)
        cpu = build_target_on_cpu(target).eval()
        cells = []
        for peer in PEERS:
            ours = peer_count(peer, stats, stats.batch_trace, built.model, None).total
            try:
                theirs = real(peer, cpu, shape)
            except Exception as exc:   # a peer that cannot run the model
                cells.append(f"fails ({type(exc).__name__}); archstat says {ours:,}")
                continue
            total += 1
            if ours == theirs:
                exact += 1
                cells.append(f"{theirs:,} =")
            else:
                cells.append(f"{theirs:,} vs {ours:,} ({(ours - theirs) / theirs:+.2%})" if theirs else
                             f"0 vs {ours:,}")
        lines.append(f"| {label} | {stats.totals.macs:,} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    lines += ["", f"{exact} of {total} (model, peer) pairs predicted exactly; {len(MODELS)} models; "
              f"{time.time() - started:.0f} s on 2 shared cores."]
    out = Path(__file__).with_name("conventions_results.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
