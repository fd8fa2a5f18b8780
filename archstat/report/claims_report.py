"""The claims of ``archstat reproduce`` in the four formats."""

from __future__ import annotations

from decimal import Decimal

from archstat.report.sanitize import csv_text, md_row, md_text, to_json
from archstat.report.units import fmt_computed


def _computed_text(value) -> str:
    if isinstance(value, list):
        return "×".join(map(str, value))
    return fmt_computed(value)


def _computed_json(value):
    if isinstance(value, Decimal):
        return float(round(value, 6))
    return value


def render(info: dict, results, fmt: str, view=None):
    if fmt == "json":
        return to_json({**info, "claims": [
            {"id": r.id, "claim": r.claim, "published": r.published, "computed": _computed_json(r.computed),
             "how": r.how, "status": r.status, "note": r.note, "source": r.source} for r in results]})
    if fmt == "csv":
        return csv_text([["id", "claim", "published", "computed", "status", "note"]] + [
            [r.id, r.claim, r.published, _computed_json(r.computed), r.status, r.note] for r in results])
    if fmt == "markdown":
        lines = [f"## {md_text(info['name'])}", "", md_text(info["description"]), "",
                 "| claim | published | computed | status | note |", "|---|---|---:|---|---|"]
        lines += [md_row(" ".join(str(v).split("\n")) for v in (r.claim, r.published, _computed_text(r.computed),
                                                                  r.status, r.note)) for r in results]
        return "\n".join(lines) + "\n"
    from archstat.analyze.references import NOT_REPRODUCED, REPRODUCED
    from archstat.report.fit import Doc, View, stacked, wrap

    view = view or View()
    width = view.width if not view.wide else 10**6
    style = {REPRODUCED: "green", NOT_REPRODUCED: "red"}
    doc = Doc().add(wrap(info["description"], width), "bold").add(wrap(f"source: {info['source']}", width), "dim")
    doc.add("")
    doc.extend(stacked("", [(f"{r.status}  {r.claim}", style.get(r.status, "bold"),
                             [("published", r.published), ("computed", _computed_text(r.computed)),
                              ("how", r.how), ("note", r.note)]) for r in results], width))
    done = sum(r.status == REPRODUCED for r in results)
    return doc.add("").add(wrap(f"{done} of {len(results)} reproduced; the computed value is shown whatever "
                                "the verdict.", width))
