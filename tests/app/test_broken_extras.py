"""A bundle whose model loads but whose heads.json or snapshot files are broken: the
window opens, and says what it cannot show instead of hiding it. A model that cannot be
opened at all: one line and status 2."""

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


def test_a_model_the_window_cannot_open_is_one_line_and_status_2(tmp_path: Path) -> None:
    """A wrong bundle path or a bad thread setting: one line naming it, status 2, no window."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for extra_env, args in (({}, ["--bundle", str(tmp_path / "missing")]), ({"ATTNSCOPE_THREADS": "many"}, [])):
        out = subprocess.run([sys.executable, "-P", "-m", "attnscope", "gui", *args, "--screenshot",
                              str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120,
                             env={**env, **extra_env})
        lines = [line for line in out.stderr.splitlines() if "propagateSizeHints" not in line]
        assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("attnscope: cannot open the model"), \
            out.stderr
        assert ("missing" if args else "ATTNSCOPE_THREADS") in lines[0]
        assert not (tmp_path / "x.png").exists()
