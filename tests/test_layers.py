"""Layering: ui/cli -> services -> models, and report writers that take plain data.

Scans the source (every import statement, including those inside functions and under
TYPE_CHECKING) so a lazy import cannot hide a dependency that runs the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from iopdesk.paths import resource_dir, resource_path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "iopdesk"


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from iopdesk import services` names the package as an imported name
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def violations(folder: Path, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*.py")):
        for line, module in imports_of(path, root):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(root)}:{line} imports {module}")
    return out


def test_report_writers_never_import_services_or_ui() -> None:
    """A billing export goes page -> op runner -> service -> report writer, never back up: the
    writers take plain data defined beside them (iopdesk/reports/data)."""
    assert violations(PKG / "reports", ("iopdesk.services", "iopdesk.ui")) == []


def test_services_and_models_never_import_the_gui() -> None:
    for layer in ("services", "models"):
        assert violations(PKG / layer, ("iopdesk.ui", "PySide6")) == [], layer


def test_the_scanner_sees_lazy_relative_and_type_checking_imports(tmp_path: Path) -> None:
    """The check can fail: imports hidden in a function, under TYPE_CHECKING or relative."""
    reports = tmp_path / "iopdesk" / "reports"
    reports.mkdir(parents=True)
    (reports / "probe.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from iopdesk.services.notes import NotePrint\n"
        "def f():\n    from ..services import billing\n    import PySide6.QtWidgets\n"
        "from iopdesk import ui\n"
        "from iopdesk.reports.data.notes import NotePrint as Fine\n",
        encoding="utf-8",
    )
    found = violations(reports, ("iopdesk.services", "iopdesk.ui", "PySide6"), tmp_path)
    lines = {int(v.split(":")[1].split(" ")[0]) for v in found}
    assert lines == {3, 5, 6, 7}
    assert "iopdesk/reports/probe.py:5 imports iopdesk.services.billing" in found
    assert not any("reports.data" in v for v in found)


@pytest.mark.parametrize(
    "parts",
    [
        ("fonts", "DejaVuSans.ttf"),
        ("fonts", "DejaVuSans-Bold.ttf"),
        ("icons", "iopdesk.png"),
        ("crisis_resources.json",),
        ("aftercare_es.json",),
        ("carc_rarc.json",),
    ],
)
def test_resources_come_from_the_top_level_folder(parts: tuple[str, ...]) -> None:
    """Fonts, icons and data files live in resources/ at the repository root (installed as
    iopdesk.resources); nothing is left in the code folder."""
    assert resource_dir() == ROOT / "resources"
    assert resource_path(*parts).is_file()
    assert not (PKG / "resources").exists()


def test_pyproject_installs_the_resources_folder() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert config["setuptools"]["package-dir"]["iopdesk.resources"] == "resources"
    assert "**/*" in config["setuptools"]["package-data"]["iopdesk.resources"]
    assert '"iopdesk.resources"' in (ROOT / "setup.py").read_text(encoding="utf-8")


def test_nothing_refers_to_files_outside_the_repository() -> None:
    """The repository stands alone: no code, comment or doc points at a design file or folder
    beside it (spelled in pieces here so this test does not find itself)."""
    outside = ("shared" + "/DESIGN", ".." + "/shared", "shared" + "/")
    found = []
    for top in ("iopdesk", "tests", "docs", "benchmarks", "scripts", "installer", "resources"):
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".md", ".spec", ".toml", ".sh"}:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.relative_to(ROOT)}: {o}" for o in outside if o in text]
    for name in ("README.md", "Makefile", "pyproject.toml", "setup.py"):
        text = (ROOT / name).read_text(encoding="utf-8")
        found += [f"{name}: {o}" for o in outside if o in text]
    assert found == []
