"""VGG16 reproduces the cs231n Lecture 9 table row by row.

Each row: (label, output C×H×W, activation elements = C*H*W, weights).
"""

import archstat

# label, shape, elements, weights — the slide's rows; arithmetic beside each
VGG16_ROWS = [
    ("INPUT", (3, 224, 224), 150_528, 0),                  # 224*224*3
    ("CONV3-64", (64, 224, 224), 3_211_264, 1_728),        # 224*224*64;  (3*3*3)*64
    ("CONV3-64", (64, 224, 224), 3_211_264, 36_864),       # (3*3*64)*64
    ("POOL2", (64, 112, 112), 802_816, 0),                 # 112*112*64
    ("CONV3-128", (128, 112, 112), 1_605_632, 73_728),     # 112*112*128; (3*3*64)*128
    ("CONV3-128", (128, 112, 112), 1_605_632, 147_456),    # (3*3*128)*128
    ("POOL2", (128, 56, 56), 401_408, 0),                  # 56*56*128
    ("CONV3-256", (256, 56, 56), 802_816, 294_912),        # 56*56*256; (3*3*128)*256
    ("CONV3-256", (256, 56, 56), 802_816, 589_824),        # (3*3*256)*256
    ("CONV3-256", (256, 56, 56), 802_816, 589_824),
    ("POOL2", (256, 28, 28), 200_704, 0),                  # 28*28*256
    ("CONV3-512", (512, 28, 28), 401_408, 1_179_648),      # 28*28*512; (3*3*256)*512
    ("CONV3-512", (512, 28, 28), 401_408, 2_359_296),      # (3*3*512)*512
    ("CONV3-512", (512, 28, 28), 401_408, 2_359_296),
    ("POOL2", (512, 14, 14), 100_352, 0),                  # 14*14*512
    ("CONV3-512", (512, 14, 14), 100_352, 2_359_296),
    ("CONV3-512", (512, 14, 14), 100_352, 2_359_296),
    ("CONV3-512", (512, 14, 14), 100_352, 2_359_296),
    ("POOL2", (512, 7, 7), 25_088, 0),                     # 7*7*512
    ("FC-4096", (4096,), 4_096, 102_760_448),              # 7*7*512*4096
    ("FC-4096", (4096,), 4_096, 16_777_216),               # 4096*4096
    ("FC-1000", (1000,), 1_000, 4_096_000),                # 4096*1000
]


def test_the_22_rows():
    stats = archstat.analyze("vgg16")
    got = [(r.label, r.output_shape, r.activation_elements, r.weights) for r in stats.rows]
    assert got == VGG16_ROWS


def test_totals():
    t = archstat.analyze("vgg16").totals
    assert t.weights == sum(r[3] for r in VGG16_ROWS) == 138_344_128      # the slide's "138M"
    assert t.biases == 13_416          # 2*64 + 2*128 + 3*256 + 6*512 + 2*4096 + 1000
    assert t.params == 138_357_544     # torchvision's num_params for vgg16
    assert t.activation_elements == sum(r[2] for r in VGG16_ROWS) == 15_237_608
    assert t.activation_bytes == 60_950_432                                # 15_237_608 * 4
    # conv MACs: sum over layers of H*W*Cout*9*Cin; FC MACs equal FC weights
    conv = (224 * 224 * 64 * 9 * (3 + 64) + 112 * 112 * 128 * 9 * (64 + 128)
            + 56 * 56 * 256 * 9 * (128 + 256 + 256) + 28 * 28 * 512 * 9 * (256 + 512 + 512)
            + 14 * 14 * 512 * 9 * (512 * 3))
    assert t.macs == conv + 102_760_448 + 16_777_216 + 4_096_000 == 15_470_264_320


def test_references():
    stats = archstat.analyze("vgg16")
    by_figure = {c.figure: c for c in stats.references}
    assert by_figure["params"].status == "REPRODUCED"              # 138,344,128 → 138M
    assert by_figure["params"].computed == 138_344_128
    assert by_figure["memory"].status == "NOT REPRODUCED"          # 15.2M elements, not 24M
    assert by_figure["memory"].computed == 15_237_608
    assert "15,237,608 elements = 60.95 MB" in by_figure["memory"].note
    assert by_figure["torchvision_params"].status == "REPRODUCED"
    assert by_figure["torchvision_gflops"].status == "REPRODUCED"  # 15.47 G


def test_batch_dtype_and_units_scale():
    s = archstat.analyze("vgg16", batch=8, dtype="float16")
    assert s.totals.activation_elements == 8 * 15_237_608
    assert s.totals.activation_bytes == 2 * 8 * 15_237_608
    assert s.totals.macs == 8 * 15_470_264_320
    assert s.totals.params == 138_357_544                      # params do not scale with batch
    assert s.per_sample.macs == 15_470_264_320


def test_unfold_shows_inplace_rows_without_memory():
    folded = archstat.analyze("vgg16")
    unfolded = archstat.analyze("vgg16", fold=False)
    # 15 ReLUs, 2 dropouts and 1 flatten become rows: 22 + 18
    assert len(unfolded.rows) == 40
    assert {r.op for r in unfolded.rows if r.activation_elements == 0} == {"relu", "dropout", "flatten"}
    assert unfolded.totals == folded.totals


def test_vgg_family_params_match_torchvision():
    # torchvision.models docs: num_params of vgg11, vgg13, vgg19
    assert archstat.analyze("vgg11").totals.params == 132_863_336
    assert archstat.analyze("vgg13").totals.params == 133_047_848
    assert archstat.analyze("vgg19").totals.params == 143_667_240


def test_set_num_classes_changes_only_fc8():
    s = archstat.analyze("vgg16", {"num_classes": 10})
    assert s.rows[-1].weights == 40_960                      # 4096*10
    assert s.totals.params == 138_357_544 - 4_097_000 + 40_970
