"""Recurrent layers by formula: ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``, whatever kernel runs them.

Per token (one time step of one sample), layer ``l`` and direction, a cell multiplies its input
and its previous hidden state by the gate weights:

    gates · H · I_l  +  gates · H · H_r  (+ H · P, an LSTM's projection when ``proj_size`` = P > 0)

with gates = 4 (LSTM), 3 (GRU), 1 (RNN tanh/relu); H = ``hidden_size``; H_r = P if P > 0 else H (what
is fed back); I_0 = ``input_size`` and I_l = directions · H_r for the layers above. The total is
tokens × Σ over layers and directions, with tokens = T·B (T when unbatched; the packed length of a
``PackedSequence``), batch_first or not. Bias adds are not MACs. This is exactly what the kernels
do: on the meta device the cell decomposes into ``addmm``/``mm`` whose shapes give the same sum,
and on the CPU ``mkldnn_rnn_layer`` runs a layer per call (``aten_costs.mkldnn_rnn_layer``).
"""

from __future__ import annotations

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def rnn_macs(gates: int, input_size: int, hidden: int, layers: int = 1, bidirectional: bool = False,
             proj: int = 0, tokens: int = 1) -> int:
    """MACs of a whole RNN over ``tokens`` time steps × samples (the formula above)."""
    dirs = 2 if bidirectional else 1
    fed_back = proj or hidden
    total = 0
    for layer in range(layers):
        i = input_size if layer == 0 else dirs * fed_back
        per_token = gates * hidden * i + gates * hidden * fed_back + (hidden * proj if proj else 0)
        total += dirs * per_token
    return tokens * total


def is_rnn(module) -> bool:
    import torch

    return isinstance(module, torch.nn.RNNBase) and getattr(module, "mode", None) in GATES


def tokens_of(x, batch_first: bool) -> int:
    """Time steps × samples of an RNN input (a PackedSequence: its packed length)."""
    data = getattr(x, "data", None)
    if hasattr(x, "batch_sizes") and data is not None:     # PackedSequence
        return int(data.shape[0])
    shape = tuple(x.shape)
    if len(shape) == 2:      # unbatched: T × features
        return shape[0]
    return shape[0] * shape[1]


def module_macs(module, args, kwargs) -> tuple[int, int]:
    """(MACs, tokens) of one call of an RNN module."""
    x = args[0] if args else (kwargs or {}).get("input")
    tokens = tokens_of(x, module.batch_first)
    proj = getattr(module, "proj_size", 0) or 0
    return rnn_macs(GATES[module.mode], module.input_size, module.hidden_size, module.num_layers,
                    module.bidirectional, proj, tokens), tokens


def formula_text(module, tokens: int) -> str:
    """The formula with its numbers (a row's note)."""
    gates = GATES[module.mode]
    proj = getattr(module, "proj_size", 0) or 0
    dirs = 2 if module.bidirectional else 1
    text = (f"MACs = {tokens} tokens × Σ {module.num_layers} layer{'s' if module.num_layers > 1 else ''} × {dirs} "
            f"direction{'s' if dirs > 1 else ''} of {gates}·H·(I + {'P' if proj else 'H'})"
            + (" + H·P" if proj else "") + f", H = {module.hidden_size}, I = {module.input_size}"
            + (f", P = {proj}" if proj else ""))
    return text
