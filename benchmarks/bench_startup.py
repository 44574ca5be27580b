"""Cold start to the first painted main window (large database) vs a bare PySide6 window,
then to the Today page filled just after that paint ("ready"), and the GUI's peak resident
memory with the large database open (every page visited).

    python -m benchmarks.bench_startup DB_PATH [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, emit, median, prepare_env


def child(mode: str, db_path: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, "-m", "benchmarks.startup_child", mode]
    if db_path is not None:
        args.append(str(db_path))
    env["BENCH_T0"] = repr(time.time())
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} start failed: {out.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def _boot_database() -> Path:
    """A passphrase-keyed clinic the real `iopdesk` command can open (no keyring here)."""
    import tempfile

    os.environ["IOPDESK_DB_PASSPHRASE"] = BOOT_PASSPHRASE
    os.environ["BENCH_PASSWORD"] = BOOT_PASSWORD
    from iopdesk.db import Database, DbTarget
    from iopdesk.services.clinic import setup_clinic

    path = Path(tempfile.mkdtemp(prefix="iopdesk-bench-boot-")) / "clinic.db"
    db = Database.open(DbTarget(path=path), create=True)
    setup_clinic(db, "Start-up Bench Clinic", "admin", BOOT_PASSWORD)
    from iopdesk.services.recovery import ensure_recovery_key

    ensure_recovery_key(db)  # as `iopdesk init` does (else the app shows it at sign-in)
    db.close()
    return path


BOOT_PASSPHRASE = "start-up benchmark passphrase"
BOOT_PASSWORD = "bench-password-1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    prepare_env()
    # An installed IOPDesk starts from compiled bytecode (pip compiles on install, the
    # installer ships .pyc files); a source checkout run with PYTHONDONTWRITEBYTECODE=1 would
    # compile every module at every start instead, so compile them once here.
    for package in ("iopdesk", "benchmarks"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    child("bare")  # warm the OS file cache for both, as on a PC that has run them before
    child("app", args.db)
    bare, app, phases, bare_cpu, app_cpu, ready, ready_cpu = [], [], [], [], [], [], []
    for _ in range(args.runs):  # interleaved, so load changes hit both alike
        b = child("bare")
        bare.append(b["paint_ms"])
        bare_cpu.append(b["cpu_ms"])
        run = child("app", args.db)
        app.append(run["paint_ms"])
        app_cpu.append(run["cpu_at_paint"])
        ready.append(run["ready_ms"])
        ready_cpu.append(run["cpu_at_ready"])
        phases.append(run)
    signin, signin_bare, after_password, signin_cpu = [], [], [], []
    boot_db = _boot_database()
    child("boot", boot_db)  # the first start on this PC remembers the clinic for the next
    for _ in range(args.runs):
        b = child("bare")
        signin_bare.append(b["paint_ms"])
        run = child("boot", boot_db)
        signin.append(run["login_paint_ms"])
        signin_cpu.append(run["cpu_at_login_paint"])
        after_password.append(run["main_after_password_ms"])
    mem = child("memory", args.db)
    bare_mem = child("bare")
    emit(
        {
            "startup": {
                "value_ms": median(app),
                "baseline_ms": median(bare),
                "cpu_ms": median(app_cpu),
                "baseline_cpu_ms": median(bare_cpu),
                "runs_ms": [round(v, 1) for v in app],
                "baseline_runs_ms": [round(v, 1) for v in bare],
                "phases_ms": {
                    k: median([p[k] for p in phases]) for k in phases[0] if k.endswith("_ms")
                },
            },
            "startup_ready": {
                "value_ms": median(ready),
                "baseline_ms": median(bare),
                "cpu_ms": median(ready_cpu),
                "baseline_cpu_ms": median(bare_cpu),
                "runs_ms": [round(v, 1) for v in ready],
            },
            "startup_signin": {
                "value_ms": median(signin),
                "baseline_ms": median(signin_bare),
                "cpu_ms": median(signin_cpu),
                "runs_ms": [round(v, 1) for v in signin],
                "baseline_runs_ms": [round(v, 1) for v in signin_bare],
            },
            "startup_after_password": {
                "value_ms": median(after_password),
                "runs_ms": [round(v, 1) for v in after_password],
            },
            "memory": {
                "value_mb": mem["peak_rss_mb"],
                "baseline_mb": bare_mem["peak_rss_mb"],
                "census_rows": mem.get("census_rows"),
            },
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
