"""A training step beyond its forward: the backward operators (traced: autograd's own, one by one) and
the optimizer's update, written down from the parameters it updates.

The backward pass is traced, never estimated as "2× the forward": ``convolution_backward`` is a data
gradient and a weight gradient (two implicit GEMMs, each as many MACs as the forward), a linear layer's
backward two matrix products, a norm's backward its own pass, and so on, exactly as autograd runs them.

The optimizer step (``optimizer_calls``), per parameter tensor of ``n`` float32 elements:

- ``sgd`` (momentum, Nesterov, no weight decay; timm's benchmark): ``buf.mul_(m).add_(g)``,
  ``g.add(buf, alpha=m)``, ``p.add_(g, alpha=-lr)``: four kernels, each a pass over ``n`` elements;
- ``adamw``: ``p.mul_(1 − lr·wd)``, ``m.lerp_(g, 1 − β1)``, ``v.mul_(β2).addcmul_(g, g, 1 − β2)``,
  ``v.sqrt() / bias correction + eps``, ``p.addcdiv_(m, denom)``: six kernels.

``foreach=True`` (PyTorch ≥ 2.0's default on CUDA) runs each of those as one multi-tensor kernel per ~64 KiB
of pointers (one launch per op and per chunk of tensors) instead of one launch per tensor: the same
bytes, far fewer launches.
"""

from __future__ import annotations

from typing import Optional

from archstat.ir.program import IdSpace, OpCall, Phase, TensorRef

OPTIMIZERS = ("sgd", "adamw")
_FOREACH_TENSORS = 100        # tensors per multi-tensor-apply launch (PyTorch's chunking, order of magnitude)

# per optimizer: (op, number of tensors read besides the one written, whether it writes in place)
_STEPS = {
    "sgd": (("mul_", 0), ("add_", 1), ("add", 1), ("add_", 1)),
    "adamw": (("mul_", 0), ("lerp_", 1), ("mul_", 0), ("addcmul_", 2), ("sqrt", 0), ("addcdiv_", 2)),
}


def parameters(calls: list[OpCall]) -> list[TensorRef]:
    """The parameter tensors the program reads, each once, in order of first use."""
    seen: dict[int, TensorRef] = {}
    for k in calls:
        for t in k.inputs:
            if t.role == "param" and t.floating and t.id not in seen:
                seen[t.id] = t
    return list(seen.values())


def optimizer_calls(calls: list[OpCall], optimizer: str = "sgd", *, foreach: bool = True,
                    ids: Optional[IdSpace] = None) -> list[OpCall]:
    """The update step's operator calls for the parameters of ``calls`` (float32 master weights; ``ids``:
    the program's allocator of derived storages, which numbers the optimizer's state)."""
    if optimizer not in _STEPS:
        raise ValueError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
    ids = ids or IdSpace(calls)
    params = parameters(calls)
    out: list[OpCall] = []
    state = {}
    for p in params:
        state[p.id] = [TensorRef(p.shape, "float32", ids.derived("optimizer", p.id, i), "param") for i in range(3)]
    for op, extra in _STEPS[optimizer]:
        if foreach:
            for start in range(0, len(params), _FOREACH_TENSORS):
                group = params[start:start + _FOREACH_TENSORS]
                ins, outs = [], []
                for p in group:
                    t = state[p.id][0]
                    ins += [t, *state[p.id][1:1 + extra]]
                    outs.append(t)
                out.append(OpCall(f"_foreach_{op}", "(optimizer)", tuple(ins), tuple(outs), phase=Phase.OPTIMIZER,
                                  attrs={"pointwise": True}))
            continue
        for p in params:
            t = state[p.id][0]
            out.append(OpCall(op, "(optimizer)", (t, *state[p.id][1:1 + extra]), (t,), phase=Phase.OPTIMIZER,
                              attrs={"pointwise": True}))
    return out
