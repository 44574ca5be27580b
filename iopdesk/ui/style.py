"""The application's look: one stylesheet, one palette, one font size scale."""

from __future__ import annotations

ACCENT = "#1f6f8b"
ACCENT_DARK = "#15506a"
SIDEBAR = "#17324d"
SIDEBAR_TEXT = "#d9e4ee"
BG = "#f4f6f9"
CARD = "#ffffff"
BORDER = "#d8dee6"
TEXT = "#1d2733"
MUTED = "#5f6d7c"
OK = "#2e7d32"
WARN = "#b26a00"
BAD = "#c62828"
DEMO = "#c2410c"

STYLESHEET = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QWidget#page, QDialog {{ background: {BG}; }}
QWidget#navSidebar {{ background: {SIDEBAR}; }}
QLabel#brand {{ color: white; font-size: 15pt; font-weight: 600; padding: 14px 16px 2px 16px; }}
QLabel#clinicName {{ color: {SIDEBAR_TEXT}; font-size: 9pt; padding: 0 16px 14px 16px; }}
QListWidget#nav {{ background: transparent; border: none; color: {SIDEBAR_TEXT};
    font-size: 10.5pt; outline: 0; }}
QListWidget#nav::item {{ padding: 9px 16px; border-left: 3px solid transparent; }}
QListWidget#nav::item:selected {{ background: #234867; color: white;
    border-left: 3px solid #5fb3d3; }}
QListWidget#nav::item:hover:!selected {{ background: #1e3d5c; }}
QWidget#topbar {{ background: {CARD}; border-bottom: 1px solid {BORDER}; }}
QLabel#pageTitle {{ font-size: 15pt; font-weight: 600; }}
QLabel#subtitle, QLabel.muted {{ color: {MUTED}; }}
QLabel#demoBadge {{ background: {DEMO}; color: white; font-weight: 700; padding: 3px 10px;
    border-radius: 4px; }}
QFrame#card {{ background: {CARD}; border: 1px solid {BORDER}; border-radius: 8px; }}
QLabel#cardValue {{ font-size: 22pt; font-weight: 600; color: {ACCENT_DARK}; }}
QLabel#cardLabel {{ color: {MUTED}; font-size: 9.5pt; }}
QLabel#sectionTitle {{ font-size: 11.5pt; font-weight: 600; padding-top: 8px; }}
QLineEdit, QComboBox, QSpinBox, QDateEdit, QPlainTextEdit, QTextEdit {{
    background: white; border: 1px solid {BORDER}; border-radius: 5px; padding: 5px 7px; }}
QLineEdit:focus, QComboBox:focus, QSpinBox:focus {{ border: 1px solid {ACCENT}; }}
QAbstractSpinBox {{ padding-right: 20px; }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ subcontrol-origin: border;
    width: 18px; border-left: 1px solid {BORDER}; background: #f4f6f9; }}
QAbstractSpinBox::up-button {{ subcontrol-position: top right; border-top-right-radius: 5px; }}
QAbstractSpinBox::down-button {{ subcontrol-position: bottom right;
    border-bottom-right-radius: 5px; }}
QAbstractSpinBox::up-button:hover, QAbstractSpinBox::down-button:hover {{
    background: #e2e9f0; }}
QAbstractSpinBox::up-arrow {{
    image: url(:/qt-project.org/styles/commonstyle/images/arrow-up-16.png);
    width: 9px; height: 9px; }}
QAbstractSpinBox::down-arrow {{
    image: url(:/qt-project.org/styles/commonstyle/images/arrow-down-16.png);
    width: 9px; height: 9px; }}
QAbstractSpinBox::up-arrow:disabled, QAbstractSpinBox::down-arrow:disabled {{ image: none; }}
QLineEdit[invalid="true"] {{ border: 1px solid {BAD}; background: #fff5f5; }}
QLineEdit#globalSearch {{ min-width: 280px; }}
QPushButton {{ background: white; border: 1px solid {BORDER}; border-radius: 5px;
    padding: 6px 14px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton#arrow {{ padding: 6px 2px; }}
QPushButton#primary, QPushButton:default {{ background: {ACCENT}; color: white;
    border: 1px solid {ACCENT_DARK}; }}
QPushButton#primary {{ font-weight: 600; }}
QPushButton#primary:hover, QPushButton:default:hover {{ background: {ACCENT_DARK}; }}
QTableView {{ background: white; border: 1px solid {BORDER}; border-radius: 6px;
    gridline-color: #eef1f5; selection-background-color: #d6ebf4; selection-color: {TEXT};
    alternate-background-color: #f8fafc; }}
QHeaderView::section {{ background: #eef2f6; border: none; border-bottom: 1px solid {BORDER};
    padding: 6px 8px; font-weight: 600; color: #33414f; }}
QTabWidget::pane {{ border: 1px solid {BORDER}; background: white; border-radius: 6px; }}
QTabBar::tab {{ padding: 7px 14px; background: transparent; color: {MUTED}; }}
QTabBar::tab:selected {{ color: {TEXT}; border-bottom: 2px solid {ACCENT}; font-weight: 600; }}
QStatusBar {{ background: {CARD}; border-top: 1px solid {BORDER}; color: {MUTED}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 8px; }}
QListWidget#sessionList {{ background: white; border: 1px solid {BORDER}; border-radius: 6px; }}
QListWidget#sessionList::item {{ padding: 6px 6px; border-bottom: 1px solid #eef1f5; }}
QListWidget#sessionList::item:selected {{ background: #d6ebf4; color: {TEXT}; }}
QLabel#fieldError {{ color: {BAD}; font-size: 9pt; }}
QLabel#deniedNotice {{ background: #fff6e8; color: #5c3d00; border: 1px solid #f0d2a0;
    border-radius: 4px; padding: 5px 8px; }}
QLabel#deniedShort {{ color: #8a5a00; font-style: italic; }}
QLabel#lockTitle {{ font-size: 18pt; font-weight: 600; }}
QWidget#lockPage {{ background: {SIDEBAR}; }}
QFrame#lockCard {{ background: white; border-radius: 10px; }}
"""
