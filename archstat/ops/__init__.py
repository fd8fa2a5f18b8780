"""The ops archstat knows: one module per family, each registering OpSpecs."""

from archstat.ops.registry import REGISTRY, OpSpec, all_ops, get_op, register_op  # noqa: F401
