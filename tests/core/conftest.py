"""Shared fixtures: a tiny model trained for a few seconds, its run folder and bundle."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.train import train

    run = tmp_path_factory.mktemp("tiny") / "run"
    train("tiny", run, max_steps=60, progress=False, overrides={"pairs": 3000})
    return run


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.onnx_export import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "tiny"
    export_bundle(tiny_run, out)
    return out


@pytest.fixture(scope="session")
def tiny_engine(tiny_bundle: Path):  # noqa: ANN201
    from core.inference.engine import Engine

    return Engine.load(tiny_bundle)
