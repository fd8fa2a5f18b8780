"""What training holds in memory: parameters, gradients, optimizer state, and the activations each
op saves for its backward pass (per op, from the registry's ``saved``).

- Only ops that need a gradient save anything: those with params, or reading a tensor that
  depends on params (autograd records nothing for a pool straight on the input image).
- A saved ``input``/``output`` is a tensor: counted once however many ops save it. In-place ops
  and views share their input's storage (ReLU after conv: one tensor). Dropout is not in place in
  training: it allocates a new output and a bool mask.
- Extras are their own allocations: max pooling's int64 indices, batch norm's fp32 statistics.
- Parameters, gradients and optimizer state (sgd: none; momentum: one buffer; adam: two) are
  stored in the parameter dtype; with ``amp`` (autocast) parameters, gradients and optimizer state
  stay fp32 (4 B), saved activations are 2 B, and autocast keeps a 2 B copy of each weight.

Left out: cuDNN/cuBLAS workspace, the allocator's caching and fragmentation, the CUDA context and
framework overhead, gradients of activations alive during backward, temporary buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archstat.analyze.stats import node_row
from archstat.dtypes import STORAGE, lookup
from archstat.graph import Graph
from archstat.ops.registry import all_ops, numel

OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}
LEAVES_OUT = ("cuDNN/cuBLAS workspace, allocator caching and fragmentation, the CUDA context and framework "
              "overhead, activation gradients alive during backward, temporary buffers")


@dataclass
class TrainingMemory:
    optimizer: str
    amp: bool
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    weight_copy_bytes: int          # autocast's low-precision weight copies (amp only)
    saved_bytes: int                # activations saved for backward
    per_node: dict[str, int] = field(default_factory=dict)   # saved bytes first attributed to each node
    leaves_out: str = LEAVES_OUT

    @property
    def total(self) -> int:
        return self.param_bytes + self.grad_bytes + self.optimizer_bytes + self.weight_copy_bytes + self.saved_bytes


def storage_owner(graph: Graph, name: str) -> str:
    """The node whose allocation a tensor lives in (in training): ops that are in place or views in
    a training step (the registry's ``inplace_when``) resolve to their input."""
    ops = all_ops()
    node = graph[name]
    while node.op != "input" and node.inputs and ops[node.op].inplace_when(node.args, training=True):
        node = graph[node.inputs[0]]
    return node.name


def training_memory(graph: Graph, *, batch: int = 1, dtype: str = "float32", optimizer: str = "adam",
                    amp: bool = False) -> TrainingMemory:
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    ops = all_ops()
    act_bytes = 2 if amp else lookup(dtype, STORAGE).bytes
    param_elem_bytes = 4 if amp else lookup(dtype, STORAGE).bytes
    counted: set[str] = set()
    per_node: dict[str, int] = {}
    needs_grad: dict[str, bool] = {"input": False}
    saved = 0
    params = 0
    for node in graph.nodes:
        if node.op == "input":
            continue
        spec = ops[node.op]
        own = node_row(node, 1, 1).params
        params += own
        # autograd records (and saves for) an op only if it has params or reads a tensor that needs grad:
        # a pooling layer straight on the input image saves nothing
        needs_grad[node.name] = bool(own) or any(needs_grad.get(i, False) for i in node.inputs)
        here = 0
        if not needs_grad[node.name]:
            per_node[node.name] = 0
            continue
        for item in spec.saved(node.args, list(node.in_shapes), node.shape):
            if item.what == "extra":
                here += item.elements * batch * (item.nbytes if item.nbytes is not None else act_bytes)
                continue
            owner = storage_owner(graph, node.inputs[item.index] if item.what == "input" else node.name)
            if owner not in counted:
                counted.add(owner)
                here += numel(graph[owner].shape) * batch * act_bytes
        per_node[node.name] = here
        saved += here
    return TrainingMemory(
        optimizer=optimizer, amp=amp, param_bytes=params * param_elem_bytes, grad_bytes=params * param_elem_bytes,
        optimizer_bytes=OPTIMIZER_STATES[optimizer] * params * param_elem_bytes,
        weight_copy_bytes=params * 2 if amp else 0, saved_bytes=saved, per_node=per_node)
