"""A YAML config's operators, without torch: the operator calls each op's module runs, from its
arguments and shapes alone (the performance model's half of every op).

Every YAML op builds one torch module (``archstat build``); its recipe here writes down the aten
operators that module runs in eval mode, with the shapes they run on, so a config's prediction needs no
torch and equals a traced module's. A recipe is attached to its registered op (``OpSpec.operators``)
when this module loads, as ``builder/torch_ops`` attaches the torch half; loading refuses a registry in
which an op has no recipe, so an op without one fails the first prediction (and ``tests/test_perf.py``),
never a config that happens to use it. ``tests/test_perf.py`` checks every zoo config against the trace
of its built module, operator for operator (name, bytes read and written, MACs).
"""

from __future__ import annotations

from collections.abc import Callable

from archstat.analyze.stats import node_costs
from archstat.graph import Graph, Node
from archstat.ir.program import OpCall, TensorRef, numel
from archstat.ops.registry import all_ops, get_op

F32 = "float32"


class _Ids:
    """Storage numbers: one per node output, per parameter, per temporary."""

    def __init__(self):
        self.n = 0
        self.of: dict[str, int] = {}

    def get(self, key: str) -> int:
        if key not in self.of:
            self.n += 1
            self.of[key] = self.n
        return self.of[key]

    def new(self) -> int:
        self.n += 1
        return self.n


class _Ctx:
    def __init__(self, node: Node, batch: int, ids: _Ids, inputs: list[TensorRef]):
        self.node, self.batch, self.ids, self.inputs = node, batch, ids, inputs
        self.calls: list[OpCall] = []
        self.out_id = ids.get(node.name)
        self.out_layout = ""
        self.row = node.name

    def t(self, shape, tid=None, role="", layout="", dtype=F32) -> TensorRef:
        """A tensor: ``tid`` names an existing storage, else a new one."""
        return TensorRef(tuple(int(s) for s in shape), dtype, self.ids.new() if tid is None else tid, role, layout)

    def param(self, suffix: str, shape) -> TensorRef:
        return self.t(shape, self.ids.get(f"{self.node.name}.{suffix}"), role="param")

    def buffer(self, suffix: str, shape, dtype=F32) -> TensorRef:
        return self.t(shape, self.ids.get(f"{self.node.name}.{suffix}"), role="buffer", dtype=dtype)

    def out(self, shape) -> TensorRef:
        return self.t(shape, self.out_id)

    def k(self, op: str, ins, outs=(), macs: int = 0, row: str = "", **attrs) -> OpCall:
        kern = OpCall(op, row or self.row, tuple(ins), tuple(outs), macs, inplace=op.endswith("_") and not outs == (),
                      attrs=attrs)
        self.calls.append(kern)
        return kern

    def view(self, op: str, src: TensorRef, shape=None, layout="") -> TensorRef:
        """A view: no kernel runs; the result shares ``src``'s storage (an expand that broadcasts keeps
        the distinct elements of its source)."""
        self.calls.append(OpCall(op, self.row, (src,), (), view=True))
        shape = tuple(shape) if shape is not None else src.shape
        elements = src.distinct if op == "expand" and numel(shape) > src.distinct else src.elements
        return TensorRef(shape, src.dtype, src.id, src.role, layout or src.layout, elements)


def _b(ctx: _Ctx, shape) -> tuple[int, ...]:
    return (ctx.batch, *shape)


# -- recipes: one per YAML op -------------------------------------------------------------------------

def _conv(ctx: _Ctx):
    a, node = ctx.node.args, ctx.node
    x = ctx.inputs[0]
    c_in = node.in_shapes[0][0]
    w = ctx.param("weight", (a.out, c_in // a.groups, *a.kernel))
    ins = [x, w] + ([ctx.param("bias", (a.out,))] if a.bias else [])
    macs = node_costs(node)[3] * ctx.batch
    ctx.k("convolution", ins, [ctx.out(_b(ctx, node.shape))], macs, stride=list(a.stride), padding=list(a.padding),
          dilation=list(a.dilation), transposed=False, output_padding=[0, 0], groups=a.groups)


def _bn(ctx: _Ctx):
    x = ctx.inputs[0]
    c = ctx.node.in_shapes[0][0]
    ps = [ctx.param("weight", (c,)), ctx.param("bias", (c,)), ctx.buffer("running_mean", (c,)),
          ctx.buffer("running_var", (c,))]
    if not ctx.node.args.affine:
        ps = ps[2:]
    ctx.k("empty", [], [ctx.t((0,))])    # torch's eval batch norm allocates its (unused) reserve first
    ctx.k("native_batch_norm", [x, *ps], [ctx.out(x.shape), ctx.t((c,)), ctx.t((c,))], training=False)


def _pointwise(op: str, inplace_op: str = "") -> Callable:
    def recipe(ctx: _Ctx):
        x = ctx.inputs[0]
        ctx.out_layout = x.layout               # an elementwise op keeps its input's strides
        if inplace_op and getattr(ctx.node.args, "inplace", False):
            ctx.k(inplace_op, [x], [x], pointwise=True)
            ctx.out_id = x.id
            return
        ctx.k(op, [x], [ctx.out(x.shape)], pointwise=True)
    return recipe


def _relu(ctx: _Ctx):
    x = ctx.inputs[0]
    ctx.out_layout = x.layout
    if ctx.node.args.inplace:
        ctx.k("relu_", [x], [x], pointwise=True)
        ctx.out_id = x.id
    else:
        ctx.k("relu", [x], [ctx.out(x.shape)], pointwise=True)


def _maxpool(ctx: _Ctx):
    a = ctx.node.args
    x = ctx.inputs[0]
    shape = _b(ctx, ctx.node.shape)
    ctx.k("max_pool2d_with_indices", [x], [ctx.out(shape), ctx.t(shape, dtype="int64")],
          kernel_size=list(a.kernel), stride=list(a.stride or a.kernel), padding=list(a.padding),
          dilation=list(a.dilation), ceil_mode=a.ceil_mode)


def _avgpool(ctx: _Ctx):
    a = ctx.node.args
    ctx.k("avg_pool2d", [ctx.inputs[0]], [ctx.out(_b(ctx, ctx.node.shape))], kernel_size=list(a.kernel),
          stride=list(a.stride or a.kernel), padding=list(a.padding), ceil_mode=a.ceil_mode)


def _adaptive_avgpool(ctx: _Ctx):
    x = ctx.inputs[0]
    shape = _b(ctx, ctx.node.shape)
    if tuple(ctx.node.shape[1:]) == (1, 1):          # torch reduces a 1×1 output with mean
        ctx.k("mean", [x], [ctx.out(shape)])
        if x.layout:                                  # … and restrides it like a non-contiguous input
            ctx.view("as_strided_", ctx.t(shape, ctx.out_id))
        return
    ctx.k("_adaptive_avg_pool2d", [x], [ctx.out(shape)])


def _linear(ctx: _Ctx):
    a = ctx.node.args
    x = ctx.inputs[0]
    d_in = x.shape[-1]
    w = ctx.param("weight", (a.out, d_in))
    rows = numel(x.shape[:-1])
    macs = rows * d_in * a.out
    flat = len(x.shape) > 2
    if a.bias:     # addmm: torch flattens the leading dims first, then transposes the weight
        src = ctx.view("view", x, (rows, d_in)) if flat else x
        wt = ctx.view("t", w, (d_in, a.out))
    else:          # matmul: the weight's transpose first
        wt = ctx.view("t", w, (d_in, a.out))
        src = ctx.view("view", x, (rows, d_in)) if flat else x
    out_shape = (*x.shape[:-1], a.out)
    y = ctx.t((rows, a.out), ctx.out_id)
    if a.bias:
        ctx.k("addmm", [ctx.param("bias", (a.out,)), src, wt], [y], macs)
    else:
        ctx.k("mm", [src, wt], [y], macs)
        if flat:
            ctx.view("_unsafe_view", y, out_shape)
            return
    if flat:
        ctx.view("view", y, out_shape)


def _merge_add(ctx: _Ctx):
    xs = ctx.inputs
    ctx.out_layout = xs[0].layout
    shape = _b(ctx, ctx.node.shape)
    acc = xs[0]
    for i, x in enumerate(xs[1:]):
        last = i == len(xs) - 2
        acc_new = ctx.out(shape) if last else ctx.t(shape)
        ctx.k("add", [acc, x], [acc_new], pointwise=True)
        acc = acc_new


def _merge_mul(ctx: _Ctx):
    xs = ctx.inputs
    ctx.out_layout = xs[0].layout
    shape = _b(ctx, ctx.node.shape)
    acc = xs[0]
    for i, x in enumerate(xs[1:]):
        last = i == len(xs) - 2
        acc_new = ctx.out(shape) if last else ctx.t(shape)
        ctx.k("mul", [acc, x], [acc_new], pointwise=True)
        acc = acc_new


def _concat(ctx: _Ctx):
    ctx.k("cat", ctx.inputs, [ctx.out(_b(ctx, ctx.node.shape))])


def _mean(ctx: _Ctx):
    shape = _b(ctx, ctx.node.shape)
    stacked = ctx.t((len(ctx.inputs), *shape))
    ctx.k("stack", ctx.inputs, [stacked])
    ctx.k("mean", [stacked], [ctx.out(shape)])


def _view_of_input(op: str) -> Callable:
    def recipe(ctx: _Ctx):
        x = ctx.inputs[0]
        ctx.view(op, x, _b(ctx, ctx.node.shape))
        ctx.out_id = x.id
        if op == "permute":
            dims = tuple(ctx.node.args.dims)
            moves = [d for i, d in enumerate(dims) if x.shape[d + 1] > 1]      # per-sample dims; size 1 moves freely
            if moves == sorted(moves):
                ctx.out_layout = ""
            else:
                ctx.out_layout = "channels_last" if len(x.shape) == 4 and dims == (2, 0, 1) else "strided"
        elif op == "split":
            ctx.out_layout = "strided"
        else:
            ctx.out_layout = x.layout if op == "select" else ""
    return recipe


def _nothing(ctx: _Ctx):
    ctx.out_id = ctx.inputs[0].id
    ctx.out_layout = ctx.inputs[0].layout


def _softmax(ctx: _Ctx):
    ctx.k("_softmax", [ctx.inputs[0]], [ctx.out(ctx.inputs[0].shape)])


def _layer_norm(ctx: _Ctx):
    x = ctx.inputs[0]
    d = x.shape[-1]
    ps = [ctx.param("weight", (d,)), ctx.param("bias", (d,))] if ctx.node.args.affine else []
    lead = (*x.shape[:-1], 1)
    ctx.k("native_layer_norm", [x, *ps], [ctx.out(x.shape), ctx.t(lead), ctx.t(lead)])


def _layer_norm2d(ctx: _Ctx):
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    xl = ctx.view("permute", x, (n, h, w, c), layout="strided")
    ps = [ctx.param("weight", (c,)), ctx.param("bias", (c,))] if ctx.node.args.affine else []
    y = ctx.t((n, h, w, c), ctx.out_id)
    ctx.k("native_layer_norm", [xl, *ps], [y, ctx.t((n, h, w, 1)), ctx.t((n, h, w, 1))])
    ctx.view("permute", y, (n, c, h, w))
    ctx.out_layout = "channels_last" if h * w > 1 else ""   # the N×H×W×C result seen as N×C×H×W


def _layer_scale(ctx: _Ctx):
    x = ctx.inputs[0]
    ctx.out_layout = x.layout
    shape = (x.shape[1], 1, 1) if len(x.shape) == 4 else (x.shape[-1],)
    ctx.k("mul", [x, ctx.param("weight", shape)], [ctx.out(x.shape)], pointwise=True)


def _affine(ctx: _Ctx):
    x = ctx.inputs[0]
    c = x.shape[1]
    w = ctx.view("view", ctx.param("weight", (c,)), (1, c, 1, 1))
    tmp = ctx.t(x.shape)
    ctx.k("mul", [x, w], [tmp], pointwise=True)
    b = ctx.view("view", ctx.param("bias", (c,)), (1, c, 1, 1))
    ctx.k("add", [tmp, b], [ctx.out(x.shape)], pointwise=True)


def _channel_shuffle(ctx: _Ctx):
    ctx.k("channel_shuffle", [ctx.inputs[0]], [ctx.out(ctx.inputs[0].shape)])


def _class_token(ctx: _Ctx):
    x = ctx.inputs[0]
    d = x.shape[-1]
    tok = ctx.view("expand", ctx.param("weight", (1, 1, d)), (ctx.batch, 1, d))
    ctx.k("cat", [tok, x], [ctx.out(_b(ctx, ctx.node.shape))])


def _pos_embed(ctx: _Ctx):
    x = ctx.inputs[0]
    ctx.k("add", [x, ctx.param("weight", (1, *x.shape[1:]))], [ctx.out(x.shape)], pointwise=True)


def _patch_embed(ctx: _Ctx):
    a, node = ctx.node.args, ctx.node
    x = ctx.inputs[0]
    c_in, h, w = node.in_shapes[0]
    gh, gw = h // a.patch[0], w // a.patch[1]
    wt = ctx.param("weight", (a.out, c_in, *a.patch))
    ins = [x, wt] + ([ctx.param("bias", (a.out,))] if a.bias else [])
    y = ctx.t((ctx.batch, a.out, gh, gw), ctx.out_id)
    ctx.k("convolution", ins, [y], node_costs(node)[3] * ctx.batch, stride=list(a.patch), padding=[0, 0],
          dilation=[1, 1], transposed=False, output_padding=[0, 0], groups=1)
    f = ctx.view("view", y, (ctx.batch, a.out, gh * gw))
    ctx.view("transpose", f, (ctx.batch, gh * gw, a.out), layout="strided")


def _pad_shortcut(ctx: _Ctx):
    a = ctx.node.args
    x = ctx.inputs[0]
    s = ctx.node.args.stride
    h, w = -(-x.shape[2] // s), -(-x.shape[3] // s)
    sub = ctx.view("slice", x, (x.shape[0], x.shape[1], h, x.shape[3]), layout="strided")
    sub = ctx.view("slice", sub, (x.shape[0], x.shape[1], h, w), layout="strided")
    ctx.k("constant_pad_nd", [sub], [ctx.out(_b(ctx, ctx.node.shape))])
    del a


def _self_attention(ctx: _Ctx):
    """archstat's MultiHeadSelfAttention (one row: its module is a leaf)."""
    a = ctx.node.args
    x = ctx.inputs[0]
    b, l, d = x.shape
    heads, e = a.heads, d // a.heads
    w = ctx.param("qkv.weight", (3 * d, d))
    src = ctx.view("view", x, (b * l, d))
    wt = ctx.view("t", w, (d, 3 * d))
    qkv = ctx.t((b * l, 3 * d))
    ins = ([ctx.param("qkv.bias", (3 * d,)), src, wt] if a.bias else [src, wt])
    ctx.k("addmm" if a.bias else "mm", ins, [qkv], b * l * d * 3 * d)
    qkv = ctx.view("view", qkv, (b, l, 3 * d))
    r = ctx.view("view", qkv, (b, l, 3, heads, e))
    p = ctx.view("permute", r, (3, b, heads, l, e), layout="strided")
    q = ctx.view("unbind", p, (b, heads, l, e), layout="strided")
    macs = b * heads * l * l * e * 2
    o = ctx.t((b, heads, l, e))
    ctx.k("scaled_dot_product_attention", [q, q, q], [o], macs, is_causal=False, mask=False)
    tr = ctx.view("transpose", o, (b, l, heads, e), layout="strided")
    c = ctx.t((b, l, heads, e))
    ctx.k("clone", [tr], [c])
    flat = ctx.view("_unsafe_view", c, (b, l, d))
    pw = ctx.param("proj.weight", (d, d))
    src = ctx.view("view", flat, (b * l, d))
    pwt = ctx.view("t", pw, (d, d))
    y = ctx.t((b * l, d), ctx.out_id)
    ins = ([ctx.param("proj.bias", (d,)), src, pwt] if a.bias else [src, pwt])
    ctx.k("addmm" if a.bias else "mm", ins, [y], b * l * d * d)
    ctx.view("view", y, (b, l, d))


def _lrn(ctx: _Ctx):
    """torch.nn.LocalResponseNorm on N×C×H×W: x / (k + alpha · avg_pool3d(pad(x²)))^beta."""
    a = ctx.node.args
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    sq = ctx.t(x.shape)
    ctx.k("mul", [x, x], [sq], pointwise=True)
    sq5 = ctx.view("view", sq, (n, 1, c, h, w))
    padded = ctx.t((n, 1, c + a.size // 2 + (a.size - 1) // 2, h, w))
    ctx.k("constant_pad_nd", [sq5], [padded])
    pooled = ctx.t((n, 1, c, h, w))
    ctx.k("avg_pool3d", [padded], [pooled])
    sq4 = ctx.view("squeeze", pooled, (n, c, h, w))
    sq4 = ctx.view("view", sq4, (n, c, h, w))
    prev = sq4
    for op in ("mul", "add", "pow"):
        nxt = ctx.t(x.shape)
        ctx.k(op, [prev], [nxt], pointwise=True)
        prev = nxt
    ctx.k("div", [x, prev], [ctx.out(x.shape)], pointwise=True)


def _table_conv(ctx: _Ctx):
    """LeNet-5's C3: one conv per output map on the input maps its row of the table names, then cat."""
    a, node = ctx.node.args, ctx.node
    x = ctx.inputs[0]
    n, _, h, w = x.shape
    outs = []
    oh, ow = node.shape[1], node.shape[2]
    for j, row in enumerate(a.table):
        idx = ctx.t((len(row),), role="const", dtype="int64")
        sub = ctx.t((n, len(row), h, w))
        ctx.k("index", [x, idx], [sub])
        wt = ctx.param(f"convs.{j}.weight", (1, len(row), *a.kernel))
        ins = [sub, wt] + ([ctx.param(f"convs.{j}.bias", (1,))] if a.bias else [])
        y = ctx.t((n, 1, oh, ow))
        ctx.k("convolution", ins, [y], n * oh * ow * len(row) * a.kernel[0] * a.kernel[1], stride=[1, 1],
              padding=[0, 0], dilation=[1, 1], transposed=False, output_padding=[0, 0], groups=1)
        outs.append(y)
    ctx.k("cat", outs, [ctx.out(_b(ctx, node.shape))])


def _rbf(ctx: _Ctx):
    """LeNet-5's output: squared distances to fixed prototypes, ((x[:, None] − P[None]) ** 2).sum(-1)."""
    x = ctx.inputs[0]
    n, d = x.shape
    out = ctx.node.args.out
    xa = ctx.view("unsqueeze", x, (n, 1, d))
    pa = ctx.view("unsqueeze", ctx.buffer("prototypes", (out, d)), (1, out, d))
    diff = ctx.t((n, out, d))
    ctx.k("sub", [xa, pa], [diff], pointwise=True)
    sq = ctx.t((n, out, d))
    ctx.k("pow", [diff], [sq], pointwise=True)
    ctx.k("sum", [sq], [ctx.out((n, out))])


def _patch_merge(ctx: _Ctx):
    """Swin's patch merging: pad to even H and W, four strided slices, cat along channels."""
    x = ctx.inputs[0]
    n, h, w, c = x.shape
    ph, pw = h + h % 2, w + w % 2
    padded = ctx.t((n, ph, pw, c))
    ctx.k("constant_pad_nd", [x], [padded])
    parts = []
    for _ in range(4):
        rows = ctx.view("slice", padded, (n, ph // 2, pw, c), layout="strided")
        parts.append(ctx.view("slice", rows, (n, ph // 2, pw // 2, c), layout="strided"))
    ctx.k("cat", parts, [ctx.out((n, ph // 2, pw // 2, 4 * c))])


def _linear_inline(ctx: _Ctx, x: TensorRef, d_out: int, name: str, bias: bool, out_id=None) -> TensorRef:
    """A Linear on a 3-d input inside a compound op: view, t, addmm (or mm), view."""
    b, l, d = x.shape
    w = ctx.param(f"{name}.weight", (d_out, d))
    if bias:
        flat = ctx.view("view", x, (b * l, d))
        wt = ctx.view("t", w, (d, d_out))
    else:
        wt = ctx.view("t", w, (d, d_out))
        flat = ctx.view("view", x, (b * l, d))
    y = ctx.t((b * l, d_out), out_id)
    ins = [ctx.param(f"{name}.bias", (d_out,)), flat, wt] if bias else [flat, wt]
    ctx.k("addmm" if bias else "mm", ins, [y], b * l * d * d_out)
    return ctx.view("view" if bias else "_unsafe_view", y, (b, l, d_out))


def _reshape_copy(ctx: _Ctx, x: TensorRef, viewed, dims, shape) -> TensorRef:
    """``x.view(viewed).permute(dims).reshape(shape)``: two views, then the copy a reshape of a permuted
    tensor needs (clone, _unsafe_view), unless the permutation moves only dims of size 1 (a view)."""
    permuted = tuple(viewed[d] for d in dims)
    v = ctx.view("view", x, viewed)
    moved = [d for d in dims if viewed[d] > 1]
    p = ctx.view("permute", v, permuted, layout="" if moved == sorted(moved) else "strided")
    if moved == sorted(moved):
        return ctx.view("view", p, shape)
    c = ctx.t(permuted, role="const" if x.role == "const" else "")
    ctx.k("clone", [p], [c])
    return ctx.view("_unsafe_view", c, shape)


def _window_attention(ctx: _Ctx):
    """archstat's WindowAttention (torchvision's shifted-window attention), operator for operator."""
    a = ctx.node.args
    x = ctx.inputs[0]
    b, h, w, c = x.shape
    m, heads = a.window, a.heads
    e = c // heads
    ph, pw = h + (m - h % m) % m, w + (m - w % m) % m
    padded = ctx.t((b, ph, pw, c))
    ctx.k("constant_pad_nd", [x], [padded])
    shifts = (0 if m >= ph else a.shift, 0 if m >= pw else a.shift)
    cur = padded
    if any(shifts):
        rolled = ctx.t((b, ph, pw, c))
        ctx.k("roll", [cur], [rolled])
        cur = rolled
    gh, gw = ph // m, pw // m
    windows = gh * gw
    mm = m * m
    tok = _reshape_copy(ctx, cur, (b, gh, m, gw, m, c), (0, 1, 3, 2, 4, 5), (b * windows, mm, c))
    qkv = _linear_inline(ctx, tok, 3 * c, "qkv", a.bias)
    r = ctx.view("view", qkv, (b * windows, mm, 3, heads, e))
    p = ctx.view("permute", r, (3, b * windows, heads, mm, e), layout="strided")
    q = ctx.view("unbind", p, (b * windows, heads, mm, e), layout="strided")
    qs = ctx.t((b * windows, heads, mm, e), layout="strided")
    ctx.k("mul", [q], [qs], pointwise=True)
    kt = ctx.view("transpose", q, (b * windows, heads, e, mm), layout="strided")
    bh = b * windows * heads
    qx = ctx.view("expand", qs)
    qc = ctx.t((b * windows, heads, mm, e))
    ctx.k("clone", [qx], [qc])
    qf = ctx.view("_unsafe_view", qc, (bh, mm, e))
    kx = ctx.view("expand", kt)
    kc = ctx.t((b * windows, heads, e, mm))
    ctx.k("clone", [kx], [kc])
    kf = ctx.view("_unsafe_view", kc, (bh, e, mm))
    scores = ctx.t((bh, mm, mm))
    ctx.k("bmm", [qf, kf], [scores], bh * mm * mm * e)
    scores = ctx.view("_unsafe_view", scores, (b * windows, heads, mm, mm))
    bias = ctx.t(((2 * m - 1) ** 2 and mm * mm, heads), role="const")
    ctx.k("index", [ctx.param("relative_position_bias_table", ((2 * m - 1) ** 2, heads)),
                    ctx.buffer("relative_position_index", (mm * mm,), dtype="int64")], [bias])
    bv = ctx.view("view", bias, (mm, mm, heads))
    bv = ctx.view("permute", bv, (heads, mm, mm), layout="strided")
    bv = ctx.view("unsqueeze", bv, (1, heads, mm, mm), layout="channels_last")
    attn = ctx.t((b * windows, heads, mm, mm))
    ctx.k("add", [scores, bv], [attn], pointwise=True)
    if any(shifts):
        av = ctx.view("view", attn, (b, windows, heads, mm, mm))
        region = ctx.t((ph, pw), role="const")
        ctx.k("new_zeros", [tok], [region])
        bounds = []
        for hs in ((0, ph - m), (ph - m, ph - shifts[0]), (ph - shifts[0], ph)):
            for ws in ((0, pw - m), (pw - m, pw - shifts[1]), (pw - shifts[1], pw)):
                bounds.append((hs[1] - hs[0], ws[1] - ws[0]))
        for rh, rw in bounds:
            value = ctx.t((), role="const")
            ctx.k("scalar_tensor", [], [value])
            rows = ctx.view("slice", region, (rh, pw), layout="strided")
            cell = ctx.view("slice", rows, (rh, rw), layout="strided")
            ctx.view("view", value)
            filled = ctx.view("expand", value, (rh, rw))
            ctx.k("copy_", [TensorRef((rh, rw), F32, region.id, "const", "strided"),
                            TensorRef((rh, rw), F32, value.id, "const", "strided", 1)],
                  [TensorRef((rh, rw), F32, region.id, "const")])
            del cell, filled
        reg = _reshape_copy(ctx, TensorRef((ph, pw), F32, region.id, "const"), (gh, m, gw, m), (0, 2, 1, 3),
                            (windows, mm))
        u1 = ctx.view("unsqueeze", reg, (windows, 1, mm))
        u2 = ctx.view("unsqueeze", reg, (windows, mm, 1))
        diff = ctx.t((windows, mm, mm), role="const")
        ctx.k("sub", [u1, u2], [diff], pointwise=True)
        ne = ctx.t((windows, mm, mm), role="const", dtype="bool")
        ctx.k("ne", [diff], [ne], pointwise=True)
        f1 = ctx.t((windows, mm, mm), role="const")
        ctx.k("masked_fill", [diff, ne], [f1])
        eq = ctx.t((windows, mm, mm), role="const", dtype="bool")
        ctx.k("eq", [f1], [eq], pointwise=True)
        mask = ctx.t((windows, mm, mm), role="const")
        ctx.k("masked_fill", [f1, eq], [mask])
        mv = ctx.view("unsqueeze", mask, (1, windows, mm, mm))
        mv = ctx.view("unsqueeze", mv, (1, windows, 1, mm, mm))
        masked = ctx.t((b, windows, heads, mm, mm))
        ctx.k("add", [av, mv], [masked], pointwise=True)
        attn = ctx.view("view", masked, (b * windows, heads, mm, mm))
    probs = ctx.t((b * windows, heads, mm, mm))
    ctx.k("_softmax", [attn], [probs])
    px = ctx.view("expand", probs)
    pf = ctx.view("view", px, (bh, mm, mm))
    vx = ctx.view("expand", q)
    vc = ctx.t((b * windows, heads, mm, e))
    ctx.k("clone", [vx], [vc])
    vf = ctx.view("_unsafe_view", vc, (bh, mm, e))
    ctxv = ctx.t((bh, mm, e))
    ctx.k("bmm", [pf, vf], [ctxv], bh * mm * mm * e)
    ctxv = ctx.view("_unsafe_view", ctxv, (b * windows, heads, mm, e))
    tr = ctx.view("transpose", ctxv, (b * windows, mm, heads, e), layout="strided")
    tc = ctx.t((b * windows, mm, heads, e))
    ctx.k("clone", [tr], [tc])
    merged = ctx.view("_unsafe_view", tc, (b * windows, mm, c))
    y = _linear_inline(ctx, merged, c, "proj", a.bias)
    y = _reshape_copy(ctx, y, (b, gh, gw, m, m, c), (0, 1, 3, 2, 4, 5), (b, ph, pw, c))
    if any(shifts):
        back = ctx.t((b, ph, pw, c), ctx.out_id if (ph, pw) == (h, w) else None)
        ctx.k("roll", [y], [back])
        y = back
    if (ph, pw) == (h, w):
        ctx.view("alias", y)
        ctx.out_id = y.id
    else:
        rows = ctx.view("slice", y, (b, h, pw, c), layout="strided")
        crop = ctx.view("slice", rows, (b, h, w, c), layout="strided")
        ctx.k("clone", [crop], [ctx.out((b, h, w, c))])


_RECIPES: dict[str, Callable[[_Ctx], None]] = {
    "conv": _conv, "bn": _bn, "relu": _relu, "relu6": _pointwise("hardtanh", "hardtanh_"),
    "silu": _pointwise("silu", "silu_"), "gelu": _pointwise("gelu"), "hardswish": _pointwise("hardswish", "hardswish_"),
    "hardsigmoid": _pointwise("hardsigmoid", "hardsigmoid_"), "sigmoid": _pointwise("sigmoid"),
    "tanh": _pointwise("tanh"), "elu": _pointwise("elu", "elu_"), "leaky_relu": _pointwise("leaky_relu", "leaky_relu_"),
    "maxpool": _maxpool, "avgpool": _avgpool, "adaptive_avgpool": _adaptive_avgpool, "linear": _linear,
    "add": _merge_add, "mul": _merge_mul, "concat": _concat, "mean": _mean, "flatten": _view_of_input("view"),
    "dropout": _nothing, "identity": _nothing, "drop_path": _nothing, "softmax": _softmax,
    "layer_norm": _layer_norm, "layer_norm2d": _layer_norm2d, "layer_scale": _layer_scale, "affine": _affine,
    "channel_shuffle": _channel_shuffle, "chunk": _view_of_input("split"), "class_token": _class_token,
    "pos_embed": _pos_embed, "patch_embed": _patch_embed, "select_token": _view_of_input("select"),
    "permute": _view_of_input("permute"), "pad_shortcut": _pad_shortcut, "self_attention": _self_attention,
    "lrn": _lrn, "table_conv": _table_conv, "rbf": _rbf, "patch_merge": _patch_merge,
    "window_attention": _window_attention,
}


class MissingRecipes(RuntimeError):
    """Registered ops the performance model has no recipe for (a programming error: add one here)."""


def attach(recipes: dict[str, Callable[[_Ctx], None]]) -> None:
    """Give every registered op its recipe (the OpSpec keeps its identity: it is updated in place);
    refuse a registry with an op left without one, or a recipe for no registered op."""
    ops = all_ops()
    missing = sorted(set(ops) - set(recipes))
    unknown = sorted(set(recipes) - set(ops))
    if missing or unknown:
        raise MissingRecipes("; ".join(filter(None, (
            f"no recipe for the registered ops {', '.join(missing)}" if missing else "",
            f"recipes for ops nobody registered: {', '.join(unknown)}" if unknown else ""))))
    for name, fn in recipes.items():
        object.__setattr__(ops[name], "operators", fn)   # a frozen dataclass, completed once at load


attach(_RECIPES)


def graph_calls(graph: Graph, batch: int) -> list[OpCall]:
    """Every operator a config's built module runs in eval mode at ``batch``, in order."""
    ids = _Ids()
    tensors: dict[str, TensorRef] = {}
    out: list[OpCall] = []
    for node in graph.nodes:
        if node.aux:
            continue           # auxiliary heads do not run in eval mode
        if node.op == "input":
            tensors[node.name] = TensorRef((batch, *node.shape), F32, ids.get(node.name))
            continue
        recipe = get_op(node.op).operators
        assert recipe is not None, node.op     # attach() gave every registered op one
        ins = [tensors[i] for i in node.inputs]
        ctx = _Ctx(node, batch, ids, ins)
        recipe(ctx)
        layout = "strided" if node.op == "patch_embed" else ctx.out_layout
        tensors[node.name] = TensorRef((batch, *node.shape), F32, ctx.out_id, "", layout)
        out.extend(ctx.calls)
    return out
