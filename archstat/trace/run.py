"""Running user code safely: one forward pass under the recorder, and a factory's call.

- The user's code (a factory, a module's forward) prints to stderr, not stdout: ``sys.stdout`` and file
  descriptor 1 (``os.write``, ``os.system``, a C library's printf) point at stderr while it runs, so
  archstat's data on stdout (JSON, CSV) stays whole whatever the code prints.
- ``sys.exit()`` or ``raise SystemExit`` inside it becomes a one-line usage error saying where
  (file:line), not archstat exiting with the code's status and no output.
- The operator a failing forward was in is kept (``Recorder.failed_op``): it tells a forward that
  needs real data (``.item()``, ``nonzero``, an op with no meta kernel) from a shape error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback

from archstat.errors import UsageError
from archstat.trace.recorder import Recorder

# operators that read tensor values: on the meta device they cannot run (a CPU run can)
NEEDS_DATA = frozenset({"_local_scalar_dense", "item", "is_nonzero", "nonzero", "masked_select", "unique",
                        "_unique2", "unique_dim", "unique_consecutive", "equal", "_to_copy", "copy_", "to",
                        "argwhere", "bincount", "histc", "repeat_interleave", "nms", "_assert_async",
                        "allclose", "tolist"})


def _flush_stdio() -> None:
    """Python's stdout and C's stdio buffers flushed, so what they hold goes where fd 1 points now."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):   # no C library to ask (Windows)
        pass


@contextlib.contextmanager
def fd1_to_stderr():
    """File descriptor 1 pointed at stderr for the call (``os.write(1, …)``, ``os.system``, a C library's
    printf), and put back after; nothing when either descriptor is closed. The command line keeps fd 1 on
    stderr for the whole command too (``cli.output.data_channel``): data never goes through fd 1."""
    _flush_stdio()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        yield
        return
    try:
        yield
    finally:
        _flush_stdio()
        with contextlib.suppress(OSError):
            os.dup2(saved, 1)
        os.close(saved)


class _OsExit(BaseException):
    """``os._exit`` called by the user's code (a BaseException: an ``except Exception`` in it lets it pass)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


@contextlib.contextmanager
def _os_exit_caught():
    """``os._exit(n)`` from the user's Python code becomes an exception for the call, instead of ending the
    process with exit n and no output; a child process the code forked still exits for real."""
    real, pid = os._exit, os.getpid()

    def guarded(code):
        if os.getpid() != pid:   # a fork's child (multiprocessing ends its children with os._exit)
            real(code)
        raise _OsExit(code)

    os._exit = guarded
    try:
        yield
    finally:
        os._exit = real


# What user code runs under is process-wide (sys.stdout, file descriptor 1, os._exit, threading.Thread.start,
# the random generators, the recursion limit, torch functions patched for the peers' views): one caller at a
# time, so two threads calling archstat.analyze cannot interleave their saves and restores. Re-entrant: a
# factory that traces another model in the same thread is fine.
_USER_CODE_LOCK = threading.RLock()


@contextlib.contextmanager
def user_code(what: str):
    """Run a factory's or a forward's code: its prints to stderr (Python's and file descriptor 1's), its
    SystemExit or os._exit a located error. One thread at a time (``_USER_CODE_LOCK``)."""
    with _USER_CODE_LOCK, contextlib.redirect_stdout(sys.stderr), fd1_to_stderr(), _os_exit_caught():
        try:
            yield
        except SystemExit as exc:
            raise UsageError(f"{what} raised SystemExit({exc.code!r}){_where(exc)}: a factory returns a module, "
                             "it does not exit") from None
        except _OsExit as exc:
            raise UsageError(f"{what} called os._exit({exc.code!r}){_where(exc)}, which would end archstat at once "
                             "with no output") from None
        except RecursionError:
            raise UsageError(f"{what} recursed past Python's limit of {sys.getrecursionlimit():,} frames: code that "
                             "calls itself without end (a forward calling its own module)") from None


MAX_MODULE_DEPTH = 1000   # modules nested deeper are refused by name (each level is a few Python frames)
FRAMES_PER_LEVEL = 8      # nn.Module.__call__, _call_impl, forward and the hooks' frames, per nesting level


def module_depth(model) -> int:
    """How deep the module tree nests (the model itself is 0), walked without recursion (a module that
    holds itself as a child is counted once)."""
    deepest, seen, stack = 0, set(), [(model, 0)]
    while stack:
        m, d = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in getattr(m, "_modules", {}).values() if c is not None)
    return deepest


@contextlib.contextmanager
def recursion_room(model):
    """Room on Python's stack for a forward through ``model``'s nesting (torch runs 200 nested Sequentials;
    each level costs a few frames under hooks): the recursion limit raised for the call and put back after.
    A module nested past MAX_MODULE_DEPTH is refused by name before anything runs, and a RecursionError left
    (a forward that calls itself) is said as such."""
    depth = module_depth(model)
    if depth > MAX_MODULE_DEPTH:
        raise UsageError(f"the module nests {depth:,} modules deep, more than the {MAX_MODULE_DEPTH:,} archstat "
                         "traces (each level is a Python call of nn.Module.__call__)")
    with _USER_CODE_LOCK:   # process-wide, like what user_code sets: one caller at a time
        old = sys.getrecursionlimit()
        need = old + FRAMES_PER_LEVEL * depth
        sys.setrecursionlimit(need)
        try:
            yield
        except RecursionError:   # outside the user's code (a forward's own is said by user_code)
            raise UsageError(f"tracing the module recursed past Python's limit of {need:,} frames (it nests "
                             f"{depth:,} deep)") from None
        finally:
            sys.setrecursionlimit(old)


def _where(exc: BaseException) -> str:
    """' at FILE:LINE' of the innermost frame outside archstat and torch (the user's line)."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if not path.startswith(here) and f"{os.sep}torch{os.sep}" not in path and "contextlib" not in path:
            return f" at {frame.filename}:{frame.lineno}"
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


# matrix products and convolutions: their kernels (CPU and CUDA) take operands of one dtype, never bool; the
# meta device's kernels check shapes only, so a trace there checks the dtypes itself
ONE_DTYPE = frozenset({"mm", "addmm", "bmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "vdot", "matmul", "linear",
                       "_addmm_activation", "convolution", "_convolution", "conv1d", "conv2d", "conv3d",
                       "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "_convolution_mode"})


class OperandDtypes(RuntimeError):
    """A matrix product or convolution on operands a real kernel refuses (which the meta device lets pass)."""


def check_operand_dtypes(func, args, kwargs) -> None:
    """Raise OperandDtypes when ``func`` (a matrix product or a convolution) is given operands of several dtypes,
    or bool ones, as a CPU or CUDA run would (``expected m1 and m2 to have the same dtype``)."""
    import torch

    name = func._schema.name.split("::")[-1]
    if name not in ONE_DTYPE:
        return
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    dtypes = list(dict.fromkeys(str(t.dtype).replace("torch.", "") for t in tensors))
    if len(dtypes) > 1:
        raise OperandDtypes(f"{name} on operands of different dtypes ({' and '.join(dtypes)}), which a real run "
                            "refuses (a matrix product or convolution takes one dtype): give the input the "
                            "model's dtype (--input float32:…), or cast it in the model")
    if dtypes == ["bool"]:
        raise OperandDtypes(f"{name} on bool operands, which no real kernel implements")


_KERNEL_DTYPES: dict[tuple, str] = {}   # (op, the dtypes and ranks of its tensors) → '' or the CPU's refusal
_NO_KERNEL = ("not implemented for", "not supported", "does not support")


def check_kernel_dtypes(func, args, kwargs) -> None:
    """An operator given integer or bool tensors on the meta device (which checks no dtype) is asked of the CPU
    once, on small stand-ins (each dimension at most 8) of the same dtypes and ranks: a kernel the CPU has no
    implementation of for those dtypes (``relu`` of bools, ``softmax`` or ``gelu`` of integers) raises
    OperandDtypes, as the real forward would fail. Only that refusal counts: a size error of the
    stand-ins says nothing about dtypes and is ignored; an operator with a size argument of more than 4,096
    elements is not asked."""
    import torch

    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    if not any(t.dtype == torch.bool or not (t.is_floating_point() or t.is_complex()) for t in tensors):
        return
    key = (str(func), tuple((str(t.dtype), t.dim()) for t in tensors))
    if key not in _KERNEL_DTYPES:
        _KERNEL_DTYPES[key] = _cpu_refusal(func, args, kwargs)
    if _KERNEL_DTYPES[key]:
        name = func._schema.name.split("::")[-1]
        raise OperandDtypes(f"{name} on {', '.join(dict.fromkeys(str(t.dtype).replace('torch.', '') for t in tensors))}"
                            f" tensors, which a real run refuses ({_KERNEL_DTYPES[key]}): give the input a dtype "
                            "the model computes in, or cast it in the model")


def _cpu_refusal(func, args, kwargs) -> str:
    import torch
    from torch.utils._python_dispatch import _disable_current_modes

    def small(value):
        if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
            n = 1
            for v in value:
                n *= max(abs(v), 1)
            return n <= 4096
        return True

    if not all(small(a) for a in (*args, *kwargs.values())):
        return ""

    def stand_in(value):
        if isinstance(value, torch.Tensor):   # each dimension at most 8: a kernel's size checks still pass
            return torch.zeros([min(d, 8) for d in value.shape], dtype=value.dtype)
        if isinstance(value, (list, tuple)):
            return type(value)(stand_in(v) for v in value)
        if isinstance(value, torch.device):
            return torch.device("cpu")
        return value

    try:
        # the caller's generator untouched: a random op's stand-in must not look like the forward drawing numbers
        with _disable_current_modes(), torch.random.fork_rng(devices=[]):
            func(*stand_in(list(args)), **{k: ("cpu" if k == "device" else stand_in(v)) for k, v in kwargs.items()})
    except Exception as exc:   # what the CPU says of these dtypes (a size error of the stand-ins is no answer)
        text = " ".join(str(exc).split())
        if isinstance(exc, NotImplementedError) or any(t in text for t in _NO_KERNEL):
            return text[:120]
    return ""


def needs_data(exc: BaseException, rec: Recorder | None) -> bool:
    """Whether a failure on the meta device is one that real tensors would not have (the forward
    reads values, or an operator has no meta kernel), as opposed to a shape error that a CPU run
    would repeat."""
    if isinstance(exc, NotImplementedError):
        return True
    if rec is not None and rec.failed_op is not None and rec.failed_op.lstrip("_") in {
            n.lstrip("_") for n in NEEDS_DATA}:
        return True
    text = str(exc).lower()
    return "meta" in text or "data-dependent" in text or "data dependent" in text


def stand_in_loss(output, model=None):
    """THE training step's loss, traced (``run_forward``) and measured (``profile``'s ``make_step``) alike, so
    every floating output takes a gradient in both: per output, cross-entropy against class 0 on (batch,
    classes) logits (as timm's train benchmark), else its mean; their sum. A forward whose output has no
    floating tensor, or a model with nothing that trains, is the user's usage error, said as such."""
    import torch

    from archstat.trace.recorder import tensors_in

    floating = [t for t in tensors_in(output) if t.is_floating_point() or t.is_complex()]
    if not floating:
        raise UsageError(no_loss_message(output))
    terms = []
    for out in floating:
        if out.dim() == 2 and out.is_floating_point():
            target = torch.zeros(out.shape[0], dtype=torch.long, device=out.device)
            terms.append(torch.nn.functional.cross_entropy(out, target))
        else:
            terms.append(out.float().mean())
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    if not loss.requires_grad:
        raise UsageError(nothing_to_train(model))
    return loss


def no_loss_message(output) -> str:
    """Why a training step cannot take a loss of ``output`` (no tensor; only integer or bool tensors)."""
    from archstat.trace.recorder import tensors_in

    tensors = tensors_in(output)
    kind = "None" if output is None else type(output).__name__
    if not tensors:
        return (f"a training step takes a loss of the forward's output, and it returned {kind}, no tensor: "
                "profile or trace it in eval mode")
    dtypes = ", ".join(sorted({str(t.dtype).replace("torch.", "") for t in tensors}))
    return (f"a training step takes a loss of the forward's output, and it returned only {dtypes} tensors, which "
            "have no gradient: profile or trace it in eval mode")


def nothing_to_train(model) -> str:
    """The message for a training step of a model none of whose parameters takes a gradient."""
    params = list(model.parameters()) if model is not None else []
    if not params:
        why = "the model has no parameters"
    elif not any(p.requires_grad for p in params):
        why = f"all {len(params)} of its parameters are frozen (requires_grad=False)"
    else:
        why = "no parameter that requires a gradient reaches the output"
    return f"nothing to train: {why}; profile or trace it in eval mode"


@contextlib.contextmanager
def threads_followed(rec: Recorder, modes):
    """Threads the forward starts (``threading.Thread``, and so ``concurrent.futures``' pools) are traced too:
    each runs under fresh instances of the recorder's modes (torch keeps modes per thread), with the grad mode
    of the thread that started it, its operators landing under the modules running where it started. Work
    in a thread started before the forward (a pool made in ``__init__``, or one an earlier trace's forward
    started and kept) is not seen; its module calls are (hooks are global) and make the total a lower bound
    (``Recorder.foreign``). Only threads started from a followed thread are wrapped (not another library's
    timer started meanwhile), and once the trace is over (``Recorder.closed``) a thread still running passes
    every call through untouched; those still alive then are counted in ``Recorder.outlived``."""
    import torch

    original = threading.Thread.start
    started: list[threading.Thread] = []

    def start(thread: threading.Thread) -> None:
        if rec.closed or not rec.followed():
            original(thread)
            return
        parent, grad, inner = rec.snapshot(), torch.is_grad_enabled(), thread.run
        started.append(thread)

        def run():
            rec.enter_thread(parent)
            try:
                with torch.set_grad_enabled(grad), modes():
                    inner()
            finally:
                rec.leave_thread()

        thread.run = run  # type: ignore[method-assign]
        original(thread)

    threading.Thread.start = start  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
        rec.outlived = sum(t.is_alive() for t in started)


@contextlib.contextmanager
def seeded(seed: int):
    """The forward draws the same random numbers in every trace at one seed (Python's ``random``, NumPy's global
    generator, torch's CPU generator), so a trace is repeatable; the caller's generators are put back after.
    Yields a list that holds True afterwards when the forward drew any (its cost may then depend on them)."""
    import random

    import torch

    np = sys.modules.get("numpy")
    saved = (random.getstate(), torch.default_generator.get_state(), np.random.get_state() if np else None)
    random.seed(seed)
    torch.default_generator.manual_seed(seed)
    if np is not None:
        np.random.seed(seed)
    start = (random.getstate(), torch.default_generator.get_state(), np.random.get_state() if np else None)
    drew: list[bool] = []
    try:
        yield drew
    finally:
        numpy_drew = False
        start_np = start[2]
        if np is not None and start_np is not None:
            now_np = np.random.get_state()
            numpy_drew = not (np.array_equal(now_np[1], start_np[1]) and tuple(now_np[2:]) == tuple(start_np[2:]))
        drew.append(random.getstate() != start[0] or not torch.equal(torch.default_generator.get_state(), start[1])
                    or numpy_drew)
        random.setstate(saved[0])
        torch.default_generator.set_state(saved[1])
        if np is not None:
            np.random.set_state(saved[2])


def run_forward(model, inputs, batch: int, device: str, mode: str, saved_nbytes: int, what: str = "the forward",
                backward: bool = False, seed: int = 0):
    """Run the forward once at ``batch`` under the recorder: (recorder, output); with ``backward`` (a
    training step) also a stand-in loss and its backward pass, whose operators join the kernel log
    (phase "backward") but not the rows. On failure the exception propagates with
    ``exc.archstat_recorder`` set (the partial trace)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    rec = Recorder(model)
    if device == "meta":
        rec.hold = []

    class Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if rec.closed:   # a thread the forward left running, after the trace: not ours to record
                return func(*args, **kwargs)
            rec.in_kernel += 1   # a kernel written in Python (a meta kernel) may call torch.mm: not the model's
            try:
                if device == "meta":   # what the meta kernels do not check (CPU kernels do, themselves)
                    check_operand_dtypes(func, args, kwargs)
                    check_kernel_dtypes(func, args, kwargs)
                out = func(*args, **kwargs)
            except BaseException:
                if rec.failed_op is None:
                    rec.failed_op = func._schema.name.split("::")[-1]
                raise
            finally:
                rec.in_kernel -= 1
            rec.op(func, args, kwargs, out)
            return out

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(rec.pre, with_kwargs=True))
        handles.append(m.register_forward_hook(rec.post, with_kwargs=True))
    train = mode == "train"
    model.train(train)
    args, kwargs = inputs.make(model, batch, device)
    rec.mark_inputs((args, kwargs))
    fastpath = getattr(torch.backends, "mha", None)
    was_fast = fastpath.get_fastpath_enabled() if fastpath else None
    try:
        if fastpath:  # the same operators on meta and CPU: MultiheadAttention's math, not its fused kernel
            fastpath.set_fastpath_enabled(False)
        pack, unpack = rec.saved_hooks(saved_nbytes)

        def modes():
            """What a thread runs under to be traced: the function and dispatch modes (per thread in torch)
            and, training, the saved-tensor hooks."""
            stack = contextlib.ExitStack()
            if train:
                stack.enter_context(torch.autograd.graph.saved_tensors_hooks(pack, unpack))
            stack.enter_context(rec.functions())
            stack.enter_context(Dispatch())
            return stack

        with user_code(what), threads_followed(rec, modes), seeded(seed) as drew, rec.patched():
            if train:
                with modes():
                    output = model(*args, **kwargs)
                    if backward:
                        for p in model.parameters():   # gradients start empty (zero_grad(set_to_none=True))
                            p.grad = None
                        rec.phase = "backward"
                        stand_in_loss(output, model).backward()
                        rec.phase = "forward"
                        for p in model.parameters():
                            p.grad = None
            else:
                with torch.no_grad(), modes():
                    output = model(*args, **kwargs)
    except Exception as exc:
        # the partial trace rides on whatever the model raised; trace/analyze.py reads it back with getattr
        exc.archstat_recorder = rec  # type: ignore[attr-defined]
        raise
    finally:
        rec.closed = True
        for h in handles:
            h.remove()
        if fastpath:
            fastpath.set_fastpath_enabled(was_fast)
    rec.drew_random = bool(drew and drew[0])
    return rec, output
