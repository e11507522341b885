"""The shipped default model translates every required pair exactly (greedy and beam 4)."""

from __future__ import annotations

import pytest

from core.bundle import DEFAULT_BUNDLE
from core.config import DecodeConfig
from core.data import required_pairs, required_variants

pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").exists(),
                                reason="the default bundle is not built in this checkout")


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    from core.inference.engine import Engine

    return Engine.load()


def test_first_screen_sentence(engine) -> None:  # noqa: ANN001
    assert engine.inspect("I love you").translation == "나는 너를 사랑한다"


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_every_required_pair_exactly(engine, strategy: str) -> None:  # noqa: ANN001
    cfg = DecodeConfig(strategy=strategy, beam_size=4)
    wrong = [(p.en, p.ko, got) for p in required_pairs() + required_variants()
             if (got := engine.inspect(p.en, cfg).translation) != p.ko]
    assert not wrong, wrong


def test_bundle_is_small_enough_for_git() -> None:
    size = sum(f.stat().st_size for f in DEFAULT_BUNDLE.rglob("*") if f.is_file())
    assert size <= 25 * 2**20, size
