"""The command line: one thin module per command, one error boundary (``cli.app``)."""

# importing a command's module registers the command; `archstat --help` lists them in this order
from archstat.cli import (  # noqa: F401
    compare_cmd,
    devices_cmd,
    graph_cmd,
    info_cmd,
    list_cmd,
    llm_cmd,
    plot_cmd,
    profile_cmd,
    reproduce_cmd,
    sweep_cmd,
    table_cmd,
    verify_cmd,
)

# isort: split
from archstat.cli import roofline_cmd  # noqa: F401  (registered last, listed last)
from archstat.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
