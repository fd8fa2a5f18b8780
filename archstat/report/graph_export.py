"""The Graph as a picture: mermaid or dot. Blocks are clusters (subgraphs), branches parallel
paths, merges labelled concat/add/mean, and every edge carries the shape of its tensor. In-place
ops and views fold into the node before them, as in the table."""

from __future__ import annotations

from archstat.graph import Graph, Node
from archstat.ops.registry import all_ops
from archstat.report.sanitize import dot_text, mermaid_text
from archstat.report.units import fmt_shape


def _visible(graph: Graph) -> tuple[list, dict[str, str]]:
    """Nodes to draw, and for each folded node the drawn node it folds into."""
    ops = all_ops()
    alias: dict[str, str] = {}
    drawn = []
    for node in graph.nodes:
        if node.op != "input" and ops[node.op].inplace(node.args) and node.inputs:
            alias[node.name] = alias.get(node.inputs[0], node.inputs[0])
            continue
        drawn.append(node)
    return drawn, alias


def _clusters(names: list[str]) -> list[str]:
    """Every dotted prefix of a drawn node's name, outermost first."""
    out: list[str] = []
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix not in out:
                out.append(prefix)
    return out


def _is_merge(node) -> bool:
    return node.op != "input" and all_ops()[node.op].multi_input


def _label(node, folded: list[str]) -> str:
    short = node.name.rsplit(".", 1)[-1]   # the cluster around it names the rest
    text = f"{short}: {node.label}" if node.op != "input" else f"input {fmt_shape(node.shape)}"
    if _is_merge(node):
        text = f"{short}: {node.op}"
    return text + (" + " + " + ".join(f.rsplit(".", 1)[-1] for f in folded) if folded else "")


def _tree(graph: Graph):
    drawn, alias = _visible(graph)
    ids = {n.name: f"n{i}" for i, n in enumerate(drawn)}
    folded: dict[str, list[str]] = {}
    for name, target in alias.items():
        folded.setdefault(target, []).append(name)
    edges = []
    for node in drawn:
        for src in node.inputs:
            src = alias.get(src, src)
            edges.append((ids[src], ids[node.name], fmt_shape(graph[src].shape)))
    return drawn, ids, folded, edges, _clusters([n.name for n in drawn])


def _members(drawn, clusters):
    """cluster → its directly contained nodes and sub-clusters (a merge sits in its own cluster)."""
    children: dict[str, tuple[list[Node], list[str]]] = {c: ([], []) for c in [""] + clusters}
    for c in clusters:
        parent = c.rsplit(".", 1)[0] if "." in c else ""
        children[parent][1].append(c)
    for n in drawn:
        home = n.name if n.name in children else (n.name.rsplit(".", 1)[0] if "." in n.name else "")
        children[home][0].append(n)
    return children


def _render(graph: Graph, head: list[str], node_line, open_cluster, close_cluster: str, edge_line,
            tail: list[str], quote) -> str:
    """The walk both formats share: nodes, then nested clusters, then the edges. ``quote`` makes a
    name or label safe inside the format's quoted strings (report/sanitize.py)."""
    drawn, ids, folded, edges, clusters = _tree(graph)
    children = _members(drawn, clusters)
    index = {c: k for k, c in enumerate(clusters)}
    lines = list(head)

    def emit(cluster: str, indent: str):
        nodes, subs = children[cluster]
        for n in nodes:
            lines.append(indent + node_line(ids[n.name], quote(_label(n, folded.get(n.name, []))), _is_merge(n)))
        for sub in subs:
            lines.extend(indent + line for line in open_cluster(index[sub], quote(sub.rsplit(".", 1)[-1])))
            emit(sub, indent + "  ")
            lines.append(indent + close_cluster)

    emit("", "  ")
    lines += [f"  {edge_line(a, b, shape)}" for a, b, shape in edges]
    return "\n".join(lines + tail) + "\n"


def mermaid(graph: Graph) -> str:
    return _render(
        graph, ["flowchart TD"],
        lambda i, label, merge: f'{i}(("{label}"))' if merge else f'{i}["{label}"]',
        lambda k, label: [f'subgraph c{k}["{label}"]'], "end",
        lambda a, b, shape: f'{a} -- "{shape}" --> {b}', [], mermaid_text)


def dot(graph: Graph) -> str:
    return _render(
        graph, [f'digraph "{dot_text(graph.name)}" {{', "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];',
                '  edge [fontname="Helvetica", fontsize=10];'],
        lambda i, label, merge: f'{i} [label="{label}"{", shape=ellipse" if merge else ""}];',
        lambda k, label: [f"subgraph cluster_{k} {{", f'  label="{label}";'], "}",
        lambda a, b, shape: f'{a} -> {b} [label="{shape}"];', ["}"], dot_text)
