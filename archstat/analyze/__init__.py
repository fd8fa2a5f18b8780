"""Pure integer analysis of a Graph: per-layer rows, totals, published-vs-computed.

This package is also callable: ``archstat.analyze(model, ...)`` is ``archstat.api.analyze`` (the
package's ``__init__`` makes it so; analyze/ imports nothing above it, see docs/architecture.md).
"""
