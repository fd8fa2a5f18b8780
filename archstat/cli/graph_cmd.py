"""archstat graph NAME --format mermaid|dot: the network as a diagram."""

from __future__ import annotations

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.cli.output import emit


@app.command("graph")
def graph(
    model: str = typer.Argument(..., help="A zoo name or a config path.", metavar="NAME|PATH"),
    fmt: options.GraphFormat = "mermaid",
    mode: options.Mode = "eval",
    sets: options.Sets = None,
    input_: options.ConfigInput = None,
):
    """Blocks as clusters, branches as parallel paths, merges labelled, the tensor shape on every edge.
    Mermaid renders in a GitHub README; dot renders with graphviz (dot -Tsvg)."""
    from archstat.api import load
    from archstat.graph import Graph
    from archstat.report.graph_export import dot, mermaid

    fmt = options.choice(fmt, ("mermaid", "dot"), "--format")
    mode = options.choice(mode, options.MODES, "--mode")
    g = load(model, options.parse_sets(sets), input_shape=options.parse_input(input_))
    if mode == "eval" and g.aux_outputs:
        kept = Graph(g.name, g.input_shape, params=g.params, main_output=g.main_output)
        for node in g.nodes:
            if not node.aux:
                kept.add(node)
        g = kept
    emit(mermaid(g) if fmt == "mermaid" else dot(g))
