"""Run every benchmark on the large synthetic clinic, print each figure with its baseline,
ratio and target, and rewrite the results table in docs/performance.md.

    python -m benchmarks                 # full scale (5,000 clients, ~1M attendance rows)
    python -m benchmarks --scale 0.02    # a quick look while developing
    python -m benchmarks --only census,hours --no-docs

Each benchmark runs in its own process (clean imports, no cache shared between them) and
prints one JSON line; figures are medians of several timed runs after a warm-up. Benchmarks
that write (billing export, sign-in) work on a private copy of the cached database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, prepare_env
from benchmarks.generate import Spec, add_spec_args, cached, meta, working_copy

DOC = REPO / "docs" / "performance.md"
BEGIN = "<!-- results:begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- results:end -->"


@dataclass(frozen=True)
class Target:
    key: str  # result key printed by the benchmark
    label: str
    unit: str  # "ms" | "MB"
    max_value: float | None  # absolute target (2-core box)
    max_ratio: float | None  # ratio to the baseline
    baseline: str


TARGETS = (
    Target("startup", "Cold start to first painted main window", "ms", 1500, 3.0,
           "bare PySide6 QMainWindow start"),
    Target("startup_ready", "Cold start to Today page filled (just after the first paint)", "ms",
           None, None, "bare PySide6 QMainWindow start"),
    Target("startup_signin", "Cold start to first painted sign-in window (PC signed in before)",
           "ms", None, 2.0, "bare PySide6 QMainWindow start"),
    Target("startup_after_password", "Main window painted after the password check ends", "ms",
           400, None, "-"),
    Target("census_keystroke", "Census search, per keystroke (to repainted table)", "ms", 50,
           None, "bare SQL LIKE on the client table"),
    Target("hours_week", "Weekly hours dashboard, this week, all enrolled clients", "ms", 100,
           1.5, "one hand-written SQL aggregate"),
    Target("hours_history", "Weekly hours, 52 weeks x 500 clients", "ms", None, 2.0,
           "one hand-written SQL aggregate"),
    Target("billing_export", "Billing export, one year, big payer (~200 clients)", "ms", None,
           1.5, "bare openpyxl write_only, same rows"),
    Target("aftercare_pdf", "Aftercare packet PDF", "ms", 300, None,
           "bare reportlab, same content"),
    Target("signin_save", "Sign-in sheet save, 15-client group", "ms", 100, 5.0,
           "bare INSERT .. ON CONFLICT, same rows"),
    Target("signin_save_lan", "Sign-in sheet save, 2 ms added per round trip (clinic LAN)",
           "ms", 300, None, "-"),
    Target("gui_stall", "Longest GUI-thread stall: year export, 10k import, backup, biggest chart,"
           " census typing", "ms", 50, None, "heartbeat with the GUI thread idle"),
    Target("latency", "Census, chart open, each chart tab, Today: 2 ms per SQL round trip "
           "(simulated LAN), the slowest", "ms", 300, None, "the same action, no added delay"),
    Target("gui_calls", "Slowest service call left on the GUI thread (tests/test_gui_thread*.py "
           "ALLOWED and KEPT)", "ms", 10, None, "-"),
    Target("memory", "GUI peak RSS, large database, every page visited", "MB", 400, None,
           "bare PySide6 QMainWindow"),
)  # fmt: skip

BENCHES = {
    "startup": ("benchmarks.bench_startup", "read"),
    "census": ("benchmarks.bench_census", "read"),
    "hours": ("benchmarks.bench_hours", "read"),
    "billing": ("benchmarks.bench_billing", "write"),
    "aftercare": ("benchmarks.bench_aftercare", "none"),
    "signin": ("benchmarks.bench_signin", "write"),
    "stalls": ("benchmarks.bench_stalls", "write"),
    "latency": ("benchmarks.bench_latency", "write"),  # opening a chart writes its audit row
    "gui_calls": ("benchmarks.bench_gui_calls", "write"),  # keeping a draft writes
}


def run_bench(module: str, db: Path | None, runs: int | None) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, "-m", module]
    if db is not None:
        args.append(str(db))
    if runs is not None:
        args += ["--runs", str(runs)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{out.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def verdict(t: Target, value: float, base: float | None) -> tuple[str, str]:
    ratio = value / base if base else None
    parts, ok = [], True
    if t.max_value is not None:
        parts.append(f"< {t.max_value:g} {t.unit}")
        ok = ok and value < t.max_value
    if t.max_ratio is not None:
        parts.append(f"<= {t.max_ratio:g}x")
        ok = ok and ratio is not None and ratio <= t.max_ratio
    target = " and ".join(parts) or "(no target: reported)"
    status = "met" if ok and parts else ("MISSED" if parts else "-")
    return target, status


def table(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in TARGETS:
        r = results.get(t.key)
        if r is None:
            continue
        if "pending" in r:
            rows.append([t.label, "pending", "", "", "", "", "", r["pending"]])
            continue
        value = r.get("value_ms", r.get("value_mb"))
        base = r.get("baseline_ms", r.get("baseline_mb"))
        target, status = verdict(t, value, base)
        ratio = f"{value / base:.2f}x" if base else ""
        shown = ("value_ms", "baseline_ms", "value_mb", "baseline_mb", "cpu_ms", "baseline_cpu_ms")
        extra = {
            k: v
            for k, v in r.items()
            if k not in shown and not k.endswith("runs_ms") and k != "phases_ms"
        }
        cpu_ms = ""
        if "cpu_ms" in r:
            cpu_ms = f"{r['cpu_ms']:,.1f} ms"
            if "baseline_cpu_ms" in r:
                cpu_ms += f" ({r['baseline_cpu_ms']:,.1f} ms)"
        rows.append(
            [
                t.label,
                f"{value:,.1f} {t.unit}",
                f"{base:,.1f} {t.unit} ({t.baseline})" if base is not None else t.baseline,
                ratio,
                target,
                status,
                cpu_ms,
                ", ".join(f"{k} {v}" for k, v in extra.items()),
            ]
        )
    return rows


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import PySide6
    import sqlalchemy

    from iopdesk.db import Database  # noqa: F401

    try:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} logical cores" + (f", {mem}" if mem else ""),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PySide6 / SQLAlchemy": f"{PySide6.__version__} / {sqlalchemy.__version__}",
        "Load average at start (1, 5, 15 min)": load,
    }


def markdown(
    results: dict[str, Any], spec: Spec, counts: dict[str, Any], mach: dict[str, str], secs: float
) -> str:
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {secs / 60:.1f} min by "
        f"`make bench` (scale {spec.scale:g}, seed {spec.seed}).",
        "",
        "| Benchmark | Median | Baseline (same run) | Ratio | Target | Status | CPU time "
        "(baseline) | Details |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table(results):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    lines += ["", "Machine:", ""]
    lines += [f"- {k}: {v}" for k, v in mach.items()]
    data = ", ".join(
        f"{counts[k]:,} {label}"
        for k, label in (
            ("client", "clients"),
            ("staff", "staff"),
            ("track", "tracks"),
            ("payer", "payers"),
            ("clinic_session", "sessions"),
            ("attendance", "attendance rows"),
            ("note", "client notes"),
            ("groupnote", "group notes"),
        )
        if k in counts
    )
    lines += [
        "",
        f"Data: {data}; {counts.get('first_day')} to {counts.get('today')}; generated in "
        f"{counts.get('seconds')} s.",
    ]
    if "startup" in results and "phases_ms" in results["startup"]:
        phases = results["startup"]["phases_ms"]
        lines += [
            "",
            "Start-up phases (ms since launch, median): "
            + ", ".join(f"{k.removesuffix('_ms')} {v:,.0f}" for k, v in phases.items()),
        ]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    DOC.write_text(pattern.sub(lambda _m: f"{BEGIN}\n{block}\n{END}", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="IOPDesk benchmarks")
    add_spec_args(parser)
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHES))
    parser.add_argument("--runs", type=int, default=None, help="timed runs per benchmark")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the doc table")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    prepare_env()
    started = time.perf_counter()
    spec = Spec(seed=args.seed, scale=args.scale, years=args.years)
    mach = machine()
    print(f"database: scale {spec.scale:g}, seed {spec.seed} ...", file=sys.stderr)
    path = cached(spec, log=lambda m: print(m, file=sys.stderr))
    counts = meta(path)
    work_dir = Path(tempfile.mkdtemp(prefix="iopdesk-bench-work-"))
    chosen = [b for b in args.only.split(",") if b] or list(BENCHES)
    results: dict[str, Any] = {}
    try:
        work: Path | None = None
        for name in chosen:
            module, access = BENCHES[name]
            db: Path | None = path
            if access == "write":
                work = work or working_copy(path, work_dir)
                db = work
            elif access == "none":
                db = None
            print(f"running {name} ...", file=sys.stderr)
            try:
                results.update(run_bench(module, db, args.runs))
            except RuntimeError as exc:
                print(str(exc), file=sys.stderr)
                results[name] = {"pending": "failed: see the runner's output"}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    secs = time.perf_counter() - started
    rows = table(results)
    widths = [max(len(r[i]) for r in rows) for i in range(6)] if rows else []
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True)))
        if r[6] or r[7]:
            print("    " + "; ".join(x for x in (f"CPU {r[6]}" if r[6] else "", r[7]) if x))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.no_docs:
        write_doc(markdown(results, spec, counts, mach, secs))
        print(f"wrote {DOC.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
