"""Each formula with its arithmetic beside it."""

from archstat.ops.arith import attention_macs, linear_macs, matmul_macs, mhsa_macs, mhsa_params
from archstat.ops.conv import conv_macs, conv_out_len, conv_weights
from archstat.ops.pool import adaptive_window, pool_out_len
from archstat.ops.registry import all_ops


def test_vgg_conv1_2_macs():
    assert conv_macs((224, 224), 64, 64, (3, 3), 1) == 1_849_688_064  # 224*224*64 * 3*3*64


def test_alexnet_conv1_macs_and_weights():
    # AlexNet conv1: 96 filters 11×11×3, stride 4 on 227×227 → 55×55
    assert conv_out_len(227, 11, 4, 0, 1) == 55  # (227 - 11) // 4 + 1
    assert conv_weights(3, 96, (11, 11), 1) == 34_848  # 11*11*3*96 ("35K params", cs231n)
    assert conv_macs((55, 55), 3, 96, (11, 11), 1) == 105_415_200  # 55*55*96 * 11*11*3


def test_grouped_conv_weights_and_macs():
    # ResNeXt-style grouped 3×3: 128 → 128 channels in 32 groups reads 4 channels per filter
    assert conv_weights(128, 128, (3, 3), 32) == 4_608  # 128 * (128/32) * 9
    assert conv_macs((56, 56), 128, 128, (3, 3), 32) == 14_450_688  # 56*56 * 4_608


def test_dilated_conv_out_len():
    # dilation 2 spreads a 3-tap kernel over 5 inputs: (32 + 2*2 - 2*2 - 1)//1 + 1
    assert conv_out_len(32, 3, 1, 2, 2) == 32
    assert conv_out_len(32, 3, 1, 0, 2) == 28  # 32 - 5 + 1


def test_pool_floor_and_ceil_mode():
    assert pool_out_len(112, 3, 2, 0, 1, False) == 55  # (112 - 3)//2 + 1
    assert pool_out_len(112, 3, 2, 0, 1, True) == 56   # ceil((112 - 3)/2) + 1 (GoogLeNet)
    # ceil_mode drops a last window that would start past the input and its left padding:
    # n=5, k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4, but window 3 would start at 6 >= 5+1 → 3
    assert pool_out_len(5, 2, 2, 1, 1, True) == 3
    assert pool_out_len(6, 2, 2, 0, 1, True) == 3      # exact fit: ceil changes nothing


def test_adaptive_windows_cover_the_input():
    # torch's windows for 7 → 3: [0,3), [2,5), [4,7): lengths 3, 3, 3
    assert [adaptive_window(7, 3, i) for i in range(3)] == [3, 3, 3]
    assert [adaptive_window(5, 1, 0)] == [5]


def test_linear_macs():
    assert linear_macs(25_088, 4_096) == 102_760_448  # 7*7*512 * 4096


def test_every_op_has_every_formula():
    for name, spec in all_ops().items():
        for formula in ("out_shape", "weights", "biases", "macs", "ops", "label"):
            assert callable(getattr(spec, formula)), (name, formula)


def test_bn_counts_scales_and_shifts():
    bn = all_ops()["bn"]
    args = bn.make_args({})
    assert bn.weights(args, [(64, 56, 56)]) == 64
    assert bn.biases(args, [(64, 56, 56)]) == 64
    assert bn.ops(args, [(64, 56, 56)], (64, 56, 56)) == 401_408  # 2 * 64*56*56


def test_relu_folds_only_in_place():
    relu = all_ops()["relu"]
    assert relu.inplace(relu.make_args({})) is True
    assert relu.inplace(relu.make_args({"inplace": False})) is False


def test_adaptive_window_sum_closed_form():
    from archstat.ops.pool import adaptive_window_sum

    for n in range(1, 40):
        for out in range(1, 20):
            assert adaptive_window_sum(n, out) == sum(adaptive_window(n, out, i) for i in range(out))


def test_linear_on_tokens_macs():
    # ViT-B/16 MLP fc1: 197 tokens × 768 → 3072: one MAC per weight per token
    assert linear_macs(768, 3072, rows=197) == 464_781_312  # 197*768*3072


def test_matmul_and_attention_macs():
    assert matmul_macs(12, 197, 64, 197) == 29_805_312  # 12 heads * 197*64*197
    # SDPA: Q·Kᵀ and ·V, B·H·L·S·E + B·H·L·S·Ev with B=1, H=12, L=S=197, E=Ev=64
    assert attention_macs(12, 197, 197, 64, 64) == 59_610_624  # 2 * 12*197*197*64


def test_mhsa_params_and_macs():
    assert mhsa_params(768) == 2_362_368  # 4*768^2 + 4*768
    # ViT-B/16 block: 4·L·D² + 2·L²·D with L=197, D=768
    assert mhsa_macs(197, 768) == 4 * 197 * 768**2 + 2 * 197**2 * 768 == 524_391_936
