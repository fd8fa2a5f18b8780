"""Receptive fields of chains and branched modules against hand arithmetic."""

import archstat


def fields(name, **kw):
    return {r.name: r.rf for r in archstat.analyze(name, **kw).rows}


def test_vgg16_chain():
    rf = fields("vgg16")
    # each 3x3 conv adds 2*jump; each 2x2/2 pool adds 1*jump and doubles the jump:
    # 1 +2+2 (5) +1 (6, j2) +4+4 (14) +2 (16, j4) +8*3 (40) +4 (44, j8) +16*3 (92) +8 (100, j16)
    # +32*3 (196) +16 (212, j32)
    assert rf["conv5_3"].size == (196, 196)
    assert rf["pool5"].size == (212, 212)
    assert rf["pool5"].jump == (32, 32)
    assert rf["conv1_1"].start == (-1, -1)          # padding 1: the first field starts in the padding
    assert rf["fc6"].is_global


def test_seven_by_seven_argument():
    assert archstat.analyze("conv7x7").receptive_field.size == (7, 7)
    assert archstat.analyze("conv3x3-stack").receptive_field.size == (7, 7)   # 1 + 2 + 2 + 2
    assert archstat.analyze("conv7x7").totals.weights == 49 * 64 * 64
    assert archstat.analyze("conv3x3-stack").totals.weights == 27 * 64 * 64
    assert archstat.analyze("conv3x3-stack", {"C": 32}).totals.weights == 27 * 32 * 32


def test_branches_and_merge_take_the_largest_field():
    rf = fields("googlenet-bottleneck")
    assert rf["inception.b1.conv1x1"].size == (1, 1)
    assert rf["inception.b3.conv3x3"].size == (3, 3)     # 1x1 then 3x3
    assert rf["inception.b5.conv5x5"].size == (5, 5)
    assert rf["inception.pool.proj"].size == (3, 3)      # 3x3 pool then 1x1
    assert rf["inception"].size == (5, 5)                # the concat: the largest of its inputs


def test_googlenet_field_grows_through_modules():
    rf = fields("googlenet", depth=1)
    # conv1 7x7/2 (7, j2), pool 3x3/2 (7+2*2 = 11, j4), conv 1x1 (11), conv 3x3 (11+2*4 = 19)
    assert rf["conv1"].size == (7, 7)
    assert rf["pool1"].size == (11, 11)
    assert rf["conv2"].size == (19, 19)
    assert rf["pool2"].size == (27, 27)                  # 19 + 2*4, jump 8
    assert rf["inception3a"].size == (59, 59)            # 5x5 branch: 27 + 4*8
