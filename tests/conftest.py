"""Shared test set-up: Qt renders offscreen and QSettings never touches the real profile."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import
# QSettings written by tests go to a throw-away folder, never the user's real settings.
_SETTINGS_DIR = tempfile.mkdtemp(prefix="attnscope-test-settings-")
os.environ["XDG_CONFIG_HOME"] = _SETTINGS_DIR  # QSettings() on Linux lives here
