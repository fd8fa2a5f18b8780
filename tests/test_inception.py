"""The inception modules of cs231n Lecture 9 and GoogLeNet, branch by branch."""

import archstat


def branch_macs(name):
    return {r.name: r.macs for r in archstat.analyze(name).rows if r.macs}


def test_naive_module():
    s = archstat.analyze("googlenet-naive")
    assert branch_macs("googlenet-naive") == {
        "inception.b1.conv1x1": 25_690_112,     # 28*28*128 * 1*1*256
        "inception.b3.conv3x3": 346_816_512,    # 28*28*192 * 3*3*256
        "inception.b5.conv5x5": 481_689_600,    # 28*28*96  * 5*5*256
    }
    assert s.totals.macs == 854_196_224         # the slide's "854M ops"
    assert s.output_shape == (672, 28, 28)      # 128 + 192 + 96 + 256 (the pool keeps its 256)
    assert {c.figure: c.status for c in s.references} == {"macs": "REPRODUCED", "output_depth": "REPRODUCED"}


def test_bottleneck_module():
    s = archstat.analyze("googlenet-bottleneck")
    assert branch_macs("googlenet-bottleneck") == {
        "inception.b1.conv1x1": 25_690_112,     # 28*28*128 * 256
        "inception.b3.reduce": 12_845_056,      # 28*28*64 * 256
        "inception.b3.conv3x3": 86_704_128,     # 28*28*192 * 3*3*64
        "inception.b5.reduce": 12_845_056,      # 28*28*64 * 256
        "inception.b5.conv5x5": 120_422_400,    # 28*28*96 * 5*5*64
        "inception.pool.proj": 12_845_056,      # 28*28*64 * 256
    }
    assert s.totals.macs == 271_351_808
    assert s.output_shape == (480, 28, 28)      # 128 + 192 + 96 + 64
    checks = {c.figure: c for c in s.references}
    assert checks["macs"].status == "NOT REPRODUCED"                 # 271M against "358M"
    # the slide's 358,055,936 = its rows with the 3x3 conv reading 128 channels:
    assert 271_351_808 - 86_704_128 + 28 * 28 * 192 * 9 * 128 == 358_055_936
    assert "358,055,936" in checks["macs"].note
    # with c3_reduce=128 the reduce widens too: + 28*28*64*256 + 28*28*192*9*64
    assert checks["macs_with_3b_reduce"].computed == 271_351_808 + 12_845_056 + 86_704_128 == 370_900_992
    assert checks["macs_with_3b_reduce"].status == "NOT REPRODUCED"
    assert checks["output_depth"].status == "REPRODUCED"


def test_c3_reduce_param():
    s = archstat.analyze("googlenet-bottleneck", {"c3_reduce": 128})
    assert s.totals.macs == 370_900_992


def test_inception3b_from_the_paper():
    s = archstat.analyze("googlenet-inception3b")
    # 28*28 * (128*256 + 128*256 + 192*9*128 + 32*256 + 96*25*32 + 64*256) = 784 * 388_096
    assert s.totals.macs == 304_267_264          # Table 1: "304M"
    assert s.totals.weights == 388_096           # Table 1: "388K"
    assert s.output_shape == (480, 28, 28)
    assert all(c.status == "REPRODUCED" for c in s.references)


def test_googlenet_params_with_and_without_aux_heads():
    eval_ = archstat.analyze("googlenet")
    train = archstat.analyze("googlenet", mode="train")
    assert eval_.totals.params == 6_998_552
    # each head: conv 1x1 128 (C*128 + 128), FC 2048→1024 (+1024), FC 1024→1000 (+1000);
    # C = 512 after 4a, 528 after 4d
    head = lambda c: c * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    assert train.totals.params == 6_998_552 + head(512) + head(528) == 13_378_280
    assert eval_.aux_params == head(512) + head(528)
    assert not any(r.aux for r in eval_.rows)
    assert sum(r.aux for r in train.rows) == 8    # 2 heads × (pool, conv, fc, fc) after folding


def test_googlenet_reference_block():
    checks = {c.figure: c for c in archstat.analyze("googlenet").references}
    assert checks["layers"].computed == 22 and checks["layers"].status == "REPRODUCED"
    assert checks["params_lecture"].status == "NOT REPRODUCED"      # 7.0M, not "5 million"
    # "12x less than AlexNet": 60,965,224 / 6,998,552
    assert abs(float(checks["params_vs_alexnet"].computed) - 60_965_224 / 6_998_552) < 1e-9
    assert checks["params_vs_alexnet"].status == "NOT REPRODUCED"
    assert checks["macs"].computed == 1_582_671_872


def test_googlenet_torchvision():
    s = archstat.analyze("googlenet-torchvision")
    assert s.totals.params == 6_624_904            # torchvision's num_params
    assert s.totals.macs == 1_498_376_192          # torchvision's "1.50 GFLOPS" (multiply-adds)
    assert archstat.analyze("googlenet-torchvision", mode="train").totals.params == 13_004_888
