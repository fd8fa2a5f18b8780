"""Issue 31 item 7: `roofline --device h100,h200,b200,mi300x` and `archstat.roofline(model, device=[...])`: the
model is traced (or its recipes planned) once and predicted on each device; the table has a column per device,
JSON is a list of the one-device objects in the order given, CSV and markdown a row per device."""

import csv
import io
import json

import pytest

import archstat
from archstat import api

pytestmark = pytest.mark.usefixtures("xdg_cache")


@pytest.fixture
def program_calls(monkeypatch):
    """How many times api.program (the trace, or a config's recipes) ran."""
    calls = []
    real = api.program

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "program", counting)
    return calls


def test_api_takes_a_list_or_a_comma_string_and_plans_once(program_calls):
    several = archstat.roofline("resnet18", device=["h100", "a100"], batch=8)
    assert len(program_calls) == 1
    assert isinstance(several, list) and [r.roof.device for r in several] == ["h100", "a100"]
    same = archstat.roofline("resnet18", device="h100,a100", batch=8)
    assert [r.predicted_s for r in same] == [r.predicted_s for r in several]
    one = archstat.roofline("resnet18", device="a100", batch=8)   # one device: one Roofline, as before
    assert not isinstance(one, list)
    # each entry is exactly the one-device prediction
    from archstat.report.roofline_report import as_dict

    assert as_dict(several[1]) == as_dict(one)
    assert isinstance(archstat.roofline("resnet18", device=["a100"]), list)   # a list of one stays a list


def test_a_module_is_traced_once_for_every_device(monkeypatch):
    pytest.importorskip("torch")
    from archstat.trace import factory

    traced = []
    real = factory.analyze_target
    monkeypatch.setattr(factory, "analyze_target", lambda *a, **k: traced.append(a[0]) or real(*a, **k))
    results = archstat.roofline("module:tests/fixtures/user_net.py:make", device="h100,a100,l4",
                                input_shape=(3, 32, 32))
    assert len(traced) == 1 and [r.roof.device for r in results] == ["h100", "a100", "l4"]


def test_a_bad_device_fails_before_tracing(program_calls):
    with pytest.raises(archstat.errors.ArchstatError, match=r"unknown device .nope."):
        archstat.roofline("resnet18", device=["h100", "nope"])
    assert program_calls == []
    with pytest.raises(archstat.errors.ArgumentValueError, match="an empty device name"):
        archstat.roofline("resnet18", device="h100,")
    with pytest.raises(archstat.errors.ArgumentTypeError, match="expected a device name"):
        archstat.roofline("resnet18", device=["h100", 3])


def test_cli_table_has_a_column_per_device(cli, program_calls):
    r = cli("roofline", "resnet50", "--device", "h100,h200,b200,mi300x", env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.stderr
    assert len(program_calls) == 1
    head = next(line for line in r.stdout.splitlines() if line.strip().startswith("h100"))
    assert head.split() == ["h100", "h200", "b200", "mi300x"]
    for metric in ("latency/batch", "throughput", "bound", "band"):
        assert any(line.startswith(metric) for line in r.stdout.splitlines()), metric
    bound = next(line for line in r.stdout.splitlines() if line.startswith("bound"))
    assert set(bound.split()[1:]) <= {"host", "device"} and len(bound.split()) == 5


def test_cli_json_is_a_list_of_the_one_device_objects_in_order(cli):
    r = cli("roofline", "resnet18", "--device", "a100,h100", "--batch", "4", "--format", "json")
    assert r.exit_code == 0, r.stderr
    several = json.loads(r.stdout)
    assert [d["device"]["key"] for d in several] == ["a100", "h100"]
    one = json.loads(cli("roofline", "resnet18", "--device", "h100", "--batch", "4", "--format", "json").stdout)
    assert several[1] == one


def test_cli_csv_and_markdown_have_a_row_per_device(cli):
    r = cli("roofline", "resnet18", "--device", "h100,a100", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [x["device"] for x in rows] == ["h100", "a100"]
    one = archstat.roofline("resnet18", device="a100")
    assert float(rows[1]["predicted_s"]) == pytest.approx(one.predicted_s) and rows[1]["bound"] == one.bound
    md = cli("roofline", "resnet18", "--device", "h100,a100", "--format", "markdown").stdout
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2 and table[2].startswith("| h100 |") and table[3].startswith("| a100 |")
    assert len({line.count(" | ") for line in table}) == 1     # the rule has as many cells as the rows


@pytest.mark.parametrize("args, message", [
    (["roofline", "resnet18", "--device", "cpu,h100", "--calibrate"], "--calibrate measures one device"),
    (["roofline", "resnet18", "--device", "h100,a100", "--columns", "layer,macs"], "--columns chooses the per-layer"),
    (["compare", "resnet18", "vgg11", "--device", "h100,a100"], "compare predicts on one device"),
    (["roofline", "resnet18", "--device", "h100,"], "error: --device 'h100,': an empty device name"),
])
def test_where_a_list_does_not_apply_one_line(cli, args, message):
    r = cli(*args)
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
