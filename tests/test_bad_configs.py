"""Malformed configs under tests/bad/: each NAME.yaml beside NAME.err, the exact line the CLI prints.

Every one must exit 2 with that single line on stderr and nothing on stdout.
"""


import pytest

from tests.conftest import ROOT

BAD = ROOT / "tests" / "bad"
CASES = sorted(p.stem for p in BAD.glob("*.yaml"))


def test_corpus_is_complete():
    assert len(CASES) >= 20
    assert sorted(p.stem for p in BAD.glob("*.err")) == CASES


@pytest.mark.parametrize("case", CASES)
def test_bad_config(cli, case, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = (BAD / f"{case}.err").read_text().strip()
    r = cli("table", f"tests/bad/{case}.yaml")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.strip() == expected
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("target, message", [
    ("tests/bad", "error: tests/bad: is a directory, not a config file"),
    ("tests/bad/nope.yaml", "error: tests/bad/nope.yaml: no such file"),
])
def test_not_a_config_file(cli, target, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    r = cli("table", target)
    assert r.exit_code == 2 and r.stderr.strip() == message


def test_not_utf8(cli, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"archstat: 1\nname: caf\xe9\n")
    r = cli("table", str(path))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: {path}:2:10: not UTF-8 text (byte 0xe9)"
