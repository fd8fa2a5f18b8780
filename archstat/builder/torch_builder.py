"""Graph → ``nn.Module`` whose ``named_modules()`` names equal the Graph's node names."""

from __future__ import annotations

from typing import Optional

from archstat.builder import require_torch
from archstat.errors import ConfigError
from archstat.graph import Graph
from archstat.ops.registry import all_ops


def module_for(node, graph: Graph, consumers: dict[str, int]):
    """The torch module of one node, built by its op. An in-place op whose input other nodes
    also read (or that reads the model's input) is built out of place, so it cannot corrupt them."""
    from archstat.builder.modules import MERGES

    spec = all_ops()[node.op]
    if spec.multi_input:
        return MERGES[node.op]()
    if spec.build is None:   # builder/torch_ops/ gives every op but the merges (above) its module
        raise NotImplementedError(f"op '{node.op}' has no torch module")
    module = spec.build(node.args, list(node.in_shapes))
    if hasattr(module, "inplace") and module.inplace:
        source = node.inputs[0]
        if source == "input" or consumers.get(source, 0) > 1:
            module.inplace = False
    return module


def _attach(root, name: str, module):
    from archstat.builder.modules import Block

    parts = name.split(".")
    parent = root
    for i, part in enumerate(parts[:-1]):
        child = parent._modules.get(part)
        if child is None:
            child = Block()
            _add(parent, part, child, ".".join(parts[: i + 1]))
        parent = child
    last = parts[-1]
    existing = parent._modules.get(last)
    if existing is not None:  # a container built first for this merge's children: take them over
        for cname, child in existing._modules.items():
            module.add_module(cname, child)
    _add(parent, last, module, name)


def _add(parent, part: str, module, full: str):
    if part not in parent._modules and hasattr(parent, part):
        raise ConfigError(f"the name '{full}' cannot be a torch module name ('{part}' is an attribute "
                          "of nn.Module); give the layer another id")
    parent._modules[part] = module


def build_graph(graph: Graph, device: Optional[str] = None):
    """The module of a Graph (``archstat.build`` loads the config). ``device='meta'`` allocates
    no memory. The module starts in training mode, as torch modules do."""
    torch = require_torch()
    from archstat.builder.modules import GraphModule

    consumers: dict[str, int] = {}
    for node in graph.nodes:
        for i in node.inputs:
            consumers[i] = consumers.get(i, 0) + 1
    plan = [(n.name, n.inputs, n.aux) for n in graph.nodes if n.op != "input"]
    ctx = torch.device(device) if device is not None else _nullcontext()
    with ctx:
        root = GraphModule(graph.name, plan, graph.output.name, graph.aux_outputs)
        for node in graph.nodes:
            if node.op != "input":
                _attach(root, node.name, module_for(node, graph, consumers))
    root._lookup = dict(root.named_modules())
    return root


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
