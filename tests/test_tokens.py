"""The Vision Transformer's ops (patch embedding, class token, position embeddings, multi-head
self-attention, class-token selection): each formula with its arithmetic beside it, then against
torch (shapes, params, FlopCounterMode, fvcore, and what autograd saves)."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import archstat
from archstat.analyze.training import training_memory
from archstat.errors import ShapeError
from archstat.ops.registry import Saved, all_ops
from tests.test_training import measured_saved_bytes

D, L, H = 768, 197, 12          # ViT-B/16 at 224×224: 14·14 = 196 patches + the class token


def costs(op, args, shape):
    spec = all_ops()[op]
    a = spec.make_args(args)
    out = spec.out_shape(a, [shape])
    return dict(shape=out, weights=spec.weights(a, [shape]), biases=spec.biases(a, [shape]),
                macs=spec.macs(a, [shape], out), ops=spec.ops(a, [shape], out), saved=spec.saved(a, [shape], out),
                inplace=spec.inplace(a))


def test_patch_embed_vit_b16():
    c = costs("patch_embed", {"out": D, "patch": 16}, (3, 224, 224))
    assert c["shape"] == (196, 768)                        # (224/16)² = 14·14 = 196 tokens of 768
    assert c["weights"] == 589_824                         # 16·16·3·768
    assert c["biases"] == 768
    assert c["macs"] == 115_605_504                        # 196 tokens · 589,824 weights
    assert c["ops"] == 150_528                             # one bias add per output: 196·768
    assert c["saved"] == (Saved("input"),)                 # a conv keeps its input


def test_patch_embed_floors_a_partial_patch():
    assert costs("patch_embed", {"out": 8, "patch": 16}, (3, 40, 33))["shape"] == (4, 8)   # ⌊40/16⌋·⌊33/16⌋ = 2·2


def test_class_token_and_position_embeddings():
    cls = costs("class_token", {}, (196, D))
    assert cls["shape"] == (197, 768) and cls["weights"] == 768 and cls["biases"] == 0   # one D-vector
    assert (cls["macs"], cls["ops"], cls["saved"], cls["inplace"]) == (0, 0, (), False)   # cat: a new tensor
    pos = costs("pos_embed", {}, (L, D))
    assert pos["shape"] == (197, 768)
    assert pos["weights"] == 151_296                       # L·D = 197·768
    assert pos["ops"] == 151_296                           # one add per element
    assert pos["saved"] == ()                              # an add keeps nothing


def test_self_attention_vit_b16():
    c = costs("self_attention", {"heads": H}, (L, D))
    assert c["shape"] == (197, 768)
    assert c["weights"] == 2_359_296                       # 4·D² = 4·768²: Q, K, V and output projections
    assert c["biases"] == 3_072                            # 4·D
    # 4·L·D² + 2·L²·D = 4·197·589,824 + 2·38,809·768 = 464,781,312 + 59,610,624
    assert c["macs"] == 524_391_936
    # bias adds 4·L·D = 605,184; scale, exp, sum, divide per score 4·H·L² = 4·12·38,809 = 1,862,832
    assert c["ops"] == 2_468_016
    # the input, qkv (3·L·D), the attention output (L·D), and the fp32 log-sum-exp (H·L)
    assert c["saved"] == (Saved("input"), Saved("extra", 453_888), Saved("extra", 151_296), Saved("extra", 2_364, 4))
    assert costs("self_attention", {"heads": H, "bias": False}, (L, D))["biases"] == 0


def test_self_attention_macs_do_not_depend_on_heads():
    one, many = (costs("self_attention", {"heads": h}, (L, D))["macs"] for h in (1, 12))
    assert one == many == 524_391_936                      # H heads of D/H: L·L·(D/H)·H = L²·D either way


def test_select_token_is_a_view():
    c = costs("select_token", {}, (L, D))
    assert c["shape"] == (768,) and c["inplace"] and c["saved"] == ()
    assert costs("select_token", {"index": 196}, (L, D))["shape"] == (768,)


@pytest.mark.parametrize("op, args, shape, message", [
    ("self_attention", {"heads": 12}, (768, 14, 14), "needs tokens (L×D), got 768×14×14"),
    ("self_attention", {"heads": 5}, (197, 768), "width 768 is not divisible by heads=5"),
    ("class_token", {}, (768,), "needs tokens"),
    ("select_token", {"index": 197}, (197, 768), "index 197 is past the 197 tokens"),
    ("patch_embed", {"out": 8, "patch": 16}, (196, 768), "needs a C×H×W input"),
    ("window_attention", {"heads": 3, "window": 7}, (197, 768), "needs a channels-last H×W×C map"),
    ("window_attention", {"heads": 5, "window": 7}, (56, 56, 96), "96 channels are not divisible by heads=5"),
    ("patch_merge", {}, (196, 768), "needs a channels-last H×W×C map"),
    ("window_attention", {"heads": 1, "window": 7, "shift": 7}, (14, 14, 8), "shift 7 must be smaller than the window 7"),
])
def test_shape_errors(op, args, shape, message):
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        costs(op, args, shape)


def test_window_attention_swin_t_stage1():
    # Swin-T stage 1: a 56×56×96 map, 3 heads, 7×7 windows: 3,136 tokens in 64 windows of 49
    c = costs("window_attention", {"heads": 3, "window": 7}, (56, 56, 96))
    assert c["shape"] == (56, 56, 96)
    assert c["weights"] == 36_864 + 507                    # 4·96² and the relative position bias table (2·7 − 1)²·3
    assert c["biases"] == 384                              # 4·96
    # 4·T·C² + 2·nW·M⁴·C = 4·3,136·9,216 + 2·64·2,401·96 = 115,605,504 + 29,503,488
    assert c["macs"] == 145_108_992
    # bias adds 4·T·C + query scale T·C = 5·301,056; per score (3·64·2,401 = 460,992): bias + softmax's 3
    assert c["ops"] == 1_505_280 + 4 * 460_992
    assert costs("window_attention", {"heads": 3, "window": 7, "shift": 3}, (56, 56, 96))["ops"] == \
        1_505_280 + 5 * 460_992                            # shifted windows add the mask per score
    # five T·C tensors (windowed input, scaled q, k, v, merged heads) and the probabilities
    assert c["saved"] == (Saved("extra", 5 * 301_056), Saved("extra", 460_992))


def test_window_attention_pads_to_whole_windows_and_skips_a_useless_shift():
    # 10×9 padded to 14×14, as torchvision does: 196 tokens in 4 windows; 4·196·8² + 2·4·2,401·8
    assert costs("window_attention", {"heads": 2, "window": 7}, (10, 9, 8))["macs"] == 50_176 + 153_664
    # Swin-T's last stage (7×7, one window): torchvision does not shift, so there is no mask
    plain, shifted = (costs("window_attention", {"heads": 24, "window": 7, "shift": s}, (7, 7, 768))["ops"]
                      for s in (0, 3))
    assert plain == shifted


def test_patch_merge():
    c = costs("patch_merge", {}, (56, 56, 96))
    assert c["shape"] == (28, 28, 384)                     # 2×2 neighbours side by side: 4·96
    assert (c["weights"], c["macs"], c["saved"]) == (0, 0, ())
    assert costs("patch_merge", {}, (5, 5, 4))["shape"] == (3, 3, 16)   # odd sizes padded: ⌈5/2⌉


TINY = """archstat: 1
name: tiny-vit
input: [3, 16, 16]
layers:
  - {patch_embed: {out: 32, patch: 4}, id: conv_proj}
  - {class_token: null, id: class_token}
  - {pos_embed: null, id: pos_embedding}
  - {residual: {body: [{self_attention: {heads: 4}, id: self_attention}], shortcut: identity}, repeat: 2, id: layers}
  - {select_token: null, id: cls}
  - {linear: {out: 10}, id: head}
"""


def test_tiny_vit_totals_and_receptive_field(write_config):
    stats = archstat.analyze(str(write_config(TINY)))
    rows = {r.name: r for r in stats.rows}
    # patch 4 on 16×16: 16 tokens of 32, 17 with the class token
    assert rows["conv_proj"].output_shape == (16, 32) and rows["layers.0.body.self_attention"].output_shape == (17, 32)
    assert rows["conv_proj"].rf.text() == "4"               # one patch
    assert rows["layers.0.body.self_attention"].rf.text() == "16 (global)"   # 4 + (4 - 1)·4: the whole image
    # params: 4·4·3·32 + 32 + 32 + 17·32 + 2·(4·32² + 4·32) + 32·10 + 10 = 1,568 + 32 + 544 + 8,448 + 330
    assert stats.totals.params == 10_922
    # MACs: 16·1,536 + 2·(4·17·32² + 2·17²·32) + 320 = 24,576 + 2·(69,632 + 18,496) + 320
    assert stats.totals.macs == 201_152


torch = pytest.importorskip("torch")


def test_tiny_vit_verifies_against_torch_and_fvcore(write_config):
    from archstat.verify.crosscheck import PASS, verify_graph

    checks = verify_graph(archstat.load(str(write_config(TINY))))
    assert checks and all(c.status == PASS for c in checks), [c for c in checks if c.status != PASS]


def test_flop_counter_counts_self_attention_on_meta():
    from torch.utils.flop_counter import FlopCounterMode

    from archstat.builder.token_modules import MultiHeadSelfAttention

    module = MultiHeadSelfAttention(D, H).to("meta")
    with FlopCounterMode(display=False) as counter:
        module(torch.empty(2, L, D, device="meta"))
    assert counter.get_total_flops() == 2 * 2 * 524_391_936   # batch 2, two flops per MAC
    assert sum(p.numel() for p in module.parameters()) == 2_362_368   # 4·768² + 4·768


TINY_SWIN = """archstat: 1
name: tiny-swin
input: [3, 36, 36]
layers:
  - {conv: {out: 8, kernel: 4, stride: 4}, id: patch_embed}
  - {permute: {dims: [1, 2, 0]}, id: channels_last}
  - {layer_norm: null, id: patch_norm}
  - residual: {body: [{layer_norm: null}, {window_attention: {heads: 2, window: 4, shift: "$2 * i"}}], shortcut: identity}
    repeat: 2
    id: blocks
  - {patch_merge: null, id: merge}
  - {layer_norm: null, id: merge_norm}
  - {linear: {out: 16, bias: false}, id: reduction}
  - {permute: {dims: [2, 0, 1]}, id: channels_first}
  - {adaptive_avgpool: {out: 1}, id: avgpool}
  - flatten
  - {linear: {out: 10}, id: head}
"""


def test_tiny_swin_verifies_against_torch_and_fvcore(write_config):
    from archstat.verify.crosscheck import PASS, verify_graph

    graph = archstat.load(str(write_config(TINY_SWIN)))
    assert graph["blocks.0.body.window_attention1"].shape == (9, 9, 8)   # 36/4: padded to 12×12 inside
    checks = verify_graph(graph)
    assert checks and all(c.status == PASS for c in checks), [c for c in checks if c.status != PASS]


@pytest.mark.parametrize("config, params, shape", [
    ("tiny-swin", None, (3, 36, 36)),
    ("vit_b_16", {"num_layers": 2, "hidden_dim": 64, "mlp_dim": 128, "num_heads": 4, "num_classes": 10}, (3, 32, 32)),
])
def test_transformers_saved_for_backward_match_autograd(write_config, config, params, shape):
    """Whole small networks: every op's saved tensors (layer norm, linear over tokens, GELU, attention,
    window attention with padding and a shift, patch merging) against autograd, to the byte."""
    name = str(write_config(TINY_SWIN)) if config == "tiny-swin" else config
    graph = archstat.load(name, params, input_shape=shape)
    torch.manual_seed(0)
    module = archstat.build(graph).train()
    measured = measured_saved_bytes(module, torch.randn(2, *shape), buffers=True)
    assert training_memory(graph, batch=2).saved_bytes == measured


def test_saved_for_backward_matches_autograd(write_config):
    """Every tensor the estimate names, and no other, is what autograd keeps (each storage once):
    conv input, attention's input, qkv, output and log-sum-exp, the head's input."""
    graph = archstat.load(str(write_config(TINY)))
    torch.manual_seed(0)
    module = archstat.build(graph).train()
    measured = measured_saved_bytes(module, torch.randn(2, 3, 16, 16), buffers=True)
    # batch 2, 4 B: image 3·16·16 = 768; per attention 17·32 + 3·17·32 + 17·32 = 2,720 and 4·17 = 68;
    # the head reads the class token, a view of the last add's 17·32 = 544
    assert training_memory(graph, batch=2).saved_bytes == measured == 2 * 4 * (768 + 2 * (2_720 + 68) + 544)


@pytest.mark.parametrize("config", ["tiny-vit", "tiny-swin"])
def test_built_module_analysed_as_any_module_equals_the_config(write_config, config):
    """The any-nn.Module path reads the built attention modules back into the same ops."""
    graph = archstat.load(str(write_config(TINY if config == "tiny-vit" else TINY_SWIN)))
    from_config = archstat.analyze(graph).totals
    from_module = archstat.analyze(archstat.build(graph), input_shape=graph.input_shape)
    assert not from_module.not_counted
    assert (from_module.totals.params, from_module.totals.macs) == (from_config.params, from_config.macs)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(h=st.integers(1, 20), w=st.integers(1, 20), window=st.integers(1, 7), shift=st.integers(0, 6),
       heads=st.integers(1, 3), per_head=st.integers(1, 3))
def test_window_attention_shape_and_macs_against_torch(h, w, window, shift, heads, per_head):
    """Padding to whole windows, shifts skipped along an axis one window covers: shape and MACs
    equal the module's output and FlopCounterMode / 2 on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from archstat.builder.token_modules import WindowAttention

    assume(shift < window)
    c = heads * per_head
    got = costs("window_attention", {"heads": heads, "window": window, "shift": shift}, (h, w, c))
    module = WindowAttention(c, heads, window, shift).to("meta")
    with FlopCounterMode(display=False) as counter:
        out = module(torch.empty(1, h, w, c, device="meta"))
    assert got["shape"] == tuple(out.shape[1:])
    assert got["macs"] == counter.get_total_flops() // 2
    assert got["weights"] + got["biases"] == sum(p.numel() for p in module.parameters())


@settings(max_examples=40, deadline=None, derandomize=True)
@given(h=st.integers(1, 40), w=st.integers(1, 40), patch=st.integers(1, 16), c=st.integers(1, 3))
def test_patch_embed_shape_and_macs_against_torch(h, w, patch, c):
    from torch.utils.flop_counter import FlopCounterMode

    from archstat.builder.token_modules import PatchEmbedding

    assume(patch <= min(h, w))
    got = costs("patch_embed", {"out": 4, "patch": patch}, (c, h, w))
    with FlopCounterMode(display=False) as counter:
        out = PatchEmbedding(c, 4, patch, patch).to("meta")(torch.empty(1, c, h, w, device="meta"))
    assert got["shape"] == tuple(out.shape[1:])
    assert got["macs"] == counter.get_total_flops() // 2
