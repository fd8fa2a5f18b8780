"""The Vision Transformer and Swin in the zoo, MobileNet's separable conv, and the lecture's claims
about them: exact against torchvision's published figures (cited constants; torchvision is never
imported) and hand arithmetic."""

import json

import pytest

import archstat
from archstat.orchestrate import run_sweep

D = 768                                   # ViT-B width


def vit_b_16_macs(patches: int) -> int:
    """ViT-B/16 per image: patch projection (16·16·3·768 per patch), 12 blocks of attention
    (4·L·D² + 2·L²·D) and MLP (2 · L·D·4D), and the head (768·1000), with L = patches + 1."""
    length = patches + 1
    return patches * 16 * 16 * 3 * D + 12 * (4 * length * D * D + 2 * length * length * D + 8 * length * D * D) + 768_000


def test_vit_b_16_by_hand():
    stats = archstat.analyze("vit_b_16")
    # conv_proj 16·16·3·768 + 768 = 590,592; class token 768; positions 197·768 = 151,296;
    # 12 blocks of 2 LN (2·1,536) + attention (4·768² + 4·768 = 2,362,368) + MLP (768·3072 + 3072 +
    # 3072·768 + 768 = 4,722,432) = 12 · 7,087,872; final LN 1,536; head 769,000
    assert stats.totals.params == 590_592 + 768 + 151_296 + 12 * 7_087_872 + 1_536 + 769_000 == 86_567_656
    assert stats.totals.macs == vit_b_16_macs(196) == 17_563_828_224
    # torchvision, ViT_B_16_Weights.IMAGENET1K_V1: num_params 86,567,656, _ops 17.564 (GFLOPS = multiply-adds)
    assert (stats.totals.params, round(stats.totals.macs / 1e9, 3)) == (86_567_656, 17.564)
    assert stats.receptive_field.text() == "224 (global)"      # every token attends to every patch


def test_swin_t_by_hand():
    # per block of width C: 4·T·C² + 2·T·49·C attention (T tokens in windows of 49) + 8·T·C² MLP
    def stage(tokens, c, depth):
        return depth * (12 * tokens * c * c + 2 * tokens * 49 * c)
    blocks = stage(3136, 96, 2) + stage(784, 192, 2) + stage(196, 384, 6) + stage(49, 768, 2)
    merges = 3 * 57_802_752                    # T/4 tokens · 4C · 2C, equal at every stage: 784·384·192
    totals = archstat.analyze("swin_t").totals
    assert totals.macs == 3136 * 48 * 96 + blocks + merges + 768_000 == 4_490_566_656
    # per block 12·C² + 13·C + 169·heads (2 LN, attention with its bias table, MLP); the stem conv and
    # LN, three patch mergings (8·C² + 8·C), the last LN and the head
    params = sum(depth * (12 * c * c + 13 * c + 169 * h) for c, h, depth in ((96, 3, 2), (192, 6, 2), (384, 12, 6), (768, 24, 2)))
    params += 4_704 + 192 + sum(8 * c * c + 8 * c for c in (96, 192, 384)) + 1_536 + 769_000
    # torchvision, Swin_T_Weights.IMAGENET1K_V1: num_params 28,288,354, _ops 4.491
    assert (totals.params, round(totals.macs / 1e9, 3)) == (params, 4.491) and params == 28_288_354


def test_sweep_vit_cost_grows_with_the_square_of_the_tokens():
    """384×384 has 24² = 576 patches against 196: the L² term of attention makes the cost grow faster
    than the token count; torchvision publishes the 384 figure too (IMAGENET1K_SWAG_E2E_V1:
    num_params 86,859,496, _ops 55.484)."""
    sweep = run_sweep("vit_b_16", [(3, 224, 224), (3, 384, 384)], [1], {})
    small, large = sweep.points
    assert small.macs == vit_b_16_macs(196) == 17_563_828_224
    assert large.macs == vit_b_16_macs(576) == 55_484_350_464
    assert round(large.macs / 1e9, 3) == 55.484
    assert large.params == 86_567_656 + (577 - 197) * D == 86_859_496   # the position embeddings grow with L
    # the second difference of a quadratic in L: MACs(L) − linear part = 12·2·L²·D exactly
    for point, patches in ((small, 196), (large, 576)):
        length = patches + 1
        linear_part = patches * 16 * 16 * 3 * D + 12 * 12 * length * D * D + 768_000
        assert point.macs - linear_part == 24 * length * length * D


def test_sweep_cli_json(cli):
    r = cli("sweep", "vit_b_16", "--input", "3x{224,384}x{224,384}", "--format", "json")
    assert r.exit_code == 0, r.stderr
    macs = {tuple(p["input"]): p["macs"] for p in json.loads(r.stdout)["points"]}
    assert macs[(3, 224, 384)] == vit_b_16_macs(14 * 24)            # 336 patches
    assert macs[(3, 384, 384)] == 55_484_350_464


def test_separable_conv_by_hand():
    standard = archstat.analyze("conv3x3-standard").totals.macs
    separable = archstat.analyze("conv3x3-separable").totals.macs
    assert standard == 14 * 14 * 512 * 512 * 9 == 462_422_016      # Eq. 2
    assert separable == 14 * 14 * 512 * 9 + 14 * 14 * 512 * 512 == 52_283_392   # Eq. 4


def test_reproduce_the_modern_lecture(cli):
    r = cli("reproduce", "cs231n-lecture-modern", "--format", "json")
    assert r.exit_code == 0, r.stderr
    claims = {c["id"]: c for c in json.loads(r.stdout)["claims"]}
    assert claims["separable-3x3-8-to-9x-cheaper"]["status"] == "REPRODUCED"
    assert claims["separable-3x3-8-to-9x-cheaper"]["computed"] == pytest.approx(462_422_016 / 52_283_392, rel=1e-5)
    assert claims["separable-3x3-reduction-formula"]["computed"] == pytest.approx(1 / 512 + 1 / 9, rel=1e-5)   # json: 6 decimals
    narrow = claims["separable-3x3-narrow-layer"]                  # 1/(1/64 + 1/9) = 7.89: below 8
    assert narrow["status"] == "NOT REPRODUCED" and narrow["computed"] == pytest.approx(1 / (1 / 64 + 1 / 9), rel=1e-5)
    assert claims["vit-tokens"]["computed"] == [196, 768] and claims["vit-tokens"]["status"] == "REPRODUCED"
    quadratic = claims["vit-attention-quadratic"]
    assert quadratic["status"] == "REPRODUCED"
    assert quadratic["computed"] == pytest.approx((785 / 197) ** 2, rel=1e-5)   # 2·L²·D at 785 and 197 tokens


def test_claims_between_and_input_errors(cli, tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("archstat: 1\nname: x\nclaims:\n  - {id: a, claim: c, published: p, between: [9],\n"
                   "     compute: {model: conv3x3-standard, metric: macs}}\n")
    r = cli("reproduce", str(bad))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: {bad}:4:46: claims[0].between: between is a range [low, high] of numbers"
    bad.write_text("archstat: 1\nname: x\nclaims:\n  - {id: a, claim: c, published: p, value: 1,\n"
                   "     compute: {ratio: [vit_b_16, vit_b_16], input: [3, 224, 224], metric: macs}}\n")
    r = cli("reproduce", str(bad))
    assert r.exit_code == 2 and "input is a shape [C, H, W], one per model of the ratio" in r.stderr
    bad.write_text("archstat: 1\nname: x\nclaims:\n  - {id: a, claim: c, published: p, value: 1,\n"
                   "     compute: {model: vit_b_16, row: head, metric: attention_macs}}\n")
    r = cli("reproduce", str(bad))
    assert r.exit_code == 2 and "attention_macs is a metric of a self_attention row; 'head' is linear" in r.stderr


def test_compare_a_cnn_and_transformers(cli):
    r = cli("compare", "resnet50", "convnext_tiny", "vit_b_16", "swin_t", "--format", "json")
    assert r.exit_code == 0, r.stderr
    models = json.loads(r.stdout)["models"]
    # torchvision's num_params of each
    assert [m["totals"]["params"] for m in models] == [25_557_032, 28_589_128, 86_567_656, 28_288_354]


@pytest.mark.slow
def test_zoo_lists_the_transformers_with_their_errors():
    from archstat.cli.list_cmd import zoo_rows

    rows = {r["name"]: r for r in zoo_rows(None)}
    assert rows["vit_b_16"]["top1_error"] == 18.928                  # 100 − acc@1 81.072 (torchvision)
    assert rows["swin_t"]["top1_error"] == 18.526                    # 100 − acc@1 81.474 (torchvision)
