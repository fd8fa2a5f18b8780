"""pytest --update-golden (tests/conftest.py): the tests that compare against tests/golden/ rewrite the
file instead, and without the option they compare. Run on a copy of the conftest in a temporary tree, so
the real golden files are never touched."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, check_golden


@pytest.mark.slow   # two pytest sessions, each in a fresh process
def test_update_golden_rewrites_the_file_and_only_with_the_option(tmp_path):
    tests = tmp_path / "tests"
    (tests / "golden").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    golden = tests / "golden" / "out.txt"
    golden.write_text("old rendering\n")
    (tests / "test_render.py").write_text('def test_render(golden):\n    golden("out.txt", "new rendering\\n")\n')

    def pytest(*args):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    r = pytest()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "tests/golden/out.txt differs (pytest --update-golden rewrites it)" in r.stdout
    assert golden.read_text() == "old rendering\n"   # a comparison never writes

    r = pytest("--update-golden")
    assert r.returncode == 0, r.stdout + r.stderr
    assert golden.read_text() == "new rendering\n"
    check_golden(golden, "new rendering\n", update=False)   # and the comparison now holds


def test_no_test_reads_a_golden_file_past_the_fixture():
    """A test that opened tests/golden/ itself would compare even under --update-golden."""
    readers = [p.name for p in sorted((ROOT / "tests").glob("test_*.py"))
               if '"golden"' in p.read_text() and p.name != "test_golden.py"]
    assert readers == []
