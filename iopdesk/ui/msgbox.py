"""All message boxes go through here, so tests can make them non-blocking and read them."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QMessageBox, QWidget

from iopdesk.errors import UserError

NON_BLOCKING = False


@dataclass
class Shown:
    icon: str
    title: str
    text: str


shown: list[Shown] = []


def _box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> None:
    shown.append(Shown(icon.name, title, text))
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("messageBox")
    if NON_BLOCKING:
        box.setModal(False)
        box.show()
        box.close()
        box.deleteLater()
    else:
        box.exec()


def info(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Information, title, text)


def warning(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Warning, title, text)


def error(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Critical, title, text)


def user_error(parent: QWidget | None, exc: UserError) -> None:
    """Show an error the user can fix, in its own plain words."""
    warning(parent, exc.title, exc.message)


def question_box(
    parent: QWidget | None, title: str, text: str, default: bool = False
) -> QMessageBox:
    """A Yes/No question whose Enter key answers `default` (the safe answer) and Escape No."""
    yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    box = QMessageBox(QMessageBox.Icon.Question, title, text, yes | no, parent)
    box.setObjectName("questionBox")
    box.setDefaultButton(yes if default else no)
    box.setEscapeButton(no)
    return box


def confirm(parent: QWidget | None, title: str, text: str, default: bool = False) -> bool:
    """Ask; `default` is what Enter answers (and what non-blocking tests get)."""
    shown.append(Shown("Question", title, text))
    if NON_BLOCKING:
        return default
    return question_box(parent, title, text, default).exec() == QMessageBox.StandardButton.Yes


def choose(
    parent: QWidget | None, title: str, text: str, buttons: list[str], default: int = 0
) -> int:
    """A question with several answers (button texts); returns the index clicked. Escape or
    closing the box counts as the last answer (by convention "Cancel")."""
    shown.append(Shown("Question", title, text))
    if NON_BLOCKING:
        return default
    box = QMessageBox(
        QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent
    )
    box.setObjectName("messageBox")
    made = []
    for i, label in enumerate(buttons):
        role = (
            QMessageBox.ButtonRole.RejectRole
            if i == len(buttons) - 1
            else QMessageBox.ButtonRole.AcceptRole
            if i == 0
            else QMessageBox.ButtonRole.DestructiveRole
        )
        made.append(box.addButton(label, role))
    box.setDefaultButton(made[default])
    box.setEscapeButton(made[-1])
    box.exec()
    clicked = box.clickedButton()
    return made.index(clicked) if clicked in made else len(buttons) - 1
