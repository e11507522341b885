"""Everything AttnScope remembers between sessions, kept in QSettings."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from attnscope.app import theme
from attnscope.core.config import DecodeConfig, from_dict, to_dict

MAX_RECENT = 8


class SettingsStore:
    """Typed access to QSettings: window layout, theme, options, recent bundles, last text."""

    def __init__(self, settings: QSettings) -> None:
        self.s = settings

    def theme_name(self) -> str:
        return str(self.s.value("theme", "dark"))

    def decode_config(self) -> DecodeConfig:
        raw = self.s.value("decode_config", "")
        try:
            return from_dict(DecodeConfig, json.loads(str(raw))).replace(forced_prefix=())
        except (TypeError, ValueError):
            return DecodeConfig()

    def grid_options(self) -> dict[str, Any]:  # JSON values, as saved
        raw = self.s.value("grid_options", "")
        try:
            opts = json.loads(str(raw))
        except (TypeError, ValueError):
            return {}
        return {k: opts[k] for k in ("kind", "mode", "cmap", "shared") if k in opts}

    def last_text(self) -> str | None:
        v = self.s.value("last_text")
        return None if v is None else str(v)

    def recent_bundles(self) -> list[str]:
        raw = self.s.value("recent_bundles", "[]")
        try:
            return [str(p) for p in json.loads(str(raw))][:MAX_RECENT]
        except (TypeError, ValueError):
            return []

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent_bundles() if p != path]
        self.s.setValue("recent_bundles", json.dumps(items[:MAX_RECENT]))

    def restore_window(self, window: QMainWindow) -> None:
        geometry = self.s.value("window/geometry")
        state = self.s.value("window/state")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        else:
            window.resize(1280, 800)
        if isinstance(state, QByteArray):
            window.restoreState(state)

    def save(self, window: QMainWindow, config: DecodeConfig, grid: dict[str, object],
             text: str) -> None:
        self.s.setValue("window/geometry", window.saveGeometry())
        self.s.setValue("window/state", window.saveState())
        self.s.setValue("theme", theme.current().name)
        self.s.setValue("decode_config", json.dumps(to_dict(config.replace(forced_prefix=()))))
        self.s.setValue("grid_options", json.dumps(grid))
        self.s.setValue("last_text", text)
        self.s.sync()
