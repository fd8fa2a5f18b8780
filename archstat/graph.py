"""The Graph: ops in topological order with dotted names (equal to the torch module names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.errors import Loc


@dataclass
class Node:
    name: str                      # dotted path, e.g. "layer3.17.body.conv2"; "input" for the input
    op: str                        # a registry name, or "input"
    args: Any                      # the op's frozen Args dataclass (None for the input)
    inputs: tuple[str, ...]        # names of the nodes it reads
    in_shapes: tuple[tuple[int, ...], ...]
    shape: tuple[int, ...]         # output shape per sample: (C, H, W) or (F,)
    label: str                     # display label, e.g. "CONV3-64"
    loc: Optional[Loc] = None      # where the config wrote it
    path: str = ""                 # where in the config, e.g. "layers[3].conv"
    aux: bool = False              # part of an auxiliary head (counted in --mode train only)
    survival: float = 1.0          # probability it runs in a training step (stochastic depth)


@dataclass
class Graph:
    name: str
    input_shape: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    group_labels: dict[str, str] = field(default_factory=dict)  # block/branch name → label
    params: dict[str, Any] = field(default_factory=dict)        # the bound model params
    main_output: str = ""                                       # the main path's last node
    aux_outputs: list[str] = field(default_factory=list)        # auxiliary heads' last nodes

    def __post_init__(self):
        self._by_name: dict[str, Node] = {}

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        self._by_name[node.name] = node
        return node

    def __getitem__(self, name: str) -> Node:
        return self._by_name[name]

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def output(self) -> Node:
        return self._by_name[self.main_output] if self.main_output else self.nodes[-1]

    @property
    def outputs(self) -> list[str]:
        """The main output first, then the auxiliary heads."""
        return [self.output.name, *self.aux_outputs]
