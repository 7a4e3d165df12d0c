"""The house: digest's import graph has no circles and no arrow running back up a layer.

Read from the source with `ast` (every import, also those inside functions),
so an import hidden in a function body counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digest"

# Bottom to top: a module may import its own layer's package and the layers
# below it. Packages sharing a layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("digest.errors", "digest.models", "digest.config", "digest.members", "digest.signing", "digest.i18n"),  # the base every layer uses
    ("digest.outbound",),  # the one outbound HTTP client: everything digest fetches
    ("digest.db",),  # the one database boundary
    ("digest.edition",),  # the edition's pure stages
    ("digest.ingest", "digest.message"),  # sources in; the message maker
    ("digest.checks",),
    ("digest.bounces",),  # what a failure does to a member (the send records refusals through it), what comes back
    ("digest.sending",),
    ("digest.editorial",),  # the editor's operations, composed from the layers below
    ("digest.web",),
    ("digest.cli",),
    ("digest.__main__",),  # python -m digest
]
BASE = set(LAYERS[0])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The digest modules `name` imports (a `from pkg import sub` counts as importing pkg.sub)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("digest"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("digest"):
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found.update(subs or {target})
    found.discard(name)
    return {m for m in found if m in known}


def layer_of(module: str) -> tuple[int, str]:
    for i, group in enumerate(LAYERS):
        for pkg in group:
            if module == pkg or module.startswith(pkg + "."):
                return i, pkg
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS in {__file__}")


def wrong_arrows(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in graph.items():
        if module == "digest":
            continue
        mine, my_pkg = layer_of(module)
        for target in targets:
            theirs, their_pkg = layer_of(target)
            if theirs > mine or (theirs == mine and their_pkg != my_pkg and my_pkg not in BASE):
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_every_module_is_in_a_layer(graph):
    for module in graph:
        if module != "digest":
            layer_of(module)


def test_no_arrow_runs_up_a_layer_or_across_to_a_sibling(graph):
    wrong = wrong_arrows(graph)
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_import_graph_has_no_circle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_checks_can_fail():
    """Both checks must see the faults the house had: a circle, an upward arrow, a sibling arrow."""
    circle = {"digest.checks.message": {"digest.sending.queue"}, "digest.sending.queue": {"digest.editorial.preview"},
              "digest.editorial.preview": {"digest.checks.message"}}
    assert find_cycle(circle) == ["digest.checks.message", "digest.sending.queue", "digest.editorial.preview",
                                  "digest.checks.message"]
    assert wrong_arrows(circle) == ["digest.checks.message -> digest.sending.queue",
                                    "digest.sending.queue -> digest.editorial.preview"]
    assert wrong_arrows({"digest.ingest.feeds": {"digest.message.links"}}) == [
        "digest.ingest.feeds -> digest.message.links"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_count(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from .preview import x\n    from ..db import editions as e\n")
    known = {"digest.editorial.preview", "digest.db", "digest.db.editions"}
    assert imports_of("digest.editorial.mod", source, known) == {"digest.editorial.preview", "digest.db.editions"}
