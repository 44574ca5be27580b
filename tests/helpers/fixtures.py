"""The pytest fixtures every test file shares (registered in tests/conftest.py), built on
tests.helpers: define a fixture here once instead of copying it into each test file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import helpers

# Modules whose printouts open in the PDF viewer afterwards (tests keep them closed).
OPENS_AFTER_PRINT = ("iopdesk.ui.pages.safety", "iopdesk.ui.pages.discharge")


@pytest.fixture
def boxes() -> Iterator[list[Any]]:
    """Message boxes that do not block; the list of what was shown (`msgbox.Shown`)."""
    with helpers.boxes() as shown:
        yield shown


@pytest.fixture
def group(env: Any) -> tuple[int, list[int]]:
    """Tonight's group session with four clients (helpers.tonight_group)."""
    return helpers.tonight_group(env)


@pytest.fixture(autouse=True)
def _gui_test_boxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test marked `gui` gets message boxes that do not block and are recorded (read
    them in `msgbox.shown` or ask for the `boxes` fixture), and printouts that are saved but
    not opened in a viewer."""
    if request.node.get_closest_marker("gui") is None:
        return
    request.getfixturevalue("boxes")
    import importlib

    for name in OPENS_AFTER_PRINT:
        monkeypatch.setattr(importlib.import_module(name), "OPEN_AFTER_PRINT", False)
