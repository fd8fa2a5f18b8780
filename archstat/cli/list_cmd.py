"""archstat list: one line per zoo model."""

from __future__ import annotations

from typing import Optional

import typer

from archstat.cli import options, output
from archstat.cli.app import app
from archstat.cli.output import emit

DATASETS = (("cifar-100", "CIFAR-100"), ("cifar-10", "CIFAR-10"), ("c10", "CIFAR-10"), ("mnist", "MNIST"),
            ("svhn", "SVHN"), ("ilsvrc", "ImageNet"), ("imagenet", "ImageNet"))


def dataset_of(source: str) -> str:
    """The dataset a published error was measured on, as its source names it."""
    text = source.lower()
    return next((name for key, name in DATASETS if key in text), "")


def sort_key(sort: str):
    """Ascending (names in natural order: resnet18 before resnet101); models citing no value last; errors
    compared only within a dataset (ImageNet first)."""
    if sort == "name":
        from archstat.zoo import natural_key

        return lambda r: natural_key(r["name"])
    if sort == "top1_error":
        return lambda r: (r["top1_error"] is None, r["dataset"] != "ImageNet", r["dataset"], r["top1_error"] or 0)
    return lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0)


INDEX = "index.json"   # configs/index.json: every zoo config's row, keyed by the hash of its text


def config_row(name: str) -> dict:
    """A zoo config's row, computed (its spec read and analysed)."""
    from archstat.api import analyze, load_spec

    spec = load_spec(name)
    stats = analyze(spec)
    error = next((f for f in spec.figures if f.key == "top1_error"), None)
    return {"name": name, "kind": "config", "input": list(spec.input), "params": stats.totals.params,
            "macs": stats.totals.macs, "activation_bytes": stats.totals.activation_bytes,
            "top1_error": None if error is None else float(error.value),
            "dataset": dataset_of(error.source) if error else "", "description": spec.description}


def _digest(name: str) -> str:
    import hashlib

    from archstat.zoo import zoo_dir

    return hashlib.sha256((zoo_dir() / f"{name}.yaml").read_bytes()).hexdigest()


def _index() -> dict:
    """The shipped index of the zoo's rows (name → {sha256, row}); empty when absent or unreadable."""
    import json

    from archstat.zoo import zoo_dir

    try:
        return json.loads((zoo_dir() / INDEX).read_text(encoding="utf-8")).get("configs", {})
    except (OSError, ValueError, AttributeError):
        return {}


def build_index() -> dict:
    """configs/index.json's content: every config's row, computed, with the hash of the text it came from."""
    from archstat.zoo import zoo_names

    return {"about": "archstat list's rows of the zoo's configs, each with the sha256 of the config it was computed "
                     "from (a config whose text differs is computed again); python -m archstat.cli.zoo_index rewrites "
                     "it, tests/test_first_hour.py checks it is current",
            "configs": {name: {"sha256": _digest(name), "row": config_row(name)} for name in zoo_names()}}


def zoo_rows(pattern: Optional[str]) -> list[dict]:
    """One row per config and per module of the zoo (its figures as archstat table counts them, recorded in
    zoo.MODULES: no torch here), ``kind`` saying which. A config's row comes from the shipped index
    (configs/index.json) when the config's text is the one the index was computed from, else it is computed:
    listing the zoo reads ~60 small files instead of analysing ~60 networks."""
    from archstat.zoo import MODULES, module_names, zoo_names

    rows = []
    index = _index()
    for name in zoo_names(pattern):
        known = index.get(name)
        if known and known.get("sha256") == _digest(name) and known.get("row", {}).get("name") == name:
            rows.append(dict(known["row"]))
        else:
            rows.append(config_row(name))
    for name in module_names(pattern):
        m = MODULES[name]
        rows.append({"name": name, "kind": "module", "input": list(m.shape), "params": m.params, "macs": m.macs,
                     "activation_bytes": m.activation_bytes, "top1_error": None, "dataset": "",
                     "description": f"[module, needs torch] {m.description}"})
    return rows


SORT_KEYS = ("name", "input", "params", "macs", "activation_bytes", "top1_error")


@app.command("list")
def list_models(
    pattern: Optional[str] = typer.Argument(None, help="A glob filter such as 'vgg*'."),
    fmt: options.Format = "table",
    sort: str = typer.Option("name", "--sort", help="name, input, params, macs, activation_bytes or top1_error "
                             "(ascending; models citing no error last; top1_error within each dataset, ImageNet "
                             "first)."),
    wide: options.Wide = False,
    columns: options.Columns = None,
):
    """The zoo: one line per model with params, MACs, activation memory (batch 1, float32) and the
    published top-1 error where a source gives one."""
    from archstat.report import zoo_report

    fmt = options.choice(fmt, options.FORMATS, "--format")
    sort = options.choice(sort, SORT_KEYS, "--sort")
    rows = zoo_rows(pattern)
    rows.sort(key=sort_key(sort))
    if not rows and pattern:
        from archstat.errors import UsageError

        raise UsageError(f"no zoo model matches '{pattern}' (see 'archstat list')")
    emit(zoo_report.render(rows, fmt, output.view(columns, wide)))

