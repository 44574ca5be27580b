"""Rooms you can find (issue 18, item 7): what lives where, held by scanning the source.

- The dev tools (screenshots) are never imported by the product: only by themselves, the demo
  package and the command line's `demo --screenshot` branch.
- The services never import the demo clinic (the demo builds its data with the services).
- One clock: no `date.today()` / `datetime.now()` / `datetime.today()` outside
  iopdesk/services/clock.py.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "iopdesk"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations/versions" not in p.as_posix())


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, ast.AST]]:
    """Every module an import statement anywhere in `tree` names (function-level imports too;
    relative imports resolved against `module`), with the statement."""
    found: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.append((stem, node))
            # `from iopdesk import devtools` names the package through its alias.
            found.extend((f"{stem}.{alias.name}", node) for alias in node.names)
    return found


def _names(target: str, name: str) -> bool:
    return name == target or name.startswith(target + ".")


def _screenshot_branches(tree: ast.AST) -> set[int]:
    """ids of import statements inside an `if` whose test reads `screenshot` (the command
    line's `demo --screenshot` branch)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "screenshot" in ast.unparse(node.test):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        inside.add(id(sub))
    return inside


def devtools_importers(path: Path, source: str) -> list[str]:
    """'module:line' of each import of iopdesk.devtools that the rule does not allow."""
    module = _module_name(path)
    if _names("iopdesk.devtools", module) or _names("iopdesk.demo", module):
        return []
    tree = ast.parse(source)
    allowed = _screenshot_branches(tree) if module == "iopdesk.cli" else set()
    return [
        f"{module}:{getattr(node, 'lineno', 0)}"
        for name, node in imported_modules(tree, module, path.name == "__init__.py")
        if _names("iopdesk.devtools", name) and id(node) not in allowed
    ]


def test_the_product_never_imports_the_dev_tools():
    offenders = [
        hit for path in _sources() for hit in devtools_importers(path, path.read_text("utf-8"))
    ]
    assert offenders == [], f"iopdesk.devtools imported by the product: {offenders}"


def test_the_scan_sees_every_form_of_import():
    """The rule can fail: each way of naming the dev tools is caught, in any function."""
    cases = [
        "import iopdesk.devtools",
        "import iopdesk.devtools.screenshots as shots",
        "from iopdesk.devtools.screenshots import render_page",
        "from iopdesk import devtools",
        "def f():\n    if True:\n        from iopdesk.devtools import screenshots",
        "from ...devtools import screenshots",  # iopdesk.devtools, from ui/pages
    ]
    page = PACKAGE / "ui" / "pages" / "today.py"
    for source in cases:
        assert devtools_importers(page, source), source
    assert devtools_importers(page, "from iopdesk.ui import devtools_like") == []
    # The command line may load them in its --screenshot branch, and nowhere else.
    cli = PACKAGE / "cli.py"
    branch = (
        "def d(args):\n    if args.screenshot:\n        from iopdesk.devtools import x\n"
        "    from iopdesk.ui.app import run_demo\n"
    )
    assert devtools_importers(cli, branch) == []
    assert devtools_importers(cli, "def d(args):\n    from iopdesk.devtools import x\n")


def test_the_cli_loads_the_dev_tools_only_for_a_screenshot():
    source = (PACKAGE / "cli.py").read_text("utf-8")
    tree = ast.parse(source)
    hits = [
        node
        for name, node in imported_modules(tree, "iopdesk.cli", False)
        if _names("iopdesk.devtools", name)
    ]
    assert hits, "iopdesk demo --screenshot goes through iopdesk.devtools"
    assert {id(n) for n in hits} <= _screenshot_branches(tree)


def test_starting_the_app_loads_no_dev_tools_or_demo():
    """Importing the command line, the window and every page loads neither package."""
    code = (
        "import sys, pkgutil, importlib\n"
        "import iopdesk.cli, iopdesk.ui.app, iopdesk.ui.mainwindow, iopdesk.ui.pages\n"
        "for m in pkgutil.iter_modules(iopdesk.ui.pages.__path__):\n"
        "    importlib.import_module('iopdesk.ui.pages.' + m.name)\n"
        "import iopdesk.services\n"
        "for m in pkgutil.iter_modules(iopdesk.services.__path__):\n"
        "    importlib.import_module('iopdesk.services.' + m.name)\n"
        "tools = ('iopdesk.devtools', 'iopdesk.demo')\n"
        "print(sorted(n for n in sys.modules if n.startswith(tools)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_services_never_import_the_demo():
    offenders = []
    for path in _sources():
        module = _module_name(path)
        if not _names("iopdesk.services", module):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        offenders += [
            f"{module}:{getattr(node, 'lineno', 0)}"
            for name, node in imported_modules(tree, module, path.name == "__init__.py")
            if _names("iopdesk.demo", name)
        ]
    assert offenders == [], f"iopdesk.demo imported by the services: {offenders}"


# --- one clock -------------------------------------------------------------------------------

# The clinic's clock, and its database-free half that the report writers use (printed times).
CLOCK = {PACKAGE / "services" / "clock.py", PACKAGE / "timefmt.py"}
_READS_THE_CLOCK = re.compile(r"\b(?:date\.today|datetime\.now|datetime\.today)$")


def clock_reads(source: str) -> list[int]:
    """Lines that read the computer's clock directly (comments and strings ignored)."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _READS_THE_CLOCK.search(ast.unparse(node.func)):
            lines.append(node.lineno)
    return sorted(lines)


def test_one_clock():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources()
        if path not in CLOCK
        for line in clock_reads(path.read_text("utf-8"))
    ]
    assert offenders == [], (
        "read today and now through iopdesk.services.clock (the clinic's clock): "
        + ", ".join(offenders)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import date\nx = date.today()",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime, UTC\ndef f():\n    return datetime.now(UTC)",
        "from datetime import datetime\nx = datetime.today ()",
    ],
)
def test_the_clock_scan_can_fail(source):
    assert clock_reads(source)


def test_the_clock_scan_ignores_words():
    assert clock_reads('"""Call date.today() never."""\n# datetime.now() is banned\n') == []


# --- one audited_write -----------------------------------------------------------------------


def test_no_export_writes_its_partial_file_by_hand():
    """The write -> audit -> rename sequence lives in services/filesout.py only (backups have
    their own: snapshot, verify, rename)."""
    allowed = {"services/filesout.py", "reports/xlsx.py", "services/backup.py", "db.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if path.relative_to(PACKAGE).as_posix() not in allowed
        and re.search(r"""["']\.partial["']|\b_write_temp\b""", path.read_text("utf-8"))
    ]
    assert offenders == []


def _events(db, detail: str) -> int:
    from sqlmodel import func, select

    from iopdesk.models import AuditEvent

    with db.read() as session:
        return session.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.detail == detail)
        ).one()


def _record(session, actor, detail: str) -> None:
    from iopdesk.services import audit

    audit.record(session, actor, audit.Action.EXPORT, entity="test_file", detail=detail)


def test_audited_write_places_the_file_with_its_audit_row(db, world, tmp_path):
    from iopdesk.services.filesout import audited_write

    folder = tmp_path / "files"  # the database lives in tmp_path
    folder.mkdir()
    target = folder / "out.txt"
    with (
        audited_write(target, lambda p: p.write_text("whole file")) as place,
        db.session() as session,
    ):
        _record(session, world.admin, "placed")
        assert not target.exists()  # written beside the target, not yet placed
        assert (folder / "out.txt.partial").read_text() == "whole file"
        place()
    assert target.read_text() == "whole file"
    assert sorted(p.name for p in folder.iterdir()) == ["out.txt"]
    assert _events(db, "placed") == 1


def test_audited_write_failing_after_the_rename_leaves_no_file_and_no_audit(db, world, tmp_path):
    from iopdesk.services.filesout import audited_write

    folder = tmp_path / "files"  # the database lives in tmp_path
    folder.mkdir()
    target = folder / "out.txt"
    with (
        pytest.raises(RuntimeError),
        audited_write(target, lambda p: p.write_text("whole file")) as place,
        db.session() as session,
    ):
        _record(session, world.admin, "rolled back")
        place()
        raise RuntimeError("the commit fails")
    assert list(folder.iterdir()) == []
    assert _events(db, "rolled back") == 0


def test_audited_write_failing_before_the_rename_keeps_the_earlier_file(db, world, tmp_path):
    from iopdesk.services.filesout import audited_write

    folder = tmp_path / "files"  # the database lives in tmp_path
    folder.mkdir()
    target = folder / "out.txt"
    target.write_text("last week's report")
    with (
        pytest.raises(RuntimeError),
        audited_write(target, lambda p: p.write_text("new")),
        db.session() as session,
    ):
        _record(session, world.admin, "refused")
        raise RuntimeError("a consent check refuses")
    assert target.read_text() == "last week's report"
    assert sorted(p.name for p in folder.iterdir()) == ["out.txt"]
    assert _events(db, "refused") == 0


def test_audited_write_a_failed_write_records_nothing(tmp_path):
    from iopdesk.services.filesout import audited_write

    folder = tmp_path / "files"  # the database lives in tmp_path
    folder.mkdir()
    target = folder / "out.txt"
    (folder / "out.txt.partial").write_text("left by a killed export")
    ran = []

    def write(p: Path) -> None:
        p.write_text("half")
        raise OSError(28, "No space left on device")

    from iopdesk.errors import DiskFullError

    with pytest.raises(DiskFullError) as err, audited_write(target, write, "roster"):
        ran.append(True)
    assert ran == []
    assert err.value.message.startswith("The disk is full, so the roster could not be saved")
    assert list(folder.iterdir()) == []
