"""A bundle whose model loads but whose heads.json or snapshot files are broken: the
window opens, and says what it cannot show instead of hiding it."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings


def test_broken_heads_and_snapshot_are_reported(tiny_bundle: Path, tmp_path: Path, qtbot) -> None:  # noqa: ANN001
    from attnscope.app.main_window import MainWindow
    from attnscope.core.inference.engine import Engine

    b = tmp_path / "b"
    shutil.copytree(tiny_bundle, b)
    snaps = sorted((b / "snapshots").iterdir())
    assert snaps, "the tiny bundle is exported with snapshots"
    (snaps[0] / "meta.json").write_text("{broken")
    (b / "heads.json").write_text("not json")
    window = MainWindow(Engine.load(b), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert "Snapshots not shown" in window.evolution.empty_label.text()
    assert "meta.json" in window.evolution.empty_label.text()
    assert "heads.json" in window.statusBar().currentMessage()
