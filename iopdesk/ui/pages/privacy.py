"""Privacy screens: the chart's Privacy tab (consents, disclosures, amendments), the
"who receives this?" question asked before exports, emergency access (break-glass) and its
review panel, and two-factor enrolment. All work goes through services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from iopdesk.db import Database
from iopdesk.errors import UserError, ValidationError
from iopdesk.services import amendments, breakglass, consents, disclosures, recipients, totp
from iopdesk.services.actor import Actor
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox, ops
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.dates import DateEdit
from iopdesk.ui.forms import FormDialog
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title

STATUS_COLORS = {
    "active": "#2e7d32",
    "expired": "#c62828",
    "revoked": "#c62828",
    "unsigned": "#b26a00",
    "pending": "#b26a00",
    "accepted": "#2e7d32",
    "denied": "#555555",
}
PURPOSES = (
    "payment",
    "treatment",
    "operations",
    "treatment, payment, operations",
    "coordination of care",
    "court-ordered evaluation",
    "employment verification",
)


def _fmt(d: date | None) -> str:
    return f"{d:%m/%d/%Y}" if d else ""


def _date_edit(value: date | None = None, optional: bool = False) -> DateEdit:
    if optional:
        return DateEdit(value, optional=True)
    return DateEdit(value or clock.today())


def _date_of(edit: DateEdit) -> date | None:
    return edit.value()


# ------------------------------------------------------------------------------------------
# The recipient directory: pick a recipient (or add one)
# ------------------------------------------------------------------------------------------


class RecipientDialog(FormDialog):
    """Add an outside person or organization to the recipient directory."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, name: str = "") -> None:
        super().__init__(
            "Add a recipient",
            "Releases and consents name a recipient from this directory, so the name must be "
            "exact. The address goes into the client's accounting of disclosures.",
            "Add recipient",
            parent,
        )
        self.ctx = ctx
        self.setMinimumWidth(500)
        self.name = QLineEdit(name)
        self.name.setObjectName("recipientName")
        self.organization = QLineEdit()
        self.organization.setObjectName("recipientOrganization")
        self.address = QLineEdit()
        self.address.setObjectName("recipientAddress")
        self.type = QComboBox()
        self.type.setObjectName("recipientType")
        for code in recipients.TYPES:
            self.type.addItem(recipients.TYPE_LABELS[code], code)
        self.type.setCurrentIndex(recipients.TYPES.index("other"))
        self.form.addRow("Name", self.name)
        self.form.addRow("Organization", self.organization)
        self.form.addRow("Address", self.address)
        self.form.addRow("Type", self.type)
        self.accept_action = self._typed  # GUI thread: what was typed
        self.save_action = self._save  # worker: the service call

    @property
    def added(self) -> recipients.RecipientInfo | None:
        """The new directory entry, once saved (in the background)."""
        return self.saved  # type: ignore[no-any-return]

    def _typed(self) -> None:
        self._input = (
            self.name.text(),
            self.organization.text(),
            self.address.text(),
            str(self.type.currentData()),
        )

    def _save(self) -> recipients.RecipientInfo:
        return recipients.add_recipient(self.ctx.db, self.ctx.actor, *self._input)


class RecipientPicker(QWidget):
    """A recipient from the directory (type to filter; the exact name is what counts) and an
    "Add..." button for a new one. Without a database (no directory) it is a plain field."""

    def __init__(self, ctx: AppContext | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setObjectName("recipient")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.combo.lineEdit()
        assert line is not None
        line.setPlaceholderText("Name in the recipient directory")
        lay.addWidget(self.combo, 1)
        self.add_button = QPushButton("Add...")
        self.add_button.setObjectName("addRecipient")
        self.add_button.clicked.connect(self.add)
        self.add_button.setVisible(ctx is not None and ctx.can(Perm.CLIENT_EDIT))
        lay.addWidget(self.add_button)
        self.entries: list[recipients.RecipientInfo] = []
        self.last_op: ops.Op[Any] | None = None
        self.reload()

    def reload(self, then: Callable[[], object] | None = None) -> None:
        """Read the directory in the background; what was typed meanwhile is kept. `then` runs
        once the list is filled."""
        if self.ctx is None:
            return
        from iopdesk.ui.pages.loading import load

        db, actor = self.ctx.db, self.ctx.actor

        def fill(entries: list[recipients.RecipientInfo]) -> None:
            text = self.text()
            self.entries = entries
            self.combo.clear()
            for r in entries:
                self.combo.addItem(r.describe() if r.describe() != r.name else r.name, r.name)
            self.combo.setCurrentIndex(-1)
            self.setText(text)
            if then is not None:
                then()

        self.last_op = load(self, lambda: recipients.list_recipients(db, actor), fill)

    def text(self) -> str:
        index = self.combo.currentIndex()
        typed = self.combo.currentText()
        if index >= 0 and self.combo.itemText(index) == typed:
            return str(self.combo.itemData(index))
        return typed

    def setText(self, text: str) -> None:
        index = self.combo.findData(text)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        else:
            self.combo.setCurrentIndex(-1)
            self.combo.setEditText(text)

    def selected(self) -> recipients.RecipientInfo | None:
        """The directory entry whose name is the text (case and surrounding space ignored)."""
        key = recipients.name_key(self.text())
        return next((r for r in self.entries if recipients.name_key(r.name) == key), None)

    def add(self) -> None:
        if self.ctx is None:
            return
        dialog = RecipientDialog(self.ctx, self, name=self.text())
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.added is not None:
            name = dialog.added.name
            self.setText(name)
            self.reload(then=lambda: self.setText(name))


# ------------------------------------------------------------------------------------------
# "Who receives this?" (the disclosure gate's question)
# ------------------------------------------------------------------------------------------


class ReleaseDialog(FormDialog):
    """Asked before an export or printout: internal use, the client's copy, or a disclosure
    (recipient and purpose). The service then checks consents for Part 2 clients."""

    def __init__(
        self,
        what: str,
        parent: QWidget | None = None,
        *,
        allow_client_copy: bool = False,
        ctx: AppContext | None = None,
    ) -> None:
        super().__init__(
            "Who receives this?",
            f"{what}. Records protected by 42 CFR Part 2 leave the clinic only with the "
            "client's written consent; other records need a HIPAA authorization unless they "
            "go out for treatment, payment or operations. Every release is recorded.",
            "Continue",
            parent,
        )
        self.setMinimumWidth(520)
        self.group = QButtonGroup(self)
        self.internal = QRadioButton("Staff of this clinic (internal use)")
        self.copy = QRadioButton("The client's own copy")
        self.outside = QRadioButton("Someone outside the clinic (a disclosure)")
        self.internal.setChecked(True)
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        for i, b in enumerate((self.internal, self.copy, self.outside)):
            self.group.addButton(b, i)
            bl.addWidget(b)
        self.copy.setVisible(allow_client_copy)
        self.form.addRow("Receiver", box)
        self.recipient = RecipientPicker(ctx if ctx is not None else _ctx_of(parent))
        self.purpose = QComboBox()
        self.purpose.setObjectName("purpose")
        self.purpose.setEditable(True)
        self.purpose.addItems([p for p in PURPOSES if "," not in p])
        self.form.addRow("Recipient", self.recipient)
        self.form.addRow("Purpose", self.purpose)
        self.group.idToggled.connect(lambda *_: self._sync())
        self._sync()
        self.release: Release | None = None
        self.accept_action = self._check

    def _sync(self) -> None:
        outside = self.outside.isChecked()
        self.recipient.setEnabled(outside)
        self.purpose.setEnabled(outside)

    def _check(self) -> None:
        if self.internal.isChecked():
            self.release = disclosures.INTERNAL
        elif self.copy.isChecked():
            self.release = disclosures.CLIENT_COPY
        else:
            picked = self.recipient.selected()
            if self.recipient.ctx is not None and self.recipient.text().strip() and not picked:
                raise ValidationError(
                    f"'{self.recipient.text().strip()}' is not in the recipient directory: "
                    "pick a name from the list or add the recipient with Add...",
                    {"recipient": "Not in the directory."},
                )
            self.release = disclosures.check_release(
                Release(
                    "disclosure",
                    picked.name if picked else self.recipient.text(),
                    self.purpose.currentText(),
                    picked.id if picked else None,
                )
            )


def _ctx_of(widget: QWidget | None) -> AppContext | None:
    """The application context of the window a dialog is asked from (None in bare tests)."""
    while widget is not None:
        ctx = getattr(widget, "ctx", None)
        if isinstance(ctx, AppContext):
            return ctx
        widget = widget.parentWidget()
    return None


def ask_release(
    parent: QWidget | None, what: str, *, allow_client_copy: bool = False
) -> Release | None:
    dialog = ReleaseDialog(what, parent, allow_client_copy=allow_client_copy)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.release


# ------------------------------------------------------------------------------------------
# Consents
# ------------------------------------------------------------------------------------------


class ConsentDialog(FormDialog):
    """Record a 42 CFR Part 2 consent or a HIPAA authorization: the recipient (a directory
    entry, or for a Part 2 TPO consent a class such as "my health plans"), the purposes, the
    information it covers and until when."""

    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__(
            "Record a consent",
            "42 CFR 2.31 / HIPAA 164.508: who may receive which information, for what purpose, "
            "until when. Attach the signed form after saving.",
            "Save consent",
            parent,
        )
        self.ctx = ctx
        self.client_id = client_id
        self.setMinimumWidth(600)
        self.kind = QComboBox()
        self.kind.setObjectName("consentKind")
        for code in disclosures.CONSENT_KINDS:
            self.kind.addItem(disclosures.CONSENT_KIND_LABELS[code], code)
        self.to_class = QComboBox()
        self.to_class.setObjectName("recipientClass")
        self.to_class.addItem("One recipient from the directory", "")
        for code in recipients.CLASSES:
            self.to_class.addItem(f"A class: {recipients.CLASS_LABELS[code]} (TPO consent)", code)
        self.recipient = RecipientPicker(ctx)
        self.recipient_name = self.recipient  # the field's older name
        self.purpose = QComboBox()
        self.purpose.setObjectName("consentPurpose")
        self.purpose.setEditable(True)
        self.purpose.addItems(PURPOSES)
        self.categories: list[QCheckBox] = []
        cats = QWidget()
        cl = QVBoxLayout(cats)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(2)
        for code in (*disclosures.CATEGORIES, disclosures.ALL):
            box = QCheckBox(disclosures.CATEGORY_TITLES[code])
            box.setProperty("code", code)
            self.categories.append(box)
            cl.addWidget(box)
        self.signed = _date_edit(clock.today(), optional=True)
        self.expiry = _date_edit(None, optional=True)
        self.expiry_event = QLineEdit()
        self.expiry_event.setPlaceholderText("or an event, e.g. end of treatment")
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Recipient is", self.to_class)
        self.form.addRow("Recipient", self.recipient)
        self.form.addRow("Purposes", self.purpose)
        self.form.addRow("Information", cats)
        self.form.addRow("Signed on", self.signed)
        self.form.addRow("Expires on", self.expiry)
        self.form.addRow("Expiry event", self.expiry_event)
        self.to_class.currentIndexChanged.connect(self._sync)
        self._sync()
        self.accept_action = self._typed
        self.save_action = self._save

    def _sync(self) -> None:
        klass = bool(self.to_class.currentData())
        self.recipient.setEnabled(not klass)
        if klass:
            self.purpose.setCurrentText("treatment, payment, operations")

    def data(self) -> consents.ConsentInput:
        klass = str(self.to_class.currentData() or "")
        picked = None if klass else self.recipient.selected()
        return consents.ConsentInput(
            recipient_name="" if klass else self.recipient.text(),
            recipient_id=picked.id if picked else None,
            recipient_class=klass,
            kind=str(self.kind.currentData()),
            purpose=self.purpose.currentText(),
            signed_date=_date_of(self.signed),
            expiry_date=_date_of(self.expiry),
            expiry_event=self.expiry_event.text(),
            info_categories=tuple(
                str(b.property("code")) for b in self.categories if b.isChecked()
            ),
        )

    @property
    def result_info(self) -> consents.ConsentInfo | None:
        return self.saved  # type: ignore[no-any-return]

    def _typed(self) -> None:
        self._input = self.data()

    def _save(self) -> consents.ConsentInfo:
        return consents.add_consent(self.ctx.db, self.ctx.actor, self.client_id, self._input)


class _TextDialog(FormDialog):
    def __init__(
        self, title: str, subtitle: str, ok: str, label: str, parent: QWidget | None
    ) -> None:
        super().__init__(title, subtitle, ok, parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("text")
        self.text.setMinimumHeight(90)
        self.form.addRow(label, self.text)


class PrivacyTab(QWidget):
    """The chart's Privacy tab: consents, the accounting of disclosures, amendments."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.client_id: int | None = None
        self.client_label = ""
        outer = QVBoxLayout(self)
        self.denied = QLabel("")
        self.denied.setObjectName("deniedNotice")
        self.denied.setWordWrap(True)
        self.denied.hide()
        outer.addWidget(self.denied, 0, Qt.AlignmentFlag.AlignTop)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs)
        self._consents_tab()
        self._disclosures_tab()
        self._amendments_tab()
        self.reason = ""
        self.last_error = ""
        self.last_op: ops.Op[Any] | None = None  # the newest background step (tests wait on it)

    def _run(
        self, button: QPushButton, work: Callable[[], Any], done: Callable[[Any], Any]
    ) -> ops.Op[Any]:
        """A button's service call on a worker, the button off while it runs; a refusal is
        said in a box, a stale record reloads the tab."""
        button.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(button):
                button.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, work, takes_control=False).success(done)
        op.on_stale(self.reload).on_done(enable)
        self.last_op = op.run_in_background()
        return op

    # -- consents ------------------------------------------------------------------------
    def _consents_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        edit = self.ctx.can(Perm.CLIENT_EDIT)
        bar = QHBoxLayout()
        self.add_consent_btn = QPushButton("Record consent...")
        self.add_consent_btn.setObjectName("primary")
        self.add_consent_btn.clicked.connect(self.add_consent)
        self.attach_btn = QPushButton("Attach signed form...")
        self.attach_btn.clicked.connect(self.attach_form)
        self.view_btn = QPushButton("View form")
        self.view_btn.clicked.connect(self.view_form)
        self.revoke_btn = QPushButton("Revoke...")
        self.revoke_btn.clicked.connect(self.revoke)
        self.print_btn = QPushButton("Print consent form...")
        self.print_btn.clicked.connect(self.print_form)
        for b in (self.add_consent_btn, self.attach_btn, self.revoke_btn):
            b.setVisible(edit)
        for b in (
            self.add_consent_btn,
            self.attach_btn,
            self.view_btn,
            self.revoke_btn,
            self.print_btn,
        ):
            bar.addWidget(b)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.consent_model: RowsModel[consents.ConsentInfo] = RowsModel(
            [
                Column("Kind", lambda c: "Part 2" if c.kind == "part2" else "HIPAA"),
                Column("Recipient", lambda c: c.recipient),
                Column("Purpose", lambda c: c.purpose),
                Column("Information", lambda c: ", ".join(c.info_categories) or "-"),
                Column("Signed", lambda c: _fmt(c.signed_date), sort_key=lambda c: c.signed_date),
                Column("Expires", lambda c: _fmt(c.expiry_date) or c.expiry_event),
                Column("Revoked", lambda c: _fmt(c.revoked_date)),
                Column(
                    "Status",
                    lambda c: c.status.title(),
                    color=lambda c: STATUS_COLORS.get(c.status),
                ),
                Column("Signed form", lambda c: c.form_filename if c.has_form else "missing"),
            ]
        )
        self.consent_table = make_table()
        self.consent_table.setModel(self.consent_model)
        for i, w in enumerate((60, 190, 190, 190, 90, 110, 90, 75)):
            self.consent_table.setColumnWidth(i, w)
        lay.addWidget(self.consent_table, 1)
        self.consent_hint = muted("")
        lay.addWidget(self.consent_hint)
        self.tabs.addTab(tab, "Consents")

    def _selected_consent(self) -> consents.ConsentInfo | None:
        index = self.consent_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a consent", "Select a consent in the list first.")
            return None
        return self.consent_model.row_at(index.row())

    def add_consent(self) -> None:
        if self.client_id is None:
            return
        dialog = ConsentDialog(self.ctx, self.client_id, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.reload()

    def attach_form(self, path: str | None = None) -> None:
        consent = self._selected_consent()
        if consent is None:
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Signed consent form", "", "Scans (*.pdf *.png *.jpg *.jpeg *.tif *.tiff)"
            )
        if not path:
            return
        db, actor, cid, scan = self.ctx.db, self.ctx.actor, consent.id, Path(path)
        self._run(
            self.attach_btn,
            lambda: consents.attach_form(db, actor, cid, scan),
            lambda _r: self.reload(),
        )

    def view_form(self) -> None:
        consent = self._selected_consent()
        if consent is None:
            return
        db, actor, cid = self.ctx.db, self.ctx.actor, consent.id

        def show(form: tuple[bytes, str, str]) -> None:
            data, mime, name = form
            # shown inside IOPDesk from memory: no copy of the signed form lands in a temp file
            self.form_viewer = FormViewer(data, mime, name, self)
            self.form_viewer.show()

        self._run(self.view_btn, lambda: consents.get_form(db, actor, cid), show)

    def revoke(self) -> None:
        consent = self._selected_consent()
        if consent is None:
            return
        if not msgbox.confirm(
            self,
            "Revoke consent",
            f"Revoke the consent to {consent.recipient} as of today? Nothing more may be "
            "disclosed under it.",
            default=True,
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        op = self._run(
            self.revoke_btn,
            lambda: consents.revoke_consent(db, actor, consent.id, consent.version),
            lambda _r: self.reload(),
        )

        def refused(exc: BaseException) -> None:
            ops.report_failure(self, exc)
            self.reload()  # the list shows the consent as it is now

        op.failure(refused)

    def print_form(self, path: str | None = None) -> None:
        if self.client_id is None:
            return
        index = self.consent_table.currentIndex()
        consent_id = self.consent_model.row_at(index.row()).id if index.isValid() else None
        if not path:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save consent form", "consent-form.pdf", "PDF (*.pdf)"
            )
        if not path:
            return
        db, actor, client_id, out = self.ctx.db, self.ctx.actor, self.client_id, path
        self._run(
            self.print_btn,
            lambda: consents.print_consent_form(db, actor, client_id, out, consent_id),
            lambda _r: msgbox.info(
                self, "Consent form saved", f"The consent form was saved to {out}."
            ),
        )

    # -- disclosures ---------------------------------------------------------------------
    def _disclosures_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        bar = QHBoxLayout()
        self.accounting_btn = QPushButton("Print accounting of disclosures...")
        self.accounting_btn.clicked.connect(self.print_accounting)
        bar.addWidget(self.accounting_btn)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.disclosure_model: RowsModel[disclosures.DisclosureRow] = RowsModel(
            [
                Column(
                    "When",
                    lambda d: clinic_time(d.disclosed_at).strftime("%m/%d/%Y %H:%M"),
                    sort_key=lambda d: d.disclosed_at,
                ),
                Column("Type", lambda d: disclosures.KIND_LABELS.get(d.kind, d.kind)),
                Column("Recipient", lambda d: d.recipient or "-"),
                Column("Address", lambda d: d.recipient_address or "-"),
                Column("Purpose", lambda d: d.purpose),
                Column("What", lambda d: d.what_sent),
                Column("Information", lambda d: d.categories or "-"),
                Column("Consent used", lambda d: d.consent_used or "-"),
                Column("By", lambda d: d.username),
            ]
        )
        self.disclosure_table = make_table()
        self.disclosure_table.setModel(self.disclosure_model)
        for i, w in enumerate((130, 120, 180, 160, 260, 70)):
            self.disclosure_table.setColumnWidth(i, w)
        lay.addWidget(self.disclosure_table, 1)
        self.tabs.addTab(tab, "Disclosures")

    def print_accounting(self, path: str | None = None) -> None:
        if self.client_id is None:
            return
        if not path:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save accounting of disclosures", "disclosures.pdf", "PDF (*.pdf)"
            )
        if not path:
            return
        db, actor, client_id, out = self.ctx.db, self.ctx.actor, self.client_id, path
        self._run(
            self.accounting_btn,
            lambda: disclosures.print_accounting(db, actor, client_id, out),
            lambda _r: msgbox.info(self, "Accounting saved", f"The accounting was saved to {out}."),
        )

    # -- amendments ----------------------------------------------------------------------
    def _amendments_tab(self) -> None:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        bar = QHBoxLayout()
        self.request_btn = QPushButton("Record request...")
        self.request_btn.clicked.connect(self.record_request)
        self.accept_btn = QPushButton("Accept...")
        self.accept_btn.clicked.connect(lambda: self.decide(True))
        self.deny_btn = QPushButton("Deny...")
        self.deny_btn.clicked.connect(lambda: self.decide(False))
        decide = self.ctx.can(Perm.CLINICAL_WRITE)
        self.accept_btn.setVisible(decide)
        self.deny_btn.setVisible(decide)
        officer = decide or self.ctx.can(Perm.AUDIT_VIEW)
        self.extend_btn = QPushButton("Extend 30 days...")
        self.extend_btn.setToolTip(
            "Once, before the 60 days run out, with the reason the client is told in writing"
        )
        self.extend_btn.clicked.connect(lambda: self.follow_up("extend"))
        self.disagree_btn = QPushButton("Statement of disagreement...")
        self.disagree_btn.setToolTip("The client's written disagreement with a denial")
        self.disagree_btn.clicked.connect(lambda: self.follow_up("disagreement"))
        self.rebut_btn = QPushButton("Rebuttal...")
        self.rebut_btn.clicked.connect(lambda: self.follow_up("rebuttal"))
        self.extend_btn.setVisible(officer)
        self.rebut_btn.setVisible(officer)
        for b in (
            self.request_btn,
            self.accept_btn,
            self.deny_btn,
            self.extend_btn,
            self.disagree_btn,
            self.rebut_btn,
        ):
            bar.addWidget(b)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.amendment_model: RowsModel[amendments.AmendmentInfo] = RowsModel(
            [
                Column(
                    "Received", lambda a: _fmt(a.received_date), sort_key=lambda a: a.received_date
                ),
                Column("Record", lambda a: a.target),
                Column("Requested change", lambda a: a.requested_change),
                Column(
                    "Status",
                    lambda a: a.status.title(),
                    color=lambda a: STATUS_COLORS.get(a.status),
                ),
                Column(
                    "Due",
                    lambda a: (
                        _fmt(a.due_date) + (" (extended)" if a.extended else "")
                        if a.status == "pending"
                        else ""
                    ),
                    sort_key=lambda a: a.due_date,
                    color=lambda a: "#c62828" if a.overdue(clock.today()) else None,
                ),
                Column("Decided", lambda a: _fmt(a.decision_date)),
                Column("Amendment / reason", lambda a: a.amendment_text or a.denial_reason),
                Column(
                    "Disagreement / rebuttal",
                    lambda a: " / ".join(t for t in (a.disagreement, a.rebuttal) if t),
                ),
            ]
        )
        self.amendment_table = make_table()
        self.amendment_table.setModel(self.amendment_model)
        for i, w in enumerate((90, 110, 200, 75, 110, 85, 170)):
            self.amendment_table.setColumnWidth(i, w)
        lay.addWidget(self.amendment_table, 1)
        lay.addWidget(
            muted(
                "The original record is never changed: an accepted amendment is linked to it; a "
                "denial, the client's statement of disagreement and the rebuttal stay with the "
                "request and print with the record. A decision is due 60 days after the request "
                "(one 30-day extension, with a written reason)."
            )
        )
        self.tabs.addTab(tab, "Amendments")

    def record_request(self) -> None:
        if self.client_id is None:
            return
        dialog = AmendmentRequestDialog(self.ctx, self.client_id, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.reload()

    def decide(self, accept: bool, text: str | None = None) -> None:
        index = self.amendment_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a request", "Select an amendment request first.")
            return
        req = self.amendment_model.row_at(index.row())
        title = "Accept amendment" if accept else "Deny amendment"
        label = "Amendment text" if accept else "Reason for denial"
        dialog = _TextDialog(
            title,
            f"Request: {req.requested_change}",
            "Accept" if accept else "Deny",
            label,
            self,
        )
        fn = amendments.accept if accept else amendments.deny
        self._text_step(dialog, fn, req, text)

    def _text_step(
        self,
        dialog: _TextDialog,
        fn: Callable[..., object],
        req: amendments.AmendmentInfo,
        text: str | None,
    ) -> None:
        """Run an amendment step's dialog: what was typed is read on the GUI thread, the
        service call runs on a worker, a refusal stays on the dialog's error line."""
        db, actor = self.ctx.db, self.ctx.actor
        typed: list[str] = []
        dialog.accept_action = lambda: typed.append(dialog.text.toPlainText())
        dialog.save_action = lambda: fn(db, actor, req.id, req.version, typed[-1])
        shown = dialog.show_error

        def show_error(message: str) -> None:
            self.last_error = message
            shown(message)

        dialog.show_error = show_error  # type: ignore[method-assign,assignment]
        dialog.accepted.connect(lambda: self.reload())
        self.last_error = ""
        if text is not None:  # tests
            dialog.text.setPlainText(text)
            dialog._try_accept()
            self.last_op = dialog.last_op
        else:
            dialog.exec()

    def follow_up(self, kind: str, text: str | None = None) -> None:
        """Extend a pending request, or record the statement of disagreement / rebuttal of a
        denied one (the service says plainly when the step does not apply)."""
        index = self.amendment_table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a request", "Select an amendment request first.")
            return
        req = self.amendment_model.row_at(index.row())
        steps: dict[str, tuple[str, str, str, Callable[..., object]]] = {
            "extend": (
                "Extend the decision by 30 days",
                "Reason for the delay",
                "Extend",
                amendments.extend,
            ),
            "disagreement": (
                "Statement of disagreement",
                "Client's statement",
                "Record",
                amendments.record_disagreement,
            ),
            "rebuttal": ("Rebuttal", "Rebuttal", "Record", amendments.record_rebuttal),
        }
        title, label, ok, fn = steps[kind]
        subtitle = f"Request received {_fmt(req.received_date)}: {req.requested_change}"
        if kind == "extend":
            subtitle += f"\nDue {_fmt(req.due_date)}; after the extension: 30 days later."
        dialog = _TextDialog(title, subtitle, ok, label, self)
        self._text_step(dialog, fn, req, text)

    # -- loading -------------------------------------------------------------------------
    def fetch(self, client_id: int, reason: str = "") -> tuple[Any, Any, Any] | None:
        """Worker side of `load`: the consents, disclosures and amendment requests (None,
        nothing read, when the chart hides them from this user)."""
        if reason:
            return None
        db, actor = self.ctx.db, self.ctx.actor
        return (
            consents.list_consents(db, actor, client_id),
            disclosures.list_disclosures(db, actor, client_id),
            amendments.list_amendments(db, actor, client_id),
        )

    def load(
        self,
        client_id: int,
        client_label: str = "",
        reason: str = "",
        data: tuple[Any, Any, Any] | None = None,
    ) -> None:
        """`reason`: the chart hides this tab's records from this user (minimum necessary);
        it is shown in their place and nothing is read. `data`: what `fetch` read on a worker
        (read here when not given)."""
        self.client_id = client_id
        self.client_label = client_label
        self.reason = reason
        self.denied.setText(reason)
        self.denied.setVisible(bool(reason))
        self.tabs.setVisible(not reason)
        self.reload(data)

    def reload(self, data: tuple[Any, Any, Any] | None = None) -> None:
        """Show `data`, or read the tab again in the background (after a step changed it)."""
        if self.client_id is None or self.reason:
            return
        if data is None:
            from iopdesk.ui.pages.loading import load

            client_id = self.client_id

            def show(read: tuple[Any, Any, Any] | None) -> None:
                if read is not None and self.client_id == client_id:
                    self.reload(read)

            self.last_op = load(self, lambda: self.fetch(client_id), show)
            return
        rows, disclosed, amended = data
        self.consent_model.set_rows(rows)
        active = sum(1 for c in rows if c.status == "active")
        self.consent_hint.setText(
            f"{active} active consent{'s' if active != 1 else ''}. Exports and printouts that "
            "leave the clinic are checked against them."
        )
        self.disclosure_model.set_rows(disclosed)
        self.amendment_model.set_rows(amended)


class FormViewer(QDialog):
    """The attached signed form (PDF or image), rendered from memory."""

    def __init__(self, data: bytes, mime: str, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice
        from PySide6.QtGui import QPixmap
        from PySide6.QtWidgets import QScrollArea

        self.setWindowTitle(f"IOPDesk - {name}")
        self.resize(820, 900)
        lay = QVBoxLayout(self)
        if mime == "application/pdf":
            from PySide6.QtPdf import QPdfDocument
            from PySide6.QtPdfWidgets import QPdfView

            self._bytes = QByteArray(data)
            self._buffer = QBuffer(self._bytes, self)
            self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            self.document = QPdfDocument(self)
            self.document.load(self._buffer)
            view = QPdfView(self)
            view.setPageMode(QPdfView.PageMode.MultiPage)
            view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
            view.setDocument(self.document)
            lay.addWidget(view)
        else:
            pixmap = QPixmap()
            pixmap.loadFromData(data)
            label = QLabel()
            label.setPixmap(pixmap)
            scroll = QScrollArea()
            scroll.setWidget(label)
            lay.addWidget(scroll)


class AmendmentRequestDialog(FormDialog):
    def __init__(self, ctx: AppContext, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__(
            "Amendment request",
            "HIPAA 164.526: record the client's written request. The original stays as it is.",
            "Record request",
            parent,
        )
        self.ctx = ctx
        self.client_id = client_id
        from iopdesk.services import notes

        self.target = QComboBox()
        self.target.setObjectName("target")
        db, actor = ctx.db, ctx.actor

        def signed_notes() -> list[Any]:
            try:
                return notes.list_note_headers(db, actor, client_id)
            except UserError:
                return []

        def fill(headers: list[Any]) -> None:
            # the client's signed notes go first, above the chart fields shown meanwhile
            picked = self.target.currentIndex()
            signed = [h for h in headers if getattr(h, "status", "") == "signed"]
            for i, h in enumerate(signed):
                label = f"Note {h.service_date:%m/%d/%Y} ({h.format})"
                self.target.insertItem(i, label, ("note", h.id))
            if picked > 0:  # the user chose a field meanwhile: keep it
                self.target.setCurrentIndex(picked + len(signed))
            else:
                self.target.setCurrentIndex(0)

        from iopdesk.ui.pages.loading import load

        self.load_op = load(self, signed_notes, fill)
        for key, label in amendments.CHART_FIELDS.items():
            self.target.addItem(f"Chart: {label}", ("field", key))
        self.received = _date_edit(clock.today())
        self.change = QPlainTextEdit()
        self.change.setObjectName("change")
        self.change.setMinimumHeight(80)
        self.form.addRow("Record", self.target)
        self.form.addRow("Received", self.received)
        self.form.addRow("Requested change", self.change)
        self.accept_action = self._typed
        self.save_action = self._save

    def _typed(self) -> None:
        kind, value = self.target.currentData()
        self._input = (kind, value, self.change.toPlainText(), _date_of(self.received))

    def _save(self) -> amendments.AmendmentInfo:
        kind, value, change, received = self._input
        return amendments.request_amendment(
            self.ctx.db,
            self.ctx.actor,
            self.client_id,
            change,
            note_id=value if kind == "note" else None,
            field_name=value if kind == "field" else "",
            received_date=received,
        )


# ------------------------------------------------------------------------------------------
# Emergency access
# ------------------------------------------------------------------------------------------


class BreakGlassDialog(FormDialog):
    def __init__(
        self, ctx: AppContext, client_id: int, client_label: str, parent: QWidget | None = None
    ) -> None:
        from iopdesk.services.clinic import get_setting

        minutes = int(get_setting(ctx.db, "break_glass_minutes"))
        super().__init__(
            "Emergency access",
            f"You are about to open the clinical record of {client_label}, which your role "
            f"or caseload does not cover. The access lasts {minutes} minutes, is flagged in "
            "the audit log and is reviewed by an administrator. Use it only in an emergency.",
            "Open the record",
            parent,
        )
        self.setMinimumWidth(560)
        self.ctx = ctx
        self.client_id = client_id
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText("Why you need this record now (at least 10 characters)")
        self.reason.setMinimumHeight(90)
        self.form.addRow("Reason", self.reason)
        from PySide6.QtWidgets import QDialogButtonBox

        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setObjectName("danger")
        ok.setMinimumWidth(170)
        self.accept_action = self._typed
        self.save_action = self._start

    @property
    def result_info(self) -> breakglass.BreakGlassInfo | None:
        return self.saved  # type: ignore[no-any-return]

    def _typed(self) -> None:
        self._reason = self.reason.toPlainText()

    def _start(self) -> breakglass.BreakGlassInfo:
        return breakglass.start(self.ctx.db, self.ctx.actor, self.client_id, self._reason)


class BreakGlassReviewPanel(QWidget):
    """On an administrator's Today screen: emergency accesses waiting for review."""

    changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(section_title("Emergency chart access to review"))
        head.addStretch(1)
        self.review_btn = QPushButton("Mark reviewed")
        self.review_btn.clicked.connect(self.mark_reviewed)
        head.addWidget(self.review_btn)
        lay.addLayout(head)
        self.model: RowsModel[breakglass.BreakGlassInfo] = RowsModel(
            [
                Column(
                    "Started",
                    lambda b: clinic_time(b.started_at).strftime("%m/%d/%Y %H:%M"),
                    sort_key=lambda b: b.started_at,
                ),
                Column("User", lambda b: b.username),
                Column("Client", lambda b: f"{b.client} ({b.mrn})"),
                Column("Reason", lambda b: b.reason),
                Column(
                    "Status",
                    lambda b: "open" if b.active() else "ended",
                    color=lambda b: "#c62828" if b.active() else None,
                ),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        self.table.setMaximumHeight(150)
        for i, w in enumerate((130, 110, 220, 420)):
            self.table.setColumnWidth(i, w)
        lay.addWidget(self.table)
        self.setVisible(False)

    def refresh(self, show: bool = True) -> None:
        """Load in the background (hidden when not shown or not allowed)."""
        from iopdesk.ui.pages.loading import load

        if not show or not self.ctx.can(Perm.AUDIT_VIEW):
            self.setVisible(False)
            return
        load(self, self.fetch, self.present)

    def fetch(self) -> list[breakglass.BreakGlassInfo]:
        """Worker thread: services only."""
        return breakglass.list_accesses(self.ctx.db, self.ctx.actor)

    def present(self, rows: list[breakglass.BreakGlassInfo]) -> None:
        self.model.set_rows(rows)
        self.setVisible(bool(rows))

    def mark_reviewed(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select an access", "Select an emergency access first.")
            return
        db, actor, access_id = self.ctx.db, self.ctx.actor, self.model.row_at(index.row()).id
        self.review_btn.setEnabled(False)

        def done() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(self):
                self.review_btn.setEnabled(True)
                self.changed.emit()  # reviewed, or refused: show the list as it is now

        op: ops.Op[Any] = ops.Op(self, lambda: breakglass.mark_reviewed(db, actor, access_id))
        self.last_op = op.on_done(done).run_in_background()


class OverdueAmendmentsPanel(QWidget):
    """On an administrator's Today screen: amendment requests past their due date (60 days
    from receipt, or 90 after the one extension). HIPAA 164.526(b)(2)."""

    open_client = Signal(int)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(section_title("Amendment requests past their due date"))
        head.addStretch(1)
        self.open_btn = QPushButton("Open chart")
        self.open_btn.clicked.connect(self._open)
        head.addWidget(self.open_btn)
        lay.addLayout(head)
        today = clock.today()
        self.model: RowsModel[amendments.AmendmentInfo] = RowsModel(
            [
                Column("Client", lambda a: a.mrn),
                Column(
                    "Received", lambda a: _fmt(a.received_date), sort_key=lambda a: a.received_date
                ),
                Column(
                    "Due",
                    lambda a: _fmt(a.due_date) + (" (extended)" if a.extended else ""),
                    sort_key=lambda a: a.due_date,
                    color=lambda a: "#c62828",
                ),
                Column("Days late", lambda a: (today - a.due_date).days, align_right=True),
                Column("Record", lambda a: a.target),
            ]
        )
        self.table = make_table()
        self.table.setObjectName("overdueAmendments")
        self.table.setModel(self.model)
        self.table.setMaximumHeight(150)
        for i, w in enumerate((100, 100, 160, 80)):
            self.table.setColumnWidth(i, w)
        self.table.doubleClicked.connect(lambda _i: self._open())
        lay.addWidget(self.table)
        self.setVisible(False)

    def refresh(self, show: bool = True) -> None:
        """Load in the background (hidden when not shown or not allowed)."""
        from iopdesk.ui.pages.loading import load

        if not show or not self.ctx.can(Perm.AUDIT_VIEW):
            self.setVisible(False)
            return
        load(self, self.fetch, self.present)

    def fetch(self) -> list[amendments.AmendmentInfo]:
        """Worker thread: services only."""
        return amendments.list_overdue(self.ctx.db, self.ctx.actor)

    def present(self, rows: list[amendments.AmendmentInfo]) -> None:
        self.model.set_rows(rows)
        self.setVisible(bool(rows))

    def _open(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            msgbox.info(self, "Select a request", "Select an amendment request first.")
            return
        self.open_client.emit(self.model.row_at(index.row()).client_id)


class BreakGlassButton(QPushButton):
    """In the chart header: shown to designated users when the record is closed to them."""

    opened = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Emergency access...", parent)
        self.ctx = ctx
        self.setObjectName("danger")
        self.setToolTip("Open this clinical record in an emergency (audited)")
        self.client_id: int | None = None
        self.client_label = ""
        self.designated = False  # read with each chart (ClientChart.break_glass_allowed)
        self.clicked.connect(self.ask)
        self.setVisible(False)

    def update_for(self, client_id: int, label: str, can_view: bool, designated: bool) -> None:
        self.client_id = client_id
        self.client_label = label
        self.designated = designated
        self.setVisible(designated and not can_view)

    def ask(self) -> None:
        if self.client_id is None:
            return
        dialog = BreakGlassDialog(self.ctx, self.client_id, self.client_label, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.opened.emit()


# ------------------------------------------------------------------------------------------
# User security (admin) and two-factor
# ------------------------------------------------------------------------------------------


class UserSecurityButton(QPushButton):
    """Admin > Users: emergency-access designation and two-factor reset for a user."""

    def __init__(
        self,
        ctx: AppContext,
        selected: Callable[[], object],
        changed: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Security", parent)
        self.ctx = ctx
        self.selected = selected
        self.changed = changed
        menu = QMenu(self)
        menu.addAction("Allow emergency access", lambda: self.set_break_glass(True))
        menu.addAction("Remove emergency access", lambda: self.set_break_glass(False))
        menu.addSeparator()
        menu.addAction("Turn off two-factor sign-in", self.reset_two_factor)
        menu.addAction("Reset password (must change at next sign-in)...", self.reset_password)
        self.setMenu(menu)

    def reset_password(self, temporary: str | None = None) -> None:
        """A temporary password the user must replace at their next sign-in."""
        uid = self._user_id()
        if uid is None:
            return
        from iopdesk.services import auth

        if temporary is None:
            from iopdesk.ui.forms import password_field

            dialog = FormDialog(
                "Reset password",
                "Type a temporary password and give it to the user in person. At their next "
                "sign-in they must choose a new one; the temporary one then stops working.",
                "Reset password",
                self,
            )
            field = password_field()
            field.setObjectName("temporaryPassword")
            dialog.form.addRow("Temporary password", field)
            typed: list[str] = []
            db, actor = self.ctx.db, self.ctx.actor
            dialog.accept_action = lambda: typed.append(field.text())
            dialog.save_action = lambda: auth.reset_password(db, actor, uid, typed[-1])
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            self.changed()
        else:
            self._run(lambda: auth.reset_password(self.ctx.db, self.ctx.actor, uid, temporary))

    def _run(self, work: Callable[[], Any], done: Callable[[], Any] | None = None) -> None:
        """A menu step on a worker (the button off meanwhile); then the user list reloads."""
        self.setEnabled(False)

        def succeeded(_result: Any) -> None:
            if done is not None:
                done()

        def finished() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(self):
                self.setEnabled(True)
                self.changed()

        op: ops.Op[Any] = ops.Op(self, work, takes_control=False).success(succeeded)
        self.last_op = op.on_done(finished).run_in_background()

    def _user_id(self) -> int | None:
        user = self.selected()
        return getattr(user, "id", None) if user is not None else None

    def set_break_glass(self, allowed: bool) -> None:
        uid = self._user_id()
        if uid is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(
            lambda: breakglass.set_designated(db, actor, uid, allowed),
            lambda: msgbox.info(
                self,
                "Emergency access",
                "The user may now use emergency access."
                if allowed
                else "Emergency access removed.",
            ),
        )

    def reset_two_factor(self) -> None:
        uid = self._user_id()
        if uid is None:
            return
        if not msgbox.confirm(
            self,
            "Turn off two-factor",
            "Turn off two-factor sign-in for this user (for example, a lost phone)? They can "
            "set it up again after signing in.",
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(lambda: totp.disable(db, actor, uid))


class QrWidget(QWidget):
    """Paints a QR matrix (no image library needed)."""

    def __init__(self, matrix: list[list[bool]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix = matrix
        self.setFixedSize(QSize(220, 220))

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        n = len(self.matrix)
        if n:
            cell = min(self.width(), self.height()) / n
            for y, row in enumerate(self.matrix):
                for x, dark in enumerate(row):
                    if dark:
                        painter.fillRect(QRectF(x * cell, y * cell, cell, cell), QColor("black"))
        painter.end()


class TwoFactorDialog(FormDialog):
    """Enrol the signed-in user: scan the QR code, type a code, keep the recovery codes."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            "Two-factor sign-in",
            "Scan the code with an authenticator app (Google Authenticator, Microsoft "
            "Authenticator, 1Password...), then type the 6 digits it shows.",
            "Turn on",
            parent,
        )
        self.ctx = ctx
        self.enrolment = totp.begin_enrolment(ctx.actor)
        self.qr = QrWidget(totp.qr_matrix(self.enrolment.uri))
        self.form.addRow(self.qr)
        secret = QLabel(self.enrolment.grouped_secret)
        secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.addRow("Or type this key", secret)
        self.code = QLineEdit()
        self.code.setObjectName("code")
        self.code.setMaxLength(8)
        self.form.addRow("Code", self.code)
        self.recovery_codes: list[str] = []
        self.accept_action = self._typed
        self.save_action = self._confirm

    def _typed(self) -> None:
        self._code = self.code.text()

    def _confirm(self) -> list[str]:
        return totp.confirm_enrolment(
            self.ctx.db, self.ctx.actor, self.enrolment.secret, self._code
        )

    def _saved(self, result: Any) -> None:
        self.recovery_codes = list(result)
        msgbox.info(
            self,
            "Recovery codes",
            "Two-factor sign-in is on. Keep these one-time recovery codes somewhere safe "
            "(not on the phone); each works once if the phone is lost:\n\n"
            + "\n".join(self.recovery_codes),
        )
        super()._saved(result)


def ask_two_factor_code(parent: QWidget | None = None) -> str | None:
    dialog = FormDialog(
        "Two-factor code",
        "Type the 6-digit code from your authenticator app, or one of your recovery codes.",
        "Sign in",
        parent,
    )
    code = QLineEdit()
    code.setObjectName("code")
    dialog.form.addRow("Code", code)

    def check() -> None:
        if not code.text().strip():
            raise ValidationError("Type the code.")

    dialog.accept_action = check
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return code.text().strip()


def enrol_if_required(db: Database, actor: Actor, parent: QWidget | None = None) -> bool:
    """Administrators must set up two-factor when the clinic requires it; False if they
    decline (the sign-in is then abandoned)."""
    if not totp.enrolment_required(db, actor):
        return True
    from iopdesk.services.clinic import get_clinic

    msgbox.info(
        parent,
        "Two-factor sign-in required",
        "The clinic requires two-factor sign-in for administrators. Set it up now with an "
        "authenticator app on your phone.",
    )
    ctx = AppContext(db, actor, get_clinic(db))
    return TwoFactorDialog(ctx, parent).exec() == QDialog.DialogCode.Accepted


class AccountButton(QPushButton):
    """Top bar: the signed-in user's own two-factor settings."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Account", parent)
        self.ctx = ctx
        self.setToolTip("Two-factor sign-in for your account")
        menu = QMenu(self)
        menu.addAction("Change password...", self.change_password)
        menu.addSeparator()
        menu.addAction("Set up two-factor sign-in...", self.enrol)
        menu.addAction("New recovery codes...", self.new_codes)
        menu.addAction("Turn off two-factor sign-in", self.turn_off)
        self.setMenu(menu)

    def change_password(self) -> None:
        from iopdesk.services import auth
        from iopdesk.ui.dialogs import ChangePasswordDialog

        dialog = ChangePasswordDialog(
            lambda old, new: auth.change_password(self.ctx.db, self.ctx.actor, old, new),
            parent=self,
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            msgbox.info(self, "Password changed", "Your password was changed.")

    def _run(self, work: Callable[[], Any], done: Callable[[Any], Any]) -> None:
        """A menu step on a worker (the button off meanwhile); a refusal is said in a box."""
        self.setEnabled(False)

        def enable() -> None:
            from iopdesk.ui.pages.loading import alive

            if alive(self):
                self.setEnabled(True)

        op: ops.Op[Any] = ops.Op(self, work, takes_control=False).success(done)
        self.last_op = op.on_done(enable).run_in_background()

    def enrol(self) -> None:
        db, actor = self.ctx.db, self.ctx.actor

        def ask(status: totp.TwoFactorStatus) -> None:
            if status.enabled and not msgbox.confirm(
                self,
                "Two-factor sign-in",
                "Two-factor sign-in is already on. Replace it with a new authenticator app?",
            ):
                return
            TwoFactorDialog(self.ctx, self).exec()

        self._run(lambda: totp.status(db, actor), ask)

    def new_codes(self) -> None:
        db, actor = self.ctx.db, self.ctx.actor
        self._run(
            lambda: totp.new_recovery_codes(db, actor),
            lambda codes: msgbox.info(
                self,
                "Recovery codes",
                "Your old recovery codes no longer work. Keep these somewhere safe:\n\n"
                + "\n".join(codes),
            ),
        )

    def turn_off(self) -> None:
        if not msgbox.confirm(
            self, "Two-factor sign-in", "Turn off two-factor sign-in for your account?"
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(lambda: totp.disable(db, actor, actor.user_id), lambda _r: None)
