"""The chart's Treatment plan tab: the plan tree, its dialogs, reviews, printing, and the
PHQ-9 / GAD-7 outcome measures with a chart of totals over time.

The tab only calls services (plans, measures); every view and change is audited there.
The chart is drawn with QPainter (like the Attendance tab's chart) rather than QtCharts: it
keeps one look across the chart tabs and adds no start-up import.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from iopdesk.errors import UserError
from iopdesk.services import measures, plans, staff
from iopdesk.services.disclosures import Release
from iopdesk.services.permissions import Perm
from iopdesk.ui import clock, msgbox, ops, style
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.forms import FormDialog
from iopdesk.ui.pages.intake import FORM_CSS, DateField, editable_combo, hint, repolish
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title

T = TypeVar("T")

KIND_LABELS = {
    "problem": "Problem",
    "goal": "Goal",
    "objective": "Objective",
    "intervention": "Intervention",
}
CHILD_KIND = {"problem": "goal", "goal": "objective", "objective": "intervention"}
SERIES_COLORS = {"PHQ-9": "#1f6f8b", "GAD-7": "#c2410c"}
RATING_COLORS = {
    "achieved": style.OK,
    "progressing": style.ACCENT,
    "no change": style.WARN,
    "regressed": style.BAD,
}


def _d(value: date | None) -> str:
    return f"{value:%m/%d/%Y}" if value else ""


def _text_box(text: str = "", height: int = 64) -> QPlainTextEdit:
    box = QPlainTextEdit(text)
    box.setTabChangesFocus(True)
    box.setFixedHeight(height)
    return box


# ------------------------------------------------------------------------------------------
# Dialogs
# ------------------------------------------------------------------------------------------


class PlanItemDialog(FormDialog):
    """Add or edit one problem, goal, objective or intervention of a draft plan."""

    def __init__(
        self,
        ctx: AppContext,
        kind: str,
        parent_id: int,
        parent: QWidget | None = None,
        existing: object | None = None,
    ) -> None:
        label = KIND_LABELS[kind]
        subtitles = {
            "problem": "A problem or need identified at assessment, in clinical terms.",
            "goal": "What the client wants to achieve. Record it in the client's own words too: "
            "goals are set with the client.",
            "objective": "A measurable step toward the goal: what, how much or how often, and "
            "by when.",
            "intervention": "What staff will do, how (modality), how often, and who is "
            "responsible.",
        }
        super().__init__(
            f"{'Edit' if existing else 'Add'} {label.lower()}",
            subtitles[kind],
            "Save",
            parent,
        )
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(560)
        self.ctx, self.kind, self.parent_id, self.existing = ctx, kind, parent_id, existing
        self.saved_id: int | None = None
        self.description = _text_box(getattr(existing, "description", ""))
        self.description.setObjectName("description")
        self.form.addRow(label, self.description)
        self.client_words: QPlainTextEdit | None = None
        self.target: DateField | None = None
        self.modality: QComboBox | None = None
        self.frequency: QComboBox | None = None
        self.responsible: QComboBox | None = None
        if kind == "goal":
            self.client_words = _text_box(getattr(existing, "client_words", ""), 50)
            self.client_words.setObjectName("client_words")
            self.client_words.setPlaceholderText('e.g. "I want to get my kids back"')
            self.form.addRow("Client's own words", self.client_words)
        elif kind == "objective":
            self.target = DateField(blank_page=clock.today())
            self.target.setObjectName("target_date")
            self.target.set_value(getattr(existing, "target_date", None))
            self.form.addRow("Target date", self.target)
            self.form.addRow("", hint("e.g. 'Attends 9 of 9 program hours weekly for 4 weeks'"))
        elif kind == "intervention":
            self.modality = editable_combo(plans.MODALITIES, getattr(existing, "modality", ""))
            self.modality.setObjectName("modality")
            self.frequency = editable_combo(plans.FREQUENCIES, getattr(existing, "frequency", ""))
            self.frequency.setObjectName("frequency")
            self.responsible = QComboBox()
            self.responsible.setObjectName("responsible")
            self.responsible.addItem("Choose a staff member", None)
            self._read_staff()
            self.form.addRow("Modality", self.modality)
            self.form.addRow("Frequency", self.frequency)
            self.form.addRow("Responsible", self.responsible)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setObjectName("primary")
        repolish(ok)
        self.accept_action = self._save

    def _read_staff(self) -> None:
        """The Responsible pick list, read on a worker (OK waits for it)."""
        db, actor, existing = self.ctx.db, self.ctx.actor, self.existing
        self.buttons.setEnabled(False)

        def fill(people: list[Any]) -> None:
            assert self.responsible is not None
            for person in people:
                self.responsible.addItem(person.display_name, person.id)
            current = getattr(existing, "responsible_staff_id", None) or actor.staff_id
            self.responsible.setCurrentIndex(max(self.responsible.findData(current), 0))

        self.reading = (
            ops.Op(self, lambda: staff.list_staff(db, actor), takes_control=False)
            .success(fill)
            .on_done(lambda: self.buttons.setEnabled(True))
            .run_in_background()
        )

    def _save(self) -> None:
        """Read the fields (GUI thread); `save_action` saves them on a worker."""
        db, actor, parent_id = self.ctx.db, self.ctx.actor, self.parent_id
        text = self.description.toPlainText()
        e = self.existing
        version = int(getattr(e, "version", 0))
        item_id = int(getattr(e, "id", 0))
        save: Callable[[], Any]
        if self.kind == "problem":
            if e:
                save = lambda: plans.update_problem(db, actor, item_id, version, text)  # noqa: E731
            else:
                save = lambda: plans.add_problem(db, actor, parent_id, text)  # noqa: E731
        elif self.kind == "goal":
            assert self.client_words is not None
            words = self.client_words.toPlainText()
            if e:
                save = lambda: plans.update_goal(db, actor, item_id, version, text, words)  # noqa: E731
            else:
                save = lambda: plans.add_goal(db, actor, parent_id, text, words)  # noqa: E731
        elif self.kind == "objective":
            assert self.target is not None
            target = self.target.value()
            if e:
                save = lambda: plans.update_objective(  # noqa: E731
                    db, actor, item_id, version, text, target
                )
            else:
                save = lambda: plans.add_objective(db, actor, parent_id, text, target)  # noqa: E731
        else:
            assert self.modality and self.frequency and self.responsible
            args = (
                text,
                self.modality.currentText(),
                self.frequency.currentText(),
                self.responsible.currentData(),
            )
            if e:
                save = lambda: plans.update_intervention(db, actor, item_id, version, *args)  # noqa: E731
            else:
                save = lambda: plans.add_intervention(db, actor, parent_id, *args)  # noqa: E731
        self.save_action = save

    def _saved(self, result: Any) -> None:
        if self.existing is None:
            self.saved_id = result
        super()._saved(result)


class AgreementDialog(FormDialog):
    def __init__(self, ctx: AppContext, plan: plans.PlanInfo, parent: QWidget | None = None):
        super().__init__(
            "Client agreement",
            "Record that the client took part in this plan, agreed to it and signed it "
            "(keep the signed paper copy as your clinic requires).",
            "Save",
            parent,
        )
        self.setStyleSheet(FORM_CSS)
        self.ctx, self.plan = ctx, plan
        self.signed = DateField(maximum=clock.today(), blank_page=clock.today())
        self.signed.setObjectName("client_signed_date")
        self.signed.set_value(clock.today())
        self.form.addRow("Client signed on", self.signed)
        self.accept_action = self._save

    def _save(self) -> None:
        when = self.signed.value()
        if when is None:
            raise UserError("Enter the date the client signed the plan.")
        db, actor, plan = self.ctx.db, self.ctx.actor, self.plan
        self.save_action = lambda: plans.record_client_agreement(
            db, actor, plan.id, plan.version, when
        )


class ReviewDialog(FormDialog):
    """A plan review: the date, a summary and a progress rating for every open goal."""

    def __init__(self, ctx: AppContext, plan: plans.PlanInfo, parent: QWidget | None = None):
        super().__init__(
            "Plan review",
            "Rate the progress on each open goal. The next review is then due "
            f"{plan.review_interval_days} days after this review's date.",
            "Save",
            parent,
        )
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(680)
        self.ctx, self.plan = ctx, plan
        self.review_date = DateField(maximum=clock.today(), blank_page=clock.today())
        self.review_date.setObjectName("review_date")
        self.review_date.set_value(clock.today())
        self.summary = _text_box("", 70)
        self.summary.setObjectName("summary")
        self.form.addRow("Review date", self.review_date)
        self.form.addRow("Summary", self.summary)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        self.rows: list[tuple[int, QComboBox, QLineEdit]] = []
        open_goals = [g for g in plan.goals() if g.status != "achieved"]
        for r, goal in enumerate(open_goals):
            label = QLabel(goal.description)
            label.setWordWrap(True)
            rating = QComboBox()
            rating.setObjectName(f"rating_{goal.id}")
            rating.addItem("Choose...", "")
            for value in plans.RATINGS:
                rating.addItem(plans.RATING_LABELS[value], value)
            comment = QLineEdit()
            comment.setObjectName(f"comment_{goal.id}")
            comment.setPlaceholderText("Comment (optional)")
            grid.addWidget(label, r, 0)
            grid.addWidget(rating, r, 1)
            grid.addWidget(comment, r, 2)
            self.rows.append((goal.id, rating, comment))
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(2, 2)
        holder = QFrame()
        holder.setLayout(grid)
        self.form.addRow(section_title("Progress per goal"))
        self.form.addRow(holder)
        self.saved_id: int | None = None
        self.accept_action = self._save

    def _save(self) -> None:
        when = self.review_date.value()
        if when is None:
            raise UserError("Enter the review date.")
        ratings = []
        for goal_id, combo, comment in self.rows:
            value = combo.currentData()
            if value:
                ratings.append(plans.GoalRating(goal_id, value, comment.text()))
        db, actor, plan, summary = (
            self.ctx.db,
            self.ctx.actor,
            self.plan,
            self.summary.toPlainText(),
        )
        self.save_action = lambda: plans.add_review(
            db, actor, plan.id, plan.version, when, summary, ratings
        )

    def _saved(self, result: Any) -> None:
        self.saved_id = result
        super()._saved(result)


class MeasureDialog(FormDialog):
    """Enter a PHQ-9 or GAD-7 answer by answer; the total and severity update as you go."""

    def __init__(
        self, ctx: AppContext, client_id: int, code: str = "PHQ-9", parent: QWidget | None = None
    ) -> None:
        super().__init__(
            "Outcome measure",
            "Over the last 2 weeks, how often has the client been bothered by the following? "
            "0 = not at all, 1 = several days, 2 = more than half the days, "
            "3 = nearly every day.",
            "Save",
            parent,
        )
        self.setStyleSheet(FORM_CSS)
        self.setMinimumWidth(720)
        self.ctx, self.client_id = ctx, client_id
        self.result_info: measures.MeasureInfo | None = None
        self.instrument = QComboBox()
        self.instrument.setObjectName("instrument")
        for inst in measures.INSTRUMENTS.values():
            self.instrument.addItem(f"{inst.code}  -  {inst.name}", inst.code)
        self.instrument.setCurrentIndex(max(self.instrument.findData(code), 0))
        self.when = DateField(maximum=clock.today(), blank_page=clock.today())
        self.when.setObjectName("measure_date")
        self.when.set_value(clock.today())
        self.form.addRow("Measure", self.instrument)
        self.form.addRow("Date given", self.when)
        self.items_box = QFrame()
        self.items_grid = QGridLayout(self.items_box)
        self.items_grid.setContentsMargins(0, 4, 0, 4)
        self.items_grid.setVerticalSpacing(4)
        self.form.addRow(self.items_box)
        self.total = QLabel("")
        self.total.setObjectName("sectionTitle")
        self.form.addRow("Total", self.total)
        self.answers: list[QComboBox] = []
        self.instrument.currentIndexChanged.connect(lambda _i: self._build_items())
        self._build_items()
        self.accept_action = self._save

    def _build_items(self) -> None:
        while self.items_grid.count():
            item = self.items_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        inst = measures.instrument(str(self.instrument.currentData()))
        self.answers = []
        for i, question in enumerate(inst.items):
            label = QLabel(f"{i + 1}. {question}")
            label.setWordWrap(True)
            combo = QComboBox()
            combo.setObjectName(f"item{i + 1}")
            combo.addItem("-", None)
            for value, text in enumerate(measures.ANSWERS):
                combo.addItem(f"{value}  {text}", value)
            combo.currentIndexChanged.connect(lambda _i: self._update_total())
            self.items_grid.addWidget(label, i, 0)
            self.items_grid.addWidget(combo, i, 1)
            self.answers.append(combo)
        self.items_grid.setColumnStretch(0, 1)
        self._update_total()

    def set_answers(self, values: list[int]) -> None:
        for combo, value in zip(self.answers, values, strict=True):
            combo.setCurrentIndex(combo.findData(value))

    def _values(self) -> list[int | None]:
        return [c.currentData() for c in self.answers]

    def _update_total(self) -> None:
        values = self._values()
        answered = [v for v in values if v is not None]
        code = str(self.instrument.currentData())
        if len(answered) < len(values):
            self.total.setText(
                f"{sum(answered)} so far ({len(values) - len(answered)} questions unanswered)"
            )
            return
        score = measures.score(code, values)
        self.total.setText(
            f"{score.total} of {3 * len(values)}  -  {score.severity}"
            + ("   (item 9 positive: assess suicide risk)" if score.suicide_risk else "")
        )

    def _save(self) -> None:
        when = self.when.value()
        if when is None:
            raise UserError("Enter the date the measure was given.")
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id
        code, values = str(self.instrument.currentData()), self._values()
        self.save_action = lambda: measures.record_measure(db, actor, client_id, code, when, values)

    def _saved(self, result: Any) -> None:
        self.result_info = result
        super()._saved(result)


# ------------------------------------------------------------------------------------------
# Outcome chart
# ------------------------------------------------------------------------------------------


class MeasuresChart(QWidget):
    """PHQ-9 and GAD-7 totals over time, one line each, on a 0-27 scale."""

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[str, list[tuple[date, int]]] = {}
        self.setMinimumHeight(190)

    def set_series(self, series: dict[str, list[tuple[date, int]]]) -> None:
        self.series = series
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        rect = QRectF(self.rect()).adjusted(34, 24, -14, -26)
        font = QFont(self.font())
        font.setPointSizeF(8)
        p.setFont(font)
        points = [d for s in self.series.values() for d, _ in s]
        if not points:
            p.setPen(QColor(style.MUTED))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No PHQ-9 or GAD-7 yet.")
            p.end()
            return
        first, last = min(points), max(points)
        span = max(1, (last - first).days)
        top = 27
        for v in (0, 5, 10, 15, 20, 27):
            y = rect.bottom() - rect.height() * v / top
            p.setPen(QPen(QColor("#eef1f5"), 1))
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            p.setPen(QColor(style.MUTED))
            p.drawText(QRectF(0, y - 8, 28, 16), Qt.AlignmentFlag.AlignRight, str(v))

        def x_of(d: date) -> float:
            if first == last:
                return rect.center().x()
            return rect.left() + rect.width() * (d - first).days / span

        p.setPen(QColor(style.MUTED))
        p.drawText(
            QRectF(rect.left() - 20, rect.bottom() + 6, 60, 14),
            Qt.AlignmentFlag.AlignLeft,
            f"{first:%m/%d/%y}",
        )
        if last != first:
            p.drawText(
                QRectF(rect.right() - 60, rect.bottom() + 6, 64, 14),
                Qt.AlignmentFlag.AlignRight,
                f"{last:%m/%d/%y}",
            )
        legend_x = rect.left()
        for code, values in self.series.items():
            color = QColor(SERIES_COLORS.get(code, style.TEXT))
            p.setPen(QPen(color, 2))
            p.drawLine(QPointF(legend_x, 10), QPointF(legend_x + 18, 10))
            p.setPen(QColor(style.TEXT))
            latest = f" (latest {values[-1][1]})" if values else ""
            p.drawText(QPointF(legend_x + 22, 14), f"{code}{latest}")
            legend_x += 130
            if not values:
                continue
            pts = [QPointF(x_of(d), rect.bottom() - rect.height() * t / top) for d, t in values]
            p.setPen(QPen(color, 2))
            for a, b in itertools.pairwise(pts):
                p.drawLine(a, b)
            p.setBrush(color)
            for pt in pts:
                p.drawEllipse(pt, 3, 3)
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.end()


# ------------------------------------------------------------------------------------------
# The tab
# ------------------------------------------------------------------------------------------


class TreatmentPlanTab(QWidget):
    """Chart tab: the current plan (tree), its actions and reviews; outcome measures."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.client_id: int | None = None
        self.last_op: ops.Op[Any] | None = None
        self.plan: plans.PlanInfo | None = None
        self.summaries: list[plans.PlanSummary] = []
        self.can_write = ctx.can(Perm.CLINICAL_WRITE)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 0)
        self.denied = muted("")
        self.denied.hide()
        outer.addWidget(self.denied)
        self.body = QSplitter(Qt.Orientation.Horizontal)
        self.body.setChildrenCollapsible(False)
        outer.addWidget(self.body, 1)
        outer.addStretch(0)  # keeps the "not permitted" line at the top when the body is hidden

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        top = QHBoxLayout()
        self.plan_pick = QComboBox()
        self.plan_pick.setObjectName("planPick")
        self.plan_pick.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.plan_pick.setMinimumContentsLength(30)
        self.plan_pick.currentIndexChanged.connect(self._pick_plan)
        top.addWidget(self.plan_pick)
        self.new_btn = self._button("New plan", self.new_plan, top)
        self.revise_btn = self._button("Revise plan", self.revise, top)
        self.sign_btn = self._button("Sign plan", self._sign_clicked, top, primary=True)
        self.agree_btn = self._button("Client agreement...", self.record_agreement, top)
        self.review_btn = self._button("Add review...", self.add_review, top)
        self.print_btn = self._button("Print...", self._print_clicked, top)
        top.addStretch(1)
        ll.addLayout(top)
        self.state = QLabel("")
        self.state.setObjectName("planState")
        self.state.setWordWrap(True)
        ll.addWidget(self.state)
        self.tree = QTreeWidget()
        self.tree.setObjectName("planTree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Plan item", "Details", "Responsible"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(1, 150)
        self.tree.setColumnWidth(2, 150)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda _i, _c: self.edit_selected())
        ll.addWidget(self.tree, 3)
        items = QHBoxLayout()
        self.add_problem_btn = self._button("Add problem", lambda: self.add_item("problem"), items)
        self.add_child_btn = self._button("Add goal", self.add_child, items)
        self.edit_btn = self._button("Edit", self.edit_selected, items)
        self.remove_btn = self._button("Remove", self.remove_selected, items)
        self.locked_hint = muted(
            "This plan is signed and locked. Record progress with 'Add review'; to change "
            "its wording, use 'Revise plan' to start a new version."
        )
        items.addWidget(self.locked_hint, 4)
        items.addStretch(1)
        ll.addLayout(items)
        ll.addWidget(section_title("Reviews"))
        self.reviews = QPlainTextEdit()
        self.reviews.setObjectName("planReviews")
        self.reviews.setReadOnly(True)
        self.reviews.setMinimumHeight(80)
        ll.addWidget(self.reviews, 1)
        self.body.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(section_title("Outcome measures"))
        head.addStretch(1)
        self.measure_btn = self._button("Enter PHQ-9 / GAD-7...", self.enter_measure, head)
        rl.addLayout(head)
        self.measures_chart = MeasuresChart()
        self.measures_chart.setObjectName("measuresChart")
        rl.addWidget(self.measures_chart, 2)
        self.measures_model: RowsModel[measures.MeasureInfo] = RowsModel(
            [
                Column("Date", lambda m: _d(m.measure_date), sort_key=lambda m: m.measure_date),
                Column("Measure", lambda m: m.instrument),
                Column("Total", lambda m: m.total, align_right=True),
                Column(
                    "Severity",
                    lambda m: m.severity + (" *" if m.suicide_risk else ""),
                    color=lambda m: style.BAD if m.suicide_risk else None,
                ),
            ]
        )
        self.measures_table = make_table()
        self.measures_table.setObjectName("measuresTable")
        self.measures_table.setModel(self.measures_model)
        for column, width in enumerate((88, 74, 50)):
            self.measures_table.setColumnWidth(column, width)
        self.measures_table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        rl.addWidget(self.measures_table, 2)
        rl.addWidget(
            muted("* in red: PHQ-9 question 9 answered above 0 (thoughts of death or self-harm).")
        )
        self.body.addWidget(right)
        self.body.setStretchFactor(0, 1)
        self.body.setStretchFactor(1, 1)
        self.body.setSizes([640, 460])
        self._update_buttons()

    def _button(
        self, text: str, slot: Callable[[], object], layout: QHBoxLayout, primary: bool = False
    ) -> QPushButton:
        btn = QPushButton(text)
        if primary:
            btn.setObjectName("primary")
        btn.clicked.connect(lambda _checked=False: slot())
        layout.addWidget(btn)
        return btn

    # -- loading -------------------------------------------------------------------------

    def fetch(
        self, client_id: int, plan_id: int | None = None, allowed: bool = True, reason: str = ""
    ) -> dict[str, Any]:
        """Worker side of `load`: the plans, the one shown and the measures (services only)."""
        db, actor = self.ctx.db, self.ctx.actor
        if not allowed or not self.ctx.can(Perm.CLINICAL_VIEW):
            return {
                "message": reason
                or (
                    "Treatment plans and outcome measures are visible only to the client's "
                    "clinicians and supervisors."
                )
            }
        try:
            read = plans.chart_plans(db, actor, client_id, plan_id)
        except UserError as exc:
            return {"message": exc.message}
        return {
            "summaries": read.summaries,
            "plan_id": read.plan_id,
            "plan": read.plan,
            "measures": read.measures,
        }

    def load(
        self,
        client_id: int,
        plan_id: int | None = None,
        allowed: bool = True,
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        """Show the client's current plan (or `plan_id`). `allowed` is the chart's own
        answer to "may this user see clinical content here": when it is False nothing is
        asked of the services, so opening a chart does not log a refusal each time. `data`:
        what `fetch` read on a worker (read here when not given)."""
        if data is None:
            data = self.fetch(client_id, plan_id, allowed, reason)
        self.client_id = client_id
        self.plan = None
        self.summaries = data.get("summaries", [])
        message = data.get("message", "")
        if message:
            self.denied.setText(message)
            self.denied.show()
            self.body.hide()
            return
        self.denied.hide()
        self.body.show()
        plan_id = data["plan_id"]
        self.plan_pick.blockSignals(True)
        self.plan_pick.clear()
        for s in self.summaries:
            self.plan_pick.addItem(f"Plan #{s.id} · {s.status_label} · {_d(s.start_date)}", s.id)
        if not self.summaries:
            self.plan_pick.addItem("No treatment plan yet", None)
        self.plan_pick.setCurrentIndex(max(self.plan_pick.findData(plan_id), 0))
        self.plan_pick.blockSignals(False)
        self._show_plan(plan_id, data["plan"])
        self._load_measures(data["measures"])

    def _pick_plan(self, _index: int) -> None:
        """Show another of the client's plans: read on a worker (a refusal is shown)."""
        plan_id = self.plan_pick.currentData()
        if plan_id is None:
            self._show_plan(None)
            return
        db, actor = self.ctx.db, self.ctx.actor

        def read() -> plans.PlanInfo | UserError:
            try:
                return plans.get_plan(db, actor, plan_id)
            except UserError as exc:
                return exc

        def show(result: plans.PlanInfo | UserError) -> None:
            if self.plan_pick.currentData() == plan_id:  # not picked another meanwhile
                self._show_plan(plan_id, result)

        self.last_op = ops.run(self, read, show)

    def _show_plan(self, plan_id: int | None, read: object = None) -> None:
        """`read`: the plan (or the refusal) `fetch` already read for `plan_id`."""
        self.tree.clear()
        self.plan = None
        if plan_id is not None:
            try:
                if read is None:
                    read = plans.get_plan(self.ctx.db, self.ctx.actor, plan_id)
                if isinstance(read, UserError):
                    raise read
                assert isinstance(read, plans.PlanInfo)
                self.plan = read
            except UserError as exc:
                msgbox.user_error(self, exc)
        plan = self.plan
        if plan is None:
            self.state.setText(
                "No treatment plan yet. Start one with 'New plan': add the problems, the "
                "client's goals, measurable objectives and the interventions, then sign it."
            )
            self.reviews.setPlainText("")
            self._update_buttons()
            return
        self.state.setText(self._state_text(plan))
        for pi, problem in enumerate(plan.problems, start=1):
            p_item = self._node(
                self.tree, "problem", problem, f"Problem {pi}: {problem.description}"
            )
            p_item.setFirstColumnSpanned(True)
            for gi, goal in enumerate(problem.goals, start=1):
                g_item = self._node(
                    p_item,
                    "goal",
                    goal,
                    f"Goal {pi}.{gi}: {goal.description}"
                    + ("  (achieved)" if goal.status == "achieved" else ""),
                )
                g_item.setFirstColumnSpanned(True)
                if goal.status == "achieved":
                    g_item.setForeground(0, QColor(style.OK))
                if goal.client_words:
                    words = goal.client_words.strip().strip('"“”')
                    w_item = self._node(g_item, "goal", goal, f"In the client's words: “{words}”")
                    font = w_item.font(0)
                    font.setItalic(True)
                    font.setBold(False)
                    w_item.setFont(0, font)
                    w_item.setForeground(0, QColor(style.MUTED))
                    w_item.setFirstColumnSpanned(True)
                for oi, objective in enumerate(goal.objectives, start=1):
                    o_item = self._node(
                        g_item,
                        "objective",
                        objective,
                        f"Objective {pi}.{gi}.{oi}: {objective.description}   "
                        f"(target {_d(objective.target_date)})",
                    )
                    o_item.setFirstColumnSpanned(True)
                    for iv in objective.interventions:
                        self._node(
                            o_item,
                            "intervention",
                            iv,
                            iv.description,
                            f"{iv.modality} · {iv.frequency}",
                            iv.responsible,
                        )
        self.tree.expandAll()
        lines = []
        for r in reversed(plan.reviews):
            lines.append(f"{_d(r.review_date)}  {r.reviewer}: {r.summary}")
            for prog in r.progress:
                comment = f" - {prog.comment}" if prog.comment else ""
                lines.append(f"    {prog.rating_label}: {prog.goal}{comment}")
        self.reviews.setPlainText("\n".join(lines) if lines else "No reviews yet.")
        self._update_buttons()

    def _state_text(self, plan: plans.PlanInfo) -> str:
        parts = [f"<b>{plan.status_label}</b>", f"start {_d(plan.start_date)}"]
        if plan.clinician_signed_at:
            parts.append(
                f"signed by {plan.clinician_signed_by} on "
                f"{clinic_time(plan.clinician_signed_at):%m/%d/%Y}"
            )
        parts.append(
            f"client agreed {_d(plan.client_signed_date)}"
            if plan.client_agreed
            else "<span style='color:#b26a00'>client agreement not recorded</span>"
        )
        if plan.status == "active" and plan.next_review_date:
            state = plan.review_state(clock.today())
            colour = {"overdue": style.BAD, "due": style.WARN}.get(state, style.TEXT)
            label = {"overdue": " (overdue)", "due": " (due)"}.get(state, "")
            parts.append(
                f"<span style='color:{colour}'>next review {_d(plan.next_review_date)}"
                f"{label}</span>"
            )
        else:
            parts.append(f"reviews every {plan.review_interval_days} days once signed")
        return "  ·  ".join(parts)

    def _node(
        self,
        parent: QTreeWidget | QTreeWidgetItem,
        kind: str,
        info: object,
        text: str,
        details: str = "",
        extra: str = "",
    ) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [text, details, extra])
        item.setData(0, Qt.ItemDataRole.UserRole, (kind, info))
        item.setToolTip(0, text)
        item.setToolTip(1, details)
        if kind in ("problem", "goal"):
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
        return item

    def _load_measures(self, rows: Any = None) -> None:
        """Show the measures `fetch` read; without them, read them again on a worker."""
        client_id = self.client_id
        assert client_id is not None
        if rows is None:
            db, actor = self.ctx.db, self.ctx.actor
            self.last_op = ops.run(
                self, lambda: measures.list_measures(db, actor, client_id), self._load_measures
            )
            return
        self.measures_chart.set_series(measures.series(rows))
        self.measures_model.set_rows(list(reversed(rows)))

    # -- state of the buttons ------------------------------------------------------------

    def selected(self) -> tuple[str, object] | None:
        items = self.tree.selectedItems()
        if not items:
            return None
        data = items[0].data(0, Qt.ItemDataRole.UserRole)
        return (str(data[0]), data[1]) if data else None

    def _update_buttons(self) -> None:
        plan = self.plan
        write = self.can_write
        draft = plan is not None and plan.status == "draft"
        active = plan is not None and plan.status == "active"
        has_draft = any(s.status == "draft" for s in self.summaries)
        has_active = any(s.status == "active" for s in self.summaries)
        # only the actions that apply to this plan are shown
        self.new_btn.setVisible(write and not has_draft and not has_active)
        self.new_btn.setEnabled(self.client_id is not None)
        self.revise_btn.setVisible(write and active)
        self.revise_btn.setEnabled(not has_draft)
        self.sign_btn.setVisible(write and draft)
        self.sign_btn.setEnabled(draft)
        self.agree_btn.setVisible(write)
        self.agree_btn.setEnabled(plan is not None and plan.status in ("draft", "active"))
        self.review_btn.setVisible(write and active)
        self.review_btn.setEnabled(active)
        self.print_btn.setEnabled(plan is not None)
        self.measure_btn.setVisible(write)
        sel = self.selected()
        for btn in (self.add_problem_btn, self.add_child_btn, self.edit_btn, self.remove_btn):
            btn.setVisible(write and (draft or plan is None))
        self.locked_hint.setVisible(write and plan is not None and not draft)
        self.add_problem_btn.setEnabled(draft)
        child = CHILD_KIND.get(sel[0]) if sel else None
        self.add_child_btn.setText(f"Add {child}" if child else "Add goal")
        self.add_child_btn.setEnabled(draft and child is not None)
        self.edit_btn.setEnabled(draft and sel is not None)
        self.remove_btn.setEnabled(draft and sel is not None)

    # -- actions -------------------------------------------------------------------------

    def _run(self, action: Callable[[], T], then: Callable[[T], Any]) -> ops.Op[T]:
        """Run a change on an op worker, then `then(result)`; a record changed on another
        workstation is said and the plan reloads."""
        op: ops.Op[T] = (
            ops.Op(self, action, takes_control=False)
            .success(then)
            .on_stale(lambda: self._reload())
            .run_in_background()
        )
        self.last_op = op
        return op

    def _reload(self, plan_id: int | None = None) -> ops.Op[Any]:
        """Read the tab again on a worker (`fetch`) and show it (`load` with the data)."""
        client_id = self.client_id
        assert client_id is not None
        keep = plan_id if plan_id is not None else (self.plan.id if self.plan else None)
        op: ops.Op[Any] = ops.run(
            self,
            lambda: self.fetch(client_id, keep),
            lambda data: self.load(client_id, keep, data=data),
        )
        self.last_op = op
        return op

    def new_plan(self) -> None:
        if self.client_id is None:
            return
        db, actor, client_id = self.ctx.db, self.ctx.actor, self.client_id
        self._run(lambda: plans.create_plan(db, actor, client_id), self._reload)

    def revise(self) -> None:
        plan = self.plan
        if plan is None:
            return
        if not msgbox.confirm(
            self,
            "Revise plan",
            "Start a new version of this plan? The open goals, objectives and interventions "
            "are copied into a draft you can change. The signed plan stays in force until the "
            "new version is signed.",
            default=True,
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(lambda: plans.revise_plan(db, actor, plan.id), self._reload)

    def _sign_clicked(self) -> None:
        if self.plan is None:
            return
        if msgbox.confirm(
            self,
            "Sign plan",
            "Sign this treatment plan? Once signed it is locked: progress is recorded with "
            "reviews and changes need a new version of the plan.",
            default=True,
        ):
            self.sign()

    def sign(self) -> ops.Op[Any] | None:
        plan = self.plan
        if plan is None:
            return None
        db, actor = self.ctx.db, self.ctx.actor
        return self._run(
            lambda: plans.sign_plan(db, actor, plan.id, plan.version),
            lambda _r: self._reload(plan.id),
        )

    def record_agreement(self) -> None:
        if self.plan is None:
            return
        dialog = AgreementDialog(self.ctx, self.plan, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._reload()

    def add_review(self) -> None:
        if self.plan is None:
            return
        dialog = ReviewDialog(self.ctx, self.plan, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._reload()

    def item_dialog(
        self, kind: str, parent_id: int, existing: object | None = None
    ) -> PlanItemDialog:
        return PlanItemDialog(self.ctx, kind, parent_id, self, existing)

    def add_item(self, kind: str, parent_id: int | None = None) -> None:
        if self.plan is None:
            return
        dialog = self.item_dialog(kind, parent_id if parent_id is not None else self.plan.id)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._reload()

    def add_child(self) -> None:
        sel = self.selected()
        if sel is None or sel[0] not in CHILD_KIND:
            return
        self.add_item(CHILD_KIND[sel[0]], int(getattr(sel[1], "id", 0)))

    def edit_selected(self) -> None:
        sel = self.selected()
        if sel is None or self.plan is None or self.plan.status != "draft":
            return
        dialog = self.item_dialog(sel[0], 0, sel[1])
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._reload()

    def remove_selected(self) -> None:
        sel = self.selected()
        if sel is None:
            return
        kind, info = sel
        if not msgbox.confirm(
            self,
            "Remove from plan",
            f"Remove this {kind} and everything under it from the draft plan?",
            default=True,
        ):
            return
        db, actor = self.ctx.db, self.ctx.actor
        item_id, version = int(getattr(info, "id", 0)), int(getattr(info, "version", 0))
        self._run(
            lambda: plans.remove_item(db, actor, kind, item_id, version),
            lambda _r: self._reload(),
        )

    def _print_clicked(self) -> None:
        if self.plan is None:
            return
        from iopdesk.ui.pages.privacy import ask_release

        release = ask_release(self, "The treatment plan", allow_client_copy=True)
        if release is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Print treatment plan to PDF",
            str(Path.home() / f"treatment-plan-{self.plan.id}.pdf"),
            "PDF files (*.pdf)",
        )
        if name:
            self.print_to(Path(name), release)

    def print_to(self, path: Path, release: Release | None = None) -> ops.Op[Any] | None:
        """Write the plan's PDF on an op worker; says where it was saved."""
        plan = self.plan
        if plan is None:
            return None
        db, actor = self.ctx.db, self.ctx.actor
        return self._run(
            lambda: plans.print_plan(db, actor, plan.id, path, release=release),
            lambda _r: msgbox.info(self, "Treatment plan printed", f"Saved {path}."),
        )

    def measure_dialog(self, code: str = "PHQ-9") -> MeasureDialog:
        assert self.client_id is not None
        return MeasureDialog(self.ctx, self.client_id, code, self)

    def enter_measure(self) -> None:
        if self.client_id is None:
            return
        dialog = self.measure_dialog()
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.after_measure(dialog.result_info)

    def after_measure(self, info: measures.MeasureInfo | None) -> None:
        if info is not None and info.suicide_risk:
            msgbox.warning(
                self,
                "PHQ-9 item 9 is positive",
                "The client reported thoughts of death or self-harm (question 9). A suicide-risk "
                "flag is now on the chart. Complete a C-SSRS risk assessment and a safety plan "
                "today (Safety tab), and follow the clinic's crisis procedure. 988 Suicide & "
                "Crisis Lifeline: call or text 988.",
            )
            parent = self.parentWidget()
            while parent is not None and not hasattr(parent, "refresh_safety"):
                parent = parent.parentWidget()
            if parent is not None:
                parent.refresh_safety()  # the chart's banner and Safety tab
        self._load_measures()
