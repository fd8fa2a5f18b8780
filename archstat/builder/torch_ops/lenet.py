"""The torch half of ``archstat/ops/lenet.py``: the module each op builds, its torch class, and how
its arguments are read back from a module (torch imported inside each function)."""

from __future__ import annotations

from archstat.builder.torch_ops import attach
from archstat.ops.lenet import RBFArgs, TableConvArgs, _rbf_in


def _build_table(a: TableConvArgs, in_shapes):
    from archstat.builder.modules import TableConv

    return TableConv(a.table, a.kernel, a.bias)


def _build_affine(a, in_shapes):
    from archstat.builder.modules import ChannelAffine

    return ChannelAffine(in_shapes[0][0])


def _build_rbf(a: RBFArgs, in_shapes):
    from archstat.builder.modules import EuclideanRBF

    return EuclideanRBF(_rbf_in(in_shapes), a.out)


attach(
    "table_conv",
    torch_type="TableConv",
    build=_build_table,
    from_module=lambda m: {
        "kernel": list(m.convs[0].kernel_size),
        "table": m.table,
        "bias": m.convs[0].bias is not None,
    },
)
attach("affine", torch_type="ChannelAffine", build=_build_affine)
attach("rbf", torch_type="EuclideanRBF", build=_build_rbf, from_module=lambda m: {"out": m.prototypes.shape[0]})
