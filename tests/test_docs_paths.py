"""Every file and module a docstring, the README or the glossary names exists.

A docstring that points to `digest/db/subscribers.py` after it was renamed
sends the next reader to a file that is not there. Paths (`digest/...py`,
also written relative to the package, as `sending/queue.py` in the README's
map) and dotted names (`digest.sending.queue`, `db.schema.encode_topics`)
are checked against the package as it is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "digest"
PATH = re.compile(r"(?<![\w./-])((?:digest/)?[a-z_]+(?:/[a-z_0-9]+)*\.py)\b")
DOTTED = re.compile(r"(?<![\w./-])(digest(?:\.[a-z_][a-z_0-9]*)+)")
# digest.toml, digest.log, digest.mjml.j2: files, not modules; digest.templates: the templates/ folder, packaged.
NOT_MODULES = {"toml", "log", "j2", "templates"}


def docstrings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def texts():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            for doc in docstrings(path):
                yield path.relative_to(ROOT), doc
    for name in ("README.md", "docs/glossary.md"):
        yield name, (ROOT / name).read_text(encoding="utf-8")


def path_exists(named: str) -> bool:
    if named.startswith("digest/"):
        return (ROOT / named).exists()
    # Relative to the package (the README's map) or to the repository (scripts/, tests/).
    return (PACKAGE / named).exists() or (ROOT / named).exists() or any(PACKAGE.rglob(named))


def module_exists(dotted: str) -> bool:
    """digest.a.b (a module or package), or digest.a.b.name where name is defined in digest.a.b."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        base = ROOT.joinpath(*parts[:cut])
        if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
            rest = parts[cut:]
            if not rest:
                return True
            source = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
            return re.search(rf"^(?:def|class|async def) {rest[0]}\b|^{rest[0]}\b\s*[:=]|import .*\b{rest[0]}\b",
                             source.read_text(encoding="utf-8"), re.M) is not None
    return False


def test_every_named_path_exists():
    missing = [f"{where}: {named}" for where, text in texts() for named in PATH.findall(text)
               if "/" in named and not path_exists(named)]
    assert missing == []


def test_every_named_module_exists():
    missing = [f"{where}: {named}" for where, text in texts() for named in DOTTED.findall(text.replace("`", " "))
               if not NOT_MODULES & set(named.split(".")) and not module_exists(named.rstrip("."))]
    assert missing == []


def readme_map() -> dict[str, str]:
    """The README's map of the package: folder ("" for the files at its top) -> the words of its entry."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Working on digest", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines()[1:]:  # after "digest/"
        m = re.match(r"^  ([a-z_]+/)?", line)
        if line.startswith("  ") and not line.startswith("   ") and m:
            current = (m.group(1) or "").rstrip("/")
        elif not line.startswith(" "):
            current = None  # templates/, tests/...: beside the package
        if current is not None:
            entries[current] = entries.get(current, "") + " " + line
    return entries


def test_the_readme_map_names_every_module():
    entries = readme_map()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if "migrations" in rel.parts or path.name in ("__init__.py", "__main__.py"):
            continue
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        word = path.stem if folder else path.name
        if not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", entries.get(folder, "")):
            missing.append(str(rel))
    assert missing == [], "add them to the map under 'Working on digest' in README.md"
