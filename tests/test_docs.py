"""docs/: the op reference is the registry's own (generated, committed, equal), and the docs are by reader
(the README is the front page and links into docs/, never to a path outside the repository)."""

import re

from archstat.ops import reference
from archstat.ops.registry import all_ops
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_the_committed_op_table_is_the_generated_one():
    text = (DOCS / "ops.md").read_text()
    assert reference.BEGIN in text and reference.END in text
    assert reference.splice(text) == text, "run: python -m archstat.ops.reference --write"


def test_the_op_table_has_every_op_and_its_arguments():
    table = reference.table()
    for name, spec in all_ops().items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        for field in spec.fields():
            assert f"`{field.name}`" in row, (name, field.name)
    assert "`out`: int (≥ 1), `kernel`: size (≥ 1), `stride`: size = 1 (≥ 1)" in table   # conv's first three


def test_the_readme_links_into_docs_and_every_link_resolves():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme and "shared/" not in readme
    for name in ("config.md", "ops.md", "usage.md", "torch.md", "roofline.md", "api.md", "architecture.md"):
        assert f"(docs/{name})" in readme, name
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), (path.name, target)
