"""Reading configs: YAML with positions, expressions, the Spec, and expansion to a Graph."""
