"""The aten-op table (archstat/ir/aten.py): one row per operator, each row complete, no duplicate, and
the tracer, the planner and the autocast pass reading nothing but it."""

import ast
from pathlib import Path

import pytest

from archstat.ir import aten
from archstat.ir.aten import Autocast, Cost, Epilogue, Kind, Sub
from archstat.ir.program import OpCall, TensorRef

PACKAGE = Path(__file__).resolve().parent.parent / "archstat"

# names in the table that torch 2.13's aten namespace does not have: torchvision's operators (the
# tracer keys them by their bare name) and operators of other torch versions the planner has seen
FOREIGN = {"nms", "roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool",        # torchvision::
           "_linear", "adaptive_avg_pool2d_backward", "unique",
           "all_reduce", "all_gather_into_tensor"}                            # torch.ops._c10d_functional


def test_a_second_registration_of_a_name_is_refused():
    with pytest.raises(aten.DuplicateOp, match=r"aten\.addmm is registered twice"):
        aten.register("addmm", Cost.MACS, Kind.GEMM, macs=aten.addmm)
    assert aten.get("addmm").macs is aten.addmm          # the first row stands


@pytest.mark.parametrize("facts, message", [
    (dict(cost=Cost.MACS, kind=Kind.GEMM), "a formula exactly when its cost is 'macs'"),
    (dict(cost=Cost.ZERO, kind=Kind.GEMM, macs=aten.mm), "a formula exactly when its cost is 'macs'"),
    (dict(cost=Cost.ZERO, kind=Kind.MEMORY), "a memory kernel has a memory sub-kind"),
    (dict(cost=Cost.ZERO, kind=Kind.GEMM, sub=Sub.POINTWISE), "a memory kernel has a memory sub-kind"),
])
def test_an_incomplete_row_is_refused(facts, message):
    with pytest.raises(ValueError, match=message):
        aten.AtenOp("made_up_op", **facts)
    assert aten.get("made_up_op") is None


def test_every_row_is_complete():
    for name, row in aten.TABLE.items():
        assert row.name == name
        assert isinstance(row.cost, Cost) and isinstance(row.kind, Kind) and isinstance(row.sub, Sub)
        assert isinstance(row.autocast, Autocast) and isinstance(row.epilogue, Epilogue)
        assert (row.macs is not None) == (row.cost is Cost.MACS), name
        assert (row.kind is Kind.MEMORY) == (row.sub not in (Sub.NONE, Sub.VIEW, Sub.ALLOC)), name
        if row.factory:
            assert row.sub in (Sub.FILL, Sub.ALLOC), name
        if row.epilogue is Epilogue.FOLD:
            assert row.sub is Sub.NORM, name           # only batch norm folds into a convolution's weights


def test_every_row_names_an_operator_torch_has():
    torch = pytest.importorskip("torch")
    missing = [n for n in aten.TABLE if not n.startswith("quantized::") and n not in FOREIGN
               and not hasattr(torch.ops.aten, n)]
    assert not missing, f"rows for operators aten does not have (typos?): {missing}"


def test_the_view_rows_agree_with_the_tracer():
    torch = pytest.importorskip("torch")
    from archstat.trace import aten_costs

    for name, row in aten.TABLE.items():
        packet = getattr(torch.ops.aten, name, None) if not name.startswith("quantized::") else None
        if packet is None or not packet.overloads():
            continue
        func = getattr(packet, packet.overloads()[0])
        assert aten_costs.key(func) == name
        if row.cost is Cost.VIEW:
            assert aten_costs.is_view(func), name
        if row.cost in (Cost.MACS, Cost.DATA, Cost.ZERO):
            assert aten_costs.kind(func) == str(row.cost), name


def _literal_op_sets(path: Path) -> list[str]:
    """Module-level frozensets or tuples of operator names in a module (the classifying sets the table
    replaced): there must be none left."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "frozenset":
                names = [getattr(t, "id", "") for t in node.targets]
                if any(n.endswith("_OPS") or n in ("LOWER", "FP32", "ZERO", "VIEWS", "DATA", "FILLS")
                       for n in names):
                    found.append(f"{path.name}: {names}")
    return found


def test_the_tracer_planner_and_autocast_pass_keep_no_operator_sets_of_their_own():
    modules = [PACKAGE / "trace" / "aten_costs.py", PACKAGE / "perf" / "plan.py", PACKAGE / "perf" / "precision.py"]
    assert not [f for m in modules for f in _literal_op_sets(m)]


@pytest.mark.parametrize("op, attrs, outputs, expected", [
    ("addmm", {}, True, (Kind.GEMM, Sub.NONE)),
    ("relu_", {}, True, (Kind.MEMORY, Sub.POINTWISE)),
    ("hardtanh_", {}, True, (Kind.MEMORY, Sub.POINTWISE)),        # the in-place form of a pointwise row
    ("native_layer_norm", {}, True, (Kind.MEMORY, Sub.NORM)),
    ("zeros", {}, True, (Kind.MEMORY, Sub.FILL)),                 # a factory that writes
    ("zeros", {}, False, (Kind.HOST, Sub.ALLOC)),
    ("empty", {}, True, (Kind.HOST, Sub.ALLOC)),                  # a factory that only allocates
    ("_to_copy", {"cast": True}, True, (Kind.MEMORY, Sub.CAST)),  # a cast autocast inserted
    ("_to_copy", {}, True, (Kind.MEMORY, Sub.COPY)),
    ("some_new_op", {"pointwise": True}, True, (Kind.MEMORY, Sub.POINTWISE)),   # torch tags it pointwise
    ("some_new_op", {}, True, (Kind.MEMORY, Sub.OTHER)),          # no kernel model: a generic pass
    ("some_new_op", {}, False, (Kind.HOST, Sub.ALLOC)),
])
def test_the_planner_classifies_by_the_row_and_the_call(op, attrs, outputs, expected):
    from archstat.perf.plan import classify

    t = TensorRef((2, 3), "float32", 1)
    assert classify(OpCall(op, "", (t,), (t,) if outputs else (), attrs=attrs)) == expected


def test_a_depthwise_convolution_is_told_by_its_weight():
    from archstat.perf.plan import classify

    x = TensorRef((1, 8, 4, 4), "float32", 1)
    dw = TensorRef((8, 1, 3, 3), "float32", 2, "param")
    full = TensorRef((8, 8, 3, 3), "float32", 3, "param")
    y = TensorRef((1, 8, 4, 4), "float32", 4)
    assert classify(OpCall("convolution", "", (x, dw), (y,), attrs={"groups": 8})) == (Kind.DEPTHWISE, Sub.NONE)
    assert classify(OpCall("convolution", "", (x, full), (y,), attrs={"groups": 1})) == (Kind.CONV, Sub.NONE)
