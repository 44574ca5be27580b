"""Entry point of the frozen app (PyInstaller). The same code runs in both executables:

- `iopdesk` (console): the command line; with no command it opens the app.
- `iopdeskw` (Windows only, windowed, no console window): what the shortcuts start. Started
  with arguments from a terminal, it attaches to that terminal so messages are still seen; the
  console `iopdesk.exe` is the one to use in scripts, because only it makes the terminal wait
  and report the exit code.
"""

from __future__ import annotations

import os
import sys


def _windowed_streams() -> None:
    """A windowed Windows build has no stdout/stderr; give it somewhere to write."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    out = None
    if sys.platform == "win32" and len(sys.argv) > 1:
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):
            out = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
    if out is None:
        out = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stdout or out
    sys.stderr = sys.stderr or out


if __name__ == "__main__":
    import multiprocessing

    # The long file jobs run in a worker process (iopdesk/worker.py): in the frozen app the
    # same executable is started again for it, and this turns that start into the worker.
    multiprocessing.freeze_support()
    _windowed_streams()
    from iopdesk.cli import main

    sys.exit(main())
