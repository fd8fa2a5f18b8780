"""Issue 33 item 10: the Python API as a torchinfo user types it in a notebook or a script: ``print(stats)`` is the
table, ``stats.to_dict()`` the command line's JSON, real tensors as ``input_data``, a shape with its batch of one
answered with what was meant, a torchvision model without a shape (tests/test_first_hour.py)."""

import json

import pytest

import archstat

OWN = "module:tests/fixtures/own_input.py"


def test_print_shows_the_table_fitted_to_the_width(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    stats = archstat.analyze("resnet18")
    print(stats)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("resnet18 — ResNet-18")
    assert any(line.startswith("Layer ") for line in lines) and any(line.startswith("TOTAL ") for line in lines)
    assert max(map(len, lines)) <= 100
    assert str(stats) == out[:-1]            # print adds the newline
    assert repr(stats).startswith("<ModelStats resnet18:")   # the one-line repr stays


def test_to_dict_is_the_clis_json(cli):
    stats = archstat.analyze("vgg16", batch=2)
    r = cli("table", "vgg16", "--batch", "2", "--format", "json")
    assert stats.to_dict() == json.loads(r.stdout)
    assert json.loads(stats.to_json()) == stats.to_dict()
    assert stats.to_dict(units="flops")["totals"]["flops"] == 2 * stats.totals.macs
    c = archstat.compare(["vgg11", "vgg13"])
    assert c.to_dict() == json.loads(cli("compare", "vgg11", "vgg13", "--format", "json").stdout)


def test_a_roofline_prints_and_has_its_json(cli, capsys, xdg_cache):
    rl = archstat.roofline("resnet18", device="h100", batch=4)
    assert rl.to_dict() == json.loads(cli("roofline", "resnet18", "--device", "h100", "--batch", "4",
                                          "--format", "json").stdout)
    print(rl)
    out = capsys.readouterr().out
    assert "predicted latency" in out and f"bound: {rl.bound}" in out
    assert repr(rl).startswith("<Roofline resnet18 on h100:") and "<pre>" in rl._repr_html_()


def test_input_data_takes_real_tensors_as_torchinfo():
    torch = pytest.importorskip("torch")
    from tests.fixtures.own_input import needs_input

    model = needs_input()
    # 3×3 conv 3→8 on 32×32: 1024·8·27 = 221,184 MACs, + linear 8·10 = 80, per sample
    stats = archstat.analyze(model, input_data=torch.randn(4, 3, 32, 32))
    assert (stats.batch, stats.input_shape, stats.totals.macs) == (4, (3, 32, 32), 4 * 221_264)
    assert archstat.analyze(model, input_data=[torch.randn(2, 3, 32, 32)]).batch == 2     # a list of positional
    assert archstat.analyze(model, input_data=(torch.randn(2, 3, 32, 32),), batch=8).batch == 8   # batch= wins
    assert archstat.analyze("resnet18", input_data=torch.zeros(2, 3, 64, 64)).input_shape == (3, 64, 64)
    with pytest.raises(archstat.ArgumentValueError, match="give input_shape or input_data, not both"):
        archstat.analyze(model, input_shape=(3, 32, 32), input_data=torch.zeros(1, 3, 32, 32))
    with pytest.raises(archstat.ArgumentTypeError, match="input_data: expected a tensor"):
        archstat.analyze(model, input_data="3x32x32")


def test_a_shape_with_its_batch_of_one_says_what_was_meant(cli):
    pytest.importorskip("torch")
    from tests.fixtures.own_input import needs_input

    with pytest.raises(archstat.ArgumentValueError, match=r"^input_shape is one sample, without the batch: did you "
                                                          r"mean \(3, 224, 224\)\?"):
        archstat.analyze(needs_input(), input_shape=(1, 3, 224, 224))
    r = cli("table", f"{OWN}:needs_input", "--input", "1x3x32x32")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --input is one sample, without the batch: did you mean --input 3x32x32?")
    assert len(r.stderr.strip().splitlines()) == 1
