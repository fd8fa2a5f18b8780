"""Each aten cost formula on shapes alone, with its arithmetic (no torch needed: a tensor is read
only for its .shape)."""

from types import SimpleNamespace

from archstat.ir import aten as c
from archstat.ops.arith import conv_transpose_macs


def t(*shape):
    return SimpleNamespace(shape=tuple(shape))


def test_matrix_products():
    assert c.mm(t(5, 7), t(7, 3)) == 5 * 7 * 3
    assert c.addmm(t(3), t(5, 7), t(7, 3)) == 5 * 7 * 3                 # the bias add is no MAC
    assert c.bmm(t(4, 5, 7), t(4, 7, 3)) == 4 * 5 * 7 * 3
    assert c.baddbmm(t(4, 5, 3), t(4, 5, 7), t(4, 7, 3)) == 4 * 5 * 7 * 3
    assert c.mv(t(5, 7), t(7)) == 5 * 7
    assert c.dot(t(7), t(7)) == 7
    assert c.linear(t(2, 17, 32), t(96, 32)) == 2 * 17 * 32 * 96        # tokens: 2·17 rows of 32 → 96


def test_convolution_any_dimension():
    # 2-D: out 1×8×6×6, weight 8×3×3×3: 36 positions × 8 × 27
    assert c.convolution(t(1, 3, 8, 8), t(8, 3, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                         out=t(1, 8, 6, 6)) == 36 * 8 * 27
    # 1-D, groups 2: out 2×4×10, weight 4×(6/2)×5: 2 samples × 10 positions × 4 × 3·5
    assert c.convolution(t(2, 6, 14), t(4, 3, 5), None, [1], [0], [1], False, [0], 2,
                         out=t(2, 4, 10)) == 2 * 10 * 4 * 15
    # 3-D: out 1×2×2×3×3, weight 2×1×3×3×3: 18 positions × 2 × 27
    assert c.convolution(t(1, 1, 4, 5, 5), t(2, 1, 3, 3, 3), None, [1] * 3, [0] * 3, [1] * 3, False, [0] * 3, 1,
                         out=t(1, 2, 2, 3, 3)) == 18 * 2 * 27


def test_transposed_convolution_counts_input_positions():
    # weight C_in × C_out/groups × k: 16 input positions × 8 × 4 × 4·4
    assert conv_transpose_macs(16, 8, 4, 16) == 8_192
    assert c.convolution(t(1, 8, 4, 4), t(8, 4, 4, 4), None, [2, 2], [1, 1], [1, 1], True, [0, 0], 1,
                         out=t(1, 4, 8, 8)) == 8_192
    # groups 2: 16 positions × 8 × (4/2) × 9
    assert conv_transpose_macs(16, 8, 4, 9, groups=2) == 16 * 8 * 2 * 9


def test_attention_kernels():
    # B=2, H=4, L=17, S=17, E=Ev=8: Q·Kᵀ 2·4·17·17·8 plus ·V the same
    assert c.sdpa_bhle(t(2, 4, 17, 8), t(2, 4, 17, 8), t(2, 4, 17, 8)) == 2 * 2 * 4 * 17 * 17 * 8
    # (B, L, H, E) layout; S = 9, Ev = 16: 2·4·(17·9·8 + 17·9·16)
    assert c.sdpa_blhe(t(2, 17, 4, 8), t(2, 9, 4, 8), t(2, 9, 4, 16)) == 2 * 4 * (17 * 9 * 8 + 17 * 9 * 16)
    # MultiheadAttention's fast path, B=1, L=S=17, D=32, 4 heads: Q, K, V, out 4·17·32·32; attention 2·17·17·32
    assert c.native_mha(t(1, 17, 32), t(1, 17, 32), t(1, 17, 32), 32, 4) == 4 * 17 * 32 * 32 + 2 * 17 * 17 * 32
