"""The code is clean under the project's ruff configuration (pyproject.toml [tool.ruff]); ruff is in the
test extra, so this runs wherever the tests do."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _ruff() -> list[str] | None:
    found = shutil.which("ruff") or (str(Path(sys.executable).parent / "ruff")
                                     if (Path(sys.executable).parent / "ruff").exists() else None)
    if found:
        return [found]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_is_clean():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    r = subprocess.run([*ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
