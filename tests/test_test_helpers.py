"""A cheap guard against copying test fixtures again: the message-box mock lives once, in
tests/helpers (the `boxes` fixture, automatic for tests marked `gui`)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _patches_message_boxes(func: ast.FunctionDef) -> bool:
    """Does the function set `msgbox.NON_BLOCKING`/`msgbox.shown`, assign to a QMessageBox
    attribute, or monkeypatch msgbox/QMessageBox?"""
    for node in ast.walk(func):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in ("msgbox", "QMessageBox")
            ):
                return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in ("msgbox", "QMessageBox")
        ):
            return True
    return False


def _is_fixture(func: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in func.decorator_list)


def message_box_patchers(files: list[Path]) -> dict[str, list[tuple[str, bool]]]:
    """Function name -> the files (and whether it is a fixture there) of every function in
    `files` that patches message boxes."""
    found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and _patches_message_boxes(node):
                found[node.name].append((path.name, _is_fixture(node)))
    return found


def copies(found: dict[str, list[tuple[str, bool]]]) -> list[str]:
    """The problems: a name that patches message boxes in two files, or a fixture that does
    outside tests/helpers."""
    problems = []
    for name, where in sorted(found.items()):
        files = sorted({f for f, _ in where})
        if len(files) > 1:
            problems.append(f"{name} patches message boxes in {', '.join(files)}")
        problems += [
            f"fixture {name} in {f} patches message boxes: use the shared `boxes` fixture"
            for f, fixture in where
            if fixture
        ]
    return problems


def test_no_test_file_has_its_own_copy_of_the_message_box_mock() -> None:
    found = message_box_patchers(sorted(TESTS.glob("*.py")))
    assert copies(found) == []


def test_the_guard_finds_a_copied_fixture(tmp_path: Path) -> None:
    copy = (
        "import pytest\nfrom iopdesk.ui import msgbox\n\n"
        "@pytest.fixture(autouse=True)\ndef _nonblocking_boxes():\n"
        "    msgbox.NON_BLOCKING = True\n    yield\n    msgbox.NON_BLOCKING = False\n"
    )
    patched = (
        "from PySide6.QtWidgets import QMessageBox\n\n"
        "def _nonblocking_boxes(monkeypatch):\n"
        "    monkeypatch.setattr(QMessageBox, 'exec', lambda self: 0)\n"
    )
    harmless = "def _nonblocking_boxes():\n    return 1\n"
    (tmp_path / "test_a.py").write_text(copy)
    (tmp_path / "test_b.py").write_text(patched)
    (tmp_path / "test_c.py").write_text(harmless)
    problems = copies(message_box_patchers(sorted(tmp_path.glob("*.py"))))
    assert problems == [
        "_nonblocking_boxes patches message boxes in test_a.py, test_b.py",
        "fixture _nonblocking_boxes in test_a.py patches message boxes: use the shared "
        "`boxes` fixture",
    ]


def copied_fixtures(files: list[Path]) -> list[str]:
    """Fixtures defined to the letter (same name, same body) in more than one file."""
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _is_fixture(node):
                body = ast.dump(ast.Module(body=node.body, type_ignores=[]))
                where[(node.name, body)].append(path.name)
    return [
        f"fixture {name} is copied into {', '.join(sorted(files))}: put it in tests/helpers"
        for (name, _), files in sorted(where.items())
        if len(files) > 1
    ]


def test_no_fixture_is_copied_into_several_test_files() -> None:
    assert copied_fixtures(sorted(TESTS.glob("test_*.py"))) == []


def test_the_guard_finds_a_copied_fixture_of_any_kind(tmp_path: Path) -> None:
    fixture = '@pytest.fixture\ndef backend() -> str:\n    return "sqlite"\n'
    (tmp_path / "test_a.py").write_text(fixture)
    (tmp_path / "test_b.py").write_text("# another file\n" + fixture)
    (tmp_path / "test_c.py").write_text(fixture.replace('"sqlite"', '"postgresql"'))
    assert copied_fixtures(sorted(tmp_path.glob("test_*.py"))) == [
        "fixture backend is copied into test_a.py, test_b.py: put it in tests/helpers"
    ]
