import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests are deterministic by default: examples come from a fixed seed derived from each
# test (derandomize), nothing is stored or replayed between runs (no example database), and the
# budget is fixed. HYPOTHESIS_PROFILE=explore is a long random search for people to run by hand
# (README, "Limits and bad input"); its finds become named cases in tests/bad.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
               print_blob=True)
settings.register_profile("default", derandomize=True, database=None, max_examples=300, **_COMMON)
settings.register_profile("explore", derandomize=False, database=None, max_examples=20_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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
    config.addinivalue_line("markers", "slow: zoo-wide, fresh-venv and concurrency checks (pytest -m \"not slow\" skips them)")
    # the roofline's calibration cache: never the developer's (~/.cache/archstat), also in subprocesses
    import atexit
    import os
    import shutil
    import tempfile

    os.environ["XDG_CACHE_HOME"] = cache = tempfile.mkdtemp(prefix="archstat-test-cache-")
    atexit.register(shutil.rmtree, cache, True)
    sys.path.insert(0, str(ROOT))
