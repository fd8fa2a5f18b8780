"""RNN, LSTM and GRU by formula (layers, directions, proj_size, batch_first, unbatched, packed), equal
to the aten operators they run on the meta device and to FlopCounterMode/2; complete, never a lower
bound (the gate split, ``unsafe_split``, is a view and costs nothing)."""

import pytest

from archstat.trace.rnn import rnn_macs

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archstat.trace.analyze import analyze_module  # noqa: E402


def test_formula_inline_arithmetic():
    # LSTM, I = 32, H = 64, P = 16, 2 layers, bidirectional, 60 tokens (T = 20 × B = 3):
    #   per direction, any layer (layer 1 reads 2·P = 32): 4·64·32 + 4·64·16 + 64·16 = 13,312
    assert rnn_macs(4, 32, 64, 2, True, 16, 60) == 60 * 2 * 2 * (4 * 64 * 32 + 4 * 64 * 16 + 64 * 16)
    # GRU, I = 32, H = 64, 3 layers: 3·64·32 + 3·64·64 = 18,432, then 2 × (3·64·64 + 3·64·64) = 49,152
    assert rnn_macs(3, 32, 64, 3, tokens=10) == 10 * (18_432 + 49_152)
    # RNN (tanh or relu), I = 16, H = 32, bidirectional: 2 × (32·16 + 32·32) = 3,072
    assert rnn_macs(1, 16, 32, 1, True, tokens=1) == 3_072


CASES = [
    ("lstm_proj_bi", lambda: torch.nn.LSTM(32, 64, num_layers=2, bidirectional=True, proj_size=16, batch_first=True),
     (20, 32), 3, 60 * 2 * 2 * 13_312),
    ("gru_3_layers", lambda: torch.nn.GRU(32, 64, num_layers=3, batch_first=True), (5, 32), 2, 10 * 67_584),
    ("rnn_relu_bi", lambda: torch.nn.RNN(16, 32, nonlinearity="relu", bidirectional=True), "7xBx16", 2,
     14 * 3_072),
    ("lstm_unbatched", lambda: torch.nn.LSTM(8, 16), "unbatched:9x8", 1, 9 * (4 * 16 * 8 + 4 * 16 * 16)),
]


def meta_flop_counter(model, x):
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model.to("meta")(x)
    return fc.get_total_flops() // 2


@pytest.mark.parametrize("name, make, shape, batch, macs", CASES, ids=[c[0] for c in CASES])
def test_rnn_exact_and_complete(name, make, shape, batch, macs):
    model = make()
    stats = analyze_module(model, shape, batch=batch)
    assert stats.totals.macs == macs
    assert stats.totals.complete and stats.totals.uncounted == []
    assert stats.totals.params == sum(p.numel() for p in model.parameters())
    # the operators traced on meta (addmm/mm per gate product) add up to the formula
    assert sum(stats.macs_by_op.values()) == macs
    from archstat.trace.inputs import normalize

    args, _ = normalize(shape).make(model, batch, "meta")
    assert meta_flop_counter(make(), args[0]) == macs


def test_packed_sequence_counts_its_packed_length():
    # lengths 5 and 3: 8 time steps of samples in all; LSTM(4, 6): 4·6·4 + 4·6·6 = 240 per token
    from torch.nn.utils.rnn import pack_padded_sequence

    class Packed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(4, 6, batch_first=True)

        def forward(self, x):
            return self.rnn(pack_padded_sequence(x, [5, 3], batch_first=True))[0].data

    stats = analyze_module(Packed(), "unbatched:2x5x4", device="cpu")
    assert stats.totals.macs == 8 * 240


def test_rnn_on_real_cpu_tensors_too():
    # on the CPU nn.LSTM runs oneDNN's mkldnn_rnn_layer, which FlopCounterMode has no formula for;
    # archstat counts the same as on the meta device
    model = torch.nn.LSTM(32, 64, num_layers=2, batch_first=True)
    assert analyze_module(model, (20, 32), device="cpu").totals.macs == analyze_module(model, (20, 32)).totals.macs


def test_strict_passes_an_lstm(cli):
    r = cli("table", "module:torch.nn:LSTM(32, 64, num_layers=2)", "--input", "20xBx32", "--strict")
    assert r.exit_code == 0, r.stderr
    r = cli("table", "module:torch.nn:LSTM(32, 64, num_layers=2)", "--input", "20xBx32", "--format", "json")
    lstm = next(x for x in __import__("json").loads(r.stdout)["layers"] if x["name"] == "LSTM")
    # one sample: 20 tokens; layer 0: 4·64·(32 + 64) = 24,576; layer 1: 4·64·(64 + 64) = 32,768
    assert lstm["macs"] == 20 * (24_576 + 32_768) and lstm["counted"]
    assert lstm["note"] == "MACs = 20 tokens × Σ 2 layers × 1 direction of 4·H·(I + H), H = 64, I = 32"
