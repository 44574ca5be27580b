"""Admin > Note templates: the clinic's own progress-note formats (section names), offered in
the note editor next to SOAP, DAP, BIRP and GIRP."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from iopdesk.services import notes
from iopdesk.services.notes import TemplateInfo
from iopdesk.ui import msgbox, ops
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted


class TemplateDialog(FormDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            "New note template",
            "One section per line, in the order the note shows them. A template cannot be "
            "edited once saved (notes written with it keep their sections); retire it and "
            "make a new one instead.",
            "Save template",
            parent,
        )
        self.ctx = ctx
        self.name = QLineEdit()
        self.name.setMaxLength(80)
        self.name.setPlaceholderText("e.g. Family session")
        self.sections = QPlainTextEdit()
        self.sections.setPlaceholderText("Presenting concerns\nFamily interaction\nPlan")
        self.sections.setTabChangesFocus(True)
        self.sections.setMinimumHeight(140)
        self.form.addRow("Name *", self.name)
        self.form.addRow("Sections *", self.sections)
        self.saved: notes.FormatChoice | None = None
        self.accept_action = self._save

    def _save(self) -> None:
        """Read what was typed; `save_action` saves it on an op worker."""
        db, actor = self.ctx.db, self.ctx.actor
        name, sections = self.name.text(), self.sections.toPlainText().splitlines()
        self.save_action = lambda: notes.create_template(db, actor, name, sections)


class TemplatesTab(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        add = QPushButton("New template...")
        add.clicked.connect(self.add)
        self.toggle_btn = QPushButton("Retire / reactivate")
        self.toggle_btn.clicked.connect(self.toggle_selected)
        bar.addWidget(add)
        bar.addWidget(self.toggle_btn)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.model: RowsModel[TemplateInfo] = RowsModel(
            [
                Column("Name", lambda t: t.name),
                Column("Sections", lambda t: " \u2192 ".join(t.sections)),
                Column("Notes", lambda t: t.used, align_right=True),
                Column(
                    "Status",
                    lambda t: "Active" if t.active else "Retired",
                    color=lambda t: None if t.active else "#757575",
                ),
            ]
        )
        self.table = make_table(stretch_column=1)
        self.table.setModel(self.model)
        self.table.setColumnWidth(0, 220)
        lay.addWidget(self.table, 1)
        lay.addWidget(
            muted("Active templates appear in the note editor's format list for every clinician.")
        )

    def refresh(self) -> None:
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)

    def fetch(self) -> list[TemplateInfo]:
        """Worker thread: services only."""
        return notes.list_templates(self.ctx.db, self.ctx.actor)

    def present(self, rows: list[TemplateInfo]) -> None:
        self.model.set_rows(rows)

    def add(self) -> None:
        if TemplateDialog(self.ctx, self).exec():
            self.refresh()

    def toggle_selected(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Choose a template", "Select the template in the list first.")
            return
        self.set_active(self.model.row_at(index.row()), None)

    def set_active(self, info: TemplateInfo, active: bool | None) -> ops.Op[Any]:
        """Retire or reactivate a template on an op worker, then reload the list."""
        db, actor = self.ctx.db, self.ctx.actor
        value = (not info.active) if active is None else active
        self.last_op = (
            ops.Op(self, lambda: notes.set_template_active(db, actor, info.id, value))
            .on_done(self.refresh)
            .run_in_background()
        )
        return self.last_op
