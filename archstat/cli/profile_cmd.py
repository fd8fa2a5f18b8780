"""archstat profile NAME: measure the real module on a device, beside the estimate."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import RuntimeFailure, UsageError
from archstat.perf.runtime import measurable


@app.command("profile")
def profile_model(
    model: str = typer.Argument(..., help="A zoo name, a config path or module:PKG.MOD:FACTORY (module: "
                               "imports and runs that Python code, as torch.hub does).",
                                metavar="NAME|PATH|module:..."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    batch: options.Batch = 1,
    input_: options.Inputs = None,
    dtype: options.ProfileDtype = "float32",
    precision: str = typer.Option("auto", "--precision", help="amp: autocast with fp32 master weights (and a "
                                  "GradScaler for float16 training); pure: the whole model cast to --dtype; auto "
                                  "(default): amp for float16/bfloat16 training, pure otherwise."),
    tf32: Optional[bool] = typer.Option(None, "--tf32/--no-tf32", help="CUDA float32: run convs and matmuls in "
                                        "TF32 (or IEEE FP32) for this run; default: PyTorch's live settings "
                                        "(cuDNN convs TF32, matmuls IEEE). The math that ran is reported."),
    cudnn_benchmark: Optional[bool] = typer.Option(None, "--cudnn-benchmark/--no-cudnn-benchmark",
                                                   help="CUDA: set torch.backends.cudnn.benchmark (cuDNN's "
                                                   "autotuner) for this run; default: as it is (off). Recorded."),
    runtime: str = typer.Option("eager", "--runtime", help="eager, or compile (torch.compile, Inductor's "
                                "defaults; no per-layer pass): what runs, and what the prediction plans."),
    mode: options.Mode = "eval",
    train: bool = typer.Option(False, "--train", help="Same as --mode train."),
    optimizer: options.Optimizer = None,
    warmup: int = typer.Option(3, "--warmup", help="Steps run before measuring."),
    iters: int = typer.Option(10, "--iters", help="Steps measured."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Measure for this many seconds "
                                                "instead of --iters (at least 3 steps)."),
    channels_last: bool = typer.Option(False, "--channels-last", help="NHWC memory format (torch.channels_last) "
                                       "for the model and its input, as practitioners run convnets. Recorded."),
    top: int = typer.Option(10, "--top", help="Show the N slowest rows."),
    no_layers: bool = typer.Option(False, "--no-layers", help="Skip the per-layer pass."),
    per_layer: bool = typer.Option(False, "--per-layer", help="Every row in order, with the roofline's predicted "
                                   "time beside the measured one."),
    sweep_batch: Optional[str] = typer.Option(None, "--sweep-batch", help="Measure each batch size, e.g. 1,8,32 "
                                              "(stops cleanly at the first out-of-memory)."),
    sets: options.Sets = None,
    fmt: options.Format = "table",
    wide: options.Wide = False,
):
    """Latency (median, p10, p90), throughput, achieved MAC/s and peak memory, with the analytic
    estimate beside the measurement."""
    from archstat.profile.measure import PRECISIONS, profile
    from archstat.report import profile_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    runtime = options.choice(runtime, measurable(), "--runtime")
    mode = options.choice(mode, options.MODES, "--mode")
    mode = "train" if train else mode
    dtype = options.parse_dtype(dtype, options.dtypes.PROFILE)
    precision = options.choice(precision, PRECISIONS, "--precision")
    optimizer = options.parse_optimizer(optimizer, mode)
    time_budget = options.parse_time_budget(time_budget)
    if warmup < 0 or iters < 1 or top < 1:
        raise UsageError("--warmup must be 0 or more, --iters and --top 1 or more")
    options.check_steps(warmup, iters)
    batches = [options.parse_batch(batch)]
    if sweep_batch is not None:
        from archstat.analyze.sweep import split_values

        try:
            batches = [options.parse_batch(int(b)) for b in split_values(sweep_batch, "--sweep-batch")]
        except ValueError:
            raise UsageError(f"--sweep-batch '{sweep_batch}': expected integers such as 1,8,32") from None
    inputs = options.parse_inputs(input_)
    shape = inputs.plain_shape('profile') if inputs is not None else None
    params = options.parse_sets(sets)
    results, stopped = [], ""
    from archstat.cli import progress

    try:
        for b in batches:
            # a terminal only: building and tracing, then the steps (progress.py escapes the model's name)
            progress.say(f"{model} batch {b}: building, tracing and the per-layer pass")
            task = progress.bar(f"{model} batch {b}", warmup + iters)

            def on_progress(phase, done, total, _task=task, _b=b):
                _task.update(done if phase == "warm-up" else warmup + done, f"{model} batch {_b}: {phase}")

            try:
                results.append(profile(model, device=device, batch=b, dtype=dtype, mode=mode, optimizer=optimizer,
                                       warmup=warmup, iters=iters, time_budget=time_budget,
                                       channels_last=channels_last, params=params, input_shape=shape,
                                       per_layer=not no_layers and len(batches) == 1, on_progress=on_progress,
                                       precision=precision, tf32=tf32, cudnn_benchmark=cudnn_benchmark,
                                       runtime=runtime))
            except RuntimeFailure as exc:
                if sweep_batch and results and "out of memory" in exc.message:
                    stopped = f"stopped at batch {b}: {exc.message}"
                    break
                raise
            task.done()
    finally:
        progress.stop()
    emit(profile_report.render(results, fmt, top, output.view(None, wide), per_layer))
    if stopped:
        sys.stderr.write(stopped + "\n")
