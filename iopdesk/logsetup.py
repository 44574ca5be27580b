"""Logging to a rotating file in the user data folder. Log lines never carry PHI: services log
record IDs and actions only, and exceptions are logged with types and stack frames."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from iopdesk import paths

_configured = False


def setup(level: int = logging.INFO) -> Path:
    global _configured
    log_file = paths.log_dir() / "iopdesk.log"
    if _configured:
        return log_file
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # SQL statements carry parameter values (names, note text): never log them.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    _configured = True
    return log_file
