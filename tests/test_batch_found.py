"""Modules fed as torch sees them: video, sequences, several and keyword inputs, a factory's own
example inputs; the batch found by tracing at two batch sizes (never by comparing a size to
--batch); structured outputs shown whole; data-dependent ops as one row per kind."""

import json

import pytest

from tests.conftest import ROOT

torch = pytest.importorskip("torch")
from archstat.errors import UsageError  # noqa: E402
from archstat.trace.analyze import analyze_module  # noqa: E402
from archstat.trace.batch import BatchDim, find_batch_dim, trace_batches  # noqa: E402
from tests.fixtures import inputs_nets as fx  # noqa: E402
from tests.fixtures import nets  # noqa: E402

FX = ROOT / "tests" / "fixtures" / "inputs_nets.py"
NETS = ROOT / "tests" / "fixtures" / "nets.py"



def test_find_batch_dim():
    assert find_batch_dim((2, 17, 32), (3, 17, 32), 2, 3) == BatchDim(0, 1)
    assert find_batch_dim((20, 2, 32), (20, 3, 32), 2, 3) == BatchDim(1, 1)
    assert find_batch_dim((8, 16, 96), (12, 16, 96), 2, 3) == BatchDim(0, 4)     # 4 windows per sample
    assert find_batch_dim((17, 17), (17, 17), 2, 3) == BatchDim(None)            # no batch dimension
    assert not find_batch_dim((2, 2), (3, 3), 2, 3).known                         # the batch twice: B×B
    assert not find_batch_dim((2, 5), (3, 5, 1), 2, 3).known


def test_video_clip_of_any_rank(cli):
    # Conv3d 3→8, 3×3×3, padding 1 on a 3×4×8×8 clip: 4·8·8 = 256 positions × 8 × (3·27) = 165,888;
    # the classifier 8·5 = 40
    r = cli("table", f"module:{FX}:Video", "--input", "3x4x8x8", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["totals"]["macs"] == 256 * 8 * 81 + 40
    assert d["inputs"] == [{"name": None, "shape": [1, 3, 4, 8, 8], "dtype": "float32", "batch_dim": 0}]
    assert d["outputs"] == [{"name": "output", "shape": [1, 5], "dtype": "float32", "batch_dim": 0}]


def test_two_positional_inputs(cli):
    # RAFT-like: one Conv2d 3→4, 3×3, padding 1 over each 3×8×8 image: 64 positions × 4 × 27 = 6,912 each
    r = cli("table", f"module:{FX}:two_images", "--input", "3x8x8", "--input", "3x8x8", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["totals"]["macs"] == 2 * 6_912
    assert [x["name"] for x in d["layers"][:2]] == ["input.0", "input.1"]
    r = cli("table", f"module:{FX}:two_images", "--input", "3x8x8")
    assert r.exit_code == 2 and "missing 1 required positional argument: 'image2'" in r.stderr


def test_keyword_inputs_with_dtypes(cli):
    # 12 token ids (int64 zeros) and attention_mask (int64 ones): the classifier, 12 tokens × 16 × 3 = 576
    stats = analyze_module(fx.Tagger(), {"input_ids": "int64:12", "attention_mask": "12"}, batch=2)
    assert stats.totals.macs == 2 * 576
    assert [(i["name"], i["dtype"], i["shape"]) for i in stats.inputs] == [
        ("input_ids", "int64", [2, 12]), ("attention_mask", "int64", [2, 12])]
    r = cli("table", f"module:{FX}:Tagger", "--input", "input_ids=int64:12", "--input", "attention_mask=12",
            "--format", "json")
    assert r.exit_code == 0, r.stderr and json.loads(r.stdout)["totals"]["macs"] == 576


@pytest.mark.parametrize("factory, macs", [
    ("tagger_with_examples", 576),           # (model, args, kwargs): 12 tokens and a keyword mask
    ("video_with_example", 256 * 8 * 81 + 40),   # (model, example): one 3×4×8×8 clip
    ("grammar_examples", 2 * 6_912),         # (model, ["3x8x8", "3x8x8"]): strings in the grammar
])
def test_factory_returns_its_example_inputs(cli, factory, macs):
    r = cli("table", f"module:{FX}:{factory}", "--batch", "3", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["totals"]["macs"] == 3 * macs and d["input_source"] == "the factory's example inputs"


def test_the_batch_read_as_a_sequence_is_refused(cli):
    # issue 22 item 2: a batch_first encoder fed (8, 32) reads one unbatched sequence of 8 tokens; its
    # attention then costs 8² · 32 at batch 8 and 9² · 32 at batch 9: neither the same nor 9/8 ×
    layer = "module:torch.nn:TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)"
    r = cli("table", layer, "--input", "32", "--batch", "8")
    assert r.exit_code == 2 and "cannot tell which dimension is the batch" in r.stderr
    assert "--input unbatched:" in r.stderr
    # said so, the same 8 tokens are one unbatched sequence: projections 4·8·32·32 = 32,768,
    # attention 2·8·8·32 = 4,096, feed-forward 2·8·32·64 = 32,768
    r = cli("table", layer, "--input", "unbatched:8x32", "--format", "json")
    assert r.exit_code == 0, r.stderr
    one = 32_768 + 4_096 + 32_768
    assert json.loads(r.stdout)["totals"]["macs"] == one
    r = cli("table", layer, "--input", "8x32", "--batch", "8", "--format", "json")
    assert json.loads(r.stdout)["totals"]["macs"] == 8 * one
    r = cli("table", layer, "--input", "unbatched:8x32", "--batch", "8")
    assert r.exit_code == 2 and "no input has a batch dimension" in r.stderr


@pytest.mark.parametrize("make, shape", [(nets.vit_mha, (3, 32, 32)), (nets.Swin, (3, 32, 32)),
                                          (nets.TextEncoder, (10,))])
def test_batch_8_costs_8_times_batch_1_row_by_row(make, shape):
    # nn.MultiheadAttention at batch 1 runs addmm on a view where any larger batch copies and runs mm:
    # archstat's batch 1 is one sample's share of the traces at 2 and 3, so rows join one to one
    one, eight = analyze_module(make(), shape, fold=False), analyze_module(make(), shape, batch=8, fold=False)
    assert [r.name for r in one.rows] == [r.name for r in eight.rows]
    for a, b in zip(one.rows, eight.rows):
        k = 1 if a.scales == "fixed" else 8
        assert (b.macs, b.ops, b.activation_elements) == (k * a.macs, k * a.ops, k * a.activation_elements), a.name
    assert eight.totals.macs == 8 * one.totals.macs


def test_swin_windows_are_4_per_sample():
    stats = analyze_module(nets.Swin(), (3, 32, 32), batch=3)
    qkv = next(r for r in stats.rows if r.name == "block.attn.qkv")
    assert (qkv.batch_dim, qkv.batch_factor, qkv.output_shape) == (0, 4, (12, 16, 96))
    from archstat.report.rows import shape_cell

    assert shape_cell(qkv) == "4·B×16×96"


def test_sequence_first_lstm_batch_in_dim_1(cli):
    # --input 20xBx32: the batch goes in dim 1, where a batch_first=False LSTM reads it
    r = cli("table", "module:torch.nn:LSTM(32, 64)", "--input", "20xBx32", "--batch", "4", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    lstm = next(x for x in d["layers"] if x["name"] == "LSTM")
    assert (lstm["output_shape"], lstm["batch_dim"]) == ([20, 4, 64], 1)
    assert [(o["name"], o["shape"], o["batch_dim"]) for o in d["outputs"]] == [
        ("[0]", [20, 4, 64], 1), ("[1][0]", [1, 4, 64], 1), ("[1][1]", [1, 4, 64], 1)]
    # 80 tokens × 4·64·(32 + 64) = 7,864,320
    assert d["totals"]["macs"] == 80 * 4 * 64 * 96


def test_unbatched_lstm_hidden_state_has_no_batch_dim():
    stats = analyze_module(torch.nn.LSTM(32, 64), "unbatched:20x32")
    assert [(o["name"], o["shape"], o["batch_dim"]) for o in stats.outputs] == [
        ("[0]", [20, 64], None), ("[1][0]", [1, 64], None), ("[1][1]", [1, 64], None)]


def test_structured_outputs_shown_whole(cli):
    stats = analyze_module(fx.Structured(), (8,), batch=2)
    assert [(o["name"], o.get("shape"), o.get("type")) for o in stats.outputs] == [
        ("[0].logits", [2, 4], None), ("[0].features", [2, 8], None),
        ("[1].last_hidden_state", [2, 4], None), ("[1].pooled", [2], None), ("[1].cache", None, "Cache"),
        ("[2][0].boxes", [3, 4], None), ("[2][0].scores", [], None)]
    assert [o["batch_dim"] for o in stats.outputs if "shape" in o] == [0, 0, 0, 0, None, None]
    r = cli("table", f"module:{FX}:Structured", "--input", "8")
    assert r.exit_code == 0 and "[2][0].boxes: 3×4 float32 (no batch dim)" in r.stdout
    assert "[1].cache: Cache" in r.stdout


def test_data_dependent_ops_one_row_per_kind(cli):
    # six nonzero calls (one per class) become one row with its call count; the totals say so
    stats = analyze_module(fx.Detector(), (3, 4, 4))
    rows = [r for r in stats.rows if r.op == "nonzero"]
    assert [(r.name, r.calls, r.label) for r in rows] == [("nonzero", 6, "aten.nonzero ×6")]
    assert stats.totals.data_dependent == [{"op": "aten.nonzero", "calls": 6, "rows": ["nonzero"]}]
    assert stats.totals.complete and "depend on the data" in stats.notes[-1]
    r = cli("table", f"module:{FX}:Detector", "--input", "3x4x4", "--format", "json")
    d = json.loads(r.stdout)
    assert d["totals"]["data_dependent"] == [{"op": "aten.nonzero", "calls": 6, "rows": ["nonzero"]}]


def test_trace_batches_api_gives_shapes_at_any_batch():
    # the performance model's view: one pair of traces, every op's shapes at any batch
    model = nets.vit_sdpa().to("meta")
    pair = trace_batches(model, (3, 32, 32), 2)
    later = trace_batches(model, (3, 32, 32), 5)
    assert pair.aligned and len(pair.ops) == len(later.ops)
    for op, real in zip(pair.ops, later.ops):
        assert [t.shape_at(5) for t in op.outs] == [t.shape for t in real.outs], op.row
        assert op.macs_at(5) == real.macs


def test_no_batch_guess_from_a_size_equal_to_batch():
    # a 4-token sequence at batch 4: dim 1 is 4 too, but only dim 0 changes between the traces
    stats = analyze_module(torch.nn.Linear(8, 8), (4, 8), batch=4)
    fc = stats.rows[1]
    assert (fc.batch_dim, fc.output_shape, fc.full_shape) == (0, (4, 8), False)


def test_bad_example_inputs_from_a_factory(cli, tmp_path):
    path = tmp_path / "f.py"
    path.write_text("import torch\ndef f():\n    return torch.nn.Linear(4, 2), 1, 2, 3\n")
    r = cli("table", f"module:{path}:f")
    assert r.exit_code == 2 and "the factory returned a tuple of 4" in r.stderr
    with pytest.raises(UsageError):
        analyze_module(torch.nn.Linear(4, 2), None)
