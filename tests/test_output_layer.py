"""The output layer (issue 23): data is written whole or the run fails with exit 1 and one line.

A disk that fills after the first buffer (here: a file size limit, RLIMIT_FSIZE, which makes the
kernel take the first 8 KiB and refuse the rest, exactly as a filesystem that fills up does), a
stream that fails after N bytes, a closed stdout (``>&-``) and a named file that cannot be finished
(``plot --out``, written beside the target and renamed only when complete)."""

import errno
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file descriptors and resource limits")


def archstat(*args, stdout=subprocess.PIPE, limit_bytes=None, shell_prefix=None):
    """archstat in a subprocess; ``limit_bytes``: the largest file it may write (RLIMIT_FSIZE)."""
    def limit():
        if limit_bytes is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    cmd = [sys.executable, "-m", "archstat", *args]
    if shell_prefix:
        cmd = ["sh", "-c", shell_prefix + ' "$@"', "sh", *cmd]
    return subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=limit,
                          env={**os.environ, "COLUMNS": "100"})


@posix
def test_disk_full_after_the_first_buffer_is_an_error_and_leaves_no_half_file(tmp_path):
    out = tmp_path / "x.json"
    with open(out, "w") as f:
        p = archstat("table", "resnet152", "--format", "json", stdout=f, limit_bytes=8192)
    assert p.returncode == 1, p.stderr
    assert re.fullmatch(r"error: cannot write the output to stdout: File too large \(8,192 of [\d,]+ bytes written, "
                        r"and removed again: the file is as it was\)\n", p.stderr), p.stderr
    assert out.read_bytes() == b""   # not 8,192 bytes of invalid JSON
    # the same output, room enough: whole and valid
    with open(out, "w") as f:
        assert archstat("table", "resnet152", "--format", "json", stdout=f).returncode == 0
    assert json.loads(out.read_text())["totals"]["params"] == 60_192_808   # torchvision's resnet152


@posix
def test_an_appended_file_keeps_what_it_held(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("earlier runs\n")
    with open(log, "a") as f:
        p = archstat("table", "resnet152", "--format", "csv", stdout=f, limit_bytes=16384)
    assert p.returncode == 1 and "the file is as it was" in p.stderr, p.stderr
    assert log.read_text() == "earlier runs\n"


@posix
def test_closed_stdout_is_a_one_line_error():
    p = archstat("table", "vgg16", shell_prefix="exec >&-;")
    assert p.returncode == 1
    assert p.stderr == "error: cannot write the output: stdout is closed (redirect it to a file or a pipe instead)\n"
    p = archstat("table", "vgg16", shell_prefix="exec >&- 2>&-;")   # nowhere to say it: the exit code does
    assert p.returncode == 1 and p.stderr == ""


@posix
def test_a_reader_that_leaves_early_is_no_error():
    p = subprocess.run(f"{sys.executable} -m archstat table resnet152 --wide | head -1", shell=True, cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("resnet152") and p.stderr == "", p.stderr


class FillsAfter(io.TextIOBase):
    """A text stream that takes ``room`` characters, then fails as a full disk does."""

    def __init__(self, room: int):
        self.room, self.got = room, []

    def writable(self):
        return True

    def write(self, text):
        if sum(map(len, self.got)) + len(text) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.got.append(text)
        return len(text)


def run_with_stdout(stream, args, monkeypatch):
    from archstat.cli.app import app as typer_app

    monkeypatch.setattr(sys, "stdout", stream)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit) as exit_:
        typer_app(args)
    return exit_.value.code, err.getvalue()


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown", "html"])
def test_a_stream_that_fills_up_fails_every_format(monkeypatch, fmt):
    code, err = run_with_stdout(FillsAfter(8192), ["table", "resnet152", "--format", fmt], monkeypatch)
    assert code == 1 and err.startswith("error: cannot write the output to stdout: No space left on device"), err
    assert err.count("\n") == 1


def test_a_stream_with_room_gets_it_all(monkeypatch):
    stream = FillsAfter(10**7)
    code, err = run_with_stdout(stream, ["table", "vgg16", "--format", "json"], monkeypatch)
    assert code == 0 and err == ""
    assert json.loads("".join(stream.got))["totals"]["params"] == 138_357_544   # cs231n's VGG16 with biases


@posix
def test_short_writes_are_continued(monkeypatch):
    """A descriptor that takes a few bytes per write (a slow pipe, a signal) still gets every byte."""
    from archstat.cli import output

    real_write = os.write
    calls = []

    def trickle(fd, data):
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))

    r, w = os.pipe()
    monkeypatch.setattr(output.os, "write", trickle)
    output.write_all(w, b"x" * 1000)
    os.close(w)
    got = b""
    while chunk := os.read(r, 4096):
        got += chunk
    os.close(r)
    assert got == b"x" * 1000 and len(calls) == 143   # ceil(1000 / 7) writes of at most 7 bytes


@posix
def test_write_errors_name_what_was_written(tmp_path):
    from archstat.cli import output
    from archstat.errors import OutputError

    fd = os.open("/dev/full", os.O_WRONLY) if Path("/dev/full").exists() else pytest.skip("needs /dev/full")
    try:
        with pytest.raises(OutputError) as exc:
            output.write_all(fd, b"abc")
    finally:
        os.close(fd)
    assert exc.value.exit_code == 1
    assert exc.value.format() == ("cannot write the output to stdout: No space left on device (0 of 3 bytes "
                                  "written, the output is incomplete)")


def test_named_file_is_written_whole_or_not_at_all(cli, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from archstat.report import plots

    target = tmp_path / "plot.png"
    target.write_bytes(b"the plot of yesterday")
    real_save = plots.save

    def fills_up(fig, out, suffix=None):   # half a file, then the disk is full
        Path(out).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plots, "save", fills_up)
    r = cli("plot", "lenet5", "--out", str(target))
    assert r.exit_code == 1 and r.stderr == (f"error: cannot write {target}: No space left on device (nothing was "
                                             "written; the file, if it existed, is unchanged)\n"), r.stderr
    assert target.read_bytes() == b"the plot of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]   # no temporary file left behind
    monkeypatch.setattr(plots, "save", real_save)
    r = cli("plot", "lenet5", "--out", str(target))
    assert r.exit_code == 0 and target.read_bytes().startswith(b"\x89PNG\r\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]


def test_svg_written_through_the_temporary_file_is_the_same(cli, tmp_path):
    """The plot drawn into the temporary file (format given, not guessed from '.tmp') is a real SVG."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.svg"
    assert cli("plot", "lenet5", "--out", str(out)).exit_code == 0
    assert out.read_text().lstrip().startswith("<?xml")
