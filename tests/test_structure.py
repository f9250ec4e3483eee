"""The shape of the code: apps import one way, files import without cycles, no class or function grows
past a reader, and test modules share helpers through tests/helpers.py and its kin, not each other."""

import ast
import graphlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = sorted(p.name for p in ROOT.iterdir() if (p / "apps.py").exists())
# teams, memory <- conversations <- usage, review, accounts, workbench: an app may import only those
# to its left.
ALLOWED = {
    "teams": set(),
    "memory": set(),
    "conversations": {"teams", "memory"},
    "usage": {"conversations", "teams"},
    "review": {"conversations", "teams"},
    "accounts": {"conversations", "teams", "memory"},
    "workbench": {"conversations", "teams"},
}
APP_CODE = [*APPS, "chatsite"]
# The benchmark and the fakes are held to the class limit and to files without import cycles too.
TOOLS = ["bench", "fakes"]
MAX_CLASS_LINES, MAX_FUNCTION_LINES = 200, 40


def python_files(folder: str):
    return [f for f in (ROOT / folder).rglob("*.py") if "migrations" not in f.parts]


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_app_is_placed_in_the_import_order():
    assert set(APPS) == set(ALLOWED)


def test_apps_import_one_way():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for app in APPS
        for path in python_files(app)
        for name in imported_top_level_names(path)
        if name in ALLOWED and name != app and name not in ALLOWED[app]
    ]
    assert wrong == []


def test_the_benchmark_does_not_import_the_tests():
    importing = [p for p in python_files("bench") if "tests" in imported_top_level_names(p)]
    assert importing == []


def too_long(folders: list[str], limits: dict[type, int]) -> list[str]:
    found = []
    for folder in folders:
        for path in python_files(folder):
            for node in ast.walk(ast.parse(path.read_text())):
                limit = limits.get(type(node))
                lines = node.end_lineno - node.lineno + 1 if limit else 0
                if limit and lines > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_class_or_function_is_too_long():
    limits = {
        ast.ClassDef: MAX_CLASS_LINES,
        ast.FunctionDef: MAX_FUNCTION_LINES,
        ast.AsyncFunctionDef: MAX_FUNCTION_LINES,
    }
    assert too_long(APP_CODE, limits) == []


def test_no_benchmark_or_fake_class_is_too_long():
    assert too_long(TOOLS, {ast.ClassDef: MAX_CLASS_LINES}) == []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package: str) -> set[str]:
    """Every dotted name the file imports, `from a import b` giving both a and a.b."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, one level up per extra dot
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def file_imports(folders: list[str]) -> dict[str, set[str]]:
    """Module -> the modules of these folders it imports. A package's __init__ importing its own
    modules is left out (as structure-report leaves it out): that is how a package names what it offers."""
    paths = {module_name(path): path for folder in folders for path in python_files(folder)}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in imported_modules(path, package):
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if (
                imported
                and imported != name
                and not (path.name == "__init__.py" and imported.startswith(name + "."))
            ):
                targets.add(imported)
        graph[name] = targets
    return graph


def import_cycle(folders: list[str]) -> list[str]:
    try:
        graphlib.TopologicalSorter(file_imports(folders)).prepare()
    except graphlib.CycleError as cycle:
        return cycle.args[1]
    return []


def test_the_cycle_finder_sees_imports_and_cycles(tmp_path, monkeypatch):
    assert file_imports(["bench"])["bench.cli"] >= {"bench.config", "bench.harness", "bench.report"}
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg import a\n")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import thing\n")
    (tmp_path / "pkg" / "b.py").write_text("from . import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert sorted(set(import_cycle(["pkg"]))) == ["pkg.a", "pkg.b"]


def test_benchmark_and_fake_files_import_without_cycles():
    assert import_cycle(TOOLS) == []


def test_no_test_module_imports_another():
    # What several test modules share lives in tests/helpers.py, live.py, cluster.py, layout_pages.py
    # or conftest.py, never in a test module.
    tests = ROOT / "tests"
    test_modules = {path.stem for path in tests.glob("test_*.py")}
    importing = set()
    for path in tests.glob("test_*.py"):
        for name in imported_modules(path, "tests"):
            package, _, rest = name.partition(".")
            module = rest.partition(".")[0]
            if package == "tests" and module in test_modules:
                importing.add(f"{path.name} imports {module}")
    assert sorted(importing) == []
