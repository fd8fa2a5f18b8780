"""Graph → torch ``nn.Module`` (the opposite way, any module → rows, is ``archstat.trace``).
torch is imported lazily."""

from __future__ import annotations

from archstat.errors import RuntimeFailure


def require_torch():
    """Import torch, or fail with the line that says how to install it where archstat was installed from
    (``archstat/install.py``; exit code 1)."""
    try:
        import torch
    except ImportError:
        from archstat.install import install_hint

        raise RuntimeFailure(f"this command needs torch, which is not installed ({install_hint('torch')})") from None
    return torch


from archstat.builder import torch_ops as _torch_ops  # noqa: E402  (the ops' torch half, attached on import)

_torch_ops.load()
