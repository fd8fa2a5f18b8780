"""Progress on stderr while a command works, on a terminal only: nothing on a pipe or in a file.

One rich ``Progress`` per command (rich allows one live display at a time):

- ``say(text)``: what the command is doing now ("tracing module:… on the meta device"). A spinner with that
  text and the time elapsed appears once the command has run for ``DELAY`` seconds (a command that answers
  in a fraction of a second shows nothing);
- ``bar(text, total)``: a bar for a loop (verify's models, profile's steps, sweep's points), shown at once;
  ``bar.update(done, text)`` moves it.

The command line's error boundary (``app.py``) opens it around every command and closes it before the
command's output is written (``output.emit`` calls ``stop``), so data and progress never interleave. The
display is transient: it leaves nothing behind on the terminal.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Optional

DELAY = 1.0   # seconds a command runs before its spinner shows


def _short(text: str, width: int = 56) -> str:
    """A description that leaves the bar and the time room on an 80-column terminal."""
    return text if len(text) <= width else text[:width - 1] + "…"


def _tty() -> bool:
    try:
        return bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _State:
    def __init__(self):
        self.active = False          # a command runs with stderr on a terminal
        self.text = ""
        self.progress: Any = None    # made when first shown (importing rich.progress costs ~75 ms)
        self.spinner: Any = None
        self.timer: Optional[threading.Timer] = None
        self.lock = threading.RLock()


_STATE = _State()


def begin(text: str) -> None:
    """Open the command's display (when stderr is a terminal): a spinner saying ``text``, after ``DELAY``;
    nothing is imported or drawn before then."""
    stop()
    if not _tty():
        return
    s = _STATE
    s.active, s.text = True, text
    s.timer = threading.Timer(DELAY, _show)
    s.timer.daemon = True
    s.timer.start()


def _made() -> Any:
    """The rich Progress, made and started on first use (the caller holds the lock)."""
    s = _STATE
    if s.progress is None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        s.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=24),
                              TimeElapsedColumn(), console=Console(file=sys.stderr, force_terminal=True),
                              transient=True, redirect_stdout=False, redirect_stderr=False)
        s.progress.start()
    return s.progress


def _show() -> None:
    s = _STATE
    with s.lock:
        if s.active and s.progress is None:
            from archstat.report.sanitize import rich_text

            s.spinner = _made().add_task(rich_text(_short(s.text)), total=None)


def say(text: str) -> None:
    """What the command is doing now (the spinner's text)."""
    s = _STATE
    with s.lock:
        s.text = text
        if s.progress is not None and s.spinner is not None:
            from archstat.report.sanitize import rich_text

            s.progress.update(s.spinner, description=rich_text(_short(text)))
            s.progress.refresh()


class Bar:
    """A bar of ``total`` steps, shown at once; nothing on a pipe."""

    def __init__(self, text: str, total: int):
        s = _STATE
        self.task = None
        with s.lock:
            if not s.active:
                return
            from archstat.report.sanitize import rich_text

            progress = _made()
            if s.spinner is not None:   # the bar says what is going on now
                progress.remove_task(s.spinner)
                s.spinner = None
            self.task = progress.add_task(rich_text(_short(text)), total=total)

    def update(self, done: int, text: Optional[str] = None) -> None:
        s = _STATE
        with s.lock:
            if self.task is None or s.progress is None:
                return
            if text is None:
                s.progress.update(self.task, completed=done)
                return
            from archstat.report.sanitize import rich_text

            s.progress.update(self.task, completed=done, description=rich_text(_short(text)))
            s.progress.refresh()   # a new step is shown even when it ends before the next refresh

    def done(self) -> None:
        s = _STATE
        with s.lock:
            if self.task is not None and s.progress is not None:
                s.progress.remove_task(self.task)
            self.task = None


def bar(text: str, total: int) -> Bar:
    return Bar(text, total)


def stop() -> None:
    """Close the display (before the output is written, and when the command ends); idempotent."""
    s = _STATE
    with s.lock:
        if s.timer is not None:
            s.timer.cancel()
        if s.progress is not None:
            s.progress.stop()
        s.active, s.progress, s.spinner, s.timer = False, None, None, None
