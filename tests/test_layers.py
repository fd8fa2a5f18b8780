"""The layers of the package and the one direction imports may take between them, read from the source
with ``ast`` (every import, including the lazy ones inside functions): a module imports only from its own
layer or the layers before it. Data flows config → ops → analyze → (api) → report/cli; in import terms
config reads the op registry (a config is checked against the ops' Args), so ops sits below config.

See docs/architecture.md for what each layer holds and where to add an op, a device or a renderer."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "archstat"

# lowest first; a module may import from its own layer and every layer above it in this list
LAYERS = [
    ("base", ["archstat._version", "archstat.errors", "archstat.text", "archstat.enums", "archstat.dtypes",
              "archstat.graph", "archstat.zoo", "archstat.install"]),
    ("ops", ["archstat.ops"]),                       # the pure half of each op: Args, shapes, params, MACs
    ("ir", ["archstat.ir"]),                         # the operator log trace writes and perf reads; the aten table
    ("config", ["archstat.config"]),                 # YAML → Spec → Graph, checked against the op registry
    ("argcheck", ["archstat.argcheck"]),             # the checks the API and the command line share
    ("analyze", ["archstat.analyze"]),               # pure functions of a Graph or a ModelStats
    ("store", ["archstat.calibration"]),             # the calibration store (a file in the XDG cache)
    ("builder", ["archstat.builder"]),               # torch: Graph → nn.Module; the ops' torch half
    ("trace", ["archstat.trace"]),                   # any nn.Module → ModelStats and its operator log (torch)
    ("perf", ["archstat.perf"]),                     # the performance model: precision, plan, cost, schedule
    ("llm", ["archstat.llm"]),                       # decoder LLMs from their configs: counts, programs, serving
    ("api", ["archstat.api", "archstat.orchestrate", "archstat.prediction"]),   # load, then analyse
    ("report", ["archstat.report"]),                 # renderers (and the registry of result types)
    ("measure", ["archstat.verify", "archstat.profile"]),   # checks against torch, device measurement
    ("cli", ["archstat.cli", "archstat.__main__", "archstat"]),   # the commands; the package's front
]

# packages that import each other inside one layer (the rule above allows it); any other circle fails
KNOWN_CIRCLES: list[set[str]] = []


def layer_of(module: str) -> int:
    best, found = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, found = len(p), i
    assert found is not None, f"{module} is in no layer: add it to LAYERS"
    return found


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (PACKAGE.parent / rel / "__init__.py").exists()


def imports_of(path: Path):
    """(line, imported module) for every import of an archstat module in ``path``."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "archstat":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "archstat":
                continue
            for alias in node.names:   # `from archstat import api` imports a module; `__version__` the root
                sub = f"{source}.{alias.name}"
                yield node.lineno, sub if is_module(sub) else source


def all_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, target in imports_of(path):
            yield module_name(path), path, line, target


def test_every_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_no_upward_import():
    upward = [f"{path.relative_to(PACKAGE.parent)}:{line}: {me} ({LAYERS[layer_of(me)][0]}) imports {target} "
              f"({LAYERS[layer_of(target)][0]})"
              for me, path, line, target in all_imports() if layer_of(target) > layer_of(me)]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_circle_between_packages():
    edges: dict[str, set[str]] = {}
    for me, _, _, target in all_imports():
        a, b = package_of(me), package_of(target)
        if a != b and a != "archstat" and b != "archstat":
            edges.setdefault(a, set()).add(b)

    def reaches(a: str, b: str, seen: set) -> bool:
        return any(n == b or (n not in seen and not seen.add(n) and reaches(n, b, seen)) for n in edges.get(a, ()))

    circles = {frozenset((a, b)) for a in edges for b in edges[a] if reaches(b, a, set())}
    unknown = [sorted(c) for c in circles if not any(c <= known for known in KNOWN_CIRCLES)]
    assert not unknown, f"packages that import each other: {unknown}"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """The reader itself: an import inside a function counts, and so does a relative one."""
    pkg = tmp_path / "archstat" / "analyze"
    pkg.mkdir(parents=True)
    (tmp_path / "archstat" / "__init__.py").write_text("")
    (tmp_path / "archstat" / "report.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text("def f():\n    from archstat import report\n    from .. import report as r\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "archstat")
    assert list(imports_of(pkg / "x.py")) == [(2, "archstat.report"), (3, "archstat.report")]
    assert layer_of("archstat.report") > layer_of("archstat.analyze.x")
