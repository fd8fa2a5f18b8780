"""archstat type-checks under the project's mypy configuration (pyproject.toml [tool.mypy]: the files,
the checks, the third-party modules without type information). mypy is not in the test extra: where it
is not installed this is skipped (pip install mypy==2.4.1 types-PyYAML)."""

import importlib.metadata
import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _missing() -> str | None:
    """What is not installed for the check to mean anything, or None."""
    if importlib.util.find_spec("mypy") is None:
        return "mypy"
    try:
        importlib.metadata.distribution("types-PyYAML")
    except importlib.metadata.PackageNotFoundError:
        return "types-PyYAML (PyYAML's stubs)"
    return None


def test_mypy_is_clean():
    missing = _missing()
    if missing is not None:
        pytest.skip(f"{missing} is not installed (pip install mypy==2.4.1 types-PyYAML)")
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
