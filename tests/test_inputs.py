"""The input grammar (``--input [NAME=][DTYPE:][unbatched:]D1xD2x…``, repeatable) and the Python
API's ``input_shape=``: parsed exactly, every bad value a one-line usage error. Parsing needs no torch."""

import pytest

import archstat
from archstat.errors import UsageError
from archstat.trace.inputs import InputSpec, normalize, parse_all, parse_one


@pytest.mark.parametrize("text, spec", [
    ("3x16x112x112", InputSpec((3, 16, 112, 112))),                       # a video clip: C×T×H×W
    ("20x32", InputSpec((20, 32))),                                       # a sequence: T×F
    ("input_ids=int64:128", InputSpec((128,), "int64", "input_ids")),
    ("mask=bool:unbatched:10x10", InputSpec((10, 10), "bool", "mask", None)),
    ("20xBx32", InputSpec((20, 32), batch_dim=1)),                        # a sequence-first RNN
    ("t=int64:scalar", InputSpec((), "int64", "t")),                      # one number per sample
    ("3×224×224", InputSpec((3, 224, 224))), ("3,224,224", InputSpec((3, 224, 224))),
])
def test_grammar(text, spec):
    assert parse_one(text) == spec


@pytest.mark.parametrize("spec, batch, whole", [
    (InputSpec((3, 224, 224)), 8, (8, 3, 224, 224)),
    (InputSpec((20, 32), batch_dim=1), 8, (20, 8, 32)),
    (InputSpec((10, 10), batch_dim=None), 8, (10, 10)),
    (InputSpec(()), 4, (4,)),
])
def test_whole_shape_at_a_batch(spec, batch, whole):
    assert spec.whole(batch) == whole


@pytest.mark.parametrize("text, message", [
    ("3x0x4", "--input '3x0x4': sizes must be between 1 and 10,000,000"),
    ("float64:3x4", "--input 'float64:3x4': unknown dtype 'float64' (did you mean 'float16'?)"),
    ("in-put=3", "--input 'in-put=3': 'in-put' is not an argument name"),
    ("3xBxB", "--input '3xBxB': B (where the batch goes) may appear once"),
    ("unbatched:Bx3", "--input 'unbatched:Bx3': an unbatched input has no B"),
    ("x=", "--input 'x=': no shape"),
    ("3xtwo", "--input '3xtwo': 'two' is not a size"),
])
def test_bad_grammar_is_one_usage_error(text, message):
    with pytest.raises(UsageError) as e:
        parse_one(text)
    assert str(e.value).startswith(message)


def test_repeated_inputs_keep_their_order_and_names():
    inputs = parse_all(["3x8x8", "mask=bool:8", "3x8x8"])
    assert [s.shape for s in inputs.positional] == [(3, 8, 8), (3, 8, 8)]
    assert [s.name for s in inputs.keywords] == ["mask"]
    with pytest.raises(UsageError, match="the input mask= is given twice"):
        parse_all(["mask=8", "mask=8"])


@pytest.mark.parametrize("value, specs", [
    ((3, 224, 224), [InputSpec((3, 224, 224))]),
    ([3, 224, 224], [InputSpec((3, 224, 224))]),
    ("3x224x224", [InputSpec((3, 224, 224))]),            # a string is parsed, never iterated
    ([(3, 8, 8), "3x8x8"], [InputSpec((3, 8, 8)), InputSpec((3, 8, 8))]),
    ({"input_ids": "int64:128", "decoder_input_ids": (16,)},
     [InputSpec((128,), "int64", "input_ids"), InputSpec((16,), None, "decoder_input_ids")]),
])
def test_api_input_shape_forms(value, specs):
    assert list(normalize(value).specs) == specs


@pytest.mark.parametrize("value, message", [
    ((3, True, 4), "input_shape[1]: a size must be an integer, got True"),
    ({"x": 3.5}, "input_shape['x']: expected a shape such as (3, 224, 224) or '3x224x224', got 3.5"),
    ({1: (3,)}, "input_shape: the key 1 is not an argument name"),
    (7, "input_shape: expected a shape such as (3, 224, 224), '3x224x224', a list of shapes or a dict"),
    ("3xtwo", "input_shape '3xtwo': 'two' is not a size"),
    ((), "input_shape: an empty shape"),
])
def test_api_bad_input_shape(value, message):
    with pytest.raises(UsageError) as e:    # ArgumentTypeError / ArgumentValueError for a wrong type or value
        normalize(value)
    assert message in str(e.value)
    with pytest.raises(UsageError):
        archstat.analyze("vgg16", input_shape=value)


def test_api_string_input_shape_on_a_config():
    # issue 23 item 11: a string was iterated ('3', 'x', ...); it is parsed in the --input grammar
    assert archstat.analyze("vgg16", input_shape="3x32x32").totals.macs == archstat.analyze(
        "vgg16", input_shape=(3, 32, 32)).totals.macs
    with pytest.raises(UsageError, match="takes a plain C×H×W"):
        archstat.analyze("vgg16", input_shape="x=3x32x32")


def test_config_takes_one_plain_input_on_the_command_line(cli):
    r = cli("table", "vgg16", "--input", "3x32x32", "--input", "3x32x32")
    assert r.exit_code == 2 and r.stderr.strip() == (
        "error: --input: a config takes one input, got 2 (3×32×32, 3×32×32)")
    r = cli("table", "vgg16", "--input", "3x16x112x112")
    assert r.exit_code == 2 and r.stderr.strip() == (
        "error: --input '3x16x112x112': expected 3 sizes (C×H×W) or 1 (a flat input), got 4")
