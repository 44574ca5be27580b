"""The chart's Treatment plan tab with real widgets (offscreen): open it, add a goal through
its dialog, sign the plan, record a review and enter a PHQ-9."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QTreeWidgetItem

from iopdesk.services import clinic, measures, plans
from iopdesk.ui import msgbox
from iopdesk.ui.context import AppContext
from iopdesk.ui.pages.clients import ChartPage
from iopdesk.ui.pages.plan import TreatmentPlanTab
from tests.conftest import Env
from tests.helpers import finish, settle
from tests.helpers.chart import show_tab

pytestmark = [pytest.mark.gui, pytest.mark.sqlite_only]


def _items(tab: TreatmentPlanTab) -> list[QTreeWidgetItem]:
    found: list[QTreeWidgetItem] = []

    def walk(item: QTreeWidgetItem) -> None:
        found.append(item)
        for i in range(item.childCount()):
            walk(item.child(i))

    for i in range(tab.tree.topLevelItemCount()):
        walk(tab.tree.topLevelItem(i))
    return found


def _select(tab: TreatmentPlanTab, text_start: str) -> None:
    for item in _items(tab):
        if item.text(0).startswith(text_start):
            tab.tree.setCurrentItem(item)
            item.setSelected(True)
            return
    raise AssertionError(f"no tree item starting {text_start!r}")


def _ok(dialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    settle()  # the save runs on a worker


def test_plan_tab_goal_dialog_sign_review_and_phq9(qtbot, env: Env, tmp_path: Path) -> None:
    w = env.world
    ctx = AppContext(env.db, w.therapist, clinic.get_clinic(env.db))
    chart = ChartPage(ctx)
    qtbot.addWidget(chart)
    chart.load(w.client_own)
    tab = chart.plan_tab
    show_tab(chart, tab)
    assert chart.tabs.tabText(chart.tabs.currentIndex()) == "Treatment plan"
    assert "No treatment plan yet" in tab.state.text()
    assert tab.sign_btn.isHidden() and tab.review_btn.isHidden()

    qtbot.mouseClick(tab.new_btn, Qt.MouseButton.LeftButton)
    settle()
    assert tab.plan is not None and tab.plan.status == "draft"
    assert tab.new_btn.isHidden()  # one draft at a time

    # problem, then a goal through the dialog (typed), objective and intervention
    dialog = tab.item_dialog("problem", tab.plan.id)
    qtbot.keyClicks(dialog.description, "Alcohol use disorder, moderate")
    _ok(dialog)
    assert dialog.result() == 1
    finish(tab._reload())
    _select(tab, "Problem 1")
    assert tab.add_child_btn.text() == "Add goal" and tab.add_child_btn.isEnabled()
    problem_id = tab.selected()[1].id  # type: ignore[index,union-attr]
    dialog = tab.item_dialog("goal", problem_id)
    _ok(dialog)  # empty goal: refused in the dialog, not saved
    assert "Enter the goal" in dialog.error.text() and dialog.result() != 1
    qtbot.keyClicks(dialog.description, "Stay sober and rebuild trust at home")
    assert dialog.client_words is not None
    qtbot.keyClicks(dialog.client_words, "I want my family to trust me again")
    _ok(dialog)
    finish(tab._reload())
    _select(tab, "Goal 1.1")
    assert tab.add_child_btn.text() == "Add objective"
    goal = tab.selected()[1]  # type: ignore[index]
    assert goal.client_words == "I want my family to trust me again"  # type: ignore[union-attr]
    dialog = tab.item_dialog("objective", goal.id)  # type: ignore[union-attr]
    qtbot.keyClicks(dialog.description, "Attends 9 of 9 program hours weekly")
    assert dialog.target is not None
    dialog.target.set_value(date.today())
    _ok(dialog)
    finish(tab._reload())
    _select(tab, "Objective 1.1.1")
    objective = tab.selected()[1]  # type: ignore[index]
    dialog = tab.item_dialog("intervention", objective.id)  # type: ignore[union-attr]
    settle()  # the Responsible list is read on a worker
    qtbot.keyClicks(dialog.description, "Relapse-prevention skills group")
    assert dialog.modality is not None and dialog.frequency is not None
    dialog.modality.setCurrentText("Relapse prevention")
    dialog.frequency.setCurrentText("3x weekly")
    assert dialog.responsible is not None and dialog.responsible.currentData() == (
        w.therapist.staff_id
    )
    _ok(dialog)
    finish(tab._reload())
    texts = [i.text(0) for i in _items(tab)]
    assert texts == [
        "Problem 1: Alcohol use disorder, moderate",
        "Goal 1.1: Stay sober and rebuild trust at home",
        "In the client's words: “I want my family to trust me again”",
        f"Objective 1.1.1: Attends 9 of 9 program hours weekly   (target {date.today():%m/%d/%Y})",
        "Relapse-prevention skills group",
    ]

    # sign (the confirmation is answered "yes" by the non-blocking message box)
    assert tab.sign_btn.isEnabled()
    qtbot.mouseClick(tab.sign_btn, Qt.MouseButton.LeftButton)
    settle()
    assert tab.plan.status == "active"
    assert "Signed (active)" in tab.state.text() and "Theo Rapist" in tab.state.text()
    assert not tab.add_problem_btn.isEnabled() and tab.sign_btn.isHidden()
    assert tab.review_btn.isEnabled() and tab.revise_btn.isEnabled()
    assert not tab.review_btn.isHidden() and tab.new_btn.isHidden()

    # the client's agreement
    from iopdesk.ui.pages.plan import AgreementDialog

    assert "client agreement not recorded" in tab.state.text()
    agreement = AgreementDialog(ctx, tab.plan, tab)
    assert agreement.signed.value() == date.today()
    _ok(agreement)
    finish(tab._reload())
    assert f"client agreed {date.today():%m/%d/%Y}" in tab.state.text()

    # a review rating the goal
    from iopdesk.ui.pages.plan import ReviewDialog

    review = ReviewDialog(ctx, tab.plan, tab)
    qtbot.keyClicks(review.summary, "First month: steady attendance.")
    [(_goal_id, rating, comment)] = review.rows
    rating.setCurrentIndex(rating.findData("progressing"))
    qtbot.keyClicks(comment, "No lapses")
    _ok(review)
    finish(tab._reload())
    assert "Progressing: Stay sober and rebuild trust at home - No lapses" in (
        tab.reviews.toPlainText()
    )

    # PHQ-9 through the dialog: item 9 positive warns about suicide risk
    dialog = tab.measure_dialog("PHQ-9")
    assert len(dialog.answers) == 9
    dialog.set_answers([2, 2, 1, 1, 0, 0, 1, 0, 1])
    assert dialog.total.text().startswith("8 of 27  -  Mild")
    assert "item 9 positive" in dialog.total.text()
    _ok(dialog)
    tab.after_measure(dialog.result_info)
    assert msgbox.shown[-1].title == "PHQ-9 item 9 is positive"
    settle()  # the measures are read again on a worker
    assert tab.measures_model.rowCount() == 1
    assert tab.measures_chart.series["PHQ-9"] == [(date.today(), 8)]
    # an unanswered GAD-7 question is refused with a plain message
    dialog = tab.measure_dialog("GAD-7")
    dialog.set_answers([1, 1, 1, 1, 1, 1, 1])
    dialog.answers[3].setCurrentIndex(0)
    _ok(dialog)
    assert "Question 4 of the GAD-7 is not answered" in dialog.error.text()
    assert len(measures.list_measures(env.db, w.therapist, w.client_own)) == 1

    # print
    out = tmp_path / "plan.pdf"
    printing = tab.print_to(out)
    assert printing is not None
    finish(printing)
    assert printing.error is None and out.stat().st_size > 1000
    tab.grab().save(str(tmp_path / "tab.png"))


def test_plan_tab_hidden_from_front_desk(qtbot, env: Env) -> None:
    ctx = AppContext(env.db, env.world.front_desk, clinic.get_clinic(env.db))
    chart = ChartPage(ctx)
    qtbot.addWidget(chart)
    chart.load(env.world.client_own)
    tab = chart.plan_tab
    show_tab(chart, tab)
    assert tab.body.isHidden()
    assert "visible only to the client's clinicians" in tab.denied.text()


def test_signed_plan_offers_no_editing(qtbot, env: Env) -> None:
    w = env.world
    plan_id = plans.create_plan(env.db, w.therapist, w.client_own)
    p = plans.add_problem(env.db, w.therapist, plan_id, "Anxiety")
    g = plans.add_goal(env.db, w.therapist, p, "Fewer panic attacks")
    o = plans.add_objective(env.db, w.therapist, g, "0-1 a week", date.today())
    plans.add_intervention(env.db, w.therapist, o, "CBT", "CBT", "Weekly", w.therapist.staff_id)
    plans.sign_plan(env.db, w.therapist, plan_id, 1)
    tab = TreatmentPlanTab(AppContext(env.db, w.therapist, clinic.get_clinic(env.db)))
    qtbot.addWidget(tab)
    tab.load(w.client_own)
    _select(tab, "Goal 1.1")
    assert not tab.edit_btn.isEnabled() and not tab.remove_btn.isEnabled()
    assert not tab.add_child_btn.isEnabled()
    tab.edit_selected()  # double-click on a signed plan does nothing
    assert plans.get_plan(env.db, w.therapist, plan_id).goals()[0].description == (
        "Fewer panic attacks"
    )
