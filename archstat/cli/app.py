"""The typer app and its single error boundary.

Data goes to stdout, diagnostics to stderr. Exit codes: 0 ok, 1 runtime failure
(no torch, no CUDA, out of memory), 2 usage or config error, 3 a check that
found a mismatch. A user error prints one line, ``error: ...``; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from archstat.errors import ArchstatError

try:  # typer ≥ 0.20 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer with click installed
    from click.exceptions import ClickException  # type: ignore[no-redef]  # the same class, from click itself

STATE = {"debug": False}


def error_line(message: str) -> None:
    """``error: ...`` on stderr, one line (control characters escaped); silent when stderr is closed."""
    from archstat.errors import one_line

    try:
        sys.stderr.write(f"error: {one_line(message)}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):   # 2>&- : no stderr to say it on; the exit code says it
        pass


def _quiet_stdout() -> None:
    """After a broken pipe: stdout points at /dev/null, so that Python's own flush at exit is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


class _Interrupted(Exception):
    """Ctrl-C inside a command (typer would turn a KeyboardInterrupt into a silent exit 130)."""


_OOM_TEXT = ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory")


def runtime_failure(exc: BaseException) -> str | None:
    """What a failure of the machine (memory, disk, a file) says, worded as what happened; None for a bug."""
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError)
                                        and any(t in str(exc).lower() for t in _OOM_TEXT)):
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return "out of memory" + (f" ({detail})" if detail else "")
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else " (writing the output)" if exc.errno else ""
        return f"{exc.strerror or exc}{where}"
    return None


class ArchstatGroup(TyperGroup):
    """Runs a command inside the error boundary, also under typer's test runner."""

    def invoke(self, ctx):
        from archstat.cli import progress
        from archstat.trace.inputs import CALLER

        token = CALLER.set("cli")   # messages name the command line's options (--input), not the API's
        words = [*(getattr(ctx, "_protected_args", None) or []), *ctx.args]   # the command and its first word
        progress.begin(" ".join(["archstat", *words[:2]]))   # a spinner on a terminal once it runs ~1 s
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None
        finally:
            progress.stop()
            CALLER.reset(token)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        debug = "--debug" in (sys.argv[1:] if args is None else list(args))
        if not windows_expand_args:   # passed on only when given: click before 8.0.1 has no such parameter
            extra["windows_expand_args"] = windows_expand_args
        from archstat.cli.output import data_channel

        try:
            with data_channel():   # fd 1 is stderr while the command runs; the data goes to a saved descriptor
                rv = super().main(args=args, prog_name=prog_name or "archstat", complete_var=complete_var,
                                  standalone_mode=False, **extra)
        except ArchstatError as exc:
            if debug:
                raise
            error_line(exc.format())
            sys.exit(exc.exit_code)
        except ClickException as exc:
            if debug:
                raise
            hint = " (see 'archstat --help')" if exc.exit_code == 2 else ""
            error_line(exc.format_message().replace("\n", " ") + hint)
            sys.exit(2 if exc.exit_code == 2 else 1)
        except (_Interrupted, typer.Abort, KeyboardInterrupt):
            error_line("interrupted")
            sys.exit(130)
        except BrokenPipeError:   # the reader left (| head): what it took was whole
            _quiet_stdout()
            sys.exit(0)
        except Exception as exc:  # a bug: still one line, with the way to see more
            if debug:
                raise
            failure = runtime_failure(exc)
            if failure:   # the machine, not archstat: a full disk, no memory
                error_line(failure)
                sys.exit(1)
            error_line(f"internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback, and please report it)")
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


app = typer.Typer(
    cls=ArchstatGroup,
    name="archstat",
    help="What a convolutional network costs — shapes, params, MACs, activation memory — "
         "from a YAML config, before you train it.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        from archstat._version import __version__

        typer.echo(f"archstat {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
):
    STATE["debug"] = debug
