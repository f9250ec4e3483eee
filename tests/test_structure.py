"""The shape of the code: apps import one way, and no class or function grows past a reader."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = sorted(p.name for p in ROOT.iterdir() if (p / "apps.py").exists())
# teams, memory <- conversations <- usage, review, accounts: an app may import only those to its left.
ALLOWED = {
    "teams": set(),
    "memory": set(),
    "conversations": {"teams", "memory"},
    "usage": {"conversations", "teams"},
    "review": {"conversations", "teams"},
    "accounts": {"conversations", "teams", "memory"},
}
APP_CODE = [*APPS, "chatsite"]
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


def test_no_class_or_function_is_too_long():
    too_long = []
    for folder in APP_CODE:
        for path in python_files(folder):
            for node in ast.walk(ast.parse(path.read_text())):
                limit = {
                    ast.ClassDef: MAX_CLASS_LINES,
                    ast.FunctionDef: MAX_FUNCTION_LINES,
                    ast.AsyncFunctionDef: MAX_FUNCTION_LINES,
                }.get(type(node))
                if limit and node.end_lineno - node.lineno + 1 > limit:
                    lines = node.end_lineno - node.lineno + 1
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert too_long == []
