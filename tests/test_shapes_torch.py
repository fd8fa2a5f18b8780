"""Output-shape formulas against torch on the meta device, where hand formulas go wrong:
ceil_mode, dilation, groups, padding. Either both accept a case with equal shapes, or both refuse it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archstat.errors import ShapeError
from archstat.ops.registry import all_ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

sizes = st.integers(1, 40)


def ours(op, args, shape):
    spec = all_ops()[op]
    try:
        return spec.out_shape(spec.make_args(args), [shape])
    except ShapeError:
        return None


def theirs(fn):
    try:
        out = fn()
    except RuntimeError:
        return None
    if any(d < 1 for d in out.shape):  # torch may return an empty tensor where archstat refuses
        return None
    return tuple(out.shape[1:])


@settings(max_examples=300, deadline=None)
@given(h=sizes, w=sizes, groups=st.integers(1, 4), cin_per=st.integers(1, 3), cout_per=st.integers(1, 3),
       kh=st.integers(1, 7), kw=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3))
def test_conv_shape(h, w, groups, cin_per, cout_per, kh, kw, stride, padding, dilation):
    c_in, c_out = groups * cin_per, groups * cout_per
    x = torch.empty(1, c_in, h, w, device="meta")
    weight = torch.empty(c_out, cin_per, kh, kw, device="meta")
    expected = theirs(lambda: F.conv2d(x, weight, None, stride, padding, dilation, groups))
    got = ours("conv", {"out": c_out, "kernel": [kh, kw], "stride": stride, "padding": padding,
                        "dilation": dilation, "groups": groups}, (c_in, h, w))
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(h=sizes, w=sizes, k=st.integers(1, 6), stride=st.integers(1, 4), padding=st.integers(0, 3),
       dilation=st.integers(1, 3), ceil_mode=st.booleans())
def test_maxpool_shape(h, w, k, stride, padding, dilation, ceil_mode):
    x = torch.empty(1, 2, h, w, device="meta")
    expected = theirs(lambda: F.max_pool2d(x, k, stride, padding, dilation, ceil_mode))
    got = ours("maxpool", {"kernel": k, "stride": stride, "padding": padding, "dilation": dilation,
                           "ceil_mode": ceil_mode}, (2, h, w))
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(h=sizes, w=sizes, k=st.integers(1, 6), stride=st.integers(1, 4), padding=st.integers(0, 3),
       ceil_mode=st.booleans())
def test_avgpool_shape(h, w, k, stride, padding, ceil_mode):
    x = torch.empty(1, 2, h, w, device="meta")
    expected = theirs(lambda: F.avg_pool2d(x, k, stride, padding, ceil_mode))
    got = ours("avgpool", {"kernel": k, "stride": stride, "padding": padding, "ceil_mode": ceil_mode},
               (2, h, w))
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(h=sizes, w=sizes, oh=st.integers(1, 8), ow=st.integers(1, 8))
def test_adaptive_avgpool_shape(h, w, oh, ow):
    x = torch.empty(1, 3, h, w, device="meta")
    expected = theirs(lambda: F.adaptive_avg_pool2d(x, (oh, ow)))
    assert ours("adaptive_avgpool", {"out": [oh, ow]}, (3, h, w)) == expected


def test_ceil_mode_case_torch_and_archstat_agree_on():
    # GoogLeNet's pool after conv1: 112 → 56 with ceil_mode (floor would give 55)
    x = torch.empty(1, 64, 112, 112, device="meta")
    assert tuple(F.max_pool2d(x, 3, 2, 0, 1, True).shape[1:]) == (64, 56, 56)
    assert ours("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, (64, 112, 112)) == (64, 56, 56)
