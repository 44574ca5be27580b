"""Admin > Backups: when the last good backup was made, the list, Back up now and Restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from iopdesk.models.base import utcnow
from iopdesk.services import backup
from iopdesk.ui import msgbox, ops
from iopdesk.ui.clock import clinic_time
from iopdesk.ui.context import AppContext
from iopdesk.ui.tablemodel import Column, RowsModel
from iopdesk.ui.widgets import make_table, muted, section_title

STATUS_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "pruned": "#6b7280"}
KIND_LABELS = {
    "automatic": "Automatic",
    "manual": "Back up now",
    "file": "Saved to a file",
    "pg_dump": "pg_dump",
}


def _size(n: int) -> str:
    if n >= 1_048_576:
        return f"{n / 1_048_576:.1f} MB"
    return f"{n / 1024:.0f} KB" if n else ""


class BackupsTab(QWidget):
    """Shown in Admin. `restored` fires after a restore so the window can reload its pages."""

    restored = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.local = ctx.db.backend == "sqlite"
        lay = QVBoxLayout(self)
        lay.addWidget(section_title("Backups"))
        self.last_label = QLabel("")
        self.last_label.setObjectName("backupLast")
        self.last_label.setStyleSheet("font-weight: 600;")
        self.attempt_label = muted("")
        self.folder_label = muted("")
        for w in (self.last_label, self.attempt_label, self.folder_label):
            w.setWordWrap(True)
            lay.addWidget(w)
        if self.local:
            help_text = (
                "IOPDesk backs up automatically when it starts or closes and the last backup is "
                "older than the interval in Settings. Each backup is encrypted with the "
                "database's key and checked after writing. Set the backup folder (Settings) to an "
                "external drive or a synced folder so a broken computer does not take the "
                "backups with it."
            )
        else:
            help_text = (
                "This is a PostgreSQL clinic server: schedule backups on the server (see "
                "docs/clinic-server.md). Back up now saves a pg_dump file from this computer "
                "when the PostgreSQL client tools are installed."
            )
        lay.addWidget(muted(help_text))
        bar = QHBoxLayout()
        self.backup_btn = QPushButton("Back up now")
        self.backup_btn.setObjectName("primary")
        self.backup_btn.clicked.connect(self._back_up_clicked)
        self.restore_btn = QPushButton("Restore...")
        self.restore_btn.clicked.connect(self._restore_clicked)
        self.restore_btn.setEnabled(self.local)
        self.kit_btn = QPushButton("Print the recovery kit...")
        self.kit_btn.setObjectName("recoveryKit")
        self.kit_btn.setToolTip(
            "The recovery key opens the backups on a new PC. Printing it is recorded in the "
            "audit log."
        )
        self.kit_btn.clicked.connect(self._kit_clicked)
        bar.addWidget(self.backup_btn)
        bar.addWidget(self.restore_btn)
        bar.addWidget(self.kit_btn)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.model: RowsModel[backup.BackupRow] = RowsModel(
            [
                Column(
                    "When",
                    lambda r: clinic_time(r.created_at).strftime("%m/%d/%Y %H:%M"),
                    sort_key=lambda r: r.created_at,
                ),
                Column("Kind", lambda r: KIND_LABELS.get(r.kind, r.kind)),
                Column(
                    "Status",
                    lambda r: {"ok": "Verified", "pruned": "Removed (old)"}.get(
                        r.status, r.status.title()
                    ),
                    color=lambda r: STATUS_COLORS.get(r.status),
                ),
                Column("Size", lambda r: _size(r.size_bytes), sort_key=lambda r: r.size_bytes),
                Column(
                    "On disk",
                    lambda r: "yes" if r.on_disk else "no",
                    color=lambda r: None if r.on_disk or r.status != "ok" else "#c62828",
                ),
                Column("File", lambda r: r.path),
                Column("Details", lambda r: r.message),
            ]
        )
        self.table = make_table()
        self.table.setModel(self.model)
        for column, width in enumerate((130, 120, 110, 80, 70, 380)):
            self.table.setColumnWidth(column, width)
        lay.addWidget(self.table, 1)

    def refresh(self) -> None:
        from iopdesk.ui.pages.loading import load

        load(self, self.fetch, self.present)

    def fetch(self) -> tuple[backup.BackupStatus, list[backup.BackupRow]]:
        """Worker thread: services only."""
        return backup.status(self.ctx.db), backup.list_backups(self.ctx.db, self.ctx.actor)

    def present(self, data: tuple[backup.BackupStatus, list[backup.BackupRow]]) -> None:
        st, rows = data
        self.backup_folder = st.folder
        if st.last_ok_at is None:
            self.last_label.setText("No backup has been made yet.")
            self.last_label.setStyleSheet("font-weight: 600; color: #c62828;")
        else:
            age = st.age_days(utcnow()) or 0.0
            when = clinic_time(st.last_ok_at).strftime("%m/%d/%Y %H:%M")
            ago = "today" if age < 1 else f"{int(age)} day{'s' if int(age) != 1 else ''} ago"
            self.last_label.setText(f"Last good backup: {when} ({ago})")
            color = "#c62828" if age > backup.STALE_DAYS else "#2e7d32"
            self.last_label.setStyleSheet(f"font-weight: 600; color: {color};")
        if st.last_attempt_status == "failed":
            self.attempt_label.setText(f"The last attempt failed: {st.last_attempt_message}")
        else:
            self.attempt_label.setText("")
        self.attempt_label.setVisible(st.last_attempt_status == "failed")
        self.folder_label.setText(f"Backup folder: {st.folder}" if st.folder else "")
        self.model.set_rows(rows)

    # -- actions -------------------------------------------------------------------------
    def _back_up_clicked(self) -> None:
        dest: Path | None = None
        if not self.local:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save a pg_dump backup", "iopdesk.dump", "pg_dump (*.dump)"
            )
            if not path:
                return
            dest = Path(path)
        self.back_up_now(dest)

    def back_up_now(self, dest: Path | None = None) -> ops.Op[backup.BackupResult]:
        """Back up in the background: the window keeps painting while the file is copied and
        checked."""
        db, actor = self.ctx.db, self.ctx.actor

        def made(result: backup.BackupResult) -> None:
            checked = f" and checked ({result.rows:,} rows)" if result.counts else ""
            msgbox.info(self, "Backup made", f"The backup was written{checked}:\n{result.path}")

        return (
            ops.Op(self, lambda: backup.create_backup(db, actor, dest))
            .with_progress("Backing up and checking the copy...")
            .success(made)
            .on_done(self.refresh)
            .run_in_background()
        )

    def _kit_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the recovery kit", "IOPDesk recovery kit.pdf", "PDF (*.pdf)"
        )
        if path:
            self.print_kit(Path(path if path.lower().endswith(".pdf") else path + ".pdf"))

    def print_kit(self, path: Path, *, new: bool = False) -> ops.Op[Any]:
        """The clinic's recovery kit (made now when the clinic has no key yet), written on
        an op worker."""
        from iopdesk.services import recovery

        db, actor = self.ctx.db, self.ctx.actor

        def saved(made: Any) -> None:
            more = (
                "\n\nThis is a new recovery key: make a backup now (Back up now), because "
                "backups made before it do not open with it."
                if made.created
                else ""
            )
            msgbox.info(
                self,
                "Recovery kit saved",
                f"The recovery kit (kit {made.recovery_id}) was saved to:\n{path}\n\nPrint "
                "it, lock it away from this PC and from the backup drive, then delete the "
                f"file.{more}",
            )

        return ops.run(
            self,
            lambda: recovery.print_kit(db, actor, path, new=new),
            saved,
            progress="Writing the recovery kit...",
        )

    def _restore_clicked(self) -> None:
        folder = getattr(self, "backup_folder", None)  # read with the tab, on a worker
        start = str(folder) if folder else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Restore a backup", start, "IOPDesk backups (*.db);;All files (*)"
        )
        if path:
            self.restore_file(Path(path))

    def restore_file(self, path: Path) -> ops.Op[Any]:
        """Check the file first (in the background); only a verified backup is offered for
        restore, which then runs in the background too (`last_restore`)."""
        db, actor = self.ctx.db, self.ctx.actor
        self.last_restore: ops.Op[Any] | None = None

        def restored(result: Any) -> None:
            aside = (
                f"\nThe previous database was kept as {result.kept_aside}."
                if result.kept_aside
                else ""
            )
            msgbox.info(
                self, "Backup restored", f"Restored {result.rows:,} rows from {path.name}.{aside}"
            )
            self.restored.emit()
            self.refresh()

        def checked(check: Any) -> None:
            if not msgbox.confirm(
                self,
                "Restore this backup?",
                f"{path.name} is a good backup of {check.clinic_name or 'this clinic'} "
                f"({check.rows:,} rows).\n\nEverything entered after it was made will no longer "
                "be in the database. The current database is kept aside as a dated copy beside "
                "it, so nothing is lost for good.\n\nRestore now?",
            ):
                return
            self.last_restore = (
                ops.Op(self, lambda: backup.restore(db, actor, path))
                .with_progress("Restoring the backup...")
                .success(restored)
                .run_in_background()
            )

        return (
            ops.Op(self, lambda: backup.check_file(path, backup.db_key(db)))
            .with_progress("Checking the backup...")
            .success(checked)
            .run_in_background()
        )
