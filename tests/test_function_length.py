"""No function in digest/ is over 60 lines (migrations aside): a long function wants its parts named.

Counted from the `def` line to the function's last line, docstring and
comments included, as a reader scrolls it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "digest"
LIMIT = 60

# Functions of other engineers' areas still over the limit when this test was
# written (issue 19): each is being split on its own branch. The lead removes
# a name once that branch is merged; the list only shrinks.
ALLOWED: set[str] = {
    "sending/transports/pipelined.py:RelayConnection.send",  # the sending engineer's
    "sending/worker.py:_SendRun._connection",  # the sending engineer's
    "sending/processes.py:send_all",  # the sending engineer's
}


def long_functions() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, qualname in _functions(tree, ""):
            length = node.end_lineno - node.lineno + 1
            if length > LIMIT:
                found[f"{path.relative_to(PACKAGE)}:{qualname}"] = length
    return found


def _functions(node, prefix):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield child, prefix + child.name
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")


def test_no_function_is_over_60_lines():
    over = {name: n for name, n in long_functions().items() if name not in ALLOWED}
    assert over == {}


def test_the_allow_list_names_only_functions_still_too_long():
    assert ALLOWED <= set(long_functions()), "remove the names that are short now"
