"""How to install an extra (``torch``, ``plot``) where the user is: the hint an error gives must work.

archstat is not on the package index, so ``pip install 'archstat[torch]'`` fails ("No matching distribution")
for anyone who did not install it from an index. The hint follows how this archstat was installed:

- from a checkout, editable (``pip install -e .``) or running from the source tree: ``pip install -e '.[torch]'``
  (the checkout's path when the working folder is elsewhere);
- from a checkout, not editable (``pip install .``): ``pip install '.[torch]'`` (or the checkout's path);
- from a wheel file still on disk: ``pip install 'FILE.whl[torch]'``; one that is gone: the extra's own
  requirements (``pip install 'torch>=2.2' 'fvcore>=0.1.5'``);
- from an index: ``pip install 'archstat[torch]'``.

The pip is the one of the environment archstat runs in (``.venv/bin/pip`` when that environment is not the
active one), so the hint installs where archstat will look.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def install_hint(extra: str) -> str:
    """``pip install …`` for ``extra`` of archstat, as this archstat was installed."""
    return f"{_pip()} install {_target(extra)}"


def _target(extra: str) -> str:
    checkout = _HERE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "configs").is_dir():   # running from a checkout
        return f"-e {_quoted(_shown_path(checkout), extra)}"
    origin = _direct_url()
    if origin is not None:
        url, editable = origin
        if url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(url).path))
            if path.suffix == ".whl":
                if path.is_file():
                    return _quoted(_shown_path(path), extra)
                return " ".join(f"'{r}'" for r in _requirements(extra)) or f"'archstat[{extra}]'"
            if path.is_dir():
                return ("-e " if editable else "") + _quoted(_shown_path(path), extra)
    return f"'archstat[{extra}]'"


def _quoted(path: str, extra: str) -> str:
    return f"'{path}[{extra}]'"


def _shown_path(path: Path) -> str:
    """'.' for the working folder, a relative path below it, else the absolute path."""
    try:
        rel = os.path.relpath(path)
    except ValueError:   # another drive (Windows)
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _direct_url():
    """(url, editable) from PEP 610's direct_url.json of the installed distribution, or None (an index)."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        text = distribution("archstat").read_text("direct_url.json")
    except (ImportError, PackageNotFoundError, OSError):
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return str(data.get("url", "")), bool((data.get("dir_info") or {}).get("editable"))


def _requirements(extra: str) -> list[str]:
    """The requirements of ``extra`` as the installed metadata lists them ('torch>=2.2', …)."""
    try:
        from importlib.metadata import requires

        found = requires("archstat") or []
    except Exception:
        return []
    out = []
    for line in found:
        req, _, marker = line.partition(";")
        if marker and f'extra == "{extra}"' in marker.replace("'", '"'):
            out.append(req.strip().replace(" ", ""))
    return out


def _pip() -> str:
    """'pip', or this environment's pip when another one comes first on PATH (an environment not activated)."""
    bindir = Path(sys.executable).parent
    own = bindir / ("pip.exe" if os.name == "nt" else "pip")
    found = shutil.which("pip")
    if not own.exists() or (found and Path(found).resolve().parent == bindir.resolve()):
        return "pip"
    shown = _shown_path(own)
    return shown if os.sep in shown else f".{os.sep}{shown}"
