"""archstat info NAME: what a config declares — params, input, references, the ops it uses."""

from __future__ import annotations

import typer

from archstat.cli import options
from archstat.cli.app import app
from archstat.cli.output import emit


def info_dict(name: str) -> dict:
    from collections import Counter

    from archstat.api import load, load_spec

    spec = load_spec(name)
    graph = load(spec)
    ops = Counter(n.op for n in graph.nodes if n.op != "input")
    return {
        "name": spec.name, "file": spec.file, "description": spec.description, "source": spec.source,
        "input": list(spec.input),
        "params": [{"name": p.name, "type": p.type_name, "default": _plain(p.default), "doc": p.doc}
                   for p in spec.params.values()],
        "blocks": {b.name: [{"name": p.name, "type": p.type_name, "default": _plain(p.default),
                             "required": p.required} for p in b.params.values()]
                   for b in spec.blocks.values()},
        "ops": dict(sorted(ops.items())),
        "layers": len(graph.nodes) - 1,
        "references": [{"figure": f.key, "published": f.published, "metric": f.metric, "source": f.source}
                       for f in spec.figures],
    }


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


@app.command("info")
def info(
    model: str = typer.Argument(..., help="A zoo name or a path to a YAML config.", metavar="NAME|PATH"),
    fmt: options.InfoFormat = "table",
):
    """Declared params and defaults, input, blocks, the ops used, and the cited figures."""
    fmt = options.choice(fmt, ("table", "json", "markdown"), "--format")
    d = info_dict(model)
    if fmt == "json":
        from archstat.report.sanitize import to_json

        emit(to_json(d))
        return
    from archstat.report.sanitize import clean, md_text

    t = md_text if fmt == "markdown" else clean   # every field from the config: one line, escaped
    bullet = "- " if fmt == "markdown" else "  "
    lines = [f"{'## ' if fmt == 'markdown' else ''}{t(d['name'])} ({t(d['file'])})", t(d["description"]), ""]
    lines.append("input: " + "×".join(map(str, d["input"])) + " (C×H×W)")
    lines.append("sources:")
    lines += [f"{bullet}{t(s)}" for s in d["source"]] or [f"{bullet}(none cited)"]
    lines.append("params (override with --set NAME=VALUE):")
    lines += [f"{bullet}{t(p['name'])}: {t(p['type'])} = {t(p['default'])}" + (f"  # {t(p['doc'])}" if p["doc"] else "")
              for p in d["params"]] or [f"{bullet}(none)"]
    if d["blocks"]:
        lines.append("blocks:")
        for b, ps in d["blocks"].items():
            sig = ", ".join(f"{p['name']}: {p['type']}" + ("" if p["required"] else f" = {p['default']}")
                            for p in ps)
            lines.append(f"{bullet}{t(b)}({t(sig)})")
    lines.append(f"ops ({d['layers']} layers): " + ", ".join(f"{k} ×{v}" for k, v in d["ops"].items()))
    lines.append("published figures:")
    lines += [f"{bullet}{t(r['figure'])}: \"{t(r['published'])}\" ({t(r['metric'])}; {t(r['source'])})"
              for r in d["references"]] or [f"{bullet}(none)"]
    if fmt == "table":   # fitted to the width: long lines wrap under their indent
        from archstat.cli.output import width
        from archstat.report.fit import wrap

        lines = [wrap(line, width(), " " * (len(line) - len(line.lstrip()) + 4)) if line else line for line in lines]
    emit("\n".join(lines))
