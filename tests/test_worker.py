"""Long file jobs run in a worker process (iopdesk/worker.py) on the same database.

The real encrypted file and the real PostgreSQL server; the real billing export and workbook
import in a child process started with "spawn", as the app's Billing and Admin pages run them.
"""

from __future__ import annotations

import logging
import os

import pytest
from openpyxl import load_workbook

from iopdesk import worker
from iopdesk.errors import PermissionDenied
from iopdesk.services import billing, changes, jobs
from iopdesk.services.changes import ChangeListener
from tests.helpers import jobs as test_jobs
from tests.test_billing import D1, D4, _two_clients


def test_the_billing_export_runs_in_another_process_and_is_this_apps_own_change(env, tmp_path):
    _two_clients(env, tmp_path)
    listener = ChangeListener(env.db)
    seen: list[tuple[int, int, str]] = []
    out = tmp_path / "billing.xlsx"
    with changes.collect() as tables:
        result = worker.run(
            env.db,
            env.world.billing,
            jobs.billing_export,
            D1,
            D4,
            out,
            None,
            False,
            None,
            progress=lambda d, t, label: seen.append((d, t, label)),
        )
    assert result.lines == 8 and result.batch_number
    assert load_workbook(out, read_only=True)["Claim Lines"].max_row == 9  # header + 8
    assert seen and seen[-1][:2] == (8, 8) and "claim line 8 of 8" in seen[-1][2]
    assert "billingbatch" in tables  # the screens that show batches refresh
    batches = billing.list_batches(env.db, env.world.billing)
    assert [b.batch_number for b in batches] == [result.batch_number]
    # The app's own export is not "changed on another workstation".
    news = listener.wait(1.0)
    assert news == []
    listener.close()


def test_a_refusal_arrives_as_itself_with_its_message(env, tmp_path):
    _two_clients(env, tmp_path)
    with pytest.raises(PermissionDenied) as refused:
        worker.run(
            env.db,
            env.world.front_desk,
            jobs.billing_export,
            D1,
            D4,
            tmp_path / "x.xlsx",
            None,
            False,
            None,
        )
    assert refused.value.message == "Only billing staff and administrators can export billing."
    assert not (tmp_path / "x.xlsx").exists()


def test_a_refused_workbook_lists_every_problem(env, tmp_path):
    import xlsxwriter

    from iopdesk.services.workbook import ImportFailed

    book = tmp_path / "bad.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    ws = wb.add_worksheet("Clients")
    ws.write_row(0, 0, ["mrn", "first_name", "last_name", "dob", "sex", "status", "track"])
    ws.write_row(1, 0, ["X1", "Ann", "Bee", "not a date", "F", "active", "NOPE"])
    wb.close()
    with pytest.raises(ImportFailed) as failed:
        worker.run(env.db, env.world.admin, jobs.workbook_import, book, dry_run=True)
    assert failed.value.problems, "the problems came back with the error"
    assert "Clients!2" in failed.value.report()


def test_a_bug_is_one_line_and_its_text_never_reaches_the_log(env, caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(worker.WorkerFailed) as failed:
        worker.run(env.db, env.world.admin, test_jobs.leaky_bug, "Jane Roe 555-0100")
    assert failed.value.kind == "KeyError"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "KeyError" in logged and "leaky_bug" in logged  # type and code lines for support
    assert "Jane" not in logged and "555-0100" not in logged


def test_a_worker_that_dies_is_reported_not_waited_for_and_the_next_job_gets_another(env):
    before = worker.run(env.db, env.world.admin, test_jobs.own_process)["pid"]
    with pytest.raises(worker.WorkerFailed) as failed:
        worker.run(env.db, env.world.admin, test_jobs.dies)
    assert "stopped" in failed.value.kind
    after = worker.run(env.db, env.world.admin, test_jobs.own_process)["pid"]
    assert after != before


def test_the_process_stays_warm_for_the_next_job_and_ends_with_the_database(env):
    first = int(worker.run(env.db, env.world.admin, test_jobs.own_process)["pid"])
    second = int(worker.run(env.db, env.world.admin, test_jobs.own_process)["pid"])
    assert first == second  # no second start-up
    env.db.close()
    assert not os.path.exists(f"/proc/{first}") or _is_zombie_or_gone(first)


def _is_zombie_or_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" in f.read().lower()
    except OSError:
        return True


def test_the_audit_chain_still_verifies_after_jobs_in_the_worker(env, tmp_path):
    from iopdesk.services import audit

    _two_clients(env, tmp_path)
    worker.run(
        env.db,
        env.world.billing,
        jobs.billing_export,
        D1,
        D4,
        tmp_path / "a.xlsx",
        None,
        False,
        None,
    )
    billing.list_batches(env.db, env.world.billing)  # the app goes on writing its own events
    audit.record_now(env.db, env.world.admin, audit.Action.READ, entity="test")
    worker.run(
        env.db,
        env.world.billing,
        jobs.billing_export,
        D1,
        D4,
        tmp_path / "b.xlsx",
        None,
        True,
        None,
    )
    result = audit.verify(env.db)
    assert result.ok, result


def test_progress_arrives_in_order_and_cancel_reaches_the_job(env):
    seen: list[int] = []
    assert worker.run(
        env.db, env.world.admin, test_jobs.counts, 50, progress=lambda d, t, _l: seen.append(d)
    ) == list(range(50))
    assert seen == list(range(1, 51))
    started: list[bool] = []
    with pytest.raises(worker.JobCancelled):
        worker.run(
            env.db,
            env.world.admin,
            test_jobs.until_cancelled,
            progress=lambda *_: started.append(True),
            cancelled=lambda: bool(started),
        )


@pytest.mark.sqlite_only
def test_the_key_is_never_on_the_command_line_or_in_the_environment(env):
    handoff = env.db.handoff()
    assert handoff.secret.startswith("x'") and len(handoff.secret) > 40
    key_hex = handoff.secret[2:-1]
    assert key_hex not in repr(handoff)
    seen = worker.run(env.db, env.world.admin, test_jobs.own_process)
    assert seen["pid"] != str(os.getpid())
    assert key_hex.lower() not in seen["cmdline"].lower()
    assert key_hex.lower() not in seen["environ"].lower()


def test_cancel_stops_a_billing_export_and_leaves_nothing_behind(env, tmp_path):
    _two_clients(env, tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    asked: list[bool] = []

    def pressed() -> bool:  # Cancel pressed as soon as the export started
        asked.append(True)
        return True

    with pytest.raises(worker.JobCancelled):
        worker.run(
            env.db,
            env.world.billing,
            jobs.billing_export,
            D1,
            D4,
            folder / "billing.xlsx",
            None,
            False,
            None,
            cancelled=pressed,
        )
    assert asked
    assert list(folder.iterdir()) == []  # no workbook, no partial file
    assert billing.list_batches(env.db, env.world.billing) == []
    # The same export goes through afterwards (the worker process is still usable).
    done = worker.run(
        env.db,
        env.world.billing,
        jobs.billing_export,
        D1,
        D4,
        folder / "b.xlsx",
        None,
        False,
        None,
    )
    assert done.lines == 8


def test_a_long_result_arrives_in_pieces_in_order(env):
    parts: dict[str, list[int]] = {}
    assert worker.run(env.db, env.world.admin, test_jobs.parted, 4500, parts=parts) == "sent"
    assert parts == {"numbers": list(range(4500))}


def test_the_billing_preview_job_gives_what_the_service_gives(env, tmp_path):
    _two_clients(env, tmp_path)
    direct = billing.preview(env.db, env.world.billing, D1, D4)
    parts: dict[str, list] = {}
    run, labels, totals = worker.run(
        env.db, env.world.billing, jobs.billing_preview, D1, D4, None, False, parts=parts
    )
    assert run.lines == [] and run.exceptions == []  # they came as parts
    assert parts["lines"] == direct.lines and len(direct.lines) == 8
    assert parts.get("exceptions", []) == direct.exceptions
    assert totals == (direct.total_units, direct.total)
    assert run.by_payer == direct.by_payer and run.by_code == direct.by_code
    assert labels and all(" - " in text for text in labels.values())
