"""The package's shape, checked: no import cycle, each subpackage imports only what its
docstring allows, and the hook's hot path imports only what it needs.

Imports are read from the source (``ast``), function-level ones included, so a cycle
hidden inside a function still fails. Imports under ``if TYPE_CHECKING:`` never run
and are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "traces_git"

#: The base modules (traces_git/*.py): every subpackage may use them.
BASE = "base"
#: Entry points: may import anything.
ENTRY = {"traces_git.__main__", "traces_git.cli", "traces_git.fastpath"}
#: Which layer each subpackage may import, besides its own modules and the base.
ALLOWED: dict[str, set[str]] = {
    BASE: set(),
    "notes": set(),
    "lines": {"notes"},
    "sync": {"notes", "lines"},
    "attribution": {"notes", "sync", "lines"},
    "upload": {"notes", "attribution"},
    "views": {"notes", "ci", "lines"},
    "ci": {"notes", "sync", "upload", "views", "lines"},
    "hook": {"notes", "attribution", "sync", "upload", "lines"},
    "setup": {"notes", "attribution", "sync", "upload", "hook", "lines"},
    "commands": {"notes", "attribution", "sync", "upload", "hook", "ci", "views", "setup", "lines"},
}
#: What ``traces-git hook NAME`` may load at import time (before any work decides it
#: needs more): the entry, the hook dispatch table and the base modules it uses.
HOT_PATH_ALLOWED = {
    "traces_git",
    "traces_git.__main__",
    "traces_git.constants",
    "traces_git.hook",
    "traces_git.hook.entry",
    "traces_git.config",
    "traces_git.errors",
    "traces_git.gitcmd",
    "traces_git.log",
    "traces_git.paths",
    "traces_git.repo",
}


def module_files(package: Path) -> dict[str, Path]:
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(
    name: str, path: Path, modules: dict[str, Path], *, top_level_only: bool = False
) -> set[str]:
    """The package's modules that ``name`` imports (``from pkg import mod`` names ``mod``)."""
    tree = ast.parse(path.read_text("utf-8"))
    skipped = _type_checking_nodes(tree)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    root = name.split(".")[0]
    found: set[str] = set()
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == root)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != root:
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    resolved = set()
    for target in found:
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in modules and target != name:
            resolved.add(target)
    return resolved


def graph(package: Path, *, top_level_only: bool = False) -> dict[str, set[str]]:
    modules = module_files(package)
    return {
        name: imports_of(name, path, modules, top_level_only=top_level_only)
        for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if module in ENTRY:
        return "entry"
    if module == "traces_git":  # the package itself holds only __version__
        return BASE
    if len(parts) == 2 and (PACKAGE / f"{parts[1]}.py").is_file():
        return BASE
    return parts[1]


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(edges.items()):
        source = layer(module)
        if source == "entry":
            continue
        allowed = ALLOWED.get(source)
        if allowed is None:
            problems.append(f"{module}: subpackage {source!r} has no entry in ALLOWED")
            continue
        for target in sorted(targets):
            target_layer = layer(target)
            if target_layer in (BASE, source) or target_layer in allowed:
                continue
            problems.append(f"{module} imports {target} ({source} may not import {target_layer})")
    return problems


def closure(edges: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            for part in _parents(target):
                if part not in seen:
                    seen.add(part)
                    todo.append(part)
    return seen


def _parents(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` first."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


# ---------------------------------------------------------------- the checks


def test_no_import_cycle_even_inside_functions():
    assert cycles(graph(PACKAGE)) == []


def test_each_subpackage_imports_only_what_it_may():
    assert layer_violations(graph(PACKAGE)) == []


def test_every_subpackage_says_what_it_owns_and_stays_empty():
    for init in PACKAGE.glob("*/__init__.py"):
        tree = ast.parse(init.read_text("utf-8"))
        assert ast.get_docstring(tree), f"{init} has no docstring"
        assert len(tree.body) == 1, f"{init} runs code: the hook path pays for every import"


def test_hook_hot_path_imports_only_what_it_needs():
    edges = graph(PACKAGE, top_level_only=True)
    loaded = closure(edges, "traces_git.__main__") | closure(edges, "traces_git.hook.entry")
    assert loaded - HOT_PATH_ALLOWED == set()


def test_hook_process_loads_no_heavy_library():
    """What a real interpreter loads for the hook entry, before any hook's work."""
    code = (
        "import sys; import traces_git.__main__, traces_git.hook.entry;"
        "print(' '.join(m for m in ('click', 'httpx', 'pygit2', 'sqlite3', 'json')"
        " if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert proc.stdout.split() == []


# ---------------------------------------------------------------- the checker itself


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "traces_git"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "upload/__init__.py": '"""x"""\n',
            "upload/a.py": "from traces_git.upload import b\n",
            "upload/b.py": "def f():\n    from traces_git.upload import a\n",
            "upload/c.py": "import traces_git.upload.a\n",
        },
    )
    assert cycles(graph(package)) == [["traces_git.upload.a", "traces_git.upload.b"]]


def test_checker_ignores_type_checking_imports(tmp_path):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from traces_git import b\n",
            "b.py": "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from traces_git import a\n",
        },
    )
    assert cycles(graph(package)) == []


@pytest.mark.parametrize(
    ("source", "target", "bad"),
    [
        ("notes/x.py", "from traces_git.sync import y\n", True),
        ("sync/y.py", "from traces_git.notes import x\n", False),
    ],
)
def test_checker_finds_a_layer_violation(tmp_path, monkeypatch, source, target, bad):
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "notes/__init__.py": "",
            "sync/__init__.py": "",
            "notes/x.py": "",
            "sync/y.py": "",
        },
    )
    (package / source).write_text(target)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert bool(layer_violations(graph(package))) is bad
