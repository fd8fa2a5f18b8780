"""Shared options are declared once (cli/options.py): a flag that means one thing has one help text in
every command that takes it."""

import typer

from archstat.cli import app

# flags whose meaning differs per command, each declared once per meaning in cli/options.py or in its command
SEVERAL_MEANINGS = {"--format", "--input", "--set", "--batch", "--dtype", "--device", "--train", "--tf32",
                    "--runtime", "--channels-last", "--optimizer", "--amp"}


def _helps() -> dict[str, dict[str, str]]:
    group = typer.main.get_command(app)
    out: dict[str, dict[str, str]] = {}
    for name, command in group.commands.items():
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--"):
                    out.setdefault(flag, {})[name] = param.help or ""
    return out


def test_a_shared_option_has_one_help_text():
    helps = _helps()
    shared = {flag: by_command for flag, by_command in helps.items() if len(by_command) > 1}
    assert {"--depth", "--units", "--mode", "--wide", "--columns", "--fits"} <= set(shared)
    for flag, by_command in shared.items():
        if flag not in SEVERAL_MEANINGS:
            assert len(set(by_command.values())) == 1, (flag, by_command)


def test_each_meaning_of_a_flag_is_declared_once():
    """--batch is an int in table, compare, roofline and profile, a list in sweep and plot: two texts."""
    helps = _helps()
    assert len({helps["--batch"][c] for c in ("table", "compare", "roofline", "profile")}) == 1
    assert helps["--batch"]["sweep"] == helps["--batch"]["plot"] != helps["--batch"]["table"]
    assert len({helps["--dtype"][c] for c in ("table", "compare", "sweep")}) == 1
    assert helps["--dtype"]["roofline"] == helps["--dtype"]["plot"]
    assert len({helps["--format"][c] for c in ("sweep", "roofline", "profile", "list", "verify",
                                               "devices", "reproduce")}) == 1
    assert helps["--format"]["compare"] == helps["--format"]["table"]   # both write an HTML page too
