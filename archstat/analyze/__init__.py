"""Pure integer analysis of a Graph: per-layer rows, totals, published-vs-computed."""
