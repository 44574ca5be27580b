"""Replacing a large row list lets go of the old rows over several turns of the event loop."""

from __future__ import annotations

import weakref

import pytest

from iopdesk.ui import ops
from iopdesk.ui.tablemodel import FREE_CHUNK, Column, RowsModel

pytestmark = pytest.mark.gui


class Row:
    def __init__(self, n: int) -> None:
        self.n = n


def test_a_replaced_large_list_is_freed_in_chunks_after_the_new_rows_show(qtbot) -> None:
    model: RowsModel[Row] = RowsModel([Column("N", lambda r: r.n)])
    old = [Row(i) for i in range(FREE_CHUNK * 3 + 7)]
    model.set_rows(old)
    watch = weakref.ref(old[0])
    kept = model.rows  # the model's own copy of the old rows
    del old
    model.set_rows([Row(-1), Row(-2)])
    assert model.rowCount() == 2 and model.data(model.index(0, 0)) == "-1"
    assert len(kept) > FREE_CHUNK  # not all at once, in the middle of showing the new rows
    ops.spin(1)
    assert len(kept) < FREE_CHUNK * 3 + 7
    for _ in range(10):
        ops.spin(1)
    assert kept == [] and watch() is None  # all let go, chunk by chunk


def test_a_small_list_is_simply_replaced(qtbot) -> None:
    model: RowsModel[Row] = RowsModel([Column("N", lambda r: r.n)])
    model.set_rows([Row(1)])
    first = model.rows
    model.set_rows([Row(2)])
    assert first and first[0].n == 1  # untouched: freed by reference counting as usual
