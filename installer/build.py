"""Build the frozen IOPDesk app for this platform, package it, and smoke-test the result.

    python installer/build.py                 # build + package + smoke test
    python installer/build.py --smoke-only    # test the existing dist/iopdesk again
    python installer/build.py --record        # also write the figures to docs/
    python installer/build.py --installer     # Windows: also build the Inno Setup installer

Needs the release tools: `pip install -e '.[release]'` (PyInstaller) in a virtualenv. The
output goes to dist/: the one-folder app dist/iopdesk/, and per platform
    Linux:   dist/iopdesk-VERSION-linux-ARCH.tar.gz (with a .desktop file, see installer/linux)
    Windows: dist/IOPDesk-VERSION-setup.exe (with --installer; needs Inno Setup 6)

The smoke test runs the frozen binary the way a clean office PC would: an environment with no
virtualenv or Python on PATH, fresh data and settings folders, and no system keyring (so the
database key comes from a passphrase). It checks `--version`, `init` on a new database, the
demo clinic's self-test (every main screen of every role, offscreen), `export billing` and
`print aftercare` on the demo data. Exit status 0 only when every step passed.

Signing (Windows): set IOPDESK_SIGN_COMMAND to a command with $f for the file, e.g.
    signtool sign /fd SHA256 /tr http://timestamp.example /td SHA256 /a $f
and the executables, the installer and its uninstaller are signed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_DIR = DIST / "iopdesk"
WINDOWS = sys.platform == "win32"
EXE = APP_DIR / ("iopdesk.exe" if WINDOWS else "iopdesk")
PERF_DOC = ROOT / "docs" / "performance-release.md"

DEMO_PASSWORD = "iopdesk-demo"  # iopdesk.demo.DEMO_PASSWORD
SMOKE_PASSPHRASE = "smoke-test database passphrase"
SMOKE_ADMIN_PASSWORD = "smoke-test-admin-password"


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        version = str(tomllib.load(f)["project"]["version"])
    text = (ROOT / "iopdesk" / "__init__.py").read_text(encoding="utf-8")
    if f'__version__ = "{version}"' not in text:
        raise SystemExit(
            f"build: pyproject.toml says version {version} but iopdesk/__init__.py does not; "
            "make them agree before building a release."
        )
    return version


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


# -- build ------------------------------------------------------------------------------------
def build() -> float:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit(
            "build: PyInstaller is missing. Install the release tools in a virtualenv: "
            "pip install -e '.[release]'"
        ) from None
    start = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(DIST),
        "--workpath",
        str(WORK),
        str(INSTALLER / "iopdesk.spec"),
    ]
    print("build: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    sign(sorted(APP_DIR.glob("*.exe")) if WINDOWS else [])
    return time.perf_counter() - start


def sign(files: list[Path]) -> None:
    command = os.environ.get("IOPDESK_SIGN_COMMAND")
    if not files or not command:
        return
    for path in files:
        args = [a.replace("$f", str(path)) for a in shlex.split(command, posix=not WINDOWS)]
        print(f"build: signing {path.name}", flush=True)
        subprocess.run(args, check=True)


def package_linux(version: str) -> Path:
    """A tarball: the app folder, a .desktop file, the icon and install/uninstall scripts."""
    arch = platform.machine() or "x86_64"
    name = f"iopdesk-{version}-linux-{arch}"
    out = DIST / f"{name}.tar.gz"
    linux = INSTALLER / "linux"

    def mode(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(APP_DIR, arcname=f"{name}/iopdesk", filter=mode)
        for item in ("install.sh", "uninstall.sh", "iopdesk.desktop", "README.txt"):
            tar.add(linux / item, arcname=f"{name}/{item}", filter=mode)
        icon = ROOT / "resources" / "icons" / "iopdesk.png"
        tar.add(icon, arcname=f"{name}/iopdesk.png", filter=mode)
    return out


def package_windows(version: str) -> Path:
    """Compile installer/iopdesk.iss with Inno Setup 6 (ISCC.exe)."""
    iscc = shutil.which("ISCC") or shutil.which("iscc")
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        candidate = Path(base or "-") / "Inno Setup 6" / "ISCC.exe"
        if not iscc and candidate.exists():
            iscc = str(candidate)
    if not iscc:
        raise SystemExit(
            "build: Inno Setup 6 is not installed (ISCC.exe not found). Install it with "
            "`winget install JRSoftware.InnoSetup`, then run this again."
        )
    cmd = [iscc, f"/DAppVersion={version}", f"/DSourceDir={APP_DIR}", f"/O{DIST}"]
    if os.environ.get("IOPDESK_SIGN_COMMAND"):
        # Inno Setup's sign tools use the same $f placeholder for the file to sign.
        cmd += ["/DSIGN", f"/Siopdesksign={os.environ['IOPDESK_SIGN_COMMAND']}"]
    cmd.append(str(INSTALLER / "iopdesk.iss"))
    print("build: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return DIST / f"IOPDesk-{version}-setup.exe"


# -- smoke test -------------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    status: str  # passed | FAILED | skipped
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Smoke:
    home: Path
    steps: list[Step] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """A clean office PC: no virtualenv, no Python, no keyring, fresh folders."""
        env: dict[str, str] = {
            "HOME": str(self.home),
            "TMPDIR": str(self.home / "tmp"),
            "TEMP": str(self.home / "tmp"),
            "TMP": str(self.home / "tmp"),
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "IOPDESK_DATA_DIR": str(self.home / "data"),
            "IOPDESK_CONFIG_DIR": str(self.home / "config"),
            "IOPDESK_DB_PASSPHRASE": SMOKE_PASSPHRASE,
        }
        if WINDOWS:
            root = os.environ.get("SYSTEMROOT", r"C:\Windows")
            env.update(
                SystemRoot=root,
                WINDIR=root,
                SystemDrive=os.environ.get("SYSTEMDRIVE", "C:"),
                PATH=f"{root}\\System32;{root}",
                USERPROFILE=str(self.home),
                APPDATA=str(self.home / "AppData" / "Roaming"),
                LOCALAPPDATA=str(self.home / "AppData" / "Local"),
            )
        else:
            env["PATH"] = "/usr/bin:/bin"
        env.update(extra)
        return env

    def run(
        self,
        name: str,
        args: list[str],
        expect: str = "",
        timeout: float = 300,
        exe: Path = EXE,
        **env: str,
    ) -> subprocess.CompletedProcess[str] | None:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [str(exe), *args],
                cwd=self.home,
                env=self.env(**env),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.steps.append(Step(name, "FAILED", time.perf_counter() - start, repr(exc)))
            return None
        seconds = time.perf_counter() - start
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0 or expect not in output:
            detail = f"exit {proc.returncode}: {output[-800:]}"
            log = self.home / "data" / "logs" / "iopdesk.log"
            if proc.returncode == 3 and log.exists():  # a bug: the log has the stack (no PHI)
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
                detail += "\n    log: " + "\n    log: ".join(tail)
            self.steps.append(Step(name, "FAILED", seconds, detail))
            return None
        lines = proc.stdout.strip().splitlines() or output.splitlines() or [""]
        self.steps.append(Step(name, "passed", seconds, lines[-1]))
        return proc

    def time_to_line(self, name: str, args: list[str], line: str, timeout: float = 300) -> float:
        """Seconds from starting the binary until it prints `line`; it must then exit 0."""
        start = time.perf_counter()
        seen = 0.0
        proc = subprocess.Popen(
            [str(EXE), *args],
            cwd=self.home,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        output = []
        for text in proc.stdout:
            output.append(text)
            if not seen and line in text:
                seen = time.perf_counter() - start
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -1
        seconds = time.perf_counter() - start
        if code != 0 or not seen:
            self.fail(name, f"exit {code}: {''.join(output)[-800:]}")
            return 0.0
        self.steps.append(Step(name, "passed", seconds, f"first window after {seen:.2f} s"))
        return seen

    def fail(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, "FAILED", 0.0, detail))

    def skip(self, name: str, reason: str) -> None:
        self.steps.append(Step(name, "skipped", 0.0, reason))

    @property
    def ok(self) -> bool:
        return all(s.status != "FAILED" for s in self.steps)


def aftercare_mrn(db_path: Path) -> str | None:
    """A demo client with an aftercare plan (finalized first), read with the source tree's code
    (the test harness, not the binary under test)."""
    os.environ["IOPDESK_DB_PASSPHRASE"] = SMOKE_PASSPHRASE
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from iopdesk.db import Database

    db = Database.open(str(db_path), migrate=False)
    try:
        with db.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT c.mrn FROM aftercareplan a JOIN client c ON c.id = a.client_id "
                    "ORDER BY CASE a.status WHEN 'finalized' THEN 0 ELSE 1 END, a.id LIMIT 1"
                )
            ).first()
    finally:
        db.close()
    return str(row[0]) if row else None


def smoke_test(version: str) -> tuple[Smoke, dict[str, float]]:
    home = Path(tempfile.mkdtemp(prefix="iopdesk-smoke-"))
    (home / "tmp").mkdir()
    smoke = Smoke(home)
    figures: dict[str, float] = {}

    # 1. --version; the first run is the cold start, then the median of three warm ones.
    timings: list[float] = []
    for run in range(4):
        proc = smoke.run("--version", ["--version"])
        if proc is None:
            break
        if proc.stdout.strip() != f"IOPDesk {version}":
            smoke.fail("--version", f"printed {proc.stdout.strip()!r}, expected IOPDesk {version}")
            break
        timings.append(smoke.steps[-1].seconds)
        if run:  # one line in the report for the four runs
            smoke.steps.pop()
    if timings:
        figures["startup_cold_s"] = timings[0]
        if len(timings) > 1:
            figures["startup_warm_s"] = statistics.median(timings[1:])

    # 2. init: a new clinic database, key from the passphrase (no keyring).
    clinic_db = home / "clinic" / "iopdesk.db"
    clinic_db.parent.mkdir()
    if smoke.run(
        "init",
        ["--db", str(clinic_db), "init", "--clinic-name", "Smoke Clinic", "--admin", "admin"],
        expect="Created clinic 'Smoke Clinic'",
        IOPDESK_PASSWORD=SMOKE_ADMIN_PASSWORD,
    ):
        keyinfo = json.loads(clinic_db.with_name(clinic_db.name + ".keyinfo").read_text())
        if keyinfo.get("method") != "passphrase":
            smoke.fail("init", f"key kept by {keyinfo.get('method')!r}, expected passphrase")
        smoke.run(
            "audit verify (sign-in)",
            ["--db", str(clinic_db), "--user", "admin", "audit", "verify"],
            IOPDESK_PASSWORD=SMOKE_ADMIN_PASSWORD,
        )

    # 3. The demo clinic in a kept database, every main screen opened offscreen.
    demo_db = home / "demo" / "iopdesk-demo.db"
    demo_db.parent.mkdir()
    demo_ok = smoke.run(
        "demo --self-test",
        ["--db", str(demo_db), "demo", "--self-test"],
        expect="Self-test passed",
        timeout=900,
    )
    if demo_ok:
        figures["demo_self_test_s"] = smoke.steps[-1].seconds
        # Again on the kept demo clinic: the GUI start-up, from launch to the first main window
        # painted (Qt, every screen's code, the database opened with its passphrase, sign-in).
        seen = smoke.time_to_line(
            "demo --self-test (reopen)",
            ["--db", str(demo_db), "demo", "--self-test"],
            "the first main window is painted",
        )
        if seen:
            figures["gui_first_window_s"] = seen
        if WINDOWS:  # the windowed iopdeskw.exe the shortcuts start (its output may go nowhere)
            smoke.run(
                "iopdeskw.exe demo --self-test",
                ["--db", str(demo_db), "demo", "--self-test"],
                timeout=900,
                exe=APP_DIR / "iopdeskw.exe",
            )

    # 4a. export claims (837) on the demo data, before the Excel export bills the same lines:
    # pyx12's maps and the ICD-10-CM code set are data files of their packages, so this proves
    # they are in the bundle.
    if not demo_ok:
        smoke.skip("export claims", "no demo database (the demo step failed)")
    else:
        folder = home / "claims"
        folder.mkdir()
        today = date.today()
        if smoke.run(
            "export claims",
            [
                "--db",
                str(demo_db),
                "--user",
                "billing",
                "export",
                "claims",
                "--from",
                (today - timedelta(days=56)).isoformat(),
                "--to",
                today.isoformat(),
                "-o",
                str(folder),
            ],
            IOPDESK_PASSWORD=DEMO_PASSWORD,
        ) and not list(folder.glob("*_837*.x12")):
            smoke.fail("export claims", "no 837 file was written")

    # 4. export billing on the demo data.
    if not demo_ok:
        smoke.skip("export billing", "no demo database (the demo step failed)")
    else:
        out = home / "billing.xlsx"
        today = date.today()
        if (
            smoke.run(
                "export billing",
                [
                    "--db",
                    str(demo_db),
                    "--user",
                    "billing",
                    "export",
                    "billing",
                    "--from",
                    (today - timedelta(days=56)).isoformat(),
                    "--to",
                    today.isoformat(),
                    "-o",
                    str(out),
                    "--include-billed",  # the lines the 837 step just sent, written again
                ],
                expect="claim lines",
                IOPDESK_PASSWORD=DEMO_PASSWORD,
            )
            and (not out.exists() or out.read_bytes()[:2] != b"PK")
        ):
            smoke.fail("export billing", f"{out.name} is not an Excel workbook")

    # 5. print aftercare on the demo data.
    probe = subprocess.run(
        [str(EXE), "print", "aftercare", "--help"],
        env=smoke.env(),
        cwd=home,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if probe.returncode != 0:
        smoke.skip("print aftercare", "this build has no `iopdesk print aftercare` command")
    elif not demo_ok:
        smoke.skip("print aftercare", "no demo database (the demo step failed)")
    else:
        mrn = aftercare_mrn(demo_db)
        out = home / "aftercare.pdf"
        if mrn is None:
            smoke.fail("print aftercare", "the demo clinic has no client with an aftercare plan")
        elif smoke.run(
            "print aftercare",
            [
                *("--db", str(demo_db), "--user", "frontdesk"),
                *("print", "aftercare", "--client", mrn, "-o", str(out)),
            ],
            expect="Wrote the aftercare packet",
            IOPDESK_PASSWORD=DEMO_PASSWORD,
        ) and (not out.exists() or out.read_bytes()[:5] != b"%PDF-"):
            smoke.fail("print aftercare", f"{out.name} is not a PDF")

    if smoke.ok:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"build: the smoke test's folders are kept for a look: {home}")
    return smoke, figures


def record(version: str, metrics: dict[str, object]) -> None:
    """Append this run's figures to docs/performance-release.md (newest last)."""
    if not PERF_DOC.exists():
        PERF_DOC.write_text(
            "# Release build: bundle size and frozen start-up time\n\n"
            "Written by `python installer/build.py --record` (see docs/install.md).\n\n"
            "- *CLI start-up*: wall time of `iopdesk --version` from the frozen folder, the "
            "first run after the build (cold) and the median of three more (warm).\n"
            "- *GUI start-up*: from launching `iopdesk --db DEMO demo --self-test` on the kept "
            "demo clinic to its first main window painted (offscreen): Qt and the screens' "
            "code loaded, the database key derived from the passphrase (Argon2, 64 MiB), the "
            "schema checked, the admin signed in.\n"
            "- *Demo self-test*: creates the demo clinic in a new encrypted database, then "
            "opens and paints every main screen and chart tab for each role.\n"
            "- *Bundle*: the one-folder app `dist/iopdesk`; *package*: what is handed out.\n"
            "- *CPUs / load*: the machine's cores and its 1-minute load average when the smoke "
            "test started. The CI/development container shares 2 cores with other work, so "
            "compare rows with a similar load, and read them as trends between releases, not "
            "as what a clinic PC will see.\n\n"
            "| date (UTC) | version | platform | Python | CPUs / load | bundle | package | build "
            "| CLI start-up cold / warm | GUI start-up | demo self-test | smoke |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
            encoding="utf-8",
        )

    def sec(key: str) -> str:
        value = metrics.get(key)
        return f"{value:.2f} s" if isinstance(value, float) else "-"

    row = (
        f"| {metrics['date']} | {version} | {metrics['platform']} | {metrics['python']} | "
        f"{metrics.get('cpus', '-')} / {metrics.get('load_before_smoke', '-')} | "
        f"{metrics['bundle']} | {metrics.get('package', '-')} | {sec('build_s')} | "
        f"{sec('startup_cold_s')} / {sec('startup_warm_s')} | {sec('gui_first_window_s')} | "
        f"{sec('demo_self_test_s')} | "
        f"{metrics['smoke']} |\n"
    )
    with PERF_DOC.open("a", encoding="utf-8") as f:
        f.write(row)
    print(f"build: figures added to {PERF_DOC.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke-only", action="store_true", help="test the existing build")
    parser.add_argument("--no-smoke", action="store_true", help="build and package only")
    parser.add_argument("--no-package", action="store_true", help="skip the tarball")
    parser.add_argument("--installer", action="store_true", help="Windows: run Inno Setup")
    parser.add_argument("--record", action="store_true", help=f"append figures to {PERF_DOC}")
    parser.add_argument(
        "--record-last", action="store_true", help="append the last run's figures, run nothing"
    )
    args = parser.parse_args(argv)

    version = project_version()
    if args.record_last:
        record(version, json.loads((DIST / "release-metrics.json").read_text()))
        return 0
    total_start = time.perf_counter()
    metrics: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "version": version,
        "platform": f"{sys.platform}-{platform.machine()}",
        "python": platform.python_version(),
        "cpus": os.cpu_count() or 0,
    }
    if not args.smoke_only:
        metrics["build_s"] = build()
        if not args.no_package and sys.platform.startswith("linux"):
            pkg = package_linux(version)
            metrics["package"] = f"{pkg.name} {mib(pkg.stat().st_size)}"
        if args.installer and WINDOWS:
            setup = package_windows(version)
            sign([setup])
            metrics["package"] = f"{setup.name} {mib(setup.stat().st_size)}"
    if not EXE.exists():
        raise SystemExit(f"build: {EXE} does not exist; build first.")
    metrics["bundle_bytes"] = folder_size(APP_DIR)
    metrics["bundle"] = mib(int(str(metrics["bundle_bytes"])))

    ok = True
    if not args.no_smoke:
        print("build: smoke-testing the frozen app in a clean environment", flush=True)
        if hasattr(os, "getloadavg"):  # the figures mean little on a busy machine: say how busy
            metrics["load_before_smoke"] = round(os.getloadavg()[0], 1)
        smoke, figures = smoke_test(version)
        metrics.update(figures)
        ok = smoke.ok
        for step in smoke.steps:
            print(f"  {step.status:8} {step.name:26} {step.seconds:6.2f} s  {step.detail}")
        skipped = [s.name for s in smoke.steps if s.status == "skipped"]
        metrics["smoke"] = ("passed" if ok else "FAILED") + (
            f" ({', '.join(skipped)} skipped)" if skipped else ""
        )
        metrics["steps"] = [s.__dict__ for s in smoke.steps]
    else:
        metrics["smoke"] = "not run"

    print(f"build: bundle {APP_DIR.relative_to(ROOT)} = {metrics['bundle']}")
    if "package" in metrics:
        print(f"build: package {metrics['package']}")
    for key, label in (
        ("startup_cold_s", "frozen start-up (cold)"),
        ("startup_warm_s", "frozen start-up (warm, median of 3)"),
        ("gui_first_window_s", "frozen GUI start-up to the first main window"),
        ("demo_self_test_s", "demo self-test (creates the demo clinic)"),
    ):
        if key in metrics:
            print(f"build: {label}: {metrics[key]:.2f} s")
    metrics["total_s"] = time.perf_counter() - total_start
    print(f"build: total {metrics['total_s']:.0f} s; smoke test {metrics['smoke']}")
    DIST.mkdir(exist_ok=True)
    (DIST / "release-metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    if args.record:
        record(version, metrics)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
