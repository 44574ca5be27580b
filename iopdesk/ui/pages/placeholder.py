"""Pages whose features arrive in later releases: say so plainly, and what will be there."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from iopdesk.ui.widgets import Page, muted


class PlaceholderPage(Page):
    def __init__(self, title: str, description: str) -> None:
        super().__init__()
        self.title = title
        card = QFrame()
        card.setObjectName("card")
        lay = QVBoxLayout(card)
        lay.setContentsMargins(24, 20, 24, 20)
        head = QLabel(f"{title} is being prepared")
        head.setObjectName("sectionTitle")
        lay.addWidget(head)
        lay.addWidget(muted(description))
        self.layout_.addWidget(card)
        self.layout_.addStretch(1)
