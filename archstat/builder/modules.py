"""The torch modules the builder assembles: merges, plain containers, and the graph runner."""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    """A container that only names its children (a block, branch, repeat group or residual body)."""

    def forward(self, *args):  # pragma: no cover - the GraphModule runs the leaves itself
        raise RuntimeError("a Block is run by its GraphModule, not on its own")


class Concat(nn.Module):
    """torch.cat along channels: an inception module's merge. Its children are the branches."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Add(nn.Module):
    """Elementwise sum: a residual connection's merge."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mean(nn.Module):
    """Elementwise mean: FractalNet's join."""

    def forward(self, *xs):
        return torch.stack(xs, dim=0).mean(dim=0)


class Mul(nn.Module):
    """Elementwise product, broadcast: a gate (squeeze-and-excitation scales x by a C×1×1 gate)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


MERGES = {"concat": Concat, "add": Add, "mean": Mean, "mul": Mul}


class PadShortcut(nn.Module):
    """He et al. 2015, option A: subsample by the stride and zero-pad the new channels (no params)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return nn.functional.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def extra_repr(self) -> str:
        return f"{self.in_channels}→{self.out_channels}, stride={self.stride}"


class GraphModule(nn.Module):
    """Runs the Graph's nodes in topological order. ``named_modules()`` names equal the Graph's.

    In training mode it returns ``(main, *aux)`` when the graph has auxiliary heads (as
    torchvision's GoogLeNet does); in eval mode the heads do not run and it returns ``main``.
    """

    _lookup: dict[str, nn.Module]   # every submodule by name, set once built (torch_builder.build_graph)

    def __init__(self, name: str, plan: list[tuple[str, tuple[str, ...], bool]], main: str, aux: list[str]):
        super().__init__()
        self.model_name = name
        self._plan = plan            # (node name, input names, is_aux)
        self._main = main
        self._aux = list(aux)

    def forward(self, x):
        values = {"input": x}
        modules = self.__dict__.get("_lookup") or dict(self.named_modules())
        for name, inputs, is_aux in self._plan:
            if is_aux and not self.training:
                continue
            values[name] = modules[name](*(values[i] for i in inputs))
        if self.training and self._aux:
            return (values[self._main], *(values[a] for a in self._aux))
        return values[self._main]

    def extra_repr(self) -> str:
        return f"model={self.model_name!r}"


class TableConv(nn.Module):
    """LeNet-5's C3: output map j is a convolution over the input maps ``table[j]`` only."""

    def __init__(self, table, kernel, bias: bool = True):
        super().__init__()
        self.table = [list(row) for row in table]
        self.convs = nn.ModuleList(nn.Conv2d(len(row), 1, kernel, bias=bias) for row in self.table)

    def forward(self, x):
        return torch.cat([conv(x[:, row]) for conv, row in zip(self.convs, self.table)], dim=1)


class ChannelAffine(nn.Module):
    """A trainable coefficient and bias per channel (LeNet-5's subsampling layers)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)


class EuclideanRBF(nn.Module):
    """LeNet-5's output units: squared distance to fixed prototypes (a buffer, not params)."""

    prototypes: torch.Tensor   # a buffer (register_buffer below)

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.register_buffer("prototypes", torch.zeros(out_features, in_features))

    def forward(self, x):
        return ((x.unsqueeze(1) - self.prototypes.unsqueeze(0)) ** 2).sum(dim=-1)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map at each position, channels-last (torchvision's
    ``LayerNorm2d`` in ConvNeXt): permute to N×H×W×C, normalise the last dimension, permute back."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """``x.permute(*dims)`` with the batch dimension included, as torchvision.ops.Permute."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Chunk(nn.Module):
    """One of ``chunks`` pieces of the channels (a view): ShuffleNet V2's channel split."""

    def __init__(self, chunks: int, index: int):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        return x.chunk(self.chunks, dim=1)[self.index]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}"


class LayerScale(nn.Module):
    """A learned scale per channel (``weight`` of C×1×1 for a map, of D for tokens), initialised to ``value``."""

    def __init__(self, dim: int, value: float, spatial: bool):
        super().__init__()
        self.value = value
        self.weight = nn.Parameter(torch.full((dim, 1, 1) if spatial else (dim,), float(value)))

    def forward(self, x):
        return x * self.weight


class DropPath(nn.Module):
    """Stochastic depth, per sample (torchvision's StochasticDepth in 'row' mode): in training, zero each
    sample with probability ``p`` and scale the others by 1/(1-p); the identity at inference."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        noise = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            noise.div_(keep)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}"
