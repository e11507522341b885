"""Core fixtures; the tiny run and bundle themselves live in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_engine(tiny_bundle: Path):  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(tiny_bundle)
