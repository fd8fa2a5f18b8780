"""By hand, not in the test suite (it needs torchvision): archstat's built vit_b_16 and swin_t against
torchvision's, parameter for parameter and output for output.

    pip install torchvision && python benchmarks/torchvision_transformers.py

Each torchvision model gets random weights (torchvision zeroes ViT's head), the same values are copied
into archstat's module in registration order (torchvision registers ViT's class token first and
PatchMerging's reduction before its norm), and both run the same input in eval mode.
"""

import torch
import torchvision

import archstat


def torchvision_order(name, params):
    if name == "vit_b_16":
        return params[1:3] + params[:1] + params[3:]
    out, i = [], 0
    while i < len(params):
        if params[i][0].endswith("reduction.weight"):
            out += [params[i + 1], params[i + 2], params[i]]
            i += 3
        else:
            out.append(params[i])
            i += 1
    return out


def main():
    torch.manual_seed(0)
    for name in ("vit_b_16", "swin_t"):
        theirs = getattr(torchvision.models, name)().eval()
        ours = archstat.build(name).eval()
        with torch.no_grad():
            for p in theirs.parameters():
                p.add_(torch.randn_like(p) * 0.02)
            pairs = list(zip(ours.named_parameters(), torchvision_order(name, list(theirs.named_parameters()))))
            assert len(pairs) == len(list(ours.parameters())) == len(list(theirs.parameters()))
            for (our_name, o), (their_name, t) in pairs:
                assert o.numel() == t.numel(), (our_name, their_name)
                o.copy_(t.reshape(o.shape))
            x = torch.randn(2, 3, 224, 224)
            diff = (ours(x) - theirs(x)).abs().max().item()
        print(f"{name}: params {sum(p.numel() for p in ours.parameters()):,} = "
              f"{sum(p.numel() for p in theirs.parameters()):,}; max |output difference| {diff:.2e}")


if __name__ == "__main__":
    main()
