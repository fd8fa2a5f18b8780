"""The command line: one thin module per command, one error boundary (``cli.app``)."""

from archstat.cli import (compare_cmd, devices_cmd, graph_cmd, info_cmd, list_cmd, plot_cmd,  # noqa: F401  (registers
                          profile_cmd, reproduce_cmd, sweep_cmd, table_cmd, verify_cmd)  # the commands)
from archstat.cli import roofline_cmd  # noqa: F401  (registers archstat roofline)
from archstat.cli.app import app


def main() -> None:
    app()
