"""Files that leave IOPDesk (exports, printouts, reports): one way to write them, `audited_write`.

The sequence, the same for every file with protected health information in it:

1. the whole file is written to `<target>.partial` beside the target (same folder, so the
   rename is atomic; no copy of the data in the system temp folder). A reader never sees a
   half-written file, and a `.partial` left by a killed export is replaced;
2. inside the block, the caller records the audit event and any disclosure rows in its open
   transaction, then calls `place()`, which renames the partial file onto the target, still
   inside that transaction: a failed rename rolls the audit back;
3. whatever fails removes the partial file, and a target already placed when the transaction
   then fails to commit (an unaudited file must not remain). An earlier file at the target is
   left untouched unless the new one was placed.

    with audited_write(target, lambda p: writer.write_pdf(data, p)) as place:
        with db.session() as session:
            audit.record(session, actor, audit.Action.EXPORT, ...)
            place()
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from iopdesk.errors import DiskFullError, UserError
from iopdesk.reports.xlsx import PARTIAL_SUFFIX, partial_path, remove_leftovers

__all__ = ["PARTIAL_SUFFIX", "audited_write", "file_error", "partial_path", "write_partial"]


def file_error(target: Path, exc: OSError, what: str = "report") -> UserError:
    """An OSError writing or placing `target`, in plain words (nothing was written)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"The disk is full, so the {what} could not be saved to {target.parent}. "
            "Nothing was written. Free some space or choose another folder, then try again."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(
            f"IOPDesk is not allowed to write to {target}. If the file is open in another "
            "program (Excel, a PDF viewer), close it; otherwise choose another folder."
        )
    return UserError(
        f"The {what} could not be saved to {target} "
        f"({exc.strerror or 'input/output error'}). "
        "Nothing was written. Check the folder and try again."
    )


def write_partial(target: Path, write: Callable[[Path], None], what: str = "report") -> Path:
    """Step 1 alone: `write(partial)` the whole file beside `target`; the partial path. A
    failure removes the partial file (an OSError becomes a plain-words UserError)."""
    tmp = partial_path(target)
    remove_leftovers(tmp)
    try:
        write(tmp)
        return tmp
    except OSError as exc:
        remove_leftovers(tmp)
        raise file_error(target, exc, what) from exc
    except BaseException:
        remove_leftovers(tmp)
        raise


@contextlib.contextmanager
def audited_write(
    target: Path, write: Callable[[Path], None], what: str = "report"
) -> Iterator[Callable[[], None]]:
    """Write `target` whole to its partial file, then run the block, which records the audit
    (and disclosures) and calls the yielded `place()` inside its transaction to rename the file
    into place. A block that does not call `place()` has it placed when it ends without error.
    On any failure the partial file is removed, and the target too if it was placed. `what`
    names the file in an error message ("The report could not be saved to ...")."""
    target = Path(target)
    tmp = write_partial(target, write, what)
    placed = False

    def place() -> None:
        nonlocal placed
        if placed:
            return
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise file_error(target, exc, what) from exc
        placed = True

    try:
        yield place
        place()
    except BaseException:
        if placed:  # the transaction failed after the rename: no file without its audit
            with contextlib.suppress(OSError):
                target.unlink()
        raise
    finally:
        remove_leftovers(tmp)
