import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config into a temporary file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped without one")
    # the roofline's calibration cache: never the developer's (~/.cache/archstat), also in subprocesses
    import atexit
    import os
    import shutil
    import tempfile

    os.environ["XDG_CACHE_HOME"] = cache = tempfile.mkdtemp(prefix="archstat-test-cache-")
    atexit.register(shutil.rmtree, cache, True)
    sys.path.insert(0, str(ROOT))
