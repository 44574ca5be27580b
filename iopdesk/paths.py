"""Where IOPDesk keeps things on this computer, and its packaged resources."""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

APP = "IOPDesk"


def data_dir() -> Path:
    override = os.environ.get("IOPDESK_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    override = os.environ.get("IOPDESK_CONFIG_DIR")
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP, APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / "iopdesk.db"


def workstation_config() -> dict[str, Any]:
    """This computer's settings (e.g. the shared database URL), not the clinic's."""
    path = config_dir() / "workstation.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def save_workstation_config(data: dict[str, Any]) -> None:
    path = config_dir() / "workstation.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def resource_dir() -> Path:
    """The folder of files shipped with the app: the repository's top-level resources/.

    Frozen, installer/iopdesk.spec copies it to resources/ in the bundle; run from a source
    checkout (PYTHONPATH or an editable install) it is the folder itself; installed from a
    wheel it is the package iopdesk.resources (pyproject.toml maps the folder onto it)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "resources").is_dir():
        return root / "resources"
    return Path(str(resources.files("iopdesk.resources")))


def resource_path(*parts: str) -> Path:
    """A file shipped in resources/ (works from the source tree, installed and frozen)."""
    return resource_dir().joinpath(*parts)


def resource_text(*parts: str) -> str:
    return resource_path(*parts).read_text(encoding="utf-8")
