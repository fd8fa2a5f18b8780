"""archstat devices [--match NAME]: the devices the roofline knows, or which one a driver's name maps to."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit
from archstat.errors import UsageError


@app.command("devices")
def devices_cmd(
    match: Optional[str] = typer.Option(None, "--match", help="A device name as the driver reports it (e.g. "
                                        "\"NVIDIA H100 PCIe\", torch.cuda.get_device_name()): which entry it "
                                        "maps to, with its figures and their sources."),
    memory_gb: Optional[float] = typer.Option(None, "--memory-gb", help="With --match: the memory the driver "
                                              "reports, GiB (tells apart parts that share a name)."),
    mig: Optional[str] = typer.Option(None, "--mig", help="With --match: a MIG profile such as 1g.10gb (its share "
                                      "of the SMs and of the memory bandwidth)."),
    fmt: options.Format = "table",
    wide: options.Wide = False,
    columns: options.Columns = None,
):
    """Every entry of archstat's devices file: dense peaks per dtype, bandwidth, memory, L2, SMs, boost
    clock and power, each from a cited vendor document (--format json lists the sources)."""
    from archstat.analyze import devices
    from archstat.report import devices_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    if match is None:
        if memory_gb is not None or mig is not None:
            raise UsageError("--memory-gb and --mig go with --match NAME")
        entries = list(devices.devices().values())
        emit(devices_report.render_list(entries, fmt, output.view(columns, wide)))
        return
    if not match.strip():
        raise UsageError("--match: expected a device name such as \"NVIDIA H100 PCIe\"")
    if memory_gb is not None and not (0 < memory_gb < 1e5):
        raise UsageError(f"--memory-gb {memory_gb}: expected the memory size in GiB, e.g. 80")
    found = devices.match_device(match, None if memory_gb is None else int(memory_gb * 2**30), mig)
    if found.device is None:
        hint = (f"closest: '{found.suggestion}', a different part" if found.suggestion else None)
        raise UsageError(f"--match '{match}': {found.how}; archstat devices lists every entry", hint=hint)
    emit(devices_report.render_match(found, fmt, output.view(None, wide)))
