"""Logging to a rotating file in the user data folder. Log lines never carry PHI: services log
record IDs and actions only, and exceptions are logged with their types and stack frames but
never their messages (a database error's message can quote the values of a row: a name, a
phone number). Every engine is also created with SQLAlchemy's `hide_parameters=True`."""

from __future__ import annotations

import logging
import logging.handlers
import traceback
from pathlib import Path
from types import TracebackType

from iopdesk import paths

_configured = False


def describe_exception(exc: BaseException) -> str:
    """The exception chain as type names and stack frames, without any message text."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        name = f"{kind.__module__}.{kind.__qualname__}"
        frames = "".join(traceback.format_tb(current.__traceback__)).rstrip()
        parts.append(f"{name} (message withheld: it may quote record values)\n{frames}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\nwhich was raised while handling\n".join(parts)


class NoValuesFormatter(logging.Formatter):
    """Formats `log.exception(...)` with types and frames only (see describe_exception)."""

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        exc = ei[1]
        if exc is None:
            return ""
        return "Traceback (most recent call last):\n" + describe_exception(exc)

    def formatStack(self, stack_info: str) -> str:
        return stack_info


def setup(level: int = logging.INFO) -> Path:
    global _configured
    log_file = paths.log_dir() / "iopdesk.log"
    if _configured:
        return log_file
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(NoValuesFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # SQL statements carry parameter values (names, note text): never log them.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    _configured = True
    return log_file
