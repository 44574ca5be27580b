"""Crash-safety harness: a writer process is SIGKILLed at random moments, again and again.

A forked child works on a real SQLCipher-encrypted demo clinic in a loop: records attendance on
sign-in sheets, writes and signs progress notes, and exports billing batches. It reports every
committed operation on a pipe. The parent kills it with SIGKILL after a random delay, then opens
the database and checks:

- PRAGMA integrity_check and cipher_integrity_check are clean, PRAGMA foreign_key_check is empty;
- no signed note lacks its signer, signing time or content SHA-256 (no half-signed note);
- no billing batch lacks its lines; every line's batch exists;
- the audit log's HMAC chain verifies;
- nothing reported as committed before the kill is missing (signed notes, batches).

    python scripts/kill_harness.py --kills 200

Exit status 0 when every check passed after every kill.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import select
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@dataclass
class Clinic:
    """A prepared demo clinic: where it is, its key, and signed-in actors (reused by forks)."""

    path: Path
    key: bytes
    front_desk: Any
    therapist: Any
    billing: Any
    therapist_clients: list[int]
    sessions: list[int]
    bill_from: date
    bill_to: date


@dataclass
class Report:
    kills: int = 0
    failures: list[str] = field(default_factory=list)
    committed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.committed.items()))
        return (
            f"{self.kills} kills, {len(self.failures)} integrity/invariant failures; "
            f"committed before kills: {ops}; {self.seconds:.0f} s"
        )


def prepare(folder: Path) -> Clinic:
    """A demo clinic in an encrypted file, plus what the writer needs to work on it."""
    from sqlalchemy import text

    from iopdesk.db import Database, DbTarget
    from iopdesk.demo import DEMO_PASSWORD, create_demo_clinic
    from iopdesk.services import auth

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "clinic.db"
    key = secrets.token_bytes(32)
    db = Database.open(DbTarget(path=path), create=True, key=key)
    try:
        create_demo_clinic(db)
        front = auth.login(db, "frontdesk", DEMO_PASSWORD)
        therapist = auth.login(db, "therapist", DEMO_PASSWORD)
        billing = auth.login(db, "billing", DEMO_PASSWORD)
        today = date.today()
        with db.engine.connect() as conn:
            clients = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT DISTINCT ta.client_id FROM therapistassignment ta "
                        "JOIN client c ON c.id = ta.client_id "
                        "WHERE ta.staff_id = :s AND c.status = 'active'"
                    ),
                    {"s": therapist.staff_id},
                )
            ]
            sessions = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT id FROM clinic_session WHERE kind = 'group' AND status != "
                        "'cancelled' AND session_date <= :t AND session_date >= :f"
                    ),
                    {"t": today, "f": today - timedelta(days=21)},
                )
            ]
    finally:
        db.close()
    if not clients or not sessions:
        raise SystemExit("the demo clinic has no assigned clients or recent group sessions")
    return Clinic(
        path,
        key,
        front,
        therapist,
        billing,
        clients,
        sessions,
        today - timedelta(days=6),
        today,
    )


# -- the writer (runs in the forked child until it is killed) ---------------------------------


def _say(fd: int, message: str) -> None:
    os.write(fd, (message + "\n").encode())


def writer(clinic: Clinic, fd: int, seed: int) -> None:
    from iopdesk.db import Database, DbTarget
    from iopdesk.errors import UserError
    from iopdesk.services import attendance, billing, notes

    rng = random.Random(seed)
    db = Database.open(DbTarget(path=clinic.path), key=clinic.key, migrate=False)
    out_dir = clinic.path.parent / "exports"
    out_dir.mkdir(exist_ok=True)
    _say(fd, "ready")
    n = 0
    while True:
        n += 1
        what = rng.choice(("attendance", "attendance", "note", "note", "billing"))
        try:
            if what == "attendance":
                sid = rng.choice(clinic.sessions)
                sheet = attendance.sign_in_sheet(db, clinic.front_desk, sid)
                entries = [
                    attendance.AttendanceEntry(
                        r.client_id,
                        rng.choice(("present", "present", "absent_excused")),
                        None,
                    )
                    for r in sheet.rows
                ]
                if entries:
                    attendance.record_attendance(
                        db, clinic.front_desk, sid, sheet.session_version, entries
                    )
                    _say(fd, f"attendance {sid}")
            elif what == "note":
                cid = rng.choice(clinic.therapist_clients)
                draft = notes.NoteDraft(
                    client_id=cid,
                    service_date=date.today() - timedelta(days=rng.randint(0, 2)),
                    sections={
                        "Data": f"Kill harness note {n}: " + "words " * rng.randint(5, 400),
                        "Assessment": "Engaged; no acute risk.",
                        "Plan": "Continue IOP.",
                    },
                    service_minutes=rng.choice((50, 60)),
                )
                saved = notes.create_note(db, clinic.therapist, draft)
                _say(fd, f"draft {saved.id}")
                notes.sign_note(db, clinic.therapist, saved.id, saved.version)
                _say(fd, f"signed {saved.id}")
            else:
                result = billing.export(
                    db,
                    clinic.billing,
                    clinic.bill_from,
                    clinic.bill_to,
                    out_dir / f"claims-{os.getpid()}-{n}.xlsx",
                    include_billed=True,
                )
                if result.batch_number:
                    _say(fd, f"batch {result.batch_number} {result.lines}")
        except UserError as exc:  # expected refusals (stale sheet etc.) are not failures
            _say(fd, f"refused {type(exc).__name__}")


# -- the checker --------------------------------------------------------------------------


@dataclass
class Seen:
    signed: set[int] = field(default_factory=set)
    batches: dict[str, int] = field(default_factory=dict)


def check(clinic: Clinic, seen: Seen) -> list[str]:
    """Everything that must hold after a crash; an empty list means all is well."""
    from sqlalchemy import text

    from iopdesk.db import Database, DbTarget
    from iopdesk.services import audit

    problems: list[str] = []
    db = Database.open(DbTarget(path=clinic.path), key=clinic.key)
    try:
        raw = db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            assert conn is not None
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"]:
                problems.append(f"integrity_check: {integrity[:3]}")
            cipher = conn.execute("PRAGMA cipher_integrity_check").fetchall()
            if cipher:
                problems.append(f"cipher_integrity_check: {cipher[:3]}")
            fks = conn.execute("PRAGMA foreign_key_check").fetchall()
            if fks:
                problems.append(f"foreign_key_check: {len(fks)} orphan rows, e.g. {fks[:3]}")
        finally:
            raw.close()
        with db.engine.connect() as c:
            half = c.execute(
                text(
                    "SELECT id FROM note WHERE status IN ('signed', 'cosigned') AND ("
                    "content_sha256 IS NULL OR content_sha256 = '' OR signed_by IS NULL "
                    "OR signed_at IS NULL)"
                )
            ).all()
            if half:
                problems.append(f"half-signed notes: {[r[0] for r in half][:5]}")
            empty = c.execute(
                text(
                    "SELECT b.batch_number FROM billingbatch b WHERE NOT EXISTS "
                    "(SELECT 1 FROM billingline l WHERE l.batch_id = b.id)"
                )
            ).all()
            if empty:
                problems.append(f"billing batches without lines: {[r[0] for r in empty]}")
            signed = {
                r[0]
                for r in c.execute(
                    text("SELECT id FROM note WHERE status IN ('signed', 'cosigned')")
                )
            }
            lost = seen.signed - signed
            if lost:
                problems.append(f"signed notes lost after the kill: {sorted(lost)[:5]}")
            batches = dict(
                c.execute(
                    text(
                        "SELECT b.batch_number, count(l.id) FROM billingbatch b "
                        "JOIN billingline l ON l.batch_id = b.id GROUP BY b.batch_number"
                    )
                ).all()
            )
            for number, lines in seen.batches.items():
                if batches.get(number) != lines:
                    problems.append(f"batch {number}: {batches.get(number)} lines, not {lines}")
        result = audit.verify(db)
        if not result.ok:
            problems.append(f"audit chain: {result.message()}")
    finally:
        db.close()
    return problems


def _drain(fd: int, timeout: float) -> list[str]:
    chunks = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            break
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace").splitlines()


def run(
    kills: int,
    folder: Path | None = None,
    seed: int = 1,
    max_delay: float = 0.6,
    clinic: Clinic | None = None,
    verbose: bool = False,
) -> Report:
    """Prepare (or reuse) a clinic, then fork, kill and check `kills` times."""
    started = time.monotonic()
    if clinic is None:
        folder = folder or Path(tempfile.mkdtemp(prefix="iopdesk-kill-"))
        clinic = prepare(folder)
    rng = random.Random(seed)
    report = Report()
    seen = Seen()
    for i in range(kills):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            os.close(read_fd)
            code = 0
            try:
                writer(clinic, write_fd, seed * 100_000 + i)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 70
            os._exit(code)
        os.close(write_fd)
        lines = _drain_until_ready(read_fd)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        _pid, status = os.waitpid(pid, 0)
        lines += _drain(read_fd, 0.05)
        os.close(read_fd)
        if not os.WIFSIGNALED(status):
            report.failures.append(f"kill {i + 1}: the writer stopped by itself ({status})")
        for line in lines:
            kind, _, rest = line.partition(" ")
            report.committed[kind] = report.committed.get(kind, 0) + 1
            if kind == "signed":
                seen.signed.add(int(rest))
            elif kind == "batch":
                number, lines_count = rest.split()
                seen.batches[number] = int(lines_count)
        report.committed.pop("ready", None)
        problems = check(clinic, seen)
        report.kills += 1
        for p in problems:
            report.failures.append(f"kill {i + 1}: {p}")
        if verbose:
            status_word = "FAIL " + "; ".join(problems) if problems else "ok"
            print(f"kill {i + 1}/{kills}: {len(lines)} commits reported, {status_word}", flush=True)
    report.seconds = time.monotonic() - started
    return report


def _drain_until_ready(fd: int, timeout: float = 120.0) -> list[str]:
    got: list[str] = []
    data = b""
    end = time.monotonic() + timeout
    while b"ready\n" not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            raise RuntimeError("the writer did not start")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("the writer exited before it was ready")
        data += chunk
    got.extend(data.decode(errors="replace").splitlines())
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=0.6, help="seconds, upper bound")
    parser.add_argument("--folder", type=Path, help="work folder (default: a new temp folder)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.suppress(Exception):
        from iopdesk import logsetup

        logsetup.setup()
    report = run(args.kills, args.folder, args.seed, args.max_delay, verbose=args.verbose)
    print(report.line())
    for failure in report.failures[:50]:
        print("  " + failure)
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
