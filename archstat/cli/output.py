"""The output layer: everything archstat prints as data goes through ``emit`` (stdout) or
``write_file`` (a named file such as ``plot --out``), at the width the reader has.

The width: ``COLUMNS`` when set (also when stdout is a pipe or a file); else the terminal's width
when stdout is a terminal; else, piped or redirected, the width of the terminal on stderr if there
is one (``archstat table vgg16 | less``); else ``PIPE_WIDTH`` (160) columns.

What reaches stdout is sanitised once more here (``report/sanitize.clean_lines``: no control
character but the newline, whatever a renderer let through) and written whole or not at all
without notice: the bytes go to the file descriptor in a loop that takes short writes, and any
error (a disk that fills after the first buffer, a file over its size limit, a closed or broken
stdout) is an ``OutputError`` (exit 1, one line) instead of a truncated file and exit 0. A named
file is written to a temporary file beside it, synced, and renamed over the target only when
complete.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

PIPE_WIDTH = 160
MIN_WIDTH = 40

# The data channel: while a command runs, file descriptor 1 points at stderr and archstat's data goes to a
# private duplicate of the original stdout, which no user code (a forward's os.write, os.system, a C library's
# printf, a thread that outlives its call, a buffer libc flushes at exit) can reach.
_DATA_FD: Optional[int] = None
_TERMINAL_ENCODING = "utf-8"   # the encoding stdout had (a table shown on a terminal is written in it)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers (a C library's printf), so that what it wrote goes where fd 1 points now."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):   # no C library to ask (Windows): nothing buffered we can flush
        pass


@contextlib.contextmanager
def data_channel() -> Iterator[None]:
    """For one command: stdout's data kept apart from anything else written to file descriptor 1. When
    ``sys.stdout`` is fd 1, fd 1 is duplicated for archstat's data and pointed at stderr (or /dev/null when
    stderr is closed) until the command ends; elsewhere (a test runner's stream, stdout closed) it does
    nothing."""
    global _DATA_FD
    if _DATA_FD is not None or _fd(sys.stdout) != 1:
        yield
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    _flush_c_stdio()
    try:
        saved = os.dup(1)          # not inheritable: a child process never gets it
    except OSError:
        yield
        return
    try:
        try:
            os.dup2(2, 1)
        except OSError:            # no stderr: what user code writes is dropped, never mixed into the data
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
    except OSError:                # fd 1 is left as it was: the descriptor kept for the data is not needed
        with contextlib.suppress(OSError):
            os.close(saved)
        yield
        return
    _DATA_FD = saved
    # archstat's own writes through sys.stdout (--help, --version) go to the data too; the user's code has its
    # sys.stdout sent to stderr while it runs (trace.run.user_code)
    original = sys.stdout
    global _TERMINAL_ENCODING
    _TERMINAL_ENCODING = getattr(original, "encoding", None) or "utf-8"
    wrapper = open(saved, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stdout = wrapper
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
        sys.stdout = original
        with contextlib.suppress(OSError, ValueError):   # closed now (closefd=False: the descriptor stays),
            wrapper.close()                              # never flushed later into a reused descriptor
        _flush_c_stdio()
        _DATA_FD = None
        with contextlib.suppress(OSError):
            os.dup2(saved, 1)
        with contextlib.suppress(OSError):
            os.close(saved)


def _stdout_isatty() -> bool:
    """Whether archstat's data goes to a terminal (the data channel's descriptor once claimed)."""
    if _DATA_FD is not None:
        try:
            return os.isatty(_DATA_FD)
        except OSError:
            return False
    return _isatty(sys.stdout)



def width() -> int:
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(MIN_WIDTH, int(env))
    for fd in (_DATA_FD if _DATA_FD is not None else _fd(sys.stdout), _fd(sys.stderr)):
        try:
            if fd is not None and os.isatty(fd):
                return max(MIN_WIDTH, os.get_terminal_size(fd).columns)
        except (AttributeError, OSError, ValueError):
            continue
    return PIPE_WIDTH


def view(columns: Optional[str] = None, wide: bool = False):
    from archstat.report.fit import View, parse_columns

    return View(width(), parse_columns(columns), wide)


def _color() -> bool:
    return _stdout_isatty() and "NO_COLOR" not in os.environ


def emit(renderable) -> None:
    """Print a rendered result (a str, a fitted ``Doc`` or a rich renderable) to stdout, whole."""
    from archstat.cli import progress
    from archstat.report.fit import Doc

    progress.stop()   # the progress display is gone before the data comes

    if isinstance(renderable, Doc):
        color = _color()
        write_stdout(renderable.ansi() if color else renderable.text(), styled=color, for_people=True)
    elif isinstance(renderable, str):   # JSON, CSV, markdown, HTML, DOT: UTF-8 bytes whatever the locale
        write_stdout(renderable)
    else:   # rich (verify's table): rendered to text first, written like the rest
        import io

        from rich.console import Console

        tty = _stdout_isatty()
        buf = io.StringIO()
        Console(file=buf, highlight=False, soft_wrap=False, width=width(), no_color=not tty, force_terminal=tty,
                color_system="auto" if tty else None).print(renderable)
        write_stdout(buf.getvalue(), styled=tty, for_people=True)


def _isatty(stream) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _fd(stream) -> Optional[int]:
    """The file descriptor under ``stream``, or None for a stream without one (a test runner's)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):   # io.UnsupportedOperation is both
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO}


def _output_error(exc: OSError, written: int, total: int, where: str = "stdout", cut: bool = False):
    from archstat.errors import OutputError

    if exc.errno == errno.EBADF:
        return OutputError(f"cannot write the output: {where} is closed")
    done = f"{written:,} of {total:,} bytes written" if total else ""
    after = ("and removed again: the file is as it was" if cut else "the output is incomplete")
    return OutputError(f"cannot write the output to {where}: {exc.strerror or exc} ({done}{', ' if done else ''}"
                       f"{after})")


def _regular_file_offset(fd: int) -> Optional[int]:
    """Where the output starts in a regular file (``> x.json`` or ``>> log``); None for a pipe or a terminal."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:   # appended: it starts at the end, wherever the offset is
            return st.st_size
        return os.lseek(fd, 0, os.SEEK_CUR)
    except (OSError, ImportError):   # no fcntl (Windows): never cut
        return None


def _cut_back(fd: int, start: Optional[int]) -> bool:
    """After a failed write to a regular file, the part written is taken off again: no half JSON."""
    if start is None:
        return False
    try:
        os.ftruncate(fd, start)
        os.lseek(fd, start, os.SEEK_SET)
        return True
    except OSError:
        return False


def write_stdout(text: str, *, styled: bool = False, for_people: bool = False) -> None:
    """``text`` to stdout, whole, or an ``OutputError``. ``styled``: it holds archstat's own ANSI
    styles (its content was cleaned before they were added), so it is not cleaned again. The bytes are
    UTF-8 whatever the locale says (``PYTHONIOENCODING=ascii`` or ``latin-1`` never turn a JSON or CSV into
    escapes or other bytes), except a table for people shown on a terminal, in the terminal's encoding."""
    from archstat.errors import OutputError
    from archstat.report.sanitize import clean_lines

    if not styled:
        text = clean_lines(text)
    if not text.endswith("\n"):
        text += "\n"
    stream = sys.stdout
    if _DATA_FD is not None:   # the data channel: fd 1 is stderr now, the data goes to the saved descriptor
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()   # what went through sys.stdout before goes first
        encoding = _TERMINAL_ENCODING if for_people and _stdout_isatty() else "utf-8"
        write_all(_DATA_FD, text.encode(encoding, errors="backslashreplace"))
        return
    if stream is None:   # started with stdout closed (>&-): Python has no sys.stdout at all
        raise OutputError("cannot write the output: stdout is closed (redirect it to a file or a pipe instead)")
    fd = _fd(stream)
    if fd is None:   # a stream in memory (a test runner, a notebook): its own write, checked
        written = 0
        try:
            while written < len(text):
                n = stream.write(text[written:])
                written += n if isinstance(n, int) and n > 0 else len(text) - written
            stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc, written, len(text)) from None
        except ValueError as exc:   # "I/O operation on closed file"
            raise OutputError(f"cannot write the output: stdout is closed ({exc})") from None
        return
    encoding = (getattr(stream, "encoding", None) or "utf-8") if for_people and _isatty(stream) else "utf-8"
    data = text.encode(encoding, errors="backslashreplace")
    try:
        stream.flush()   # anything written through sys.stdout before goes first
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _output_error(exc, 0, 0) from None
    except ValueError:
        raise OutputError("cannot write the output: stdout is closed") from None
    write_all(fd, data)


def write_all(fd: int, data: bytes, where: str = "stdout") -> None:
    """Every byte of ``data`` to ``fd``: short writes continue, a non-blocking descriptor waits until
    it can take more, and any error raises ``OutputError`` saying how much was written."""
    view = memoryview(data)
    written = 0
    start = _regular_file_offset(fd)
    while written < len(data):
        try:
            n = os.write(fd, view[written:written + (1 << 20)])
        except BlockingIOError:   # stdout set non-blocking by another process: wait, then go on
            import select

            select.select([], [fd], [])
            continue
        except InterruptedError:
            continue
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc, written, len(data), where, _cut_back(fd, start)) from None
        if n <= 0:
            raise _output_error(OSError(errno.EIO, "the write made no progress"), written, len(data), where,
                                _cut_back(fd, start))
        written += n
    try:   # a network filesystem reports a deferred write error when a descriptor to the file closes
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(os.dup(fd))
    except OSError as exc:
        raise _output_error(exc, written, len(data), where) from None


def write_file(target: str | Path, write: Callable[[Path], object], option: str = "--out") -> Path:
    """Write a named file whole or not at all: ``write(tmp)`` fills a temporary file beside
    ``target`` (same folder, so the rename is atomic), which is synced and renamed over the target
    only when complete; on any failure the temporary file is removed and the target left as it was.
    A full disk is an ``OutputError`` (exit 1); a place that cannot be written a ``UsageError``."""
    import secrets

    path = Path(target)
    tmp = path.with_name(f".archstat-{os.getpid()}-{secrets.token_hex(4)}.tmp")   # short: any target name fits
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise file_error(target, exc, option) from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def file_error(target: str | Path, exc: OSError, option: str = "--out"):
    """A full disk is a runtime failure (exit 1, ``OutputError``); a name or a place that cannot be
    written is a usage error (exit 2)."""
    from archstat.errors import OutputError, UsageError

    if exc.errno in _DISK_FULL:
        return OutputError(f"cannot write {target}: {exc.strerror or exc} (nothing was written; "
                           "the file, if it existed, is unchanged)")
    return UsageError(f"{option} {target}: cannot write: {exc.strerror or exc}")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def render_stats(stats, fmt: str, units: str, view=None):
    if fmt == "json":
        from archstat.report.json_report import render
    elif fmt == "csv":
        from archstat.report.csv_report import render
    elif fmt == "markdown":
        from archstat.report.markdown_report import render
    elif fmt == "html":
        from archstat.report.html_report import render
    else:
        from archstat.report.table_report import render as render_table

        return render_table(stats, units, view)
    return render(stats, units)
