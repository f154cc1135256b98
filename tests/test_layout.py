"""The package's layout rules, read from its source with ``ast``: no import cycle among ``cove.*``
modules, no module importing a layer above its own, and no module over 700 lines without a reason.

Every import counts: at the top, inside functions, under ``TYPE_CHECKING``, and
``importlib.import_module("cove....")`` with a literal name. The checker functions are tested on
small fake trees first, so each rule is known to fail when it should.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
MAX_LINES = 700
REASON = f"longer than {MAX_LINES} lines"


# -- reading the tree -----------------------------------------------------------------------------


def module_files(root: Path, package: str = "cove") -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The module ``name`` loads: itself if it is one, else the closest enclosing module (an
    attribute import such as ``from cove.x import Name`` names ``cove.x``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _relative_base(module: str, is_package: bool, level: int) -> str:
    parts = module.split(".")
    if not is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of ``known`` that ``module`` imports, wherever in the file the import is."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = _relative_base(module, is_package, node.level)
                base = f"{prefix}.{base}" if base else prefix
            # `from pkg import sub` loads pkg.sub when that is a module, else pkg (an attribute).
            targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
        elif isinstance(node, ast.Call) and _is_import_module(node):
            targets = [node.args[0].value]  # type: ignore[attr-defined]
        for target in targets:
            resolved = _resolve(target, known)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def _is_import_module(node: ast.Call) -> bool:
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module")
    return named and bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def import_graph(root: Path, package: str = "cove") -> dict[str, set[str]]:
    known = module_files(root, package)
    return {module: imports_of(module, path, known) for module, path in known.items()}


# -- rule 1: no cycle -----------------------------------------------------------------------------


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Each group of modules that import each other (directly or round a loop), as one concrete loop
    ``[a, b, ..., a]`` through the group, starting at its first module in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Tarjan's strongly connected components, iteratively (the graph may be deep).
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(_loop_through(group, graph) for group in groups)


def _loop_through(group: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest loop from the group's first module back to it, staying inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    return paths[node] + [start]
                if child in members and child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no loop through {group}")  # pragma: no cover - a group always has one


# -- rule 2: no upward import ---------------------------------------------------------------------


@dataclass(frozen=True)
class Forbidden:
    """Modules under ``importer`` may not import modules under ``imported``, except ``allowed``."""

    importer: str
    imported: str
    why: str
    allowed: frozenset[str] = frozenset()


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


LAYER_RULES = (
    Forbidden("cove.wire", "cove", "wire/ is what both ends share: it imports no other part of cove"),
    Forbidden("cove.store", "cove.server", "the store is below the server"),
    Forbidden("cove.store", "cove.client", "the store never needs the client"),
    Forbidden("cove.store", "cove.identity", "identity state is behind the store's own seam"),
    Forbidden("cove.client", "cove.server", "the client talks to a server over the wire only"),
    Forbidden("cove.client", "cove.store", "the client talks to a server over the wire only"),
    Forbidden("cove.client", "cove.identity", "the client talks to a server over the wire only"),
    # handlers.py gives custom handlers an in-process client (generate_client over an ASGI transport).
    Forbidden("cove.server", "cove.client", "the server never needs the client",
              allowed=frozenset({"cove.server.handlers"})),
    Forbidden("cove.server", "cove.cli", "the command line is above the server"),
    Forbidden("cove", "cove.cli", "the command line is the top: nothing inside cove imports it"),
)


# The bundled example is a user's schema file, written as users write it (`from cove import a`).
PUBLIC_FACE_USERS = frozenset({"cove.example_schema"})


def upward_imports(graph: Mapping[str, Iterable[str]], rules: Iterable[Forbidden] = LAYER_RULES) -> list[str]:
    """``importer -> imported (why)`` for every import a rule forbids, and for every import of the
    ``cove`` package itself (its ``__init__``) from inside it."""
    found = []
    for importer, imported_modules in sorted(graph.items()):
        for imported in sorted(imported_modules):
            if imported == "cove" and importer not in ("cove", *PUBLIC_FACE_USERS):
                found.append(f"{importer} -> cove (cove/__init__.py is the public face: import the module itself)")
                continue
            for rule in rules:
                if (_under(importer, rule.importer) and _under(imported, rule.imported)
                        and not _under(imported, rule.importer) and importer not in rule.allowed):
                    found.append(f"{importer} -> {imported} ({rule.why})")
                    break  # one reason per arrow is enough
    return found


# -- rule 3: no over-long module without a reason -------------------------------------------------


def _top_text(source: str) -> str:
    """The module docstring plus the comments before the first statement after it."""
    tree = ast.parse(source)
    body = list(tree.body)
    docstring = ast.get_docstring(tree, clean=False) or ""
    if docstring:
        body = body[1:]
    first_code_line = body[0].lineno if body else len(source.splitlines()) + 1
    comments = [token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT and token.start[0] < first_code_line]
    return "\n".join([docstring, *comments])


def overlong_modules(files: Mapping[str, Path], limit: int = MAX_LINES) -> list[str]:
    """``module: N lines`` for each module over ``limit`` lines whose top does not say why, in a line
    containing "longer than 700 lines"."""
    found = []
    for module, path in sorted(files.items()):
        source = path.read_text()
        count = len(source.splitlines())
        if count > limit and not any(REASON in line for line in _top_text(source).splitlines()):
            found.append(f"{module}: {count} lines")
    return found


# -- the checkers, on fake trees ------------------------------------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_imports_are_read_from_everywhere_in_a_module(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "cove/__init__.py": "",
        "cove/a.py": ("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from cove.b import Thing\n"
                      "def later():\n    from .c import run\n"
                      "def dynamic():\n    import importlib\n    return importlib.import_module('cove.pkg.d')\n"),
        "cove/b.py": "import cove.pkg\n",
        "cove/c.py": "from . import pkg\nfrom .pkg import d\n",
        "cove/pkg/__init__.py": "from .d import X\nfrom .. import a\n",
        "cove/pkg/d.py": "from ..b import Thing\nimport json\n",
    })
    graph = import_graph(root)
    assert graph == {
        "cove": set(),
        "cove.a": {"cove.b", "cove.c", "cove.pkg.d"},
        "cove.b": {"cove.pkg"},
        "cove.c": {"cove.pkg", "cove.pkg.d"},
        "cove.pkg": {"cove.pkg.d", "cove.a"},
        "cove.pkg.d": {"cove.b"},
    }


def test_a_cycle_is_found_and_named_as_a_loop(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "cove/__init__.py": "",
        "cove/a.py": "from cove.b import x\n",
        "cove/b.py": "def f():\n    from cove.c import y\n",  # the loop closes inside a function
        "cove/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cove.a\n",
        "cove/d.py": "import cove.a\n",  # imports into the loop, is not part of it
    })
    assert import_cycles(import_graph(root)) == [["cove.a", "cove.b", "cove.c", "cove.a"]]
    assert import_cycles({"cove.a": {"cove.a"}}) == [["cove.a", "cove.a"]]


def test_a_tree_without_cycles_has_none(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cove/__init__.py": "from . import a\n", "cove/a.py": "from cove import b\n",
                            "cove/b.py": "import json\n"})
    assert import_cycles(import_graph(root)) == []


def test_upward_imports_are_named_with_the_rule_they_break(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "cove/__init__.py": "from .client import run\n",  # the package may import down
        "cove/cli.py": "import cove.server.app\n",  # the top may import anything
        "cove/wire/__init__.py": "",
        "cove/wire/frames.py": "from cove.wire import codec\nfrom cove.schema import model\n",
        "cove/wire/codec.py": "",
        "cove/schema/__init__.py": "",
        "cove/schema/model.py": "",
        "cove/store/__init__.py": "",
        "cove/store/rows.py": "from cove.server.app import App\nfrom cove.schema.model import M\n",
        "cove/client/__init__.py": "def run(): ...\n",
        "cove/client/http.py": "import cove\nfrom cove.wire.codec import x\n",
        "cove/server/__init__.py": "",
        "cove/server/app.py": "from cove.client import run\n",
        "cove/server/handlers.py": "from cove.client import run\n",
        "cove/server/runner.py": "def main():\n    from cove import cli\n",
    })
    assert upward_imports(import_graph(root)) == [
        "cove.client.http -> cove (cove/__init__.py is the public face: import the module itself)",
        "cove.server.app -> cove.client (the server never needs the client)",
        "cove.server.runner -> cove.cli (the command line is above the server)",
        "cove.store.rows -> cove.server.app (the store is below the server)",
        "cove.wire.frames -> cove.schema.model (wire/ is what both ends share: it imports no other part of cove)",
    ]


def test_a_long_module_needs_its_reason_at_the_top(tmp_path: Path) -> None:
    filler = "x = 1\n" * 701
    root = _tree(tmp_path, {
        "cove/__init__.py": "",
        "cove/short.py": '"""Short."""\n' + "x = 1\n" * 699,
        "cove/bare.py": '"""No reason given."""\n' + filler,
        "cove/documented.py": '"""The protocol, in one place.\n\nIt is longer than 700 lines: one state machine.\n"""\n'
                              + filler,
        "cove/commented.py": "# This module is longer than 700 lines because it is one table.\nimport json\n" + filler,
        "cove/too_late.py": '"""Late."""\nimport json\n# longer than 700 lines, but said too late\n' + filler,
        "cove/misspelt.py": '"""It is long (over 700 lines) for a reason."""\n' + filler,
    })
    assert overlong_modules(module_files(root)) == [
        "cove.bare: 702 lines", "cove.misspelt: 702 lines", "cove.too_late: 704 lines"]


# -- the real tree ----------------------------------------------------------------------------------

def layout_problems(root: Path) -> dict[str, str]:
    """Every broken rule in the tree under ``root``: a short key (stable while the file changes) -> the
    full message."""
    graph = import_graph(root)
    problems = {f"import cycle: {' -> '.join(loop)}": f"import cycle: {' -> '.join(loop)}"
                for loop in import_cycles(graph)}
    for arrow in upward_imports(graph):
        problems[f"upward import: {arrow.split(' (')[0]}"] = f"upward import: {arrow}"
    for entry in overlong_modules(module_files(root)):
        problems[f"over-long module: {entry.split(':')[0]}"] = f"over-long module: {entry}"
    return problems


def test_problem_keys_stay_put_while_a_file_changes(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"cove/__init__.py": "", "cove/a.py": "import cove.b\n" + "x = 1\n" * 800,
                            "cove/b.py": "from cove import a\n", "cove/wire/__init__.py": "import cove.a\n"})
    assert layout_problems(root) == {
        "import cycle: cove.a -> cove.b -> cove.a": "import cycle: cove.a -> cove.b -> cove.a",
        "upward import: cove.wire -> cove.a":
            "upward import: cove.wire -> cove.a (wire/ is what both ends share: it imports no other part of cove)",
        "over-long module: cove.a": "over-long module: cove.a: 801 lines",
    }


def test_the_package_keeps_its_layout_rules() -> None:
    problems = layout_problems(SRC)
    assert not problems, "layout rules broken (see tests/test_layout.py):\n  " + "\n  ".join(sorted(problems.values()))


@pytest.mark.parametrize("module", ["cove.schema.dsl", "cove.codegen.python_client"])
def test_the_modules_split_by_issue_10_stay_short(module: str) -> None:
    assert not overlong_modules({module: module_files(SRC)[module]})
