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


@pytest.fixture(scope="session")
def cli():
    """Run the command line in this process: ``cli("table", "vgg16", "--format", "json")``, with
    ``env={"COLUMNS": "80"}`` for the environment, returns click's Result: ``.exit_code``, ``.stdout`` and
    ``.stderr`` apart, ``.output``, ``.exception``."""
    from typer.testing import CliRunner

    from archstat.cli import app

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # newer click: stderr is always kept apart
        runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def xdg_cache(tmp_path, monkeypatch):
    """An empty XDG cache for this test (its calibrations go to ``<path>/archstat/``): a calibration
    made by another test, or on the developer's machine, never leaks in."""
    path = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    return path


def check_golden(path: Path, text: str, update: bool) -> None:
    """``text`` is the text of the golden file ``path``; with ``update`` the file is rewritten instead."""
    if update:
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return
    assert text == path.read_text(), f"{path.relative_to(ROOT)} differs (pytest --update-golden rewrites it)"


@pytest.fixture
def golden(request):
    """``golden("vgg16-80.txt", text)``: compare ``text`` with ``tests/golden/vgg16-80.txt``, or rewrite
    that file when pytest runs with ``--update-golden``."""
    update = request.config.getoption("--update-golden")
    return lambda name, text: check_golden(ROOT / "tests" / "golden" / name, text, update)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden files (tests/golden/) from what the code renders now, instead of "
                          "comparing against them; review the change with git diff")


def pytest_configure(config):
    # the markers (gpu, slow) are registered in pyproject.toml's [tool.pytest.ini_options]
    # the roofline's calibration cache: never the developer's (~/.cache/archstat), also in subprocesses
    import atexit
    import os
    import shutil
    import tempfile

    os.environ["XDG_CACHE_HOME"] = cache = tempfile.mkdtemp(prefix="archstat-test-cache-")
    atexit.register(shutil.rmtree, cache, True)
    sys.path.insert(0, str(ROOT))
