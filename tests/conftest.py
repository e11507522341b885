"""Shared test set-up: Qt renders offscreen and QSettings never touches the real profile."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import
# QSettings written by tests go to a throw-away folder, never the user's real settings.
_SETTINGS_DIR = tempfile.mkdtemp(prefix="attnscope-test-settings-")
os.environ["XDG_CONFIG_HOME"] = _SETTINGS_DIR  # QSettings() on Linux lives here


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained for a few seconds (shared by every test package).

    ``ATTNSCOPE_TINY_RUN`` names a tiny run trained earlier to reuse instead (the mutation
    check, benchmarks/mutants.py, trains one once for all its runs; the bundle is still
    exported afresh by the code under test)."""
    from attnscope.core.train import train

    reuse = os.environ.get("ATTNSCOPE_TINY_RUN")
    if reuse:
        return Path(reuse)
    run = tmp_path_factory.mktemp("tiny") / "run"
    train("tiny", run, max_steps=60, progress=False, overrides={"pairs": 3000})
    return run


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run exported to a bundle."""
    from attnscope.core.onnx_export import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "tiny"
    export_bundle(tiny_run, out)
    return out
