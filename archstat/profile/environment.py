"""What a profile records about the machine, so a run can be reproduced and its figures judged: the
software (archstat version and git commit, Python, torch, CUDA, cuDNN, the driver), the device (name,
memory, SMs, compute capability, clocks, power limit, MIG mode, read from torch and ``nvidia-smi``), the
CPU, and the math settings in force (TF32 per op kind, cuDNN benchmark). A figure that cannot be read
says why instead of being left out."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Optional

NVIDIA_SMI_FIELDS = ("driver_version", "name", "clocks.sm", "clocks.max.sm", "clocks.mem", "clocks.max.mem",
                     "power.limit", "power.max_limit", "mig.mode.current", "persistence_mode", "temperature.gpu",
                     "clocks_event_reasons.active")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> dict:
    """The commit archstat runs from when it runs from a git checkout (else null: an installed wheel)."""
    root = Path(__file__).resolve().parent.parent.parent
    if not (root / ".git").exists():
        return {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def nvidia_smi(selector: Optional[str]) -> dict:
    """nvidia-smi's view of one GPU (``selector``: its UUID or index), or {'error': why}."""
    args = ["nvidia-smi", f"--query-gpu={','.join(NVIDIA_SMI_FIELDS)}", "--format=csv,noheader,nounits"]
    if selector:
        args.append(f"--id={selector}")
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return {"error": "nvidia-smi not found"}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": f"nvidia-smi failed: {exc}"}
    if r.returncode != 0:
        return {"error": f"nvidia-smi exit {r.returncode}: {(r.stderr or r.stdout).strip()[:200]}"}
    line = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
    values = [v.strip() for v in line.split(",")]
    if len(values) != len(NVIDIA_SMI_FIELDS):
        return {"error": f"unexpected nvidia-smi output: {line[:200]!r}"}
    return dict(zip(NVIDIA_SMI_FIELDS, values))


def _uuid(props) -> Optional[str]:
    uuid = getattr(props, "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def load_average() -> Optional[float]:
    """This machine's 1-minute load average (runnable processes, ours included), or None where there is none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def collect(torch, dev, math=None, cudnn_benchmark: Optional[bool] = None) -> dict:
    """The environment of a run on ``dev`` (math: the precision.Math in force during it)."""
    from archstat._version import __version__

    env: dict = {
        "archstat_version": __version__, **{f"archstat_{k}": v for k, v in git_commit().items()},
        "python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
        "cpu_model": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "load_average": load_average(),   # before the run: what else was running
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        driver_api = getattr(torch._C, "_cuda_getDriverVersion", None)
        env.update({
            "cuda_runtime": torch.version.cuda, "hip": getattr(torch.version, "hip", None),
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "cuda_driver_api": driver_api() if driver_api else None,
            "device_name": props.name, "device_uuid": _uuid(props),
            "device_memory_bytes": props.total_memory, "device_sms": props.multi_processor_count,
            "compute_capability": f"{props.major}.{props.minor}",
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "nvidia_smi": nvidia_smi(_uuid(props)),
            "cudnn_benchmark": cudnn_benchmark, "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        })
        if math is not None:
            env["tf32"] = math.as_dict()
    elif dev.type == "mps":
        env["macos"] = platform.mac_ver()[0] or None
    return env
