"""The README's first commands stay true: CI runs exactly its test command."""

import re

from tests.conftest import ROOT


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_the_two_commands():
    first, second = readme_commands()[:2]
    assert first.endswith("archstat table vgg16")
    assert "pytest" in second


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci
    assert any("torch==2.13.0" in line for line in ci)
